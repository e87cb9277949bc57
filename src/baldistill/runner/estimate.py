"""What a run, or a comparison's unfinished runs, will spend before anything is sent (no network, no torch):
calls from the same budget plan the pipeline follows (``core/plan.py``), prompt tokens from the real prompts
(about 4 characters per token), completion tokens and dollars as the worst case the ledger reserves."""

from __future__ import annotations

import random
from pathlib import Path

from ..budget.cache import ReplyCache
from ..budget.ledger import Caps
from ..config import RunConfig
from ..core.comparison import Spec
from ..core.methods import METHODS
from ..core.plan import plan_run
from ..data import domain_counts
from ..teacher.requests import Request, RequestBuilder
from .inputs import Inputs


def _avg_tokens(reqs: list[Request]) -> float:
    # about 4 characters a token, plus about 8 tokens of chat-template framing per message
    return sum(
        len(r.prompt_text()) / 4 + 8 * len(r.payload.get("messages") or [r.payload["prompt"]]) for r in reqs
    ) / max(1, len(reqs))


def estimate(cfg: RunConfig) -> list[dict]:
    """One row per stage: annotate, synthesize and verify calls, prompt tokens (est.), completion tokens and
    dollars (max). With verification an upper bound: a synthetic example that fails its checks is not
    verified, so the run then spends less; equal when every one passes."""
    method = METHODS[cfg.method]
    pool = Inputs.load(cfg).pool  # the pool the run will use (repeats dropped, test overlap handled)
    sizes = domain_counts(pool)
    k = cfg.teacher.verify.samples
    plans = plan_run(method, sizes, cfg.budget, cfg.effective_stages, k)
    if not (plans and method.rationale):
        return [
            {
                "stage": 0,
                "annotate": 0,
                "synthesize": 0,
                "verify": 0,
                "calls": 0,
                "prompt_tokens": 0,
                "completion_tokens_max": 0,
                "dollars_max": 0.0,
            }
        ]
    t = cfg.teacher
    build = RequestBuilder(t, cfg.data.instruction, cfg.seed)
    caps = Caps(
        cfg.budget,
        input_per_mtok=t.price.input_per_mtok,
        output_per_mtok=t.price.output_per_mtok,
        factor=t.price.factor(t.batch),
    )
    by_dom = {d: [e for e in pool if e.domain == d] for d in sizes}
    rng = random.Random(cfg.seed)
    ann_tok = {d: _avg_tokens([build.annotation(0, e) for e in xs[:50]]) for d, xs in by_dom.items()}
    # a synthesis prompt of a later stage also lists up to synthesis_avoid earlier synthetic inputs (sized here
    # by the domain's real inputs); the labels only matter for the JSON instruction of classification
    own = {d: sorted({e.answer for e in xs}) for d, xs in by_dom.items()} if cfg.data.task == "classification" else {}
    syn_tok = {
        d: _avg_tokens([build.synthesis(0, d, rng.sample(xs, len(xs)), 0, [], own.get(d))]) for d, xs in by_dom.items()
    }

    def syn_tok_after(d: str, made: int) -> float:  # the prompt also lists the domain's earlier synthetic inputs
        xs = by_dom[d]
        avoid = [xs[j % len(xs)].input for j in range(min(made, t.synthesis_avoid))] if xs else []
        return _avg_tokens([build.synthesis(1, d, xs, 0, avoid, own.get(d))])

    made: dict[str, int] = {}
    labels = sorted({e.answer for e in pool}) if cfg.data.task == "classification" else None
    ver_tok = {d: _avg_tokens([build.verification(0, e, 0, labels) for e in xs[:20]]) for d, xs in by_dom.items()}
    mean_ann = sum(ann_tok[d] * n for d, n in sizes.items()) / sum(sizes.values())
    rows = []
    for p in plans:
        if p.quota.is_global:
            ptok = p.annotate * mean_ann
        else:
            real = {d: p.take[d] + p.duplicate.get(d, 0) for d in p.take}
            ptok = (
                sum(real[d] * ann_tok[d] for d in real)
                + sum(
                    n * (syn_tok[d] if not made.get(d) else syn_tok_after(d, made[d])) for d, n in p.synthesize.items()
                )
                + sum(n * ver_tok[d] for d, n in p.verify.items())
            )
        for d, n in p.synthesize.items():
            made[d] = made.get(d, 0) + n
        units = p.units()
        rows.append(
            {
                "stage": p.stage,
                "annotate": units["annotate"],
                "synthesize": units["synthesize"],
                "verify": units["verify"],
                "calls": p.calls,
                "prompt_tokens": round(ptok),
                "completion_tokens_max": p.calls * t.max_tokens,
                "dollars_max": round(caps.price(round(ptok), p.calls * t.max_tokens), 4),
            }
        )
    return rows


SPEND_KEYS = ("calls", "annotate", "synthesize", "verify", "prompt_tokens", "completion_tokens_max", "dollars_max")


def estimate_comparison(base: RunConfig, spec: Spec, out: Path, reuse=()) -> dict:
    """A comparison's teacher spend before anything is sent. Logical: every cell's full budget that is neither
    finished in `out` nor served by a finished run of a `reuse` folder (``compare.reuse_runs``). Physical: an upper
    bound, since annotations are shared: at most one request per distinct real example (no sharing across seeds
    and copies with ``fresh_samples``), plus every synthesis call."""
    from .compare import finished_runs, reuse_key
    from .sweeps import cell_configs

    pool = Inputs.load(base).pool
    logical: dict = dict.fromkeys(SPEND_KEYS, 0)
    logical["dollars_max"] = 0.0
    cells = {c.run_id: c for c in spec.cells()}
    unfinished = {rid: c for rid, c in cells.items() if not (out / "runs" / rid / "metrics.json").exists()}
    configs = cell_configs(base, spec, out, unfinished)
    finished = finished_runs(reuse) if reuse else {}
    todo = [rid for rid in unfinished if reuse_key(configs[rid]) not in finished]
    for rid in todo:
        for r in estimate(configs[rid]):
            for k in logical:
                logical[k] += r[k]
    cached = 0
    if (out / "teacher_cache.sqlite").exists():
        cache = ReplyCache(out / "teacher_cache.sqlite")
        cached = len(cache)
        cache.close()
    distinct = logical["annotate"] if base.teacher.fresh_samples else len({e.input for e in pool})
    ann = min(logical["annotate"], distinct)
    calls = ann + logical["synthesize"] + logical["verify"]
    share = calls / logical["calls"] if logical["calls"] else 0.0
    physical = {
        "calls": calls,
        "annotate": ann,
        "synthesize": logical["synthesize"],
        "verify": logical["verify"],
        "prompt_tokens": round(logical["prompt_tokens"] * share),
        "completion_tokens_max": round(logical["completion_tokens_max"] * share),
        "dollars_max": round(logical["dollars_max"] * share, 4),
    }
    return {
        "cells": len(cells),
        "todo": len(todo),
        "reused": len(unfinished) - len(todo),
        "logical": logical,
        "physical_max": physical,
        "cached_replies": cached,
    }
