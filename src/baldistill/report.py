"""Terminal tables: the per-domain result of a run (head and tail marked) and a dataset's long-tail profile."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from . import policies


def _f(x) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}"


def results_table(m: dict) -> Table:
    """Per-domain scores (head and tail marked), then macro/micro beside the majority-class baseline."""
    t = Table(title=f"{m['method']}: B={m['budget']}, K={m['stages']}, spent {m['spent']}")
    for col in ("domain", "split", "pool", "train", "test n", "score", "majority"):
        t.add_column(col, justify="left" if col in ("domain", "split") else "right")
    pools, maj = m.get("pool_sizes", {}), m.get("majority", {})
    maj_dom = maj.get("per_domain", {})
    for d, v in sorted(m["per_domain"].items(), key=lambda kv: -pools.get(kv[0], 0)):
        t.add_row(d, "tail" if v["tail"] else "head", str(pools.get(d, "")), str(m.get("n_train_by_domain", {}).get(d, 0)),
                  str(v["n"]), _f(v["score"]), _f(maj_dom.get(d, {}).get("score")))
    t.add_section()
    t.add_row("macro", "", "", "", "", _f(m["macro"]), _f(maj.get("macro")))
    t.add_row("head macro", "", "", "", "", _f(m["head"]["macro"]), _f(maj.get("head", {}).get("macro")))
    t.add_row("tail macro", "", "", "", "", _f(m["tail"]["macro"]), _f(maj.get("tail", {}).get("macro")))
    t.add_row("micro", "", "", "", str(m.get("n_test", "")), _f(m["micro"]), _f(maj.get("micro")))
    if "macro_f1" in m:
        t.add_row("macro-F1", "", "", "", "", _f(m["macro_f1"]), "")
        t.add_row("micro-F1", "", "", "", "", _f(m["micro_f1"]), "")
    caption = []
    if m.get("teacher"):
        caption.append(f"teacher: {m['teacher']}")
    caption.append(f"training examples {m['n_train']} ({m.get('n_train_synthetic', 0)} synthetic)")
    short = sum(m.get("shortfall_by_domain", {}).values())
    if short:
        caption.append(f"{short} paid calls did not become training data (answer check, parse or hygiene; see the ledger)")
    t.caption = "; ".join(caption)
    return t


def stats_table(counts: dict[str, int], budget: int | None, stages: int, policy: str) -> Table:
    total = sum(counts.values())
    tail = set(policies.reporting_tail(counts, budget)) if budget else set()
    t = Table(title=f"{len(counts)} domains, {total} examples" + (f"; B={budget}, B/l={budget / len(counts):.1f}" if budget else ""))
    for col in ("domain", "n", "share", "split", "histogram"):
        t.add_column(col, justify="right" if col in ("n", "share") else "left")
    if budget:
        plan = policies.quotas(policy, counts, budget, stages)
        t.add_column(f"{policy} quota per stage (K={stages})")
    top = max(counts.values())
    for d, n in counts.items():
        row = [d, str(n), f"{100 * n / total:.1f}%", "tail" if d in tail else ("head" if budget else ""),
               "█" * max(1, round(30 * n / top))]
        if budget:
            row.append(" ".join(str(q[d]) for q in plan))
        t.add_row(*row)
    return t


def print_table(t: Table) -> None:
    Console().print(t)
