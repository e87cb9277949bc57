"""What the benchmarks share: their command line (``--smoke``, ``--threads``, ``--repeats``, ``--model``, ``--n``),
torch's thread count, the student they load, the demo data they draw from, timing, printing a table of figures,
and the tiny model a ``--smoke`` run uses.

Every benchmark runs as ``python benchmarks/<name>.py`` from the repository root (its folder is then first on
``sys.path``, so ``from _common import ...`` works). ``--smoke`` runs the same code paths at a tiny size: a
randomly initialised two-layer Llama with a tokenizer trained here on the demo texts (nothing downloaded),
a handful of examples, one repetition, no warm-up. Its figures only show that the benchmark still runs;
they measure nothing. ``tests/test_benchmarks.py`` runs every benchmark that way.

This module imports no torch or transformers at import time (``startup_time.py`` uses it too).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO_DATA = ROOT / "src/baldistill/bundled/demo"
DEMO_CONFIG = ROOT / "src/baldistill/configs/demo.yaml"
DEFAULT_STUDENT = "smollm2-135m-instruct"  # the offline SmolLM2-135M-Instruct (converted once from its GGUF)
TINY = "tiny"  # --model tiny: the smoke model, built in a temporary folder
INSTRUCTION = "Solve the task."


# ---- command line ---------------------------------------------------------------------------------------------
def parser(
    doc: str | None = None,
    *,
    model: bool = False,
    threads: bool = False,
    default_threads: int | None = None,
    repeats: int | None = None,
    repeat_flags: Sequence[str] = ("--repeats",),
    n: int | None = None,
    n_help: str = "examples, spread over the demo's domains",
) -> argparse.ArgumentParser:
    """The options the benchmarks share. ``--smoke`` always; ``--model`` (the student: an offline alias, a hub name
    or a local folder; ``tiny`` builds the smoke model) with ``model``; ``--threads`` with ``threads``;
    ``--repeats`` (or the spellings in ``repeat_flags``; dest ``repeats``) when ``repeats`` is given; ``--n``
    when ``n`` is given. Sizes for ``--smoke`` are passed to :func:`parse`."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="the same code paths at a tiny size (a tiny random model, a handful of examples, 1 repeat, no warm-up): "
        "a check that the benchmark runs, in seconds; its figures measure nothing",
    )
    if model:
        ap.add_argument("--model", default=DEFAULT_STUDENT, help=f"the student (default {DEFAULT_STUDENT})")
    if threads:
        ap.add_argument(
            "--threads", type=int, default=default_threads, help="torch threads (default: %(default)s; None: torch's)"
        )
    if repeats is not None:
        ap.add_argument(*repeat_flags, dest="repeats", type=int, default=repeats, help="timed repetitions")
    if n is not None:
        ap.add_argument("--n", type=int, default=n, help=n_help)
    return ap


def parse(ap: argparse.ArgumentParser, smoke: dict[str, Any] | None = None, argv: list[str] | None = None):
    """Parse the command line; with ``--smoke`` the defaults become ``smoke`` (``repeats`` 1, ``threads`` 1 and
    ``model`` tiny unless given there) and options given on the command line still win. Sets ``a.warmup`` (False
    in a smoke run) and, where the parser has ``--model``, resolves ``tiny`` to the folder of a freshly built tiny
    model."""
    argv = sys.argv[1:] if argv is None else argv
    pre, _ = ap.parse_known_args(argv)
    if pre.smoke:
        # one thread: a tiny model's ops are too small to share, and a second thread that waits for a busy core
        # at every op makes a smoke run 100x slower on a loaded machine
        defaults = {"repeats": 1, "model": TINY, "threads": 1}
        ap.set_defaults(**({k: v for k, v in defaults.items() if k in vars(pre)} | (smoke or {})))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    a = ap.parse_args(argv)
    a.warmup = not a.smoke
    if getattr(a, "model", None) == TINY:
        a.model = str(tiny_model())
    if a.smoke:
        print("smoke run: tiny sizes, no warm-up; the figures below measure nothing", flush=True)
    return a


def skipped(what: str, why: str) -> None:
    """The line a smoke run prints for the side of a comparison it cannot run here."""
    print(f"skipped: {what} ({why})", flush=True)


# ---- torch and the student ------------------------------------------------------------------------------------
def set_threads(n: int | None) -> None:
    """torch's intra-op threads (None: leave torch's default, the number of cores)."""
    if n:
        import torch

        torch.set_num_threads(n)


