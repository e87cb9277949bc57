"""Tables from a comparison folder's results.json (`baldistill compare`), laid out like the paper's.

Rules shared by every table:
* scores are fractions in results.json and are shown ×100 with one decimal;
* a cell is "mean [lo, hi]": the mean over the seeds of that cell and its 95 % bootstrap interval over seeds
  and test items stratified by domain (results.json ``intervals``, ``runner/intervals.py``); where a cell has
  no interval (a folder written before them) it is "mean ± std", std being the *sample* std (ddof=1), and
  with a single seed only the mean is shown (no spread is claimed); null/NaN scores are left out of both; a
  cell with no score at all is "–";
* paired differences are "+d [lo, hi]" (A − B, paired by seed and test item);
* bold marks the best mean of a column (compared as displayed, so ties are all bold);
* methods follow the paper's row order (``core.methods.METHOD_ORDER``); unknown methods come after, alphabetically.

`table.md` holds the main comparison (Table 2), the per-domain scores, the paired differences (against the
reference method and between the values of each swept setting), every swept setting's cells (``--sweep``)
and, when the stage sweep has two or more K, a method × K table of macro scores (Figure 4 as numbers).
`table_generalization.md` holds Table 4.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..core.methods import method_rank
from ..core.results import load_intervals, load_results, references

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
    """ "mean ± std" ×100 with one decimal (see the module rules)."""
    m, s, _ = mean_std(values)
    if m is None:
        return DASH
    return f"{100 * m:.1f}" if s is None else f"{100 * m:.1f} ± {100 * s:.1f}"


class Intervals:
    """Look-ups in a comparison's ``intervals`` (results.json): a group's interval of a statistic, the paired
    differences. Empty (every look-up None) for folders without them."""

    GROUP = ("dataset", "student", "budget", "stages", "method")

    def __init__(self, data: dict | None = None):
        self.data = data or {}
        self._groups = {self.key(g): g for g in self.data.get("groups") or []}

    @classmethod
    def key(cls, g: dict) -> str:
        return json.dumps([g.get(k) for k in cls.GROUP] + [sorted((g.get("settings") or {}).items())])

    def get(self, row: dict, stat: str, split: str = "test", domain: str | None = None) -> dict | None:
        """{mean, lo, hi} of a statistic for the group of ``row`` (any of its seeds), or None."""
        g = self._groups.get(self.key({**row, "dataset": row.get("dataset")}))
        block = (g or {}).get(split) or {}
        return (block.get("per_domain") or {}).get(domain) if domain is not None else block.get(stat)

    @property
    def differences(self) -> list[dict]:
        return list(self.data.get("differences") or [])

    @property
    def resamples(self) -> int:
        return int(self.data.get("resamples") or 0)


def fmt_interval(iv: dict | None, signed: bool = False) -> str:
    """ "mean [lo, hi]" ×100 with one decimal ("+d [lo, hi]" for a difference); "–" when absent."""
    if not iv:
        return DASH
    f = "{:+.1f}" if signed else "{:.1f}"

    def num(x: float) -> str:
        x = 100 * x
        return f.format(0.0 if abs(x) < 0.05 else x)  # no "-0.0"

    return f"{num(iv['mean'])} [{num(iv['lo'])}, {num(iv['hi'])}]"


def cell_text(
    group: list[dict], key: str, iv: Intervals | None, used: list[bool], split: str = "test", domain: str | None = None
) -> str:
    """A table cell for the rows of one group: its interval when there is one, else mean ± std. Appends to
    ``used`` whether the interval was shown (for the caption)."""
    got = iv.get(group[0], key, split, domain) if (iv is not None and group) else None
    used.append(got is not None)
    if got is not None:
        return fmt_interval(got)
    if domain is not None:
        return fmt((r.get("per_domain") or {}).get(domain) for r in group)
    return fmt(r.get(key if split == "test" else f"{split}_{key}") for r in group)


def spread_caption(used: list[bool], groups: list[list[dict]], iv: Intervals | None) -> str:
    """What a table's cells show: the interval, mean ± std, or both where some cells lack an interval."""
    n = seeds_caption(groups)
    r = f"{iv.resamples:,}" if iv is not None and iv.resamples else "2,000"
    with_iv = (
        f"Mean ×100 over {n} with its 95 % bootstrap interval [lo, hi] (over seeds and over test items "
        f"stratified by domain, {r} resamples)"
    )
    if used and all(used):
        return with_iv
    if any(used):
        return with_iv + "; cells without an interval are mean ± sample std"
    return f"Mean ± sample std ×100 over {n}"


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
    """{stages, budget, student, settings} of the default cell: spec["default"], else the first value of each
    sweep (settings: the other swept settings, {} without any)."""
    d = dict(spec.get("default") or {})
    for key, plural in (("stages", "stages"), ("budget", "budgets"), ("student", "students")):
        if d.get(key) is None:
            d[key] = (spec.get(plural) or [rows[0][key] if rows else None])[0]
    if d.get("settings") is None:
        d["settings"] = {k: v[0] for k, v in (spec.get("sweep") or {}).items()}
    return d


