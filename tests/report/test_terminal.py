"""Terminal tables: a run's per-domain result beside the majority baseline, and a dataset's profile."""

import json
from pathlib import Path

from rich.console import Console

from baldistill.core.results import RunMetrics
from baldistill.report.terminal import run_table, stats_table

GOLDEN = Path(__file__).parents[1] / "runner" / "golden"


def text(table) -> str:
    c = Console(record=True, width=200)
    c.print(table)
    return c.export_text()


def test_run_table_marks_head_and_tail_and_shows_the_majority_baseline():
    m = RunMetrics.model_validate(json.loads((GOLDEN / "baldistill-a.json").read_text())["metrics.json"])
    out = text(run_table(m))
    assert f"baldistill-a: B=96, K=3, spent {m.spent}" in out and "teacher: reference (oracle synthesis)" in out
    lines = {ln.split("│")[1].strip(): ln for ln in out.splitlines() if ln.count("│") > 3}
    for d, v in m.per_domain.items():
        assert ("tail" if v.tail else "head") in lines[d] and f"{100 * v.score:.1f}" in lines[d]
    assert f"{100 * m.majority.macro:.1f}" in lines["macro"]


def test_stats_table_quotas_per_stage():
    out = text(stats_table({"big": 30, "mid": 6, "small": 1}, 30, 3, "naive"))
    assert "3 domains, 37 examples; B=30, B/l=10.0" in out
    rows = {ln.split("│")[1].strip(): ln for ln in out.splitlines() if ln.count("│") > 3}
    # naive: 10 per stage split 4/3/3, the remainder to the largest pool; small is tail (pool < B/l)
    assert "4 4 4" in rows["big"] and "3 3 3" in rows["small"] and "tail" in rows["small"] and "head" in rows["big"]
