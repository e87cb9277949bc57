"""estimate plans a run with the pipeline's own budget plan: its units per stage and kind are exactly what
a finished run's ledger charged (tokens are estimates and may differ)."""

from collections import Counter

from conftest import tiny_config

from baldistill import load_config
from baldistill.budget.ledger import Ledger
from baldistill.runner.estimate import estimate


def test_estimate_gives_the_ledgers_units_per_stage_and_kind_for_every_method(method_runs, tiny_model):
    for name, (folder, metrics) in method_runs.items():
        cfg = load_config(folder / "config.yaml")
        rows = estimate(cfg)
        want = Counter()
        for r in Ledger(cfg.budget, folder / "ledger.sqlite").rows():
            if r["status"] != "released":
                want[(r["stage"], r["kind"])] += r["units"]
        got = Counter({(r["stage"], k): r[k] for r in rows for k in ("annotate", "synthesize") if r[k]})
        assert got == want, name
        assert sum(r["calls"] for r in rows) == metrics.spent, name


def test_estimate_without_teacher_calls_and_worst_case_dollars(tiny_model):
    rows = estimate(load_config(tiny_config(tiny_model, method="random-ft", budget=40)))
    assert rows == [
        {
            "stage": 0,
            "annotate": 0,
            "synthesize": 0,
            "verify": 0,
            "calls": 0,
            "prompt_tokens": 0,
            "completion_tokens_max": 0,
            "dollars_max": 0.0,
        }
    ]
    cfg = load_config(
        tiny_config(tiny_model, budget=30, **{"teacher.price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}})
    )
    rows = estimate(cfg)
    assert sum(r["calls"] for r in rows) == 30
    for r in rows:  # the worst case the ledger reserves: max_tokens per call
        assert r["completion_tokens_max"] == r["calls"] * cfg.teacher.max_tokens
        assert r["dollars_max"] == round((r["prompt_tokens"] * 1.0 + r["completion_tokens_max"] * 2.0) / 1e6, 4)
