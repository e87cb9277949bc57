"""One self-contained HTML report of a comparison folder: DIR/report.html.

Rules: no external URL anywhere (CSS inline, images as base64 data URIs); every text goes through
`html.escape`; the tables are built as HTML from the same `Grid`s as the markdown tables (tables.py);
missing table.md / table_generalization.md or plots are (re)written first.
"""

from __future__ import annotations

import base64
import json
import math
from html import escape
from pathlib import Path

from ..core.comparison import ResultRow, Spec, load_results, value_text
from ..core.methods import method_rank
from .plots import NAMES, write_plots
from .tables import Grid, datasets_of, extra_grids, generalization_grid, main_grid, write_tables

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 .3em;font-size:14px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f0f0f0}
.l{text-align:left}caption{caption-side:bottom;text-align:left;color:#555;
font-size:13px;padding-top:4px}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}dd{margin:0}"""

APPENDIX = [
    ("method", "method"),
    ("seed", "seed"),
    ("K", "stages"),
    ("budget", "budget"),
    ("student", "student"),
    ("macro", "macro"),
    ("micro", "micro"),
    ("tail", "tail_macro"),
    ("spent units", "spent_units"),
    ("physical calls", "physical_calls"),
    ("wall time (s)", "wall_seconds"),
]


def grid_html(grid: Grid) -> str:
    """An HTML <table> of a Grid: header row, body, bold cells as <b>, caption."""

    def cls(j: int) -> str:
        return ' class="l"' if j < grid.labels else ""

    head = "".join(f"<th{cls(j)}>{escape(h)}</th>" for j, h in enumerate(grid.header))
    body = []
    for i, row in enumerate(grid.body):
        cells = (f"<b>{escape(t)}</b>" if (i, j) in grid.bold else escape(t) for j, t in enumerate(row))
        body.append("<tr>" + "".join(f"<td{cls(j)}>{c}</td>" for j, c in enumerate(cells)) + "</tr>")
    return (
        f"<h2>{escape(grid.title)}</h2>\n<table><caption>{escape(grid.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _value(row: ResultRow, key: str) -> str:
    """A row field for the appendix: scores ×100 with one decimal, wall time one decimal, '–' when absent."""
    if key.startswith("settings."):  # a swept setting, as written on the command line
        name = key.removeprefix("settings.")
        return value_text(row.settings[name]) if name in row.settings else "–"
    v = getattr(row, key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if key in ("macro", "micro", "tail_macro"):
        return f"{100 * v:.1f}"
    return f"{v:.1f}" if key == "wall_seconds" else str(v)


def appendix_grid(rows: list[ResultRow], spec: Spec) -> Grid:
    """Every cell of the comparison, one row each (dataset column only when there are several)."""
    cols = list(APPENDIX)
    keys = list(spec.sweep)
    cols[5:5] = [(k, f"settings.{k}") for k in keys]  # the swept settings, after the classic axes
    if len(datasets_of(rows)) > 1:
        cols.insert(0, ("dataset", "dataset"))
    order = sorted(
        rows,
        key=lambda r: (
            r.dataset,
            r.student,
            r.budget,
            r.stages,
            json.dumps([r.settings.get(k) for k in keys]),
            method_rank(r.method),
            r.seed,
        ),
    )
    body = [[_value(r, key) for _, key in cols] for r in order]
    labels = 1 + (cols[0][0] == "dataset")
    return Grid("Appendix: every cell", [c for c, _ in cols], body, "Scores ×100; one row per run.", labels=labels)


def spec_html(spec: dict) -> str:
    """The spec (as compare.json holds it) as a definition list (lists joined by commas, dicts as JSON)."""
    items = []
    for k, v in spec.items():
        text = ", ".join(map(str, v)) if isinstance(v, list) else json.dumps(v) if isinstance(v, dict) else str(v)
        items.append(f"<dt>{escape(str(k))}</dt><dd>{escape(text)}</dd>")
    return f"<dl>{''.join(items)}</dl>"


def image_html(path: Path) -> str:
    """An <img> with the PNG inlined as a base64 data URI."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{escape(path.stem)}" src="data:image/png;base64,{data}"></figure>'


def _ensure_outputs(folder: Path) -> list[Path]:
    """Write the markdown tables and plots when missing; return the plot PNGs, sorted."""
    if not (folder / "table.md").exists() or not (folder / "table_generalization.md").exists():
        write_tables(folder)
    pngs = list((folder / "plots").glob("*.png")) or write_plots(folder)
    return sorted(pngs, key=_plot_key)


def _plot_key(path: Path) -> tuple[int, str]:
    """Plots in reading order (per domain, stages, spend, signal, K sweep, frontier), then by name."""
    rank = [i for i, n in enumerate(NAMES) if path.stem == n or path.stem.startswith(n + "_")]
    return (rank[0] if rank else len(NAMES), path.name)


def write_report(folder: str | Path) -> Path:
    """Write DIR/report.html (spec, tables, plots, per-cell appendix) and return its path."""
    folder = Path(folder)
    res = load_results(folder)
    rows, spec, iv = res.rows, res.spec, res.intervals
    pngs = _ensure_outputs(folder)
    grids = [main_grid(rows, spec, iv), *extra_grids(rows, spec, iv), generalization_grid(rows, spec, iv)]
    saved = json.loads((folder / "results.json").read_text(encoding="utf-8"))["spec"]
    parts = [
        f"<h1>BalDistill comparison: {escape(spec.dataset)}</h1>",
        spec_html(saved),
        *(grid_html(g) for g in grids),
    ]
    if pngs:
        parts += ["<h2>Plots</h2>", *(image_html(p) for p in pngs)]
    parts.append(grid_html(appendix_grid(rows, spec)))
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>BalDistill comparison</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    out = folder / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
