"""Tables from a comparison folder's results.json (`baldistill compare`), laid out like the paper's. They read the
typed results (``core/comparison.py``: ``ResultRow``, ``Spec``, ``Intervals``).

Rules shared by every table:
* scores are fractions in results.json and are shown ×100 with one decimal;
* a cell is "mean [lo, hi]": the mean over the seeds of that cell and its 95 % bootstrap interval over seeds
  and test items stratified by domain (results.json ``intervals``, ``runner/intervals.py``); where a cell has
  no interval (a folder written before them) it is "mean ± std", std being the *sample* std (ddof=1), and
  with a single seed only the mean is shown (no spread is claimed); null/NaN scores are left out of both; a
  cell with no score at all is "–";
* paired differences are "+d [lo, hi]" (A − B, paired by seed and test item);
* bold marks the best mean of a column as displayed (rounded to one decimal, so ties are all bold);
* methods follow the paper's row order (``core.methods.METHOD_ORDER``); unknown methods come after, alphabetically.

`table.md` holds the main comparison (Table 2), the per-domain scores, the paired differences (against the
reference method and between the values of each swept setting), every swept setting's cells (``--sweep``)
and, when the stage sweep has two or more K, a method × K table of macro scores (Figure 4 as numbers).
`table_generalization.md` holds Table 4.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.comparison import CI, Difference, Intervals, ResultRow, Setting, Spec, load_results, value_text
from ..core.methods import method_rank

MAIN_COLUMNS = [("macro", "macro"), ("micro", "micro"), ("head_macro", "head"), ("tail_macro", "tail")]
DASH = "–"
AXIS_LABELS = {"student": "student", "budget": "B", "stages": "K"}  # the classic axes as the tables name them


@dataclass
class Grid:
    """A renderer-agnostic table: header, body strings, bold (row, col) positions, a caption, and how many
    leading columns are labels (left-aligned; the rest are numbers, right-aligned). ``values`` holds the mean
    each score cell shows (×100, rounded as shown), which ``mark_best`` compares."""

    title: str
    header: list[str]
    body: list[list[str]]
    caption: str = ""
    bold: set[tuple[int, int]] = field(default_factory=set)
    labels: int = 1
    values: dict[tuple[int, int], float] = field(default_factory=dict)

    def add_row(self, cells: list[str | Score]) -> None:
        """A row of label texts and ``Score`` cells (their displayed means kept for ``mark_best``)."""
        i = len(self.body)
        for j, c in enumerate(cells):
            if isinstance(c, Score) and c.value is not None:
                self.values[(i, j)] = c.value
        self.body.append([c.text if isinstance(c, Score) else c for c in cells])


@dataclass(frozen=True)
class Score:
    """A table cell's text and the mean it shows (×100, rounded as shown; None for "–")."""

    text: str
    value: float | None = None


def clean(values: Iterable[float | None]) -> list[float]:
    """The finite numbers among values (None and NaN dropped)."""
    return [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None, int]:
    """(mean, sample std, n) of the finite values; std is None below two values, mean None with none."""
    xs = clean(values)
    if not xs:
        return None, None, 0
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None, len(xs)
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)), len(xs)


def _shown(x: float) -> float:
    """A fraction ×100 as the tables show it (one decimal; no -0.0)."""
    x = round(100 * x, 1)
    return 0.0 if x == 0 else x


def fmt_score(values: Iterable[float | None]) -> Score:
    """ "mean ± std" ×100 with one decimal (see the module rules)."""
    m, s, _ = mean_std(values)
    if m is None:
        return Score(DASH)
    text = f"{100 * m:.1f}" if s is None else f"{100 * m:.1f} ± {100 * s:.1f}"
    return Score(text, _shown(m))


def fmt(values: Iterable[float | None]) -> str:
    return fmt_score(values).text


