"""Markdown tables of a comparison folder, from a synthetic results.json (2 methods × 3 seeds, plus a
second student and budget for the generalization table). Also home of the synthetic-results builder that
test_plots.py and test_html_report.py import."""

from __future__ import annotations

import json
from pathlib import Path

from baldistill.core.comparison import Intervals, ResultRow, Results, Spec, load_results
from baldistill.report.tables import (
    differences_grid,
    domains_grid,
    frontier_grid,
    main_grid,
    mean_std,
    table_generalization,
    table_main,
    table_stages,
    write_tables,
)

STUDENT, OTHER = "smollm2-135m-instruct", "tiny-llama"
DOMAINS = {"products": 300, "sports": 120, "lcm": 9, "gcd": 4}
TAIL = ["lcm", "gcd"]
# (macro, micro, head_macro) per method at seed 0; seed s adds 0.01*s (micro: 0.005*s).
BASE = {"baldistill-a": (0.30, 0.40, 0.50), "random-ft-cot": (0.20, 0.50, 0.60), "zero-shot": (0.05, 0.06, 0.07)}
TAILS = {"baldistill-a": [0.10, 0.12, None], "random-ft-cot": [0.10, 0.11, 0.12], "zero-shot": [0.0, 0.0, 0.0]}


def make_row(method: str, seed: int, student: str = STUDENT, budget: int = 96, stages: int = 3) -> dict:
    """One ROW of results.json with deterministic scores (see BASE and TAILS)."""
    macro, micro, head = BASE[method]
    spends = method != "zero-shot"
    per_stage = {str(i): {d: (2 if d in TAIL else 10) + i for d in DOMAINS} for i in range(stages if spends else 0)}
    return {
        "cell": f"{student}/B{budget}/K{stages}/{method}/seed{seed}",
        "run": f"{student}/{method}/seed{seed}",
        "n_test": 80,
        "dataset": "demo",
        "student": student,
        "budget": budget,
        "stages": stages,
        "method": method,
        "seed": seed,
        "metric": "accuracy",
        "effective_stages": stages if method == "baldistill-a" else 1,
        "macro": macro + 0.01 * seed + (0.05 if student == OTHER else 0) + 0.001 * (budget - 96) + 0.01 * (stages - 3),
        "micro": micro + 0.005 * seed,
        "head_macro": head + 0.01 * seed,
        "head_micro": head,
        "tail_macro": TAILS[method][seed],
        "tail_micro": TAILS[method][seed],
        "macro_f1": None,
        "micro_f1": None,
        "per_domain": {d: (0.8 if d not in TAIL else 0.1) + 0.02 * seed for d in DOMAINS},
        "pool_sizes": dict(DOMAINS),
        "tail_domains": TAIL,
        "spent_units": budget if spends else 0,
        "physical_calls": 40,
        "prompt_tokens": 1234,
        "completion_tokens": 567,
        "dollars": 0.0,
        "spend_by_stage_domain": per_stage,
        "stage_scores": [
            {"stage": i + 1, "macro": macro + 0.02 * i, "micro": micro, "head_macro": head, "tail_macro": 0.05 * i}
            for i in range(stages)
        ]
        if spends
        else [],
        "n_train": 96,
        "n_train_synthetic": 5,
        "wall_seconds": 431.25,
    }


def make_results(
    folder: Path,
    methods=("baldistill-a", "random-ft-cot"),
    seeds=(0, 1, 2),
    students=(STUDENT,),
    budgets=(96,),
    stages=(3,),
    intervals: bool = False,
) -> Path:
    """Write folder/results.json for every method × seed × student × budget × K; return the folder. With
    ``intervals``, results.json also holds constructed intervals (see ``constructed_intervals``)."""
    rows = [
        make_row(m, s, st, b, k) for st in students for b in budgets for k in stages for m in methods for s in seeds
    ]
    spec = {
        "config": "demo.yaml",
        "methods": list(methods),
        "seeds": list(seeds),
        "stages": list(stages),
        "budgets": list(budgets),
        "students": list(students),
        "dataset": "demo",
        "default": {"stages": stages[0], "budget": budgets[0], "student": students[0]},
        "reference": "random-ft-cot",
    }
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"spec": spec, "rows": rows}
    if intervals:
        doc["intervals"] = constructed_intervals(rows)
    (folder / "results.json").write_text(json.dumps(doc))
    return folder


LO, HI = 0.02, 0.03  # the constructed intervals reach 2 points below and 3 above the mean


