"""Golden tables and report text of constructed comparisons (test_tables.make_results): every table the
comparison writes (main, per domain, paired differences, swept settings, the K sweep, the frontier, the
generalization table), with bootstrap intervals, with mean ± std only, and with a swept setting. Frozen before
the code behind them is rewritten; re-record on purpose with BALDISTILL_RECORD_GOLDEN=1."""

from __future__ import annotations

import json
from pathlib import Path

from goldens import check_text, html_text
from test_tables import OTHER, STUDENT, make_results

from baldistill.report.html import write_report
from baldistill.report.tables import write_tables

GOLDEN = Path(__file__).parents[1] / "runner" / "golden" / "outputs" / "constructed"


def _write(folder: Path) -> None:
    write_tables(folder)
    write_report(folder)


def test_tables_and_report_with_intervals_over_students_budgets_and_stages(tmp_path):
    folder = make_results(
        tmp_path / "a",
        methods=("zero-shot", "random-ft-cot", "baldistill-a"),
        seeds=(0, 1, 2),
        students=(STUDENT, OTHER),
        budgets=(96, 192),
        stages=(3, 5),
        intervals=True,
    )
    _write(folder)
    check_text(GOLDEN / "intervals-table.md", (folder / "table.md").read_text())
    check_text(GOLDEN / "intervals-table_generalization.md", (folder / "table_generalization.md").read_text())
    check_text(GOLDEN / "intervals-report.html", html_text((folder / "report.html").read_text()))


def test_tables_with_mean_and_std_only(tmp_path):
    folder = make_results(tmp_path / "b", budgets=(96, 48))
    _write(folder)
    check_text(GOLDEN / "std-table.md", (folder / "table.md").read_text())
    check_text(GOLDEN / "std-report.html", html_text((folder / "report.html").read_text()))


def test_tables_with_a_swept_setting(tmp_path):
    folder = make_results(tmp_path / "c", seeds=(0, 1), intervals=True)
    doc = json.loads((folder / "results.json").read_text())
    rows = []
    for v in (0, 1):
        for r in doc["rows"]:
            # random-ft-cot does not use the setting: one run serves both values, as compare records it
            rows.append(
                {
                    **r,
                    "settings": {"teacher.verify.samples": v},
                    "macro": r["macro"] - (0.03 * v if r["method"] != "random-ft-cot" else 0),
                    "cell": r["cell"] + f"/v{v}",
                    "run": r["run"] + (f"/v{v}" if r["method"] != "random-ft-cot" else ""),
                }
            )
    doc["rows"] = rows
    doc["spec"]["sweep"] = {"teacher.verify.samples": [0, 1]}
    doc["spec"]["default"]["settings"] = {"teacher.verify.samples": 0}
    (folder / "results.json").write_text(json.dumps(doc))
    _write(folder)
    check_text(GOLDEN / "sweep-table.md", (folder / "table.md").read_text())
    check_text(GOLDEN / "sweep-report.html", html_text((folder / "report.html").read_text()))
