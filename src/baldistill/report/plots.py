"""PNG plots of a comparison folder (DIR/results.json) into DIR/plots/, drawn with matplotlib's Agg canvas.

No pyplot and no global backend switch: each plot is a bare `Figure`, saved as PNG (Agg) and dropped.
Scores are shown in percent; a point or bar is the mean over seeds, error bars the sample std (two or
more seeds). Plots (one file each per dataset; the dataset name is appended when there are several):
* per_domain.png   per-domain score by method at the default cell; domains by pool size, tail shaded;
* stages.png       macro and tail macro after each stage (stage_scores) per method;
* spend.png        teacher units per stage, stacked by domain, one panel per method that spent any;
* stage_sweep.png  macro and tail macro against the number of stages K (only with two or more K);
* signal.png       the student's per-domain score by stage, as the methods that look at its answers measured it
                   before each stage chose (no test or validation data; one panel per such method);
* frontier.png     cost–quality frontier: macro and tail macro against the teacher units spent, one line per
                   method that calls the teacher, one point per budget B (only with two or more budgets); bars
                   are the 95 % bootstrap interval where results.json has one, else the sample std.
A plot whose data is absent is skipped (no file); stale files of these names are removed first.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from ..core.comparison import Intervals, ResultRow, Setting, load_results
from ..core.methods import METHOD_ORDER
from .tables import at_default, datasets_of, domain_order, mean_std, methods_of, split_text

NAMES = ("per_domain", "stages", "spend", "signal", "stage_sweep", "frontier")


def _pct(values) -> tuple[float, float]:
    """(mean, std) ×100 of the finite values; NaN when absent, and a NaN spread (no error bar) with one value."""
    m, s, _ = mean_std(values)
    return (math.nan if m is None else 100 * m), (math.nan if s is None else 100 * s)


COLORS = dict(zip(METHOD_ORDER, ["C7", "C0", "C1", "C5", "C4", "C9", "C2", "C3", "C6", "C8", "tab:olive"]))


def method_color(name: str) -> str:
    """The same colour for a method in every plot (zero-shot grey, BalDistill-A red); others C6/C8."""
    return COLORS.get(name) or f"C{6 + 2 * (sum(map(ord, name)) % 2)}"


def _domain_colors(domains: list[str]) -> dict[str, Any]:
    """Distinct colours per domain: tab10 up to ten domains, tab20 (cycled) beyond."""
    if len(domains) <= 10:
        return {d: f"C{i}" for i, d in enumerate(domains)}
    cmap = colormaps["tab20"]
    return {d: cmap(i % 20) for i, d in enumerate(domains)}


def _percent_axis(ax, label: str) -> None:
    ax.set_ylabel(label)
    ax.yaxis.set_major_formatter(PercentFormatter(100))  # decimals follow the axis range
    ax.grid(axis="y", alpha=0.3)


def _subtitle(d: Setting, ds: str) -> str:
    return f"dataset {ds}, student {d.student}, budget B = {d.budget}, K = {d.stages} stages"


def plot_per_domain(rows: list[ResultRow], d: Setting, ds: str) -> Figure | None:
    """Grouped bars: domains on x (pool size descending, tail shaded), one bar per method."""
    cell = [r for r in rows if r.per_domain]
    if not cell:
        return None
    domains, pools, tail = domain_order(cell)
    methods = methods_of(cell)
    fig = Figure(figsize=(min(22, 5 + 0.35 * len(domains) * max(2, len(methods)) ** 0.5), 5.5), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(methods)
    for i, dom in enumerate(domains):
        if dom in tail:
            ax.axvspan(i - 0.5, i + 0.5, color="0.88", zorder=0)
    for j, m in enumerate(methods):
        stats = [_pct(r.per_domain.get(dom) for r in cell if r.method == m) for dom in domains]
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(domains))]
        ax.bar(
            xs,
            [s[0] for s in stats],
            width,
            yerr=[s[1] for s in stats],
            label=m,
            capsize=2,
            zorder=2,
            color=method_color(m),
        )
    ax.set_xticks(range(len(domains)), [f"{dom}\n(pool {pools[dom]})" for dom in domains], rotation=45, ha="right")
    ax.set_xlim(-0.5, len(domains) - 0.5)
    ax.set_ylim(0, 100)
    _percent_axis(ax, "score")
    fig.suptitle(f"Per-domain score by method, mean over seeds\n{_subtitle(d, ds)}")
    handles, _ = ax.get_legend_handles_labels()
    if tail:
        handles.append(Patch(color="0.88", label="tail domain (shaded)"))
    fig.legend(handles=handles, fontsize="small", loc="outside lower center", ncols=min(5, len(handles)))
    return fig


def _by_stage(rows: list[ResultRow], key: str) -> tuple[list, list, list]:
    """(stages, means, stds) ×100 of stage_scores[key] over rows."""
    vals: dict[int, list] = {}
    for r in rows:
        for s in r.stage_scores:
            vals.setdefault(s.stage, []).append(getattr(s, key))
    stages = sorted(vals)
    stats = [_pct(vals[s]) for s in stages]
    return stages, [m for m, _ in stats], [s for _, s in stats]


def plot_stages(rows: list[ResultRow], d: Setting, ds: str) -> Figure | None:
    """Macro and tail macro after each stage, one line per method (methods without stage scores left out)."""
    cell = [r for r in rows if r.stage_scores]
    if not cell:
        return None
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (key, label) in zip(axes, (("macro", "macro"), ("tail_macro", "tail macro"))):
        for m in methods_of(cell):
            xs, ys, es = _by_stage([r for r in cell if r.method == m], key)
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=m, color=method_color(m))
        ax.set_xlabel("stage")
        ax.xaxis.get_major_locator().set_params(integer=True)
        _percent_axis(ax, label)
        ax.set_title(label)
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Score after each stage, mean over seeds\n{_subtitle(d, ds)}")
    return fig


def _spend(rows: list[ResultRow]) -> dict[int, dict[str, float]]:
    """Mean teacher units per stage and domain over the rows (seeds)."""
    total: dict[int, dict[str, float]] = {}
    for r in rows:
        for stage, per in r.spend_by_stage_domain.items():
            for dom, n in per.items():
                slot = total.setdefault(int(stage) + 1, {})  # the ledger counts from 0; plots say stage 1..K
                slot[dom] = slot.get(dom, 0) + (n or 0) / len(rows)
    return total


def plot_spend(rows: list[ResultRow], d: Setting, ds: str) -> Figure | None:
    """Stacked bars of teacher units per stage and domain; one panel per method that spent anything."""
    spends = {m: _spend([r for r in rows if r.method == m]) for m in methods_of(rows)}
    spends = {m: s for m, s in spends.items() if any(v for per in s.values() for v in per.values())}
    if not spends:
        return None
    domains, _, tail = domain_order(rows)
    domains += sorted({dom for s in spends.values() for per in s.values() for dom in per} - set(domains))
    colors = _domain_colors(domains)
    ncols = min(3, len(spends))
    nrows = math.ceil(len(spends) / ncols)
    fig = Figure(figsize=(4 * ncols + 2.5, 3.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    for ax, (m, spend) in zip(axes, spends.items()):
        stages = sorted(spend)
        bottom = [0.0] * len(stages)
        for dom in domains:
            h = [spend[s].get(dom, 0) for s in stages]
            ax.bar(
                stages,
                h,
                bottom=bottom,
                color=colors[dom],
                hatch="//" if dom in tail else None,
                edgecolor="white",
                linewidth=0.5,
            )
            bottom = [b + x for b, x in zip(bottom, h)]
        ax.set_title(f"{m} (total {sum(bottom):.0f})")
        ax.set_xlabel("stage")
        ax.set_xticks(stages)
        ax.set_ylabel("teacher units")
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(spends) :]:
        ax.set_visible(False)
    handles = [
        Patch(
            facecolor=colors[dom],
            hatch="//" if dom in tail else None,
            edgecolor="white",
            label=dom + (" (tail)" if dom in tail else ""),
        )
        for dom in domains
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize="small", title="domain")
    fig.suptitle(f"Teacher budget spent per stage and domain, mean over seeds\n{_subtitle(d, ds)}")
    return fig


def plot_stage_sweep(rows: list[ResultRow], d: Setting, ds: str) -> Figure | None:
    """Macro and tail macro against K, one line per method; None with fewer than two K values."""
    ks = sorted({r.stages for r in rows})
    if len(ks) < 2:
        return None
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (key, label) in zip(axes, (("macro", "macro"), ("tail_macro", "tail macro"))):
        for m in methods_of(rows):
            pts = [(k, *_pct(r.score(key) for r in rows if r.method == m and r.stages == k)) for k in ks]
            pts = [p for p in pts if not math.isnan(p[1])]
            ax.errorbar(
                [p[0] for p in pts],
                [p[1] for p in pts],
                yerr=[p[2] for p in pts],
                marker="o",
                capsize=3,
                label=m,
                color=method_color(m),
            )
        ax.set_xticks(ks)
        ax.set_xlabel("number of stages K")
        _percent_axis(ax, label)
        ax.set_title(label)
    axes[0].legend(fontsize="small")
    fig.suptitle(
        f"Sensitivity to the number of stages K, mean over seeds\n"
        f"dataset {ds}, student {d.student}, budget B = {d.budget}"
    )
    return fig


def frontier_points(
    rows: list[ResultRow], key: str, iv: Intervals | None = None
) -> list[tuple[float, float, float, float]]:
    """(mean teacher units spent, mean score, lower bar, upper bar) ×100 per budget of one method's rows,
    by units spent: the bars reach the bootstrap interval where there is one, else ± the sample std."""
    pts = []
    for b in sorted({r.budget for r in rows}):
        g = [r for r in rows if r.budget == b]
        units = sum(r.spent_units for r in g) / len(g)
        got = iv.get(g[0], key) if iv is not None else None
        if got is not None:
            m = 100 * got.mean
            pts.append((units, m, m - 100 * got.lo, 100 * got.hi - m))
            continue
        m, sd = _pct(r.score(key) for r in g)
        if not math.isnan(m):
            sd = 0.0 if math.isnan(sd) else sd
            pts.append((units, m, sd, sd))
    return sorted(pts)


def plot_frontier(rows: list[ResultRow], d: Setting, ds: str, iv: Intervals | None = None) -> Figure | None:
    """Macro and tail macro against the teacher units spent, one line per method that spends any, a point per
    budget; None with fewer than two budgets."""
    rows = [r for r in rows if r.spent_units]
    budgets = sorted({r.budget for r in rows})
    if len(budgets) < 2:
        return None
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    intervals = False
    for ax, (key, label) in zip(axes, (("macro", "macro"), ("tail_macro", "tail macro"))):
        for m in methods_of(rows):
            mine = [r for r in rows if r.method == m]
            pts = frontier_points(mine, key, iv)
            intervals |= any(iv.get(r, key) is not None for r in mine) if iv is not None else False
            if pts:
                ax.errorbar(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    yerr=[[p[2] for p in pts], [p[3] for p in pts]],
                    marker="o",
                    capsize=3,
                    label=m,
                    color=method_color(m),
                )
        ax.set_xlabel("teacher units spent (mean over seeds)")
        _percent_axis(ax, label)
        ax.set_title(label)
    axes[0].legend(fontsize="small")
    bars = "bars: 95 % bootstrap interval" if intervals else "bars: sample std"
    fig.suptitle(
        f"Cost–quality frontier, B in {', '.join(map(str, budgets))}; {bars}\n"
        f"dataset {ds}, student {d.student}, K = {d.stages} stages; {split_text(rows)}"
    )
    return fig


def plot_signal(rows: list[ResultRow], d: Setting, ds: str) -> Figure | None:
    """Per method that measured one (``signal_by_stage``): each domain's score by stage, mean over seeds, tail
    domains dashed."""
    cell = [r for r in rows if r.signal_by_stage]
    if not cell:
        return None
    methods = methods_of(cell)
    domains, _, tail = domain_order(cell)
    colors = _domain_colors(domains)
    fig = Figure(figsize=(5.5 * len(methods) + 1, 4.5), layout="constrained")
    axes = fig.subplots(1, len(methods), squeeze=False)[0]
    for ax, m in zip(axes, methods):
        mine = [r for r in cell if r.method == m]
        for dom in domains:
            vals: dict[int, list] = {}
            for r in mine:
                for stage, scores in r.signal_by_stage.items():
                    if scores.get(dom) is not None:
                        vals.setdefault(int(stage), []).append(scores[dom])
            if not vals:
                continue
            xs = sorted(vals)
            ys = [_pct(vals[x])[0] for x in xs]
            ax.plot(xs, ys, marker="o", color=colors[dom], ls="--" if dom in tail else "-", label=dom)
        ax.set_xlabel("stage (the student trained through the stage before)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        _percent_axis(ax, "student's score on its own candidates")
        ax.set_title(m)
    axes[0].legend(fontsize="small", ncols=1 + len(domains) // 12)
    fig.suptitle(f"The signal by stage and domain (tail dashed), mean over seeds\n{_subtitle(d, ds)}")
    return fig


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "data"


def write_plots(folder: str | Path) -> list[Path]:
    """Draw every plot whose data is present into DIR/plots/ and return the PNG paths written."""
    folder = Path(folder)
    res = load_results(folder)
    rows, iv = res.rows, res.intervals
    out_dir = folder / "plots"
    out_dir.mkdir(exist_ok=True)
    for name in NAMES:
        for old in out_dir.glob(f"{name}*.png"):
            old.unlink()
    d = res.spec.default
    dsets = datasets_of(rows)
    written = []
    for ds in dsets:
        mine = [r for r in rows if r.dataset == ds]
        cell = at_default(mine, d)
        sweep = at_default(mine, d, "stages")
        budgets = at_default(mine, d, "budget")
        figs = {
            "per_domain": plot_per_domain(cell, d, ds),
            "stages": plot_stages(cell, d, ds),
            "spend": plot_spend(cell, d, ds),
            "signal": plot_signal(cell, d, ds),
            "stage_sweep": plot_stage_sweep(sweep, d, ds),
            "frontier": plot_frontier(budgets, d, ds, iv),
        }
        for name, fig in figs.items():
            if fig is not None:
                path = out_dir / (f"{name}.png" if len(dsets) == 1 else f"{name}_{_slug(ds)}.png")
                fig.savefig(path, dpi=110)
                written.append(path)
    return written