def _iv(values) -> dict | None:
    xs = [v for v in values if v is not None]
    if not xs:
        return None
    m = sum(xs) / len(xs)
    return {"mean": m, "lo": m - LO, "hi": m + HI}


def constructed_intervals(rows: list[dict]) -> dict:
    """An ``intervals`` block as compare writes it, with made-up bounds (mean − 2 points, mean + 3 points) for
    every group, and each method's difference against random-ft-cot: mean difference, ± 1 point."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["student"], r["budget"], r["stages"], r["method"]), []).append(r)
    out = []
    for (ds, st, b, k, m), g in groups.items():
        test = {key: _iv(r[key] for r in g) for key in ("macro", "micro", "head_macro", "tail_macro")}
        test["per_domain"] = {d: _iv(r["per_domain"][d] for r in g) for d in g[0]["per_domain"]}
        out.append(
            {
                "dataset": ds,
                "student": st,
                "budget": b,
                "stages": k,
                "method": m,
                "settings": {},
                "seeds": [r["seed"] for r in g],
                "test": test,
            }
        )
    diffs = []
    for e in out:
        ref = next(
            (
                x
                for x in out
                if x["method"] == "random-ft-cot"
                and all(x[k] == e[k] for k in ("dataset", "student", "budget", "stages"))
            ),
            None,
        )
        if ref is None or e["method"] == "random-ft-cot":
            continue
        test = {
            k: None
            if e["test"][k] is None or ref["test"][k] is None
            else {
                "mean": e["test"][k]["mean"] - ref["test"][k]["mean"],
                "lo": e["test"][k]["mean"] - ref["test"][k]["mean"] - 0.01,
                "hi": e["test"][k]["mean"] - ref["test"][k]["mean"] + 0.01,
            }
            for k in ("macro", "head_macro", "tail_macro")
        }
        diffs.append(
            {
                "kind": "method",
                "a": {k: e[k] for k in ("dataset", "student", "budget", "stages", "method", "settings")},
                "b": {k: ref[k] for k in ("dataset", "student", "budget", "stages", "method", "settings")},
                "seeds": e["seeds"],
                "test": test,
            }
        )
    return {"resamples": 2000, "level": 0.95, "seed": 1, "groups": out, "differences": diffs}


def _load(folder: Path) -> tuple[list[ResultRow], Spec]:
    res = load_results(folder)
    return res.rows, res.spec


def _cells(md: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines() if line.startswith("|")]


def test_mean_std_is_sample_std_and_drops_missing():
    m, s, n = mean_std([0.1, 0.2, 0.3])
    assert abs(m - 0.2) < 1e-12 and abs(s - 0.1) < 1e-12 and n == 3
    assert mean_std([0.5, None, float("nan")]) == (0.5, None, 1)
    assert mean_std([None]) == (None, None, 0)


def test_main_table_layout_values_bold_and_order(tmp_path):
    rows, spec = _load(make_results(tmp_path, methods=("random-ft-cot", "baldistill-a", "zero-shot")))
    md = table_main(list(reversed(rows)), spec)
    cells = _cells(md)
    assert cells[0] == ["method", "demo macro", "demo micro", "demo head", "demo tail"]
    assert [r[0] for r in cells[2:]] == ["zero-shot", "random-ft-cot", "baldistill-a"]  # paper order
    by = {r[0]: r[1:] for r in cells[2:]}
    assert by["baldistill-a"] == ["**31.0 ± 1.0**", "40.5 ± 0.5", "51.0 ± 1.0", "**11.0 ± 1.4**"]
    assert by["random-ft-cot"] == ["21.0 ± 1.0", "**50.5 ± 0.5**", "**61.0 ± 1.0**", "**11.0 ± 1.0**"]  # tie
    assert by["zero-shot"][3] == "0.0 ± 0.0"
    assert "n = 3 seeds" in md and "B = 96" in md and "K = 3" in md and STUDENT in md and "accuracy" in md


def test_single_seed_shows_mean_only_and_missing_is_dash(tmp_path):
    rows, spec = _load(make_results(tmp_path, seeds=(2,)))
    by = {r[0]: r[1:] for r in _cells(table_main(rows, spec))[2:]}
    assert by["baldistill-a"][0] == "**32.0**" and by["random-ft-cot"][0] == "22.0" and by["baldistill-a"][3] == "–"
    assert "n = 1 seed;" in table_main(rows, spec)


def test_main_table_uses_default_cell_only(tmp_path):
    rows, spec = _load(make_results(tmp_path, budgets=(96, 200), students=(STUDENT, OTHER)))
    by = {r[0]: r[1:] for r in _cells(table_main(rows, spec))[2:]}
    assert by["baldistill-a"][0] == "**31.0 ± 1.0**"


def test_generalization_rows_student_budget_method(tmp_path):
    rows, spec = _load(make_results(tmp_path, budgets=(96, 200), students=(STUDENT, OTHER)))
    cells = _cells(table_generalization(rows, spec))
    assert cells[0] == ["student", "budget", "method", "demo"]
    keys = [tuple(r[:3]) for r in cells[2:]]
    assert keys == [
        (st, b, m) for st in (STUDENT, OTHER) for b in ("96", "200") for m in ("random-ft-cot", "baldistill-a")
    ]
    val = {tuple(r[:3]): r[3] for r in cells[2:]}
    assert val[(OTHER, "200", "baldistill-a")] == "**46.4 ± 1.0**"  # 0.30+0.01+0.05+0.104; best in its block
    assert val[(OTHER, "200", "random-ft-cot")] == "36.4 ± 1.0"


def test_stage_table_only_with_several_k(tmp_path):
    rows, spec = _load(make_results(tmp_path))
    assert table_stages(rows, spec) == ""
    rows, spec = _load(make_results(tmp_path / "k", stages=(3, 5)))
    cells = _cells(table_stages(rows, spec))
    assert cells[0] == ["method", "demo K=3", "demo K=5"]
    assert {r[0]: r[1:] for r in cells[2:]}["baldistill-a"] == ["**31.0 ± 1.0**", "**33.0 ± 1.0**"]
    assert "Single-stage (random-ft-cot): one run, repeated under every K." in table_stages(rows, spec)


def test_frontier_table_budget_by_method_with_units_and_tail(tmp_path):
    rows, spec = _load(make_results(tmp_path, budgets=(96,)))
    assert frontier_grid(rows, spec) is None  # one budget: no frontier
    rows, spec = _load(
        make_results(tmp_path / "b", methods=("baldistill-a", "random-ft-cot", "zero-shot"), budgets=(96, 48))
    )
    for r in rows:  # a run that spent less than its budget: the units are the mean over seeds
        if (r.budget, r.method, r.seed) == (48, "baldistill-a", 0):
            r.spent_units = 45
    grid = frontier_grid(rows, spec)
    assert grid.header == ["budget", "method", "teacher units", "macro", "head", "tail"]
    # budgets in increasing order; zero-shot calls no teacher and is left out, as in the frontier plot
    assert [tuple(r[:3]) for r in grid.body] == [
        ("48", "random-ft-cot", "48"),
        ("48", "baldistill-a", "47"),
        ("96", "random-ft-cot", "96"),
        ("96", "baldistill-a", "96"),
    ]
    by = {tuple(r[:2]): r[3:] for r in grid.body}
    # baldistill-a at B = 48: macro 0.30 + 0.01 s − 0.048; tail the mean of 0.10 and 0.12 (seed 2 has none)
    assert by[("48", "baldistill-a")] == ["26.2 ± 1.0", "51.0 ± 1.0", "11.0 ± 1.4"]
    # bold is the best within each budget: random-ft-cot's head, baldistill-a's macro
    assert (0, 4) in grid.bold and (1, 3) in grid.bold and (0, 3) not in grid.bold
    assert "one head/tail split for every budget" in grid.caption
    rows[0].tail_domains = ["gcd"]  # runs split at their own B: the caption says so
    assert "each run's own B" in frontier_grid(rows, spec).caption


def test_write_tables(tmp_path):
    make_results(tmp_path, stages=(3, 5))
    paths = write_tables(tmp_path)
    assert [p.name for p in paths] == ["table.md", "table_generalization.md"]
    text = paths[0].read_text()
    assert "## Main comparison" in text and "## Sensitivity to the number of stages K" in text
    assert "| baldistill-a |" in paths[1].read_text()


def test_cells_show_the_interval_where_results_json_has_one(tmp_path):
    folder = make_results(tmp_path, methods=("random-ft-cot", "baldistill-a", "zero-shot"), intervals=True)
    rows, spec = _load(folder)
    iv = Intervals.model_validate(json.loads((folder / "results.json").read_text())["intervals"])
    md = table_main(rows, spec, iv)
    by = {r[0]: r[1:] for r in _cells(md)[2:]}
    # baldistill-a macro: mean of 0.30, 0.31, 0.32 = 31.0; bounds 2 below and 3 above
    assert by["baldistill-a"][0] == "**31.0 [29.0, 34.0]**"
    assert by["zero-shot"][3] == "0.0 [-2.0, 3.0]"
    assert "95 % bootstrap interval" in md and "± sample std" not in md
    # without the intervals the same table is mean ± std
    assert {r[0]: r[1:] for r in _cells(table_main(rows, spec))[2:]}["baldistill-a"][0] == "**31.0 ± 1.0**"


def test_a_cell_without_an_interval_falls_back_and_the_caption_says_so(tmp_path):
    folder = make_results(tmp_path, intervals=True)
    data = json.loads((folder / "results.json").read_text())
    data["intervals"]["groups"] = [g for g in data["intervals"]["groups"] if g["method"] != "random-ft-cot"]
    res = Results.from_json(data)
    grid = main_grid(res.rows, res.spec, res.intervals)
    by = {r[0]: r[1:] for r in grid.body}
    assert by["random-ft-cot"][0] == "21.0 ± 1.0" and by["baldistill-a"][0] == "31.0 [29.0, 34.0]"
    assert "cells without an interval are mean ± sample std" in grid.caption


def test_per_domain_table_with_intervals_and_tail_marked(tmp_path):
    folder = make_results(tmp_path, intervals=True)
    rows, spec = _load(folder)
    grid = domains_grid(rows, spec, load_results(folder).intervals)
    assert grid.header == ["method", "products", "sports", "lcm (tail)", "gcd (tail)"]  # by pool size
    by = {r[0]: r[1:] for r in grid.body}
    assert by["baldistill-a"] == ["82.0 [80.0, 85.0]", "82.0 [80.0, 85.0]", "12.0 [10.0, 15.0]", "12.0 [10.0, 15.0]"]
    # the fallback per domain is mean ± std of the rows' per-domain scores
    assert {r[0]: r[1:] for r in domains_grid(rows, spec).body}["baldistill-a"][0] == "82.0 ± 2.0"


def test_differences_table_against_the_reference_method(tmp_path):
    folder = make_results(tmp_path, methods=("zero-shot", "random-ft-cot", "baldistill-a"), intervals=True)
    rows, spec = _load(folder)
    iv = Intervals.model_validate(json.loads((folder / "results.json").read_text())["intervals"])
    grid = differences_grid(rows, spec, iv)
    assert grid.header == ["comparison", "setting", "macro", "head", "tail"]
    by = {r[0]: r[1:] for r in grid.body}
    assert set(by) == {"zero-shot − random-ft-cot", "baldistill-a − random-ft-cot"}
    assert by["baldistill-a − random-ft-cot"] == [
        "default",
        "+10.0 [+9.0, +11.0]",
        "-10.0 [-11.0, -9.0]",
        "+0.0 [-1.0, +1.0]",
    ]
    assert "random-ft-cot" in grid.caption and "paired by seed and by test item" in grid.caption
    assert differences_grid(rows, spec) is None  # nothing to show without intervals
    text = write_tables(folder)[0].read_text()
    assert "## Per domain" in text and "## Paired differences" in text


def test_a_budget_difference_is_named_by_its_two_budgets(tmp_path):
    folder = make_results(tmp_path, budgets=(96, 200), intervals=True)
    data = json.loads((folder / "results.json").read_text())
    group = {"dataset": "demo", "student": STUDENT, "stages": 3, "method": "baldistill-a", "settings": {}}
    data["intervals"]["differences"].append(
        {
            "kind": "budget",
            "a": {**group, "budget": 200},
            "b": {**group, "budget": 96},
            "seeds": [0, 1, 2],
            "test": {"macro": {"mean": 0.104, "lo": 0.09, "hi": 0.12}, "head_macro": None, "tail_macro": None},
        }
    )
    res = Results.from_json(data)
    grid = differences_grid(res.rows, res.spec, res.intervals)
    by = {r[0]: r[1:] for r in grid.body}
    # the budget is the comparison, so it is not repeated in the setting column
    assert by["baldistill-a: B = 200 − 96"][:2] == ["default", "+10.4 [+9.0, +12.0]"]
    pairs = [r[1] for r in grid.body if r[0] == "baldistill-a − random-ft-cot"]
    assert pairs == ["B = 96", "B = 200"]  # a method pair still names its budget, the default first
    assert "(B included)" in grid.caption
