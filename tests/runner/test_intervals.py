"""Paired differences across the classic axes (budgets, K, students) from the runs' per-item predictions."""

from __future__ import annotations

import json
from pathlib import Path

from baldistill.core.comparison import ResultRow, Spec
from baldistill.runner.intervals import compute_intervals

DOMAINS = ("products", "lcm")


def _run(runs: Path, name: str, scores: dict[str, list[float]]) -> str:
    """A run folder with predictions.jsonl: per domain, one item per score (the same item ids in every run)."""
    (runs / name).mkdir(parents=True)
    lines = [
        json.dumps({"id": f"{d}-{i}", "domain": d, "score": s}) for d, ss in scores.items() for i, s in enumerate(ss)
    ]
    (runs / name / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    return name


def _row(run: str, method: str, seed: int, budget: int = 96, stages: int = 3) -> ResultRow:
    """A result row of the run (its scores are not read: the intervals come from the predictions)."""
    return ResultRow.model_validate(
        {
            "cell": f"s/B{budget}/K{stages}/{method}/seed{seed}",
            "run": run,
            "dataset": "demo",
            "student": "s",
            "budget": budget,
            "stages": stages,
            "effective_stages": stages,
            "method": method,
            "seed": seed,
            "metric": "accuracy",
            "settings": {},
            **dict.fromkeys(("macro", "micro", "head_macro", "head_micro", "tail_macro", "tail_micro"), 0.0),
            "per_domain": dict.fromkeys(DOMAINS, 0.0),
            "pool_sizes": {"products": 300, "lcm": 2},
            "tail_domains": ["lcm"],
            "spent_units": budget,
            "n_train": budget,
            "n_test": 8,
        }
    )


def test_each_budget_and_k_is_paired_with_the_default_and_one_run_under_every_k_is_not(tmp_path):
    runs = tmp_path / "runs"
    rows = []
    for seed in (0, 1):
        # baldistill-n: B = 96 scores 1/4 per domain, B = 192 scores 3/4: +50 points on every item's domain mean
        rows.append(_row(_run(runs, f"n96-{seed}", {d: [1, 0, 0, 0] for d in DOMAINS}), "baldistill-n", seed))
        rows.append(_row(_run(runs, f"n192-{seed}", {d: [1, 1, 1, 0] for d in DOMAINS}), "baldistill-n", seed, 192))
        # baldistill-n at K = 5: 2/4 per domain, +25 points over K = 3
        rows.append(
            _row(_run(runs, f"n96k5-{seed}", {d: [1, 1, 0, 0] for d in DOMAINS}), "baldistill-n", seed, stages=5)
        )
        # random-ft-cot: one run per seed serves K = 3 and K = 5 (a single-stage method)
        one = _run(runs, f"r-{seed}", {d: [1, 1, 0, 0] for d in DOMAINS})
        rows += [_row(one, "random-ft-cot", seed), _row(one, "random-ft-cot", seed, stages=5)]
    spec = {
        "config": "c.yaml",
        "methods": ["random-ft-cot", "baldistill-n"],
        "budgets": [96, 192],
        "stages": [3, 5],
        "students": ["s"],
        "reference": "random-ft-cot",
        "sweep": {},
        "seeds": [0, 1],
    }
    diffs = compute_intervals(runs, rows, Spec.from_json(spec)).to_json()["differences"]
    budget = [d for d in diffs if d["kind"] == "budget"]
    assert [(d["a"]["method"], d["a"]["budget"], d["b"]["budget"]) for d in budget] == [("baldistill-n", 192, 96)]
    t = budget[0]["test"]
    assert abs(t["macro"]["mean"] - 0.5) < 1e-9 and abs(t["tail_macro"]["mean"] - 0.5) < 1e-9
    assert t["macro"]["lo"] <= 0.5 <= t["macro"]["hi"] and t["macro"]["lo"] > 0  # every item moved up or not at all
    assert budget[0]["seeds"] == [0, 1]
    # K: baldistill-n's K = 5 against K = 3; random-ft-cot's one run serves both K, so nothing to compare
    stages = [d for d in diffs if d["kind"] == "stages"]
    assert [(d["a"]["method"], d["a"]["stages"], d["b"]["stages"]) for d in stages] == [("baldistill-n", 5, 3)]
    assert abs(stages[0]["test"]["macro"]["mean"] - 0.25) < 1e-9
    # a single budget gives no budget differences
    assert not [
        d
        for d in compute_intervals(runs, rows, Spec.from_json({**spec, "budgets": [96]})).to_json()["differences"]
        if d["kind"] == "budget"
    ]
