"""Every benchmark still runs: each ``benchmarks/*.py`` (not the shared ``_common.py``) with ``--smoke`` (its
code paths at a tiny size: a tiny random model built in the run, a handful of examples, one repetition), as
``python benchmarks/<name>.py --smoke`` from the repository root, must exit 0 and print the figures line it
ends with. A new benchmark needs a smoke run here (the last test checks the list)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"

# benchmark -> a line it always prints at the end of a run, smoke or full size
FIGURES = {
    "gpu_check": r"^gpu_check passed$",
    "generation_speed": r"^median: batched [\d.]+ tok/s \(.*\), one-by-one [\d.]+ tok/s \(.*\) -> [\d.]+x$",
    "ifd_from_generation": r"^saving: -?\d+% end to end \([\d.]+x\), scoring [\d.]+x faster$",
    "ifd_speed": r"^FLOP/s: baldistill [\d.]+ G, reference [\d.]+ G; torch\.mm probe [\d.]+ G -> baldistill at \d+%",
    "ifd_truncation": r"^cheapest passing length: (\d+|none)$",
    "sharded_selection": r"^2x1 against 1x1: selection [\d.]+x, evaluation [\d.]+x$",
    "staged_cost": r"^K=\d+: [\d.]+x(, K=\d+: [\d.]+x)*$",
    "startup_time": r"^--help: median [\d.]+ s over \d+ runs",
    "structured_synthesis": r"^demo tail, \d+ calls, T=0\.0: \{'charged': \d+, 'kept': \d+,.*'correct': \d+",
    "teacher_throughput": r"^median [\d.]+ calls/s at concurrency \d+, latency \d+ ms",
    "train_speed": r"^baldistill: median \d+ loss tok/s \(min-max \d+-\d+\), median [\d.]+ s per run, final loss",
}


def benchmark_files() -> set[str]:
    return {p.stem for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_")}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_benchmark_smoke_run(name):
    env = {**os.environ, "BALDISTILL_PROGRESS": "0", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, f"benchmarks/{name}.py", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = f"--- stdout\n{r.stdout[-4000:]}\n--- stderr\n{r.stderr[-4000:]}"
    assert r.returncode == 0, out
    assert re.search(FIGURES[name], r.stdout, re.MULTILINE), f"no figures line matching {FIGURES[name]!r}\n{out}"
    if name == "staged_cost":  # it names the method of its own config and each scheme it timed, with every part
        from baldistill import load_config

        cfg = load_config(BENCHMARKS / "staged_cost.yaml")
        assert cfg.method == "baldistill-f" and cfg.student.train.scheme == "replay"
        for scheme in (cfg.student.train.scheme, "paper"):
            line = next(ln for ln in r.stdout.splitlines() if f"{cfg.method} scheme {scheme} K=3:" in ln)
            for part in ("training before the last stage", "generation", "IFD", "signal", "last stage's training"):
                assert f"{part} " in line, (part, line)


def test_every_benchmark_has_a_smoke_run():
    assert set(FIGURES) == benchmark_files()