def select(rows: list[dict], **want) -> list[dict]:
    """Rows whose fields equal every given value (``settings``: a row without any has {})."""

    def get(r, k):
        return (r.get("settings") or {}) if k == "settings" else r.get(k)

    return [r for r in rows if all(get(r, k) == v for k, v in want.items())]


def at_default(rows: list[dict], d: dict, *free: str) -> list[dict]:
    """The rows at the default setting, except the fields named in ``free``."""
    return select(rows, **{k: d[k] for k in ("student", "budget", "stages", "settings") if k not in free})


def mark_best(grid: Grid, cols: range, row_ids: list[int] | None = None) -> None:
    """Bold the highest displayed mean of each column in cols (over row_ids, default all rows)."""
    ids = list(range(len(grid.body))) if row_ids is None else row_ids
    for c in cols:
        means = {i: float(grid.body[i][c].split(" ")[0]) for i in ids if grid.body[i][c] != DASH}
        if means:
            best = max(means.values())
            grid.bold |= {(i, c) for i, m in means.items() if m == best}


def seeds_caption(groups: list[list[dict]]) -> str:
    """ "n = 3 seeds" or "n = 1–3 seeds" over the non-empty cell groups."""
    ns = sorted({len({r["seed"] for r in g}) for g in groups if g}) or [0]
    n = str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    return f"n = {n} seed{'s' if ns[-1] != 1 else ''}"


def metrics_caption(rows: list[dict], spec: dict) -> str:
    """ "metric: accuracy" or "metrics: a (d1), b (d2)" from the rows."""
    per = {}
    for r in rows:
        per.setdefault(dataset_of(r, spec), r.get("metric", "?"))
    if len(set(per.values())) == 1:
        return f"metric: {next(iter(per.values()))}"
    return "metrics: " + ", ".join(f"{m} ({d})" for d, m in per.items())


def setting_caption(d: dict) -> str:
    text = f"student {d['student']}, budget B = {d['budget']}, K = {d['stages']} stages"
    return text + "".join(f", {k} = {_value_text(v)}" for k, v in (d.get("settings") or {}).items())


def _value_text(v) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def main_grid(rows: list[dict], spec: dict, iv: Intervals | None = None) -> Grid:
    """Table 2: methods × (dataset × macro, micro, head, tail) at the default setting."""
    d = default_setting(spec, rows)
    sub = at_default(rows, d)
    dsets = datasets_of(sub, spec)
    header = ["method"] + [f"{ds} {label}" for ds in dsets for _, label in MAIN_COLUMNS]
    body, groups, used = [], [], []
    for m in methods_of(sub):
        line = [m]
        for ds in dsets:
            g = [r for r in sub if r["method"] == m and dataset_of(r, spec) == ds]
            groups.append(g)
            line += [cell_text(g, key, iv, used) for key, _ in MAIN_COLUMNS]
        body.append(line)
    caption = (
        f"{spread_caption(used, groups, iv)}; {setting_caption(d)}; {metrics_caption(sub, spec)}; head "
        "and tail are macro over head and tail domains. Bold: best mean per column."
    )
    grid = Grid("Main comparison", header, body, caption)
    mark_best(grid, range(1, len(header)))
    return grid


def domain_order(rows: list[dict]) -> tuple[list[str], dict[str, int], set[str]]:
    """Domains by training pool size (descending, then name), their pool sizes and the tail set of the rows
    (the tables and the plots order domains the same way)."""
    pools: dict[str, int] = {}
    for r in rows:
        for dom in r.get("per_domain") or {}:
            pools.setdefault(dom, 0)
        for dom, n in (r.get("pool_sizes") or {}).items():
            pools[dom] = max(pools.get(dom, 0), n or 0)
    tail = {dom for r in rows for dom in r.get("tail_domains") or []}
    return sorted(pools, key=lambda x: (-pools[x], x)), pools, tail