def fmt_interval(iv: CI | None, signed: bool = False) -> str:
    """ "mean [lo, hi]" ×100 with one decimal ("+d [lo, hi]" for a difference); "–" when absent."""
    if iv is None:
        return DASH
    f = "{:+.1f}" if signed else "{:.1f}"

    def num(x: float) -> str:
        x = 100 * x
        return f.format(0.0 if abs(x) < 0.05 else x)  # no "-0.0"

    return f"{num(iv.mean)} [{num(iv.lo)}, {num(iv.hi)}]"


def cell_score(
    group: list[ResultRow],
    key: str,
    iv: Intervals | None,
    used: list[bool],
    split: str = "test",
    domain: str | None = None,
) -> Score:
    """A table cell for the rows of one group: its interval when there is one, else mean ± std. Appends to
    ``used`` whether the interval was shown (for the caption)."""
    got = iv.get(group[0], key, split, domain) if (iv is not None and group) else None
    used.append(got is not None)
    if got is not None:
        return Score(fmt_interval(got), _shown(got.mean))
    if domain is not None:
        return fmt_score(r.per_domain.get(domain) for r in group)
    return fmt_score(r.score(key, split) for r in group)


def spread_caption(used: list[bool], groups: list[list[ResultRow]], iv: Intervals | None) -> str:
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


def methods_of(rows: list[ResultRow]) -> list[str]:
    """The methods present, in paper order."""
    return sorted({r.method for r in rows}, key=method_rank)


def datasets_of(rows: list[ResultRow]) -> list[str]:
    """Datasets in order of first appearance."""
    return list(dict.fromkeys(r.dataset for r in rows))


def at_default(rows: list[ResultRow], d: Setting, *free: str) -> list[ResultRow]:
    """The rows at the default setting, except the fields named in ``free`` (student, budget, stages, settings)."""
    want = {k: getattr(d, k) for k in ("student", "budget", "stages", "settings") if k not in free}
    return [r for r in rows if all(getattr(r, k) == v for k, v in want.items())]


def mark_best(grid: Grid, cols: range, row_ids: list[int] | None = None) -> None:
    """Bold the highest displayed mean of each column in cols (over row_ids, default all rows)."""
    ids = list(range(len(grid.body))) if row_ids is None else row_ids
    for c in cols:
        means = {i: grid.values[(i, c)] for i in ids if (i, c) in grid.values}
        if means:
            best = max(means.values())
            grid.bold |= {(i, c) for i, m in means.items() if m == best}


def seeds_caption(groups: list[list[ResultRow]]) -> str:
    """ "n = 3 seeds" or "n = 1–3 seeds" over the non-empty cell groups."""
    ns = sorted({len({r.seed for r in g}) for g in groups if g}) or [0]
    n = str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    return f"n = {n} seed{'s' if ns[-1] != 1 else ''}"


def metrics_caption(rows: list[ResultRow]) -> str:
    """ "metric: accuracy" or "metrics: a (d1), b (d2)" from the rows."""
    per: dict[str, str] = {}
    for r in rows:
        per.setdefault(r.dataset, r.metric)
    if len(set(per.values())) == 1:
        return f"metric: {next(iter(per.values()))}"
    return "metrics: " + ", ".join(f"{m} ({d})" for d, m in per.items())


