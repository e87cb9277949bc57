"""A comparison's results from its finished runs: one ``ResultRow`` per cell (``core/comparison.py``) in
``results.json`` (with the spend over all runs and the bootstrap intervals) and ``results.csv``; then the
tables, plots and the HTML report drawn from them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..budget.ledger import Caps, Ledger
from ..config import load_config
from ..core.comparison import Cell, ResultRow, Spec, StageScore, value_text
from ..core.methods import METHODS
from ..core.results import RunMetrics, StageEval
from .runfolder import RunFolder

CSV_COLUMNS = [
    "cell",
    "dataset",
    "student",
    "budget",
    "stages",
    "effective_stages",
    "method",
    "seed",
    "metric",
    "macro",
    "micro",
    "head_macro",
    "head_micro",
    "tail_macro",
    "tail_micro",
    "macro_f1",
    "micro_f1",
    "spent_units",
    "physical_calls",
    "prompt_tokens",
    "completion_tokens",
    "dollars",
    "physical_dollars",
    "n_train",
    "n_train_synthetic",
    "n_train_duplicate",
    "n_test",
    "wall_seconds",
    "val_macro",
    "val_micro",
    "val_head_macro",
    "val_tail_macro",
    "n_val",
]


def row_from_run(folder: Path, cell: Cell, dataset: str) -> ResultRow:
    """The result row of a cell from its finished run folder."""
    m = RunMetrics.load(folder / "metrics.json")
    stage_scores = []
    for p in sorted((folder / "stages").glob("*/eval.json"), key=lambda p: int(p.parent.name)):
        e = StageEval.model_validate(json.loads(p.read_text()))
        stage_scores.append(StageScore(stage=e.stage + 1, n_test=e.n_test, **e.scores()))
    if METHODS[cell.method].multi_stage:
        stage_scores.append(StageScore(stage=m.stages, n_test=m.n_test, **m.scores()))
    val = {}
    if m.val:
        val = dict(val_macro=m.val.macro, val_micro=m.val.micro, val_head_macro=m.val.head.macro,
                   val_tail_macro=m.val.tail.macro, n_val=m.n_val)  # fmt: skip
    return ResultRow(
        cell=cell.cell_id,
        run=cell.run_id,
        dataset=dataset,
        student=cell.student,
        budget=cell.budget,
        stages=cell.stages,
        effective_stages=m.stages,
        method=cell.method,
        seed=cell.seed,
        metric=load_config(folder / "config.yaml").data.metric,
        settings=dict(cell.settings),
        teacher=m.teacher or "",
        **m.scores(),
        per_domain={d: v.score for d, v in m.per_domain.items()},
        pool_sizes=m.pool_sizes,
        tail_domains=m.tail.domains,
        spent_units=m.spent,
        physical_calls=m.ledger.physical.calls,
        prompt_tokens=m.ledger.prompt_tokens,
        completion_tokens=m.ledger.completion_tokens,
        dollars=m.ledger.dollars,
        physical_dollars=m.ledger.physical.dollars,
        spend_by_stage_domain=m.spend_by_stage_domain,
        stage_scores=stage_scores,
        signal_by_stage=m.signal_by_stage,
        n_train=m.n_train,
        n_train_synthetic=m.n_train_synthetic,
        n_train_duplicate=m.n_train_duplicate,
        n_test=m.n_test,
        wall_seconds=_wall_time(folder, m),
        **val,
    )


def _wall_time(folder: Path, metrics: RunMetrics) -> float:
    """Seconds the run took in total (model loading, every stage, evaluation, across resumptions)."""
    path = folder / "wall_time.json"
    return json.loads(path.read_text())["seconds"] if path.exists() else metrics.wall_seconds


def write_results(out: Path) -> list[ResultRow]:
    """results.json and results.csv from every finished cell (one row per method × seed × K × budget ×
    student; single-stage methods appear under every K of the sweep, from one run)."""
    from .intervals import compute_intervals

    saved = json.loads((out / "compare.json").read_text())
    spec = Spec.from_json(saved)
    rows = [
        row_from_run(out / "runs" / c.run_id, c, spec.dataset)
        for c in spec.cells()
        if (out / "runs" / c.run_id / "metrics.json").exists()
    ]
    runs: dict[str, ResultRow] = {}  # one row per run (cells that share a run count it once)
    for r in rows:
        runs.setdefault(r.run, r)
    spend = {
        "logical_units": sum(r.spent_units for r in runs.values()),
        "logical_dollars": round(sum(r.dollars for r in runs.values()), 6),
        **physical_spend(out),
    }
    intervals = compute_intervals(out / "runs", rows, spec)
    RunFolder(out).write_json(
        "results.json",
        {"spec": saved, "rows": [r.to_json() for r in rows], "spend": spend, "intervals": intervals.to_json()},
    )
    keys = list(spec.sweep)  # one column per swept setting, after the classic axes
    at = CSV_COLUMNS.index("method")
    columns = CSV_COLUMNS[:at] + keys + CSV_COLUMNS[at:]
    with (out / "results.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns + ["per_domain"])
        w.writeheader()
        for r in rows:
            w.writerow(
                {
                    **{k: getattr(r, k) for k in CSV_COLUMNS},
                    **{k: value_text(r.settings.get(k)) for k in keys},
                    "per_domain": json.dumps(r.per_domain),
                }
            )
    return rows


def physical_spend(out: Path) -> dict:
    """What the teacher server really answered over the whole comparison: the shared cache's replies.
    (A finished cell's ledger says which of its calls were sent; the cache holds each reply once.)"""
    calls = prompt = completion = 0
    dollars = 0.0
    for p in sorted((out / "runs").glob("**/ledger.sqlite")):
        led = Ledger(Caps(0), p)
        s = led.summary().physical
        led.close()
        calls += s.calls
        prompt += s.prompt_tokens
        completion += s.completion_tokens
        dollars += s.dollars
    return {
        "physical_calls": calls,
        "physical_prompt_tokens": prompt,
        "physical_completion_tokens": completion,
        "physical_dollars": round(dollars, 6),
    }


def write_outputs(out: Path) -> None:
    """Tables, plots and the HTML report from results.json."""
    from ..report.html import write_report  # matplotlib: only when there is something to draw
    from ..report.plots import write_plots
    from ..report.tables import write_tables

    write_tables(out)
    write_plots(out)
    write_report(out)