def domains_grid(rows: list[dict], spec: dict, iv: Intervals | None = None) -> Grid | None:
    """Per-domain scores: methods × domains (tail marked) at the default setting, one block per dataset."""
    d = default_setting(spec, rows)
    sub = [r for r in at_default(rows, d) if r.get("per_domain")]
    if not sub:
        return None
    dsets = datasets_of(sub, spec)
    cols = []
    for ds in dsets:
        doms, _, tail = domain_order([r for r in sub if dataset_of(r, spec) == ds])
        cols += [(ds, dom, dom in tail) for dom in doms]
    multi = len(dsets) > 1
    header = ["method"] + [f"{ds + ' ' if multi else ''}{dom}{' (tail)' if t else ''}" for ds, dom, t in cols]
    body, groups, used = [], [], []
    for m in methods_of(sub):
        line = [m]
        for ds, dom, _ in cols:
            g = [r for r in sub if r["method"] == m and dataset_of(r, spec) == ds]
            groups.append(g)
            line.append(cell_text(g, "", iv, used, domain=dom))
        body.append(line)
    caption = (
        f"Per-domain score. {spread_caption(used, groups, iv)}; {setting_caption(d)}; domains by training "
        "pool size, (tail): a tail domain of the reporting split. Bold: best mean per column."
    )
    grid = Grid("Per domain", header, body, caption)
    mark_best(grid, range(1, len(header)))
    return grid


DIFF_COLUMNS = [("macro", "macro"), ("head_macro", "head"), ("tail_macro", "tail")]
AXIS_LABELS = {"student": "student", "budget": "B", "stages": "K"}  # the classic axes as the tables name them


def score_columns(has_val: bool) -> list[tuple[str, str, str]]:
    """(row key, header, split) of the score columns: macro, head, tail, and the validation split's macro and
    tail when scored."""
    cols = [(k, label, "test") for k, label in DIFF_COLUMNS]
    return cols + ([("macro", "val macro", "val"), ("tail_macro", "val tail", "val")] if has_val else [])


def split_text(rows: list[dict]) -> str:
    """Which head/tail split rows of several budgets are reported on (the frontier's table and plot)."""
    tails = {tuple(sorted(r.get("tail_domains") or [])) for r in rows}
    return (
        "one head/tail split for every budget"
        if len(tails) == 1
        else "head/tail split at each run's own B (set data.reporting_budget for one split)"
    )


def differences_grid(rows: list[dict], spec: dict, iv: Intervals | None = None) -> Grid | None:
    """Paired differences A − B (results.json intervals): every method against the reference method at each
    setting, and each swept setting's values against its first; None when there are none."""
    diffs = iv.differences if iv is not None else []
    if not diffs:
        return None
    has_val = any(x.get("val") for x in diffs)
    cols = score_columns(has_val)
    vary = _varying(rows)
    dsets = datasets_of(rows, spec)
    grid = Grid("Paired differences", ["comparison", "setting", *(label for _, label, _ in cols)], [], labels=2)
    d = default_setting(spec, rows)
    refs = references(spec)
    for x in sorted(diffs, key=lambda x: _diff_order(x, d, refs)):
        a, b = x["a"], x["b"]
        axis = AXIS_LABELS.get(x["kind"])
        if x["kind"] == "method":
            what = f"{a['method']} − {b['method']}"
            keep = a.get("settings") or {}
        elif axis:
            what = f"{a['method']}: {axis} = {a[x['kind']]} − {b[x['kind']]}"
            keep = a.get("settings") or {}
        else:
            va, vb = _value_text(a["settings"][x["kind"]]), _value_text(b["settings"][x["kind"]])
            what = f"{a['method']}: {x['kind']} = {va} − {vb}"
            keep = {k: v for k, v in (a.get("settings") or {}).items() if k != x["kind"]}
        setting = [f"{k} = {a[k]}" for k in ("dataset",) if len(dsets) > 1]
        setting += [f"{label} = {a[k]}" for k, label in AXIS_LABELS.items() if k in vary and k != x["kind"]]
        setting += [f"{k} = {_value_text(v)}" for k, v in keep.items() if len((spec.get("sweep") or {}).get(k, [])) > 1]
        grid.body.append(
            [
                what,
                ", ".join(setting) or "default",
                *(fmt_interval((x.get(split) or {}).get(k), signed=True) for k, _, split in cols),
            ]
        )
    named = [AXIS_LABELS[k] for k in AXIS_LABELS if any(x["kind"] == k for x in diffs)]
    axes = f" ({', '.join(named)} included)" if named else ""
    n = sorted({len(x["seeds"]) for x in diffs})
    seeds = str(n[0]) if len(n) == 1 else f"{n[0]}–{n[-1]}"
    grid.caption = (
        f"A − B ×100 with its 95 % bootstrap interval, paired by seed and by test item ({seeds} "
        f"seed{'s' if n[-1] != 1 else ''} present on both sides, {iv.resamples:,} resamples); "
        f"methods against {_reference_text(spec)} at the same setting, "
        f"and each swept setting's values{axes} against its first value for the same method. An interval "
        "that excludes 0 is a difference these seeds and test items support."
    )
    return grid


