"""Terminal tables: the per-domain result of a run (head and tail marked) and a dataset's long-tail profile."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..core import policies
from ..core.results import RunMetrics, Summary


def _f(x) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}"


def results_table(
    scores: Summary,
    *,
    title: str,
    pool_sizes: dict[str, int],
    majority: Summary | None,
    n_test: int,
    n_train_by_domain: dict[str, int] | None = None,
    caption: str = "",
) -> Table:
    """Per-domain scores (head and tail marked), then macro/micro beside the majority-class baseline."""
    t = Table(title=title)
    for col in ("domain", "split", "pool", "train", "test n", "score", "majority"):
        t.add_column(col, justify="left" if col in ("domain", "split") else "right")
    trained = n_train_by_domain or {}
    maj_dom = majority.per_domain if majority else {}
    for d, v in sorted(scores.per_domain.items(), key=lambda kv: -pool_sizes.get(kv[0], 0)):
        t.add_row(
            d,
            "tail" if v.tail else "head",
            str(pool_sizes.get(d, "")),
            str(trained.get(d, 0)),
            str(v.n),
            _f(v.score),
            _f(maj_dom[d].score if d in maj_dom else None),
        )
    t.add_section()
    t.add_row("macro", "", "", "", "", _f(scores.macro), _f(majority and majority.macro))
    t.add_row("head macro", "", "", "", "", _f(scores.head.macro), _f(majority and majority.head.macro))
    t.add_row("tail macro", "", "", "", "", _f(scores.tail.macro), _f(majority and majority.tail.macro))
    t.add_row("micro", "", "", "", str(n_test), _f(scores.micro), _f(majority and majority.micro))
    if scores.macro_f1 is not None:
        t.add_row("macro-F1", "", "", "", "", _f(scores.macro_f1), "")
        t.add_row("micro-F1", "", "", "", "", _f(scores.micro_f1), "")
    t.caption = caption
    return t


def run_table(m: RunMetrics) -> Table:
    """The results table of a finished run (metrics.json)."""
    caption = []
    if m.teacher:
        caption.append(f"teacher: {m.teacher}")
    caption.append(f"training examples {m.n_train} ({m.n_train_synthetic} synthetic)")
    short = sum(m.shortfall_by_domain.values())
    if short:
        caption.append(
            f"{short} paid calls did not become training data (answer check, parse or hygiene; see the ledger)"
        )
    return results_table(
        m,
        title=f"{m.method}: B={m.budget}, K={m.stages}, spent {m.spent}",
        pool_sizes=m.pool_sizes,
        majority=m.majority,
        n_test=m.n_test,
        n_train_by_domain=m.n_train_by_domain,
        caption="; ".join(caption),
    )


def stats_table(counts: dict[str, int], budget: int | None, stages: int, policy: str) -> Table:
    total = sum(counts.values())
    tail = set(policies.reporting_tail(counts, budget)) if budget else set()
    t = Table(
        title=f"{len(counts)} domains, {total} examples"
        + (f"; B={budget}, B/l={budget / len(counts):.1f}" if budget else "")
    )
    for col in ("domain", "n", "share", "split", "histogram"):
        t.add_column(col, justify="right" if col in ("n", "share") else "left")
    if budget:
        plan = policies.quotas(policy, counts, budget, stages)
        t.add_column(f"{policy} quota per stage (K={stages})")
    top = max(counts.values())
    for d, n in counts.items():
        row = [
            d,
            str(n),
            f"{100 * n / total:.1f}%",
            "tail" if d in tail else ("head" if budget else ""),
            "█" * max(1, round(30 * n / top)),
        ]
        if budget:
            row.append(" ".join(str(q[d]) for q in plan))
        t.add_row(*row)
    return t


def print_table(t: Table) -> None:
    """A table fits the terminal it is shown in; written to a pipe or a file (logs, CI), it is never
    squeezed to rich's default 80 columns, which would fold its headers and numbers."""
    console = Console()
    if not console.is_terminal:
        console = Console(
            width=max(console.width, console.measure(t, options=console.options.update_width(1000)).maximum)
        )
    console.print(t)
