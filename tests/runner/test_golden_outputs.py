"""Golden outputs: what a comparison writes and what the read-only commands print, frozen before the code
behind them is rewritten. A comparison's results (results.json, results.csv), its tables (table.md,
table_generalization.md) and the text of report.html (the plots' images left out) are rebuilt from the runs of
the shared tiny comparison with the volatile parts set to fixed values (each run's wall time, the config's path);
the terminal output of ``stats``, ``estimate``, ``ledger`` and ``compare --estimate`` is compared as printed.

A change that alters them on purpose re-records them in a commit of its own that says why:
    BALDISTILL_RECORD_GOLDEN=1 .venv/bin/python -m pytest tests/runner/test_golden_outputs.py
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import yaml
from conftest import DEMO, tiny_config
from goldens import check_json, check_text, html_text
from typer.testing import CliRunner

from baldistill.cli import app

GOLDEN = Path(__file__).parent / "golden" / "outputs"
ENV = {"COLUMNS": "200", "BALDISTILL_PROGRESS": "0"}
KEPT = (
    "config.yaml",
    "metrics.json",
    "predictions.jsonl",
    "predictions_val.jsonl",
    "ledger.sqlite",
    "ledger.sqlite-wal",
    "ledger.sqlite-shm",
)


def frozen_copy(src: Path, dst: Path) -> Path:
    """The comparison folder ``src`` with only what the results are built from, every run's wall time set to
    1.0 s, the config's path made relative and the student (a temporary folder) named "tiny"."""
    spec = json.loads((src / "compare.json").read_text())
    (student,) = spec["students"]  # the tiny model's temporary folder: named "tiny" instead
    spec.update(config="config.yaml", students=["tiny"], default={**spec["default"], "student": "tiny"})
    dst.mkdir(parents=True)
    (dst / "compare.json").write_text(json.dumps(spec, indent=2) + "\n")
    shutil.copy(src / "config.yaml", dst / "config.yaml")
    slug = student.rstrip("/").replace("/", "--")
    for metrics in sorted((src / "runs").glob("**/metrics.json")):
        run = metrics.parent
        rel = run.relative_to(src / "runs").as_posix()
        assert rel.startswith(slug + "/"), rel
        to = dst / "runs" / ("tiny" + rel.removeprefix(slug))
        to.mkdir(parents=True)
        for name in KEPT:
            if (run / name).exists():
                shutil.copy(run / name, to / name)
        for ev in run.glob("stages/*/eval.json"):
            (to / ev.relative_to(run)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ev, to / ev.relative_to(run))
        (to / "wall_time.json").write_text('{"seconds": 1.0}\n')
    return dst


def _csv(text: str) -> list[dict]:
    def value(v: str):
        try:
            return float(v)
        except ValueError:
            return v

    return [{k: value(v) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]


def test_a_comparisons_results_tables_and_report_match_their_golden_copies(comparison, tmp_path):
    from baldistill.runner.results import write_outputs, write_results

    folder = frozen_copy(comparison[0], tmp_path / "c")
    write_results(folder)
    write_outputs(folder)
    check_json(GOLDEN / "results.json", json.loads((folder / "results.json").read_text()))
    check_json(GOLDEN / "results.csv.json", _csv((folder / "results.csv").read_text()))
    check_text(GOLDEN / "results.csv", (folder / "results.csv").read_text())
    check_text(GOLDEN / "table.md", (folder / "table.md").read_text())
    check_text(GOLDEN / "table_generalization.md", (folder / "table_generalization.md").read_text())
    check_text(GOLDEN / "report.html", html_text((folder / "report.html").read_text()))


def _invoke(args: list[str]) -> str:
    res = CliRunner().invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    return res.output


def test_the_read_only_commands_print_what_their_golden_copies_hold(comparison, tiny_model, tmp_path, monkeypatch):
    out, base, _, rows, _ = comparison
    check_text(
        GOLDEN / "stats.txt",
        _invoke(
            [
                "stats",
                str(DEMO / "train.jsonl"),
                "--budget",
                "96",
                "--stages",
                "3",
                "--test",
                str(DEMO / "test.jsonl"),
                "--reserve",
                str(DEMO / "reserve.jsonl"),
            ]
        ),
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(tiny_model, budget=48, stages=2)))
    check_text(GOLDEN / "estimate.txt", _invoke(["estimate", str(cfg)]))
    priced = [
        "--set",
        "teacher.price.input_per_mtok=0.15",
        "--set",
        "teacher.price.output_per_mtok=0.6",
        "--set",
        "method=baldistill-a",
    ]
    check_text(GOLDEN / "estimate-priced.txt", _invoke(["estimate", str(cfg), *priced]))
    check_text(
        GOLDEN / "compare-estimate.txt",
        _invoke(["compare", str(cfg), "--seeds", "2", "--estimate", "--out", str(tmp_path / "none")]),
    )
    run = out / "runs" / next(r.run for r in rows if r.method == "baldistill-n" and r.seed == 0)
    (tmp_path / "run").mkdir()
    for db in run.glob("ledger.sqlite*"):  # with its write-ahead log, if any
        shutil.copy(db, tmp_path / "run" / db.name)
    monkeypatch.chdir(tmp_path)  # a short path of fixed length in the table's title
    check_text(GOLDEN / "ledger.txt", _invoke(["ledger", "run"]))