def _reference_text(spec: dict) -> str:
    refs = references(spec)
    if len(refs) < 2:
        return f"the reference method {refs[0] if refs else '–'}"
    return (
        f"the reference methods {', '.join(refs[:-1])} and {refs[-1]} (a pair of two of them once, the later "
        "minus the earlier)"
    )


def _varying(rows: list[dict]) -> set[str]:
    return {k for k in ("student", "budget", "stages") if len({r.get(k) for r in rows}) > 1}


def _diff_order(x: dict, d: dict, refs: list[str]):
    """Against the reference method(s) first, in their order, the default setting first within each kind, then
    by setting."""
    a, b = x["a"], x["b"]
    default = all(a.get(k) == d[k] for k in ("student", "budget", "stages"))
    ref = refs.index(b["method"]) if x["kind"] == "method" and b["method"] in refs else 0
    return (
        x["kind"] != "method",
        x["kind"],
        ref,
        not default,
        str(a.get("dataset")),
        str(a.get("student")),
        a.get("budget") or 0,
        a.get("stages") or 0,
        json.dumps(sorted((a.get("settings") or {}).items())),
        method_rank(a["method"]),
    )


def sweep_grid(rows: list[dict], spec: dict, iv: Intervals | None = None) -> Grid | None:
    """Every combination of the swept settings (``--sweep``) × method at the default student, budget and K:
    macro, head, tail (and the validation split's macro and tail where scored); None without such a sweep."""
    keys = list(spec.get("sweep") or {})
    if not keys:
        return None
    d = default_setting(spec, rows)
    sub = at_default(rows, d, "settings")
    has_val = any(r.get("val_macro") is not None for r in sub)
    cols = score_columns(has_val)
    combos = list(dict.fromkeys(json.dumps([(r.get("settings") or {}).get(k) for k in keys]) for r in sub))
    order = {c: i for i, c in enumerate(combos)}
    grid = Grid("Swept settings", [*keys, "method", *(label for _, label, _ in cols)], [], labels=len(keys) + 1)
    groups, used = [], []
    for combo in sorted(combos, key=lambda c: _combo_rank(json.loads(c), spec, keys, order[c])):
        values = json.loads(combo)
        block = [r for r in sub if [(r.get("settings") or {}).get(k) for k in keys] == values]
        for m in methods_of(block):
            g = [r for r in block if r["method"] == m]
            groups.append(g)
            grid.body.append(
                [*(_value_text(v) for v in values), m, *(cell_text(g, k, iv, used, split) for k, _, split in cols)]
            )
    grid.caption = (
        f"{spread_caption(used, groups, iv)}; student {d['student']}, budget B = {d['budget']}, K = "
        f"{d['stages']} stages. Bold: best mean per column."
    )
    mark_best(grid, range(len(keys) + 1, len(grid.header)))
    return grid


def _combo_rank(values: list, spec: dict, keys: list[str], seen: int):
    """Sweep combinations in the order of each key's values on the command line."""
    sweep = spec.get("sweep") or {}
    idx = [sweep[k].index(v) if v in sweep.get(k, []) else len(sweep.get(k, [])) for k, v in zip(keys, values)]
    return (*idx, seen)


