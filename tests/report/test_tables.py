"""Markdown tables of a comparison folder, from a synthetic results.json (2 methods × 3 seeds, plus a
second student and budget for the generalization table). Also home of the synthetic-results builder that
test_plots.py and test_html_report.py import."""

from __future__ import annotations

import json
from pathlib import Path

from baldistill.report.tables import (
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
        "cell": f"{student}/B{budget}/K{stages}/{method}/seed{seed}", "run": f"{student}/{method}/seed{seed}", "n_test": 80, "dataset": "demo", "student": student,
        "budget": budget, "stages": stages, "method": method, "seed": seed, "metric": "accuracy",
        "effective_stages": stages if method == "baldistill-a" else 1,
        "macro": macro + 0.01 * seed + (0.05 if student == OTHER else 0) + 0.001 * (budget - 96) + 0.01 * (stages - 3),
        "micro": micro + 0.005 * seed, "head_macro": head + 0.01 * seed, "head_micro": head,
        "tail_macro": TAILS[method][seed], "tail_micro": TAILS[method][seed], "macro_f1": None, "micro_f1": None,
        "per_domain": {d: (0.8 if d not in TAIL else 0.1) + 0.02 * seed for d in DOMAINS},
        "pool_sizes": dict(DOMAINS), "tail_domains": TAIL,
        "spent_units": budget if spends else 0, "physical_calls": 40, "prompt_tokens": 1234,
        "completion_tokens": 567, "dollars": 0.0, "spend_by_stage_domain": per_stage,
        "stage_scores": [{"stage": i + 1, "macro": macro + 0.02 * i, "micro": micro, "head_macro": head,
                          "tail_macro": 0.05 * i} for i in range(stages)] if spends else [],
        "n_train": 96, "n_train_synthetic": 5, "wall_seconds": 431.25,
    }


def make_results(folder: Path, methods=("baldistill-a", "random-ft-cot"), seeds=(0, 1, 2), students=(STUDENT,),
                 budgets=(96,), stages=(3,)) -> Path:
    """Write folder/results.json for every method × seed × student × budget × K; return the folder."""
    rows = [make_row(m, s, st, b, k) for st in students for b in budgets for k in stages for m in methods for s in seeds]
    spec = {"config": "demo.yaml", "methods": list(methods), "seeds": list(seeds), "stages": list(stages),
            "budgets": list(budgets), "students": list(students), "dataset": "demo",
            "default": {"stages": stages[0], "budget": budgets[0], "student": students[0]}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps({"spec": spec, "rows": rows}))
    return folder


def _load(folder: Path) -> tuple[list[dict], dict]:
    data = json.loads((folder / "results.json").read_text())
    return data["rows"], data["spec"]


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
    assert keys == [(st, b, m) for st in (STUDENT, OTHER) for b in ("96", "200")
                    for m in ("random-ft-cot", "baldistill-a")]
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


def test_write_tables(tmp_path):
    make_results(tmp_path, stages=(3, 5))
    paths = write_tables(tmp_path)
    assert [p.name for p in paths] == ["table.md", "table_generalization.md"]
    text = paths[0].read_text()
    assert "## Main comparison" in text and "## Sensitivity to the number of stages K" in text
    assert "| baldistill-a |" in paths[1].read_text()
