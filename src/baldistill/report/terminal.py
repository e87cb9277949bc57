"""Every table the command line prints: the per-domain result of a run (head and tail marked), a dataset's
long-tail profile, the spend estimates, a run's ledger, its teacher batches and a converted data set."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..config import RunConfig
from ..core import policies
from ..core.forecast import Forecast, Limits
from ..core.methods import METHODS
from ..core.results import RunMetrics, Summary
from ..core.spend import Spend


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


def stats_table(counts: dict[str, int], budget: int | None, stages: int, policy: policies.Policy) -> Table:
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


ESTIMATE_COLUMNS = (
    "annotate",
    "synthesize",
    "verify",
    "calls",
    "prompt_tokens",
    "completion_tokens_max",
    "dollars_max",
)
ESTIMATE_HEADERS = ("annotate", "synthesize", "verify", "calls", "prompt tokens (est.)", "completion tokens (max)",
                    "$ (max)")  # fmt: skip


def _spend_cells(r: dict) -> list[str]:
    """An estimate row's calls, tokens and dollars as the tables show them."""
    return [str(r["annotate"]), str(r["synthesize"]), str(r["verify"]), str(r["calls"]), f"{r['prompt_tokens']:,}",
            f"{r['completion_tokens_max']:,}", f"{r['dollars_max']:.4f}"]  # fmt: skip


def estimate_table(cfg: RunConfig, rows: list[dict]) -> Table:
    """``baldistill estimate``: one row per stage (``runner/estimate.py``) and the total."""
    tc = cfg.teacher
    via = f"; Batch API, {tc.price.batch_discount:.0%} off the listed prices" if tc.batch else ""
    caption = None
    if METHODS[cfg.method].policy == "feedback" and cfg.effective_stages > 1:
        caption = (
            "the split over domains of stages 2 and later is decided at run time from the student's answers: "
            "their kinds (annotate, synthesize, verify) and tokens are shown for the naive split; "
            + (
                "their calls are exact"
                if not tc.verify.samples
                else "a stage's calls may move by the units a tail domain carries to its next stage (the total "
                "stays within B)"
            )
        )
    t = Table(
        title=f"{cfg.method}: B={cfg.budget}, K={cfg.effective_stages}, teacher {tc.kind}"
        f" {tc.model or ''} (max {tc.max_tokens} completion tokens per call{via})",
        caption=caption,
    )
    for col in ("stage", *ESTIMATE_HEADERS):
        t.add_column(col, justify="right")
    total = {k: sum(r[k] for r in rows) for k in ESTIMATE_COLUMNS}
    for r in rows:
        t.add_row(str(r["stage"] + 1), *_spend_cells(r))
    t.add_row("total", *_spend_cells(total))
    return t


def compare_estimate_table(e: dict, cfg: RunConfig) -> Table:
    """``baldistill compare --estimate``: the logical and the (at most) physical spend of the runs to do."""
    reused = f" ({e['reused']} served by --reuse)" if e["reused"] else ""
    t = Table(
        title=f"compare: {e['todo']} of {e['cells']} runs to do{reused}; teacher {cfg.teacher.kind} "
        f"{cfg.teacher.model or ''}; {e['cached_replies']} replies already cached"
    )
    for col in ("spend", *ESTIMATE_HEADERS[3:4], *ESTIMATE_HEADERS[:3], *ESTIMATE_HEADERS[4:]):
        t.add_column(col, justify="right")
    for name, r in (("logical (charged to the runs)", e["logical"]), ("physical (sent, at most)", e["physical_max"])):
        cells = _spend_cells(r)
        t.add_row(name, cells[3], *cells[:3], *cells[4:])
    return t