def stages_grid(rows: list[dict], spec: dict, iv: Intervals | None = None) -> Grid | None:
    """Method × K macro at the default student and budget; None with fewer than two K values."""
    d = default_setting(spec, rows)
    sub = at_default(rows, d, "stages")
    ks = sorted({r["stages"] for r in sub})
    if len(ks) < 2:
        return None
    dsets = datasets_of(sub, spec)
    header = ["method"] + [f"{ds} K={k}" for ds in dsets for k in ks]
    body, groups, used = [], [], []
    for m in methods_of(sub):
        line = [m]
        for ds in dsets:
            for k in ks:
                g = [r for r in sub if r["method"] == m and r["stages"] == k and dataset_of(r, spec) == ds]
                groups.append(g)
                line.append(cell_text(g, "macro", iv, used))
        body.append(line)
    caption = (
        f"Macro by number of stages K. {spread_caption(used, groups, iv)}; student {d['student']}, budget "
        f"B = {d['budget']}. Bold: best mean per column."
    )
    single = [m for m in methods_of(sub) if all(r.get("effective_stages") == 1 for r in sub if r["method"] == m)]
    if single:
        caption += f" Single-stage ({', '.join(single)}): one run, repeated under every K."
    grid = Grid("Sensitivity to the number of stages K", header, body, caption)
    mark_best(grid, range(1, len(header)))
    return grid


def generalization_grid(rows: list[dict], spec: dict, iv: Intervals | None = None) -> Grid:
    """Table 4: (student × budget × method) × datasets, macro, at the default K; bold within each block."""
    d = default_setting(spec, rows)
    sub = at_default(rows, d, "student", "budget")
    dsets = datasets_of(sub, spec)
    students = list(dict.fromkeys([*(spec.get("students") or []), *(r["student"] for r in sub)]))
    budgets = list(dict.fromkeys([*(spec.get("budgets") or []), *(r["budget"] for r in sub)]))
    grid = Grid("Student models and budgets", ["student", "budget", "method", *dsets], [], labels=3)
    groups, used = [], []
    for st in students:
        for b in budgets:
            block = select(sub, student=st, budget=b)
            start = len(grid.body)
            for m in methods_of(block):
                cells = [[r for r in block if r["method"] == m and dataset_of(r, spec) == ds] for ds in dsets]
                groups += cells
                grid.body.append([st, str(b), m, *(cell_text(g, "macro", iv, used) for g in cells)])
            mark_best(grid, range(3, 3 + len(dsets)), list(range(start, len(grid.body))))
    grid.caption = (
        f"Macro. {spread_caption(used, groups, iv)}; K = {d['stages']} stages; "
        f"{metrics_caption(sub, spec)}. Bold: best mean per column within each student × budget block."
    )
    return grid


def frontier_grid(rows: list[dict], spec: dict, iv: Intervals | None = None) -> Grid | None:
    """The cost–quality frontier as a table: budget × method (those that call the teacher) at the default
    student, K and settings, with the mean teacher units spent, macro, head, tail (and the validation split's
    macro and tail where scored); bold within each budget. None with fewer than two budgets."""
    d = default_setting(spec, rows)
    sub = [r for r in at_default(rows, d, "budget") if r.get("spent_units")]
    budgets = sorted({r["budget"] for r in sub})
    if len(budgets) < 2:
        return None
    dsets = datasets_of(sub, spec)
    cols = score_columns(any(r.get("val_macro") is not None for r in sub))
    lead = (["dataset"] if len(dsets) > 1 else []) + ["budget", "method", "teacher units"]
    grid = Grid("Cost–quality frontier", [*lead, *(label for _, label, _ in cols)], [], labels=len(lead) - 1)
    groups, used = [], []
    for ds in dsets:
        for b in budgets:
            block = [r for r in sub if r["budget"] == b and dataset_of(r, spec) == ds]
            start = len(grid.body)
            for m in methods_of(block):
                g = [r for r in block if r["method"] == m]
                groups.append(g)
                units = sum(r["spent_units"] for r in g) / len(g)
                grid.body.append(
                    [
                        *([ds] if len(dsets) > 1 else []),
                        str(b),
                        m,
                        f"{units:,.1f}".removesuffix(".0"),
                        *(cell_text(g, k, iv, used, split) for k, _, split in cols),
                    ]
                )
            mark_best(grid, range(len(lead), len(grid.header)), list(range(start, len(grid.body))))
    grid.caption = (
        f"{spread_caption(used, groups, iv)}; teacher units: mean units spent over the seeds; student "
        f"{d['student']}, K = {d['stages']} stages; {split_text(sub)}. Bold: best mean per column within each "
        f"budget."
    )
    return grid


