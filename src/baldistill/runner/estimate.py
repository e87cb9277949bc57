"""What a run, or a comparison's unfinished runs, will spend before anything is sent (no network, no torch):
calls from the same budget plan the pipeline follows (``core/plan.py``), prompt tokens from the real prompts
(about 4 characters per token), completion tokens and dollars as the worst case the ledger reserves. And for a
run folder, finished or cut short (``estimate --run``): what its ledger charged and what the rest of its plan will
cost at the tokens per request measured so far (``core/forecast.py``)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from ..budget.cache import ReplyCache
from ..budget.ledger import Caps, Ledger
from ..config import ConfigError, RunConfig, load_config
from ..core.comparison import Spec
from ..core.forecast import KINDS, Forecast, PlanRow, project
from ..core.methods import METHODS
from ..core.plan import plan_run
from ..data import DataError, Example, domain_counts
from ..teacher.requests import Request, RequestBuilder
from .inputs import Inputs
from .reuse import finished_runs, reuse_key


def _avg_tokens(reqs: list[Request]) -> float:
    # about 4 characters a token, plus about 8 tokens of chat-template framing per message
    return sum(
        len(r.prompt_text()) / 4 + 8 * len(r.payload.get("messages") or [r.payload["prompt"]]) for r in reqs
    ) / max(1, len(reqs))


ZERO = {
    "stage": 0,
    "annotate": 0,
    "synthesize": 0,
    "verify": 0,
    "calls": 0,
    "prompt_tokens": 0,
    "completion_tokens_max": 0,
    "dollars_max": 0.0,
}


def estimate(cfg: RunConfig) -> list[dict]:
    """One row per stage: annotate, synthesize and verify calls, prompt tokens (est.), completion tokens and
    dollars (max). With verification an upper bound: a synthetic example that fails its checks is not
    verified, so the run then spends less; equal when every one passes."""
    rows = [
        {
            "stage": p.stage,
            **{k: p.units[k] for k in KINDS},
            "calls": p.calls,
            "prompt_tokens": round(sum(p.prompt_tokens.values())),
            "completion_tokens_max": p.completion_tokens_max,
            "dollars_max": p.dollars_max,
        }
        for p in plan_spend(cfg)
    ]
    return rows or [dict(ZERO)]


def caps_of(cfg: RunConfig) -> Caps:
    """The caps and prices a run of ``cfg`` charges its ledger under (``Caps.price``: a request's dollars)."""
    t = cfg.teacher
    return Caps(
        cfg.budget,
        t.max_total_tokens,
        t.max_dollars,
        t.price.input_per_mtok,
        t.price.output_per_mtok,
        t.price.factor(t.batch),
    )


def plan_spend(cfg: RunConfig, pool: list[Example] | None = None) -> list[PlanRow]:
    """The run's teacher plan, one row per stage: units and estimated prompt tokens per kind, completion tokens and
    dollars at their worst case (empty for a method without teacher calls). ``pool``: the run's pool when the
    caller has it (otherwise read as the run will read it)."""
    method = METHODS[cfg.method]
    if pool is None:
        pool = Inputs.load(cfg).pool  # the pool the run will use (repeats dropped, test overlap handled)
    sizes = domain_counts(pool)
    k = cfg.teacher.verify.samples
    plans = plan_run(method, sizes, cfg.budget, cfg.effective_stages, k)
    if not (plans and method.rationale):
        return []
    t = cfg.teacher
    build = RequestBuilder(t, cfg.data.instruction, cfg.seed)
    caps = caps_of(cfg)
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
            ptok = {"annotate": p.annotate * mean_ann, "synthesize": 0.0, "verify": 0.0}
        else:
            real = {d: p.take[d] + p.duplicate.get(d, 0) for d in p.take}
            ptok = {
                "annotate": sum(real[d] * ann_tok[d] for d in real),
                "synthesize": sum(
                    n * (syn_tok[d] if not made.get(d) else syn_tok_after(d, made[d])) for d, n in p.synthesize.items()
                ),
                "verify": sum(n * ver_tok[d] for d, n in p.verify.items()),
            }
        for d, n in p.synthesize.items():
            made[d] = made.get(d, 0) + n
        prompt = round(ptok["annotate"] + ptok["synthesize"] + ptok["verify"])
        rows.append(
            PlanRow(
                stage=p.stage,
                units=p.units(),
                prompt_tokens=ptok,
                completion_tokens_max=p.calls * t.max_tokens,
                dollars_max=round(caps.price(prompt, p.calls * t.max_tokens), 4),
            )
        )
    return rows


@dataclass(frozen=True)
class RunForecast:
    """``estimate --run``: a run's config, the stages whose teacher steps are done, whether the run ended
    (``metrics.json``), the cap that ended its buying if one did (then nothing more is bought) and the forecast."""

    cfg: RunConfig
    done: list[int]
    finished: bool
    forecast: Forecast
    cap_reached: str | None = None


def forecast_run(run: Path) -> RunForecast:
    """What a run folder's ledger charged and what the rest of its plan will cost at the measured rates: the
    stages without ``stages/<i>/done.json`` and the unspent units of a stage cut short; nothing for a run that
    ended or whose cap was reached. Reads the ledger beside a live run without touching it."""
    cfg = load_config(run / "config.yaml")
    finished = (run / "metrics.json").exists()
    stages = range(cfg.effective_stages)
    marks = {i: run / "stages" / str(i) / "done.json" for i in stages}
    done = [i for i, p in marks.items() if p.exists()]
    cap = next((c for i in done if (c := json.loads(marks[i].read_text()).get("cap_reached"))), None)
    if finished:
        cap = json.loads((run / "metrics.json").read_text()).get("cap_reached") or cap
    if finished or cap:  # nothing more will be bought
        done = list(stages)
    led = Ledger(Caps(0), run / "ledger.sqlite", recover=False)
    try:
        charged = led.charges()
    finally:
        led.close()
    try:
        plan = plan_spend(cfg)
    except (ConfigError, DataError):
        if len(done) < len(stages):  # what remains cannot be planned without the run's data
            raise
        plan = []  # an ended run needs no plan: its spend is all in the ledger
    f = project(plan, charged, done, cfg.teacher.max_tokens, caps_of(cfg).price)
    return RunForecast(cfg, done, finished, f, cap)


SPEND_KEYS = ("calls", "annotate", "synthesize", "verify", "prompt_tokens", "completion_tokens_max", "dollars_max")


def estimate_comparison(base: RunConfig, spec: Spec, out: Path, reuse=()) -> dict:
    """A comparison's teacher spend before anything is sent. Logical: every cell's full budget that is neither
    finished in `out` nor served by a finished run of a `reuse` folder (``reuse.reuse_runs``). Physical: an upper
    bound, since annotations are shared: at most one request per distinct real example (no sharing across seeds
    and copies with ``fresh_samples``), plus every synthesis call."""
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
