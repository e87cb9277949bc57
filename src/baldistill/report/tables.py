"""Tables from a comparison folder's results.json (`baldistill compare`), laid out like the paper's.

Rules shared by every table:
* scores are fractions in results.json and are shown ×100 with one decimal;
* a cell is "mean ± std" over the seeds of that cell, std being the *sample* std (ddof=1); with a single
  seed only the mean is shown (no spread is claimed); null/NaN scores are left out of both; a cell with no
  score at all is "–";
* bold marks the best mean of a column (compared as displayed, so ties are all bold);
* methods follow the paper's row order (``core.methods.METHOD_ORDER``); unknown methods come after, alphabetically.

`table.md` holds the main comparison (Table 2) and, when the stage sweep has two or more K, a method × K
table of macro scores (Figure 4 as numbers). `table_generalization.md` holds Table 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..core.methods import method_rank
from ..core.results import load_results

MAIN_COLUMNS = [("macro", "macro"), ("micro", "micro"), ("head_macro", "head"), ("tail_macro", "tail")]
DASH = "–"


@dataclass
class Grid:
    """A renderer-agnostic table: header, body strings, bold (row, col) positions, a caption, and how many
    leading columns are labels (left-aligned; the rest are numbers, right-aligned)."""

    title: str
    header: list[str]
    body: list[list[str]]
    caption: str = ""
    bold: set[tuple[int, int]] = field(default_factory=set)
    labels: int = 1


def load(folder: str | Path) -> tuple[list[dict], dict]:
    """(rows, spec) of DIR/results.json, each row checked against ``ResultRow``."""
    return load_results(folder)


def clean(values) -> list[float]:
    """The finite numbers among values (None and NaN dropped)."""
    return [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def mean_std(values) -> tuple[float | None, float | None, int]:
    """(mean, sample std, n) of the finite values; std is None below two values, mean None with none."""
    xs = clean(values)
    if not xs:
        return None, None, 0
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None, len(xs)
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)), len(xs)


def fmt(values) -> str:
    """"mean ± std" ×100 with one decimal (see the module rules)."""
    m, s, _ = mean_std(values)
    if m is None:
        return DASH
    return f"{100 * m:.1f}" if s is None else f"{100 * m:.1f} ± {100 * s:.1f}"


def methods_of(rows: list[dict]) -> list[str]:
    """The methods present, in paper order."""
    return sorted({r["method"] for r in rows}, key=method_rank)


def datasets_of(rows: list[dict], spec: dict) -> list[str]:
    """Datasets in order of first appearance (the spec's dataset when rows carry none)."""
    return list(dict.fromkeys(dataset_of(r, spec) for r in rows))


def dataset_of(row: dict, spec: dict) -> str:
    """The row's dataset name (the spec's when the row has none)."""
    return row.get("dataset") or spec.get("dataset") or "data"


def default_setting(spec: dict, rows: list[dict]) -> dict:
    """{stages, budget, student} of the default cell: spec["default"], else the first value of each sweep."""
    d = dict(spec.get("default") or {})
    for key, plural in (("stages", "stages"), ("budget", "budgets"), ("student", "students")):
        if d.get(key) is None:
            d[key] = (spec.get(plural) or [rows[0][key] if rows else None])[0]
    return d


def select(rows: list[dict], **want) -> list[dict]:
    """Rows whose fields equal every given value."""
    return [r for r in rows if all(r.get(k) == v for k, v in want.items())]


def mark_best(grid: Grid, cols: range, row_ids: list[int] | None = None) -> None:
    """Bold the highest displayed mean of each column in cols (over row_ids, default all rows)."""
    ids = list(range(len(grid.body))) if row_ids is None else row_ids
    for c in cols:
        means = {i: float(grid.body[i][c].split(" ")[0]) for i in ids if grid.body[i][c] != DASH}
        if means:
            best = max(means.values())
            grid.bold |= {(i, c) for i, m in means.items() if m == best}


def seeds_caption(groups: list[list[dict]]) -> str:
    """"n = 3 seeds" or "n = 1–3 seeds" over the non-empty cell groups."""
    ns = sorted({len({r["seed"] for r in g}) for g in groups if g}) or [0]
    n = str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    return f"n = {n} seed{'s' if ns[-1] != 1 else ''}"


def metrics_caption(rows: list[dict], spec: dict) -> str:
    """"metric: accuracy" or "metrics: a (d1), b (d2)" from the rows."""
    per = {}
    for r in rows:
        per.setdefault(dataset_of(r, spec), r.get("metric", "?"))
    if len(set(per.values())) == 1:
        return f"metric: {next(iter(per.values()))}"
    return "metrics: " + ", ".join(f"{m} ({d})" for d, m in per.items())


def main_grid(rows: list[dict], spec: dict) -> Grid:
    """Table 2: methods × (dataset × macro, micro, head, tail) at the default student, budget and K."""
    d = default_setting(spec, rows)
    sub = select(rows, student=d["student"], budget=d["budget"], stages=d["stages"])
    dsets = datasets_of(sub, spec)
    header = ["method"] + [f"{ds} {label}" for ds in dsets for _, label in MAIN_COLUMNS]
    body, groups = [], []
    for m in methods_of(sub):
        line = [m]
        for ds in dsets:
            g = [r for r in sub if r["method"] == m and dataset_of(r, spec) == ds]
            groups.append(g)
            line += [fmt(r.get(key) for r in g) for key, _ in MAIN_COLUMNS]
        body.append(line)
    caption = (f"Mean ± sample std ×100 over {seeds_caption(groups)}; student {d['student']}, budget B = "
               f"{d['budget']}, K = {d['stages']} stages; {metrics_caption(sub, spec)}; head and tail are macro "
               "over head and tail domains. Bold: best mean per column.")
    grid = Grid("Main comparison", header, body, caption)
    mark_best(grid, range(1, len(header)))
    return grid


def stages_grid(rows: list[dict], spec: dict) -> Grid | None:
    """Method × K macro at the default student and budget; None with fewer than two K values."""
    d = default_setting(spec, rows)
    sub = select(rows, student=d["student"], budget=d["budget"])
    ks = sorted({r["stages"] for r in sub})
    if len(ks) < 2:
        return None
    dsets = datasets_of(sub, spec)
    header = ["method"] + [f"{ds} K={k}" for ds in dsets for k in ks]
    body, groups = [], []
    for m in methods_of(sub):
        line = [m]
        for ds in dsets:
            for k in ks:
                g = [r for r in sub if r["method"] == m and r["stages"] == k and dataset_of(r, spec) == ds]
                groups.append(g)
                line.append(fmt(r.get("macro") for r in g))
        body.append(line)
    caption = (f"Macro ×100 by number of stages K (mean ± sample std over {seeds_caption(groups)}); student "
               f"{d['student']}, budget B = {d['budget']}. Bold: best mean per column.")
    single = [m for m in methods_of(sub) if all(r.get("effective_stages") == 1 for r in sub if r["method"] == m)]
    if single:
        caption += f" Single-stage ({', '.join(single)}): one run, repeated under every K."
    grid = Grid("Sensitivity to the number of stages K", header, body, caption)
    mark_best(grid, range(1, len(header)))
    return grid


def generalization_grid(rows: list[dict], spec: dict) -> Grid:
    """Table 4: (student × budget × method) × datasets, macro, at the default K; bold within each block."""
    d = default_setting(spec, rows)
    sub = select(rows, stages=d["stages"])
    dsets = datasets_of(sub, spec)
    students = list(dict.fromkeys([*(spec.get("students") or []), *(r["student"] for r in sub)]))
    budgets = list(dict.fromkeys([*(spec.get("budgets") or []), *(r["budget"] for r in sub)]))
    grid = Grid("Student models and budgets", ["student", "budget", "method", *dsets], [], labels=3)
    groups = []
    for st in students:
        for b in budgets:
            block = select(sub, student=st, budget=b)
            start = len(grid.body)
            for m in methods_of(block):
                cells = [[r for r in block if r["method"] == m and dataset_of(r, spec) == ds] for ds in dsets]
                groups += cells
                grid.body.append([st, str(b), m, *(fmt(r.get("macro") for r in g) for g in cells)])
            mark_best(grid, range(3, 3 + len(dsets)), list(range(start, len(grid.body))))
    grid.caption = (f"Macro ×100 (mean ± sample std over {seeds_caption(groups)}), K = {d['stages']} stages; "
                    f"{metrics_caption(sub, spec)}. Bold: best mean per column within each student × budget block.")
    return grid


def to_markdown(grid: Grid) -> str:
    """A GitHub-flavoured markdown table, caption below; bold cells wrapped in ** **."""
    def cell(i: int, j: int, text: str) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if (i, j) in grid.bold else text

    lines = ["| " + " | ".join(h.replace("|", "\\|") for h in grid.header) + " |",
             "|" + "|".join("---" if j < grid.labels else "---:" for j in range(len(grid.header))) + "|"]
    lines += ["| " + " | ".join(cell(i, j, t) for j, t in enumerate(row)) + " |" for i, row in enumerate(grid.body)]
    return "\n".join(lines) + (f"\n\n{grid.caption}" if grid.caption else "") + "\n"


def table_main(rows: list[dict], spec: dict) -> str:
    """Markdown of the main comparison (Table 2)."""
    return to_markdown(main_grid(rows, spec))


def table_stages(rows: list[dict], spec: dict) -> str:
    """Markdown of the method × K table, or "" when the sweep has fewer than two K."""
    grid = stages_grid(rows, spec)
    return to_markdown(grid) if grid else ""


def table_generalization(rows: list[dict], spec: dict) -> str:
    """Markdown of the student × budget × method table (Table 4)."""
    return to_markdown(generalization_grid(rows, spec))


def write_tables(folder: str | Path) -> list[Path]:
    """Write DIR/table.md (main comparison, plus the K sweep when present) and DIR/table_generalization.md."""
    folder = Path(folder)
    rows, spec = load(folder)
    main = f"## Main comparison\n\n{table_main(rows, spec)}"
    stages = table_stages(rows, spec)
    if stages:
        main += f"\n## Sensitivity to the number of stages K\n\n{stages}"
    out = [folder / "table.md", folder / "table_generalization.md"]
    out[0].write_text(main)
    out[1].write_text(f"## Student models and budgets\n\n{table_generalization(rows, spec)}")
    return out
