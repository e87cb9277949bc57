"""What a run will spend, per stage, before anything is sent (no network): calls from the quotas and
the pool, prompt tokens from the real prompts (about 4 characters per token), completion tokens and
dollars as the worst case the ledger reserves."""

from __future__ import annotations

import random

from .config import RunConfig
from .data import domain_counts, load_examples
from .methods import METHODS
from .pipeline import allocate


class _NoBackend:
    name, label, concurrency = "estimate", "estimate", 1


def estimate(cfg: RunConfig) -> list[dict]:
    from .ledger import Caps, Ledger
    from .teacher import TeacherClient

    method = METHODS[cfg.method]
    pool = load_examples(cfg.data.train, cfg.data.fields)
    sizes = domain_counts(pool)
    if not (method.train and method.rationale):
        return [{"stage": 0, "annotate": 0, "synthesize": 0, "calls": 0, "prompt_tokens": 0,
                 "completion_tokens_max": 0, "dollars_max": 0.0}]
    t = cfg.teacher
    client = TeacherClient(_NoBackend(), t, Ledger(cfg.budget), None, cfg.data.instruction)
    caps = Caps(cfg.budget, input_per_mtok=t.price.input_per_mtok, output_per_mtok=t.price.output_per_mtok)
    by_dom = {d: [e for e in pool if e.domain == d] for d in sizes}
    rng = random.Random(cfg.seed)

    def avg_tokens(reqs) -> float:
        # about 4 characters a token, plus about 8 tokens of chat-template framing per message
        return sum(len(r.prompt_text()) / 4 + 8 * len(r.payload.get("messages") or [r.payload["prompt"]])
                   for r in reqs) / max(1, len(reqs))

    ann_tok = {d: avg_tokens([client.annotation_request(0, e) for e in xs[:50]]) for d, xs in by_dom.items()}
    syn_tok = {d: avg_tokens([client.synthesis_request(0, d, rng.sample(xs, min(t.synthesis_seeds, len(xs))), 0)])
               for d, xs in by_dom.items()}
    mean_ann = sum(ann_tok[d] * n for d, n in sizes.items()) / sum(sizes.values())
    remaining = dict(sizes)
    rows = []
    for i, quota in enumerate(allocate(method, sizes, cfg.budget, cfg.effective_stages)):
        if "*" in quota:
            annotate, synth, ptok = quota["*"], 0, quota["*"] * mean_ann
        else:
            annotate = synth = 0
            ptok = 0.0
            for d, q in quota.items():
                real = min(q, remaining[d])
                remaining[d] -= real
                if method.duplicate:  # the deficit is filled with annotated copies of real examples
                    real, deficit = q, 0
                else:
                    deficit = q - real if method.synthesize else 0
                annotate += real
                synth += deficit
                ptok += real * ann_tok[d] + deficit * syn_tok[d]
        calls = annotate + synth
        rows.append({"stage": i, "annotate": annotate, "synthesize": synth, "calls": calls,
                     "prompt_tokens": round(ptok), "completion_tokens_max": calls * t.max_tokens,
                     "dollars_max": round(caps.price(round(ptok), calls * t.max_tokens), 4)})
    return rows