def main_grid(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> Grid:
    """Table 2: methods × (dataset × macro, micro, head, tail) at the default setting."""
    d = spec.default
    sub = at_default(rows, d)
    dsets = datasets_of(sub)
    grid = Grid("Main comparison", ["method"] + [f"{ds} {label}" for ds in dsets for _, label in MAIN_COLUMNS], [])
    groups: list[list[ResultRow]] = []
    used: list[bool] = []
    for m in methods_of(sub):
        line: list[str | Score] = [m]
        for ds in dsets:
            g = [r for r in sub if r.method == m and r.dataset == ds]
            groups.append(g)
            line += [cell_score(g, key, iv, used) for key, _ in MAIN_COLUMNS]
        grid.add_row(line)
    grid.caption = (
        f"{spread_caption(used, groups, iv)}; {d.caption()}; {metrics_caption(sub)}; head "
        "and tail are macro over head and tail domains. Bold: best mean per column."
    )
    mark_best(grid, range(1, len(grid.header)))
    return grid


def domain_order(rows: list[ResultRow]) -> tuple[list[str], dict[str, int], set[str]]:
    """Domains by training pool size (descending, then name), their pool sizes and the tail set of the rows
    (the tables and the plots order domains the same way)."""
    pools: dict[str, int] = {}
    for r in rows:
        for dom in r.per_domain:
            pools.setdefault(dom, 0)
        for dom, n in r.pool_sizes.items():
            pools[dom] = max(pools.get(dom, 0), n or 0)
    tail = {dom for r in rows for dom in r.tail_domains}
    return sorted(pools, key=lambda x: (-pools[x], x)), pools, tail


def domains_grid(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> Grid | None:
    """Per-domain scores: methods × domains (tail marked) at the default setting, one block per dataset."""
    d = spec.default
    sub = [r for r in at_default(rows, d) if r.per_domain]
    if not sub:
        return None
    dsets = datasets_of(sub)
    cols = []
    for ds in dsets:
        doms, _, tail = domain_order([r for r in sub if r.dataset == ds])
        cols += [(ds, dom, dom in tail) for dom in doms]
    multi = len(dsets) > 1
    header = ["method"] + [f"{ds + ' ' if multi else ''}{dom}{' (tail)' if t else ''}" for ds, dom, t in cols]
    grid = Grid("Per domain", header, [])
    groups: list[list[ResultRow]] = []
    used: list[bool] = []
    for m in methods_of(sub):
        line: list[str | Score] = [m]
        for ds, dom, _ in cols:
            g = [r for r in sub if r.method == m and r.dataset == ds]
            groups.append(g)
            line.append(cell_score(g, "", iv, used, domain=dom))
        grid.add_row(line)
    grid.caption = (
        f"Per-domain score. {spread_caption(used, groups, iv)}; {d.caption()}; domains by training "
        "pool size, (tail): a tail domain of the reporting split. Bold: best mean per column."
    )
    mark_best(grid, range(1, len(header)))
    return grid


DIFF_COLUMNS = [("macro", "macro"), ("head_macro", "head"), ("tail_macro", "tail")]


def score_columns(has_val: bool) -> list[tuple[str, str, str]]:
    """(row key, header, split) of the score columns: macro, head, tail, and the validation split's macro and
    tail when scored."""
    cols = [(k, label, "test") for k, label in DIFF_COLUMNS]
    return cols + ([("macro", "val macro", "val"), ("tail_macro", "val tail", "val")] if has_val else [])


def split_text(rows: list[ResultRow]) -> str:
    """Which head/tail split rows of several budgets are reported on (the frontier's table and plot)."""
    tails = {tuple(sorted(r.tail_domains)) for r in rows}
    return (
        "one head/tail split for every budget"
        if len(tails) == 1
        else "head/tail split at each run's own B (set data.reporting_budget for one split)"
    )


def differences_grid(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> Grid | None:
    """Paired differences A − B (results.json intervals): every method against the reference method at each
    setting, and each swept setting's values against its first; None when there are none."""
    diffs = iv.differences if iv is not None else []
    if not diffs or iv is None:
        return None
    cols = score_columns(any(x.val is not None for x in diffs))
    vary = _varying(rows)
    multi = len(datasets_of(rows)) > 1
    grid = Grid("Paired differences", ["comparison", "setting", *(label for _, label, _ in cols)], [], labels=2)
    d = spec.default
    refs = spec.references
    for x in sorted(diffs, key=lambda x: _diff_order(x, d, refs)):
        a, b = x.a, x.b
        axis = AXIS_LABELS.get(x.kind)
        if x.kind == "method":
            what, keep = f"{a.method} − {b.method}", a.settings
        elif axis:
            what, keep = f"{a.method}: {axis} = {a.axis(x.kind)} − {b.axis(x.kind)}", a.settings
        else:
            va, vb = value_text(a.settings[x.kind]), value_text(b.settings[x.kind])
            what = f"{a.method}: {x.kind} = {va} − {vb}"
            keep = {k: v for k, v in a.settings.items() if k != x.kind}
        setting = [f"dataset = {a.dataset}"] if multi else []
        setting += [f"{label} = {a.axis(k)}" for k, label in AXIS_LABELS.items() if k in vary and k != x.kind]
        setting += [f"{k} = {value_text(v)}" for k, v in keep.items() if len(spec.sweep.get(k, [])) > 1]
        grid.body.append(
            [
                what,
                ", ".join(setting) or "default",
                *(fmt_interval(x.split(s).stat(k), signed=True) for k, _, s in cols),
            ]
        )
    named = [AXIS_LABELS[k] for k in AXIS_LABELS if any(x.kind == k for x in diffs)]
    axes = f" ({', '.join(named)} included)" if named else ""
    n = sorted({len(x.seeds) for x in diffs})
    seeds = str(n[0]) if len(n) == 1 else f"{n[0]}–{n[-1]}"
    grid.caption = (
        f"A − B ×100 with its 95 % bootstrap interval, paired by seed and by test item ({seeds} "
        f"seed{'s' if n[-1] != 1 else ''} present on both sides, {iv.resamples:,} resamples); "
        f"methods against {_reference_text(spec)} at the same setting, "
        f"and each swept setting's values{axes} against its first value for the same method. An interval "
        "that excludes 0 is a difference these seeds and test items support."
    )
    return grid


def _reference_text(spec: Spec) -> str:
    refs = spec.references
    if len(refs) < 2:
        return f"the reference method {refs[0] if refs else '–'}"
    return (
        f"the reference methods {', '.join(refs[:-1])} and {refs[-1]} (a pair of two of them once, the later "
        "minus the earlier)"
    )


def _varying(rows: list[ResultRow]) -> set[str]:
    return {k for k in ("student", "budget", "stages") if len({getattr(r, k) for r in rows}) > 1}


def _diff_order(x: Difference, d: Setting, refs: list[str]):
    """Against the reference method(s) first, in their order, the default setting first within each kind, then
    by setting."""
    a, b = x.a, x.b
    default = all(a.axis(k) == getattr(d, k) for k in ("student", "budget", "stages"))
    ref = refs.index(b.method) if x.kind == "method" and b.method in refs else 0
    return (
        x.kind != "method",
        x.kind,
        ref,
        not default,
        str(a.dataset),
        str(a.student),
        a.budget or 0,
        a.stages or 0,
        json.dumps(sorted(a.settings.items())),
        method_rank(a.method),
    )


def sweep_grid(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> Grid | None:
    """Every combination of the swept settings (``--sweep``) × method at the default student, budget and K:
    macro, head, tail (and the validation split's macro and tail where scored); None without such a sweep."""
    keys = list(spec.sweep)
    if not keys:
        return None
    d = spec.default
    sub = at_default(rows, d, "settings")
    cols = score_columns(any(r.val_macro is not None for r in sub))
    combos = list(dict.fromkeys(json.dumps([r.settings.get(k) for k in keys]) for r in sub))
    order = {c: i for i, c in enumerate(combos)}
    grid = Grid("Swept settings", [*keys, "method", *(label for _, label, _ in cols)], [], labels=len(keys) + 1)
    groups: list[list[ResultRow]] = []
    used: list[bool] = []
    for combo in sorted(combos, key=lambda c: _combo_rank(json.loads(c), spec, keys, order[c])):
        values = json.loads(combo)
        block = [r for r in sub if [r.settings.get(k) for k in keys] == values]
        for m in methods_of(block):
            g = [r for r in block if r.method == m]
            groups.append(g)
            grid.add_row([*(value_text(v) for v in values), m, *(cell_score(g, k, iv, used, s) for k, _, s in cols)])
    grid.caption = (
        f"{spread_caption(used, groups, iv)}; student {d.student}, budget B = {d.budget}, K = "
        f"{d.stages} stages. Bold: best mean per column."
    )
    mark_best(grid, range(len(keys) + 1, len(grid.header)))
    return grid


def _combo_rank(values: list, spec: Spec, keys: list[str], seen: int):
    """Sweep combinations in the order of each key's values on the command line."""
    sweep = spec.sweep
    idx = [sweep[k].index(v) if v in sweep.get(k, []) else len(sweep.get(k, [])) for k, v in zip(keys, values)]
    return (*idx, seen)


def stages_grid(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> Grid | None:
    """Method × K macro at the default student and budget; None with fewer than two K values."""
    d = spec.default
    sub = at_default(rows, d, "stages")
    ks = sorted({r.stages for r in sub})
    if len(ks) < 2:
        return None
    dsets = datasets_of(sub)
    grid = Grid("Sensitivity to the number of stages K", ["method"] + [f"{ds} K={k}" for ds in dsets for k in ks], [])
    groups: list[list[ResultRow]] = []
    used: list[bool] = []
    for m in methods_of(sub):
        line: list[str | Score] = [m]
        for ds in dsets:
            for k in ks:
                g = [r for r in sub if r.method == m and r.stages == k and r.dataset == ds]
                groups.append(g)
                line.append(cell_score(g, "macro", iv, used))
        grid.add_row(line)
    grid.caption = (
        f"Macro by number of stages K. {spread_caption(used, groups, iv)}; student {d.student}, budget "
        f"B = {d.budget}. Bold: best mean per column."
    )
    single = [m for m in methods_of(sub) if all(r.effective_stages == 1 for r in sub if r.method == m)]
    if single:
        grid.caption += f" Single-stage ({', '.join(single)}): one run, repeated under every K."
    mark_best(grid, range(1, len(grid.header)))
    return grid


def generalization_grid(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> Grid:
    """Table 4: (student × budget × method) × datasets, macro, at the default K; bold within each block."""
    d = spec.default
    sub = at_default(rows, d, "student", "budget")
    dsets = datasets_of(sub)
    students = list(dict.fromkeys([*spec.students, *(r.student for r in sub)]))
    budgets = list(dict.fromkeys([*spec.budgets, *(r.budget for r in sub)]))
    grid = Grid("Student models and budgets", ["student", "budget", "method", *dsets], [], labels=3)
    groups: list[list[ResultRow]] = []
    used: list[bool] = []
    for st in students:
        for b in budgets:
            block = [r for r in sub if r.student == st and r.budget == b]
            start = len(grid.body)
            for m in methods_of(block):
                cells = [[r for r in block if r.method == m and r.dataset == ds] for ds in dsets]
                groups += cells
                grid.add_row([st, str(b), m, *(cell_score(g, "macro", iv, used) for g in cells)])
            mark_best(grid, range(3, 3 + len(dsets)), list(range(start, len(grid.body))))
    grid.caption = (
        f"Macro. {spread_caption(used, groups, iv)}; K = {d.stages} stages; "
        f"{metrics_caption(sub)}. Bold: best mean per column within each student × budget block."
    )
    return grid


def frontier_grid(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> Grid | None:
    """The cost–quality frontier as a table: budget × method (those that call the teacher) at the default
    student, K and settings, with the mean teacher units spent, macro, head, tail (and the validation split's
    macro and tail where scored); bold within each budget. None with fewer than two budgets."""
    d = spec.default
    sub = [r for r in at_default(rows, d, "budget") if r.spent_units]
    budgets = sorted({r.budget for r in sub})
    if len(budgets) < 2:
        return None
    dsets = datasets_of(sub)
    cols = score_columns(any(r.val_macro is not None for r in sub))
    lead = (["dataset"] if len(dsets) > 1 else []) + ["budget", "method", "teacher units"]
    grid = Grid("Cost–quality frontier", [*lead, *(label for _, label, _ in cols)], [], labels=len(lead) - 1)
    groups: list[list[ResultRow]] = []
    used: list[bool] = []
    for ds in dsets:
        for b in budgets:
            block = [r for r in sub if r.budget == b and r.dataset == ds]
            start = len(grid.body)
            for m in methods_of(block):
                g = [r for r in block if r.method == m]
                groups.append(g)
                units = sum(r.spent_units for r in g) / len(g)
                grid.add_row(
                    [
                        *([ds] if len(dsets) > 1 else []),
                        str(b),
                        m,
                        f"{units:,.1f}".removesuffix(".0"),
                        *(cell_score(g, k, iv, used, s) for k, _, s in cols),
                    ]
                )
            mark_best(grid, range(len(lead), len(grid.header)), list(range(start, len(grid.body))))
    grid.caption = (
        f"{spread_caption(used, groups, iv)}; teacher units: mean units spent over the seeds; student "
        f"{d.student}, K = {d.stages} stages; {split_text(sub)}. Bold: best mean per column within each "
        f"budget."
    )
    return grid


def teacher_grid(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> Grid | None:
    """Which teacher made which results: each distinct teacher label (the reference teacher's says "oracle
    synthesis", or its simulated noise rates and "simulated verifier" with its rates) with the methods and
    swept settings of its runs. None when the rows carry no label (folders written before it existed)."""
    labels = list(dict.fromkeys(r.teacher for r in rows if r.teacher))
    if not labels:
        return None
    keys = list(spec.sweep)
    grid = Grid("Teacher", ["teacher", "methods", "settings", "runs"], [], labels=3)
    for label in labels:
        mine = [r for r in rows if r.teacher == label]
        settings = list(dict.fromkeys(", ".join(f"{k} = {value_text(r.settings.get(k))}" for k in keys) for r in mine))
        grid.body.append(
            [
                label,
                ", ".join(methods_of(mine)),
                "; ".join(s for s in settings if s) or DASH,
                str(len({r.run for r in mine})),
            ]
        )
    grid.caption = (
        "The teacher of each run as the run recorded it. Results made with the reference teacher's "
        "simulated noise or simulated verifier are simulations at the stated rates, not a real "
        "teacher's behaviour."
    )
    return grid


def extra_grids(rows: list[ResultRow], spec: Spec, iv: Intervals | None) -> list[Grid]:
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


def table_main(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> str:
    """Markdown of the main comparison (Table 2)."""
    return to_markdown(main_grid(rows, spec, iv))


def table_stages(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> str:
    """Markdown of the method × K table, or "" when the sweep has fewer than two K."""
    grid = stages_grid(rows, spec, iv)
    return to_markdown(grid) if grid else ""


def table_generalization(rows: list[ResultRow], spec: Spec, iv: Intervals | None = None) -> str:
    """Markdown of the student × budget × method table (Table 4)."""
    return to_markdown(generalization_grid(rows, spec, iv))


def write_tables(folder: str | Path) -> list[Path]:
    """Write DIR/table.md (main comparison, per domain, paired differences, swept settings, the K sweep, the
    cost–quality frontier: each when present) and DIR/table_generalization.md."""
    folder = Path(folder)
    res = load_results(folder)
    rows, spec, iv = res.rows, res.spec, res.intervals
    main = f"## Main comparison\n\n{to_markdown(main_grid(rows, spec, iv))}"
    for grid in extra_grids(rows, spec, iv):
        main += f"\n## {grid.title}\n\n{to_markdown(grid)}"
    out = [folder / "table.md", folder / "table_generalization.md"]
    out[0].write_text(main)
    out[1].write_text(f"## Student models and budgets\n\n{table_generalization(rows, spec, iv)}")
    return out