def to_markdown(grid: Grid) -> str:
    """A GitHub-flavoured markdown table, caption below; bold cells wrapped in ** **."""

    def cell(i: int, j: int, text: str) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if (i, j) in grid.bold else text

    lines = [
        "| " + " | ".join(h.replace("|", "\\|") for h in grid.header) + " |",
        "|" + "|".join("---" if j < grid.labels else "---:" for j in range(len(grid.header))) + "|",
    ]
    lines += ["| " + " | ".join(cell(i, j, t) for j, t in enumerate(row)) + " |" for i, row in enumerate(grid.body)]
    return "\n".join(lines) + (f"\n\n{grid.caption}" if grid.caption else "") + "\n"


def table_main(rows: list[dict], spec: dict, iv: Intervals | None = None) -> str:
    """Markdown of the main comparison (Table 2)."""
    return to_markdown(main_grid(rows, spec, iv))


def table_stages(rows: list[dict], spec: dict, iv: Intervals | None = None) -> str:
    """Markdown of the method × K table, or "" when the sweep has fewer than two K."""
    grid = stages_grid(rows, spec, iv)
    return to_markdown(grid) if grid else ""


def table_generalization(rows: list[dict], spec: dict, iv: Intervals | None = None) -> str:
    """Markdown of the student × budget × method table (Table 4)."""
    return to_markdown(generalization_grid(rows, spec, iv))


def teacher_grid(rows: list[dict], spec: dict, iv: Intervals | None = None) -> Grid | None:
    """Which teacher made which results: each distinct teacher label (the reference teacher's says "oracle
    synthesis", or its simulated noise rates and "simulated verifier" with its rates) with the methods and
    swept settings of its runs. None when the rows carry no label (folders written before it existed)."""
    labels = list(dict.fromkeys(r["teacher"] for r in rows if r.get("teacher")))
    if not labels:
        return None
    keys = list(spec.get("sweep") or {})
    grid = Grid("Teacher", ["teacher", "methods", "settings", "runs"], [], labels=3)
    for label in labels:
        mine = [r for r in rows if r.get("teacher") == label]
        settings = list(
            dict.fromkeys(
                ", ".join(f"{k} = {_value_text((r.get('settings') or {}).get(k))}" for k in keys) for r in mine
            )
        )
        grid.body.append(
            [
                label,
                ", ".join(methods_of(mine)),
                "; ".join(s for s in settings if s) or "–",
                str(len({r["run"] for r in mine})),
            ]
        )
    grid.caption = (
        "The teacher of each run as the run recorded it. Results made with the reference teacher's "
        "simulated noise or simulated verifier are simulations at the stated rates, not a real "
        "teacher's behaviour."
    )
    return grid


def extra_grids(rows: list[dict], spec: dict, iv: Intervals | None) -> list[Grid]:
    """The tables after the main one, in reading order, those with data."""
    grids = [
        domains_grid(rows, spec, iv),
        differences_grid(rows, spec, iv),
        sweep_grid(rows, spec, iv),
        stages_grid(rows, spec, iv),
        frontier_grid(rows, spec, iv),
        teacher_grid(rows, spec, iv),
    ]
    return [g for g in grids if g is not None]


def write_tables(folder: str | Path) -> list[Path]:
    """Write DIR/table.md (main comparison, per domain, paired differences, swept settings, the K sweep, the
    cost–quality frontier: each when present) and DIR/table_generalization.md."""
    folder = Path(folder)
    rows, spec = load(folder)
    iv = Intervals(load_intervals(folder))
    main = f"## Main comparison\n\n{to_markdown(main_grid(rows, spec, iv))}"
    for grid in extra_grids(rows, spec, iv):
        main += f"\n## {grid.title}\n\n{to_markdown(grid)}"
    out = [folder / "table.md", folder / "table_generalization.md"]
    out[0].write_text(main)
    out[1].write_text(f"## Student models and budgets\n\n{table_generalization(rows, spec, iv)}")
    return out
