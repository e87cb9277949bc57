"""Shared fixtures: a tiny randomly initialised Llama with a byte-level BPE tokenizer trained in code
(no files, no hub), saved once per session as a local model folder that the real loading code reads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("BALDISTILL_PROGRESS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEMO = Path(__file__).parents[1] / "src/baldistill/bundled/demo"
# The demo's test split as it was before it grew to 50 items per domain: the tiny model's tokenizer is trained
# on it and tiny_config evaluates on it, so the golden runs and the tests built on them stay as recorded.
DEMO_TEST = Path(__file__).parent / "fixtures/demo_test_201.jsonl"


def _corpus() -> list[str]:
    texts = []
    for path in (DEMO / "train.jsonl", DEMO_TEST, DEMO / "reserve.jsonl"):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            texts += [r["input"], r["rationale"], r["answer"]]
    return texts


def make_tiny_model(folder: Path, chat: bool, seed: int = 0) -> Path:
    """The tiny model (``baldistill_testing.tiny``) with its tokenizer trained on the demo texts."""
    from baldistill_testing.tiny import make_tiny_model as make

    return make(folder, _corpus(), chat=chat, seed=seed)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A local folder with a tiny Llama and a ChatML chat template."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-chat"), chat=True)


@pytest.fixture(scope="session")
def tiny_model_plain(tmp_path_factory) -> Path:
    """The same without a chat template (a base model)."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-plain"), chat=False)


def tiny_config(model: Path, **over) -> dict:
    """A run config over the demo data that a tiny model finishes in seconds."""
    cfg = {
        "method": "baldistill-a",
        "budget": 48,
        "stages": 3,
        "seed": 0,
        "data": {
            "train": str(DEMO / "train.jsonl"),
            "test": str(DEMO_TEST),
            "reserve": str(DEMO / "reserve.jsonl"),
            "max_test_per_domain": 3,
        },
        "student": {
            "model": str(model),
            "threads": 2,
            "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3},
            "generation": {"max_new_tokens": 8, "batch_size": 16},
        },
        "selection": {"candidates_per_domain": 6},
    }
    for k, v in over.items():
        cur = cfg
        *path, last = k.split(".")
        for p in path:
            cur = cur.setdefault(p, {})
        cur[last] = v
    return cfg


@pytest.fixture(scope="session")
def comparison(tiny_model, tmp_path_factory):
    """A comparison of every method over two seeds on the tiny model (B=96, K=3, one shared teacher cache;
    multi-stage methods also scored after each earlier stage): (folder, base config, spec, result rows, the spend
    estimate made before it ran). Its seed-0 runs are ``method_runs``."""
    from baldistill import load_config
    from baldistill.runner.compare import compare
    from baldistill.runner.estimate import estimate_comparison as estimate
    from baldistill.runner.sweeps import make_spec

    out = tmp_path_factory.mktemp("cmp") / "c"
    base = load_config(tiny_config(tiny_model, budget=96, stages=3))
    spec = make_spec(out / "config.yaml", base, ",".join(PAPER_METHODS), seeds=2, stage_eval=2)
    before = estimate(base, spec, out)
    rows = compare(base, spec, out)
    return out, base, spec, rows, before


# the paper's methods and baldistill-n: the shared comparison and its golden copies (methods added to the
# registry later have a comparison of their own, so these stay as recorded)
PAPER_METHODS = ("zero-shot", "random-ft", "random-ft-cot", "duplicate-ft-cot", "balance-ft-cot", "active-ft-cot",
                 "baldistill-n", "baldistill-a")  # fmt: skip
FEEDBACK_METHODS = ("baldistill-f", "baldistill-f-ifd", "baldistill-n-err")


@pytest.fixture(scope="session")
def feedback_comparison(tiny_model, tmp_path_factory):
    """The methods that look at the student's answers, one seed on the tiny model (B=48, K=3), whose answers
    are made right in some domains (``answering_student``: simulated) so that the signal differs between
    domains: (folder, base config, spec, result rows, the estimate before)."""
    from answering_student import answering

    from baldistill import load_config
    from baldistill.runner.compare import compare
    from baldistill.runner.estimate import estimate_comparison as estimate
    from baldistill.runner.sweeps import make_spec

    out = tmp_path_factory.mktemp("cmp-feedback") / "c"
    base = load_config(tiny_config(tiny_model, budget=48, stages=3))
    spec = make_spec(out / "config.yaml", base, ",".join(FEEDBACK_METHODS), seeds=1, stage_eval=2)
    before = estimate(base, spec, out)
    with answering():
        rows = compare(base, spec, out)
    return out, base, spec, rows, before


@pytest.fixture(scope="session")
def method_runs(comparison):
    """Every method's run at seed 0 in the shared comparison: {method: (folder, metrics)}."""
    from baldistill.core.results import RunMetrics

    out, _, _, rows, _ = comparison
    folders = {r.method: out / "runs" / r.run for r in rows if r.seed == 0}
    return {m: (f, RunMetrics.load(f / "metrics.json")) for m, f in folders.items()}