def run_estimate_table(
    run: Path, cfg: RunConfig, f: Forecast, done: list[int], finished: bool, cap_reached: str | None = None
) -> Table:
    """``baldistill estimate --run``: per kind the units planned, spent and left, the tokens per call the rest is
    projected at (measured, or the plan's estimate with the worst-case completion), what was spent and what is to
    come; tokens only with a price or a token cap, dollars only with a price."""
    t = cfg.teacher
    lim = Limits(cfg.budget, t.max_total_tokens, t.max_dollars, bool(t.price.input_per_mtok or t.price.output_per_mtok))
    k = cfg.effective_stages
    state = "the run ended" if finished else f"{len(done)} of {k} stage(s) done"
    if cap_reached:  # nothing more is bought
        state = ("the run ended; " if finished else "") + cap_reached
    title = f"{run}: {state}; spent {f.spent.units}/{cfg.budget} units"
    if lim.shows_tokens:
        title += f", {f.spent.tokens:,} tokens"
    if lim.priced:
        title += f", ${f.spent.dollars:.4f}"
    caption = ""
    if lim.shows_tokens:
        caption = f"projected {round(f.tokens):,} tokens" + (f", ${f.dollars:.4f}" if lim.priced else "")
        if f.estimate_tokens is not None:
            caption += f"; estimate before the run: at most {f.estimate_tokens:,} tokens"
            caption += f", ${f.estimate_dollars:.4f}" if lim.priced and f.estimate_dollars is not None else ""
    tab = Table(title=title, caption=caption)
    cols = ["kind", "planned", "spent", "left"]
    if lim.shows_tokens:
        cols += ["prompt tok/call", "completion tok/call", "rate from", "tokens spent", "tokens to come"]
    if lim.priced:
        cols += ["$ spent", "$ to come"]
    for col in cols:
        tab.add_column(col, justify="left" if col in ("kind", "rate from") else "right")
    for x in f.kinds.values():
        row = [x.kind, str(x.planned), str(x.spent.units), str(x.remaining)]
        if lim.shows_tokens:
            source = f"measured ({x.requests} calls)" if x.requests else "plan (max completion)"
            more = round(x.more_prompt + x.more_completion)
            row += [f"{x.prompt:,.1f}", f"{x.completion:,.1f}", source, f"{x.spent.tokens:,}", f"{more:,}"]
        if lim.priced:
            row += [f"{x.spent.dollars:.4f}", f"{x.more_dollars:.4f}"]
        tab.add_row(*row)
    tab.add_section()
    row = ["total", str(sum(x.planned for x in f.kinds.values())), str(f.spent.units), str(f.remaining)]
    if lim.shows_tokens:
        row += ["", "", "", f"{f.spent.tokens:,}", f"{round(f.more_tokens):,}"]
    if lim.priced:
        row += [f"{f.spent.dollars:.4f}", f"{f.more_dollars:.4f}"]
    tab.add_row(*row)
    return tab


def ledger_table(run: Path, s: Spend) -> Table:
    """``baldistill ledger``: what a run spent, per stage, kind and domain."""
    t = Table(
        title=f"{run}: {s.spent} calls charged, {s.prompt_tokens:,} + {s.completion_tokens:,} tokens, "
        f"${s.dollars:.4f}; sent to the server: {s.physical.calls} calls, ${s.physical.dollars:.4f}"
    )
    for col in ("group", "calls", "dropped", "prompt tokens", "completion tokens", "$"):
        t.add_column(col, justify="left" if col == "group" else "right")
    for name, groups in (("stage", s.by_stage), ("kind", s.by_kind), ("domain", s.by_domain)):
        for k, g in groups.items():
            label = f"stage {int(k) + 1}" if name == "stage" else k
            t.add_row(label, str(g.units), str(g.dropped), f"{g.prompt_tokens:,}", f"{g.completion_tokens:,}",
                      f"{g.dollars:.4f}")  # fmt: skip
        t.add_section()
    return t


def batches_table(run: Path, rows: list[tuple[dict, str, str]], all_: bool) -> Table:
    """``baldistill batch status``: each batch as the ledger recorded it (a ``Ledger.batches()`` row), with what
    the server says now (its status and done/failed/total counts; empty when not asked)."""
    t = Table(title=f"{run}: {len(rows)} {'' if all_ else 'open '}batch(es)")
    for col in ("batch", "stage", "kind", "requests", "recorded", "server", "done/failed/total"):
        t.add_column(col, justify="right" if col in ("stage", "requests") else "left")
    for b, server, counts in rows:
        t.add_row(b["batch_id"] or f"(not created, file {b['file_id'] or 'not uploaded'})", str(b["stage"] + 1),
                  b["kind"], str(len(b["custom_ids"])), b["state"], server, counts)  # fmt: skip
    return t


def prepare_table(fmt: str, domains: dict[str, dict[str, int]], budget: int) -> Table:
    """``baldistill prepare``: the converted data set's domains (train and test counts, head or tail at B);
    the middle left out beyond 30 domains."""
    tail = set(policies.reporting_tail({d: c["train"] for d, c in domains.items()}, budget))
    t = Table(title=f"{fmt}: {len(domains)} domains")
    for col in ("domain", "train", "test", "split"):
        t.add_column(col, justify="right" if col in ("train", "test") else "left")
    names: list[str | None] = list(domains)
    shown = names if len(names) <= 30 else [*names[:12], None, *names[-12:]]
    for d in shown:
        if d is None:
            t.add_row(f"... {len(names) - 24} more", "", "", "")
        else:
            t.add_row(d, str(domains[d]["train"]), str(domains[d]["test"]), "tail" if d in tail else "head")
    return t


def elapsed(t0: float) -> str:
    """Wall time since ``t0`` (``time.time()``) as 0h01m05s."""
    s = int(time.time() - t0)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"
