"""What a run will spend, per stage, before anything is sent (no network, no torch): calls from the same
budget plan the pipeline follows (``core/plan.py``), prompt tokens from the real prompts (about 4
characters per token), completion tokens and dollars as the worst case the ledger reserves."""

from __future__ import annotations

import random

from ..budget.ledger import Caps
from ..config import RunConfig
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
