"""A student stand-in for the tests of the signal (simulated: labelled as such wherever it is used). The tiny
random student answers nothing right, so every domain's signal is 0 and the feedback policy gives the naive
split. This one is the real student except for the text of its answers: in each domain of ``LEVELS`` it states
the gold answer for about LEVELS[d] quarters of the inputs (chosen by a hash of the input), so the domains'
scores differ and the feedback policy moves the budget. Its tokens and log-probs (IFD) are its own.

In-process: ``with answering(): ...``; a subprocess calls ``install()`` before it runs the command line."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from pathlib import Path

DEMO = Path(__file__).parents[1] / "src/baldistill/bundled/demo"
FILES = [
    DEMO / "train.jsonl",
    DEMO / "reserve.jsonl",
    DEMO / "val.jsonl",
    Path(__file__).parent / "fixtures/demo_test_201.jsonl",
]
LEVELS = {"products": 3, "gcd": 2, "count_bits": 1}  # quarters answered right; other domains: none


def _gold() -> dict[str, tuple[str, str]]:
    out = {}
    for p in FILES:
        for line in p.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            out[r["input"]] = (r["domain"], r["answer"])
    return out


def install():
    """Patch ``Student.generate``; returns a function that undoes it."""
    from baldistill.student import model

    gold, real = _gold(), model.Student.generate

    def generate(self, texts, *args, **kwargs):
        gens = real(self, texts, *args, **kwargs)
        out = []
        for t, g in zip(texts, gens, strict=True):
            domain, answer = gold.get(t, ("", ""))
            if int(hashlib.sha256(t.encode()).hexdigest(), 16) % 4 < LEVELS.get(domain, 0):
                g = dataclasses.replace(g, text=f"The answer is {answer}.")
            out.append(g)
        return out

    model.Student.generate = generate

    def undo():
        model.Student.generate = real

    return undo


@contextlib.contextmanager
def answering():
    undo = install()
    try:
        yield
    finally:
        undo()