def load_student(model: str, threads: int | None = None, instruction: str = INSTRUCTION, **cfg):
    """``baldistill.student.Student`` for ``model`` with student-config fields ``cfg`` (``train``, ``generation``,
    ``score_batch_size``, ...)."""
    from baldistill.config import StudentConfig
    from baldistill.student import Student

    return Student(StudentConfig(model=model, threads=threads, **cfg), instruction=instruction)


def describe(model) -> str:
    """``<threads> threads, <dtype>`` of a loaded model, as the benchmarks' first lines print it."""
    import torch

    return f"{torch.get_num_threads()} threads, {next(model.parameters()).dtype}"


# ---- demo data ------------------------------------------------------------------------------------------------
def demo_rows(split: str = "train") -> list[dict]:
    return [json.loads(line) for line in (DEMO_DATA / f"{split}.jsonl").read_text().splitlines()]


def spread_rows(rows: list, n: int) -> list:
    """``n`` rows spread evenly over ``rows`` (the demo files are sorted by domain, so over the domains)."""
    return [rows[k * len(rows) // n] for k in range(n)]


def demo_inputs(n: int) -> list[str]:
    return [r["input"] for r in spread_rows(demo_rows(), n)]


def demo_pairs(n: int) -> list[tuple[str, str]]:
    """(input, reference rationale) of ``n`` demo examples."""
    return [(r["input"], r["rationale"]) for r in spread_rows(demo_rows(), n)]


def demo_subset(split: str, per_domain: int) -> Path:
    """A temporary copy of a demo split with its first ``per_domain`` rows of each domain (for smoke runs)."""
    rows, seen = [], {}
    for r in demo_rows(split):
        seen[r["domain"]] = seen.get(r["domain"], 0) + 1
        if seen[r["domain"]] <= per_domain:
            rows.append(r)
    path = temp_dir() / f"{split}-{per_domain}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def demo_config(sets: list[str]):
    """The demo run config (``src/baldistill/configs/demo.yaml``) with ``key=value`` overrides."""
    from baldistill import load_config

    return load_config(DEMO_CONFIG, sets)


def smoke_sets(model: str, budget: int = 24) -> list[str]:
    """Overrides that make the demo config a smoke-sized run on ``model``: a small budget, one epoch, short
    rationales."""
    return [
        f"student.model={model}",
        f"budget={budget}",
        "student.train.epochs=1",
        "student.generation.max_new_tokens=8",
        "selection.max_new_tokens=4",
    ]


# ---- timing and figures ---------------------------------------------------------------------------------------
def timed(fn: Callable, *args, **kw) -> tuple[Any, float]:
    """(fn's result, its wall seconds)."""
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def span(xs: Sequence[float], fmt: str = ".1f") -> str:
    """``min-max`` of ``xs``."""
    return f"{min(xs):{fmt}}-{max(xs):{fmt}}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    """A markdown table: ``align`` per column, ``"r"`` (``---:``) or ``"l"`` (``---``; the default)."""
    align = align or ["l"] * len(header)
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "|".join("---:" if x == "r" else "---" for x in align)]
    lines[1] += "|"
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: Sequence[str] | None = None) -> None:
    print(markdown_table(header, rows, align), flush=True)


# ---- the smoke model ------------------------------------------------------------------------------------------
_tiny: Path | None = None
_tmp: Path | None = None


def make_tiny_model(folder: Path, seed: int = 0) -> Path:
    """The tests' tiny model (``baldistill_testing.tiny``: a random Llama, hidden 64, 2 layers, a 512-token BPE
    vocabulary, ChatML) with its tokenizer trained on the demo texts; needs the test set-up
    (``bash scripts/setup.sh test``)."""
    from baldistill_testing.tiny import make_tiny_model as make

    texts = [r[k] for split in ("train", "test", "reserve") for r in demo_rows(split) for k in ("input", "rationale")]
    return make(folder, texts, chat=True, seed=seed)


def temp_dir() -> Path:
    """A temporary folder for this process, removed at exit."""
    global _tmp
    if _tmp is None:
        _tmp = Path(tempfile.mkdtemp(prefix="bd-bench-"))
        atexit.register(shutil.rmtree, _tmp, True)
    return _tmp


def tiny_model() -> Path:
    """The smoke model, built once per process in :func:`temp_dir`."""
    global _tiny
    if _tiny is None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Writing model shards" would go to stderr
        _tiny = make_tiny_model(temp_dir() / "tiny-model")
    return _tiny
