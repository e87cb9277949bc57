"""The typed results: what metrics.json and eval.json hold, written and read back the same."""

import json
import math
from pathlib import Path

from baldistill.core.comparison import ResultRow
from baldistill.core.metrics import Scored, summarize
from baldistill.core.results import SCHEMA_VERSION, RunMetrics, StageEval, Summary

GOLDEN = Path(__file__).parents[1] / "runner" / "golden"


def test_a_recorded_metrics_file_round_trips():
    saved = json.loads((GOLDEN / "baldistill-a.json").read_text())["metrics.json"]
    m = RunMetrics.model_validate(saved)
    assert m.method == "baldistill-a" and m.majority is not None and m.per_domain
    back = m.to_json()
    assert {k: v for k, v in back.items() if k not in ("schema_version", "wall_seconds", "phase_seconds")} == saved
    assert list(back)[:3] == ["schema_version", "method", "teacher"]  # what the run was comes first


def test_an_old_metrics_file_loads_with_defaults():
    saved = json.loads((GOLDEN / "random-ft.json").read_text())["metrics.json"]
    for key in ("n_train_duplicate", "spend_by_stage_domain", "ledger", "majority"):
        saved.pop(key)
    m = RunMetrics.model_validate(saved)
    assert m.schema_version == 0 and m.n_train_duplicate == 0 and m.spend_by_stage_domain == {} and m.majority is None
    assert RunMetrics(**{**saved, "schema_version": SCHEMA_VERSION}).schema_version == SCHEMA_VERSION == 1


def test_summaries_keep_f1_only_where_there_is_a_label_set_and_nan_for_nothing_to_average():
    items = [Scored("a", "x", "x", 1.0), Scored("b", "y", "z", 0.0)]
    plain = Summary.model_validate(summarize(items, []))
    assert "macro_f1" not in plain.to_json() and math.isnan(plain.tail.macro)  # no tail domain
    labelled = Summary.model_validate(summarize(items, ["b"], labels=["x", "y", "z"]))
    assert labelled.to_json()["macro_f1"] == labelled.macro_f1 and labelled.tail.macro == 0.0
    ev = StageEval(stage=1, n_test=2, **summarize(items, ["b"]))
    assert list(ev.to_json())[:2] == ["stage", "n_test"] and ev.scores()["tail_macro"] == 0.0


def test_result_rows_fill_what_older_rows_lack():
    row = {
        "cell": "s/B1/K1/zero-shot/seed0",
        "run": "s/B0/K1/zero-shot/seed0",
        "dataset": "d",
        "student": "s",
        "budget": 1,
        "stages": 1,
        "effective_stages": 1,
        "method": "zero-shot",
        "seed": 0,
        "metric": "accuracy",
        "macro": 0.5,
        "micro": 0.5,
        "head_macro": 0.5,
        "head_micro": 0.5,
        "tail_macro": None,
        "tail_micro": None,
        "per_domain": {"a": 0.5},
        "pool_sizes": {"a": 3},
        "tail_domains": [],
        "spent_units": 0,
        "n_train": 0,
        "n_test": 2,
    }
    r = ResultRow.model_validate(row)
    assert r.n_train_duplicate == 0 and r.stage_scores == [] and r.physical_calls == 0
