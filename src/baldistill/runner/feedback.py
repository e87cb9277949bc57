"""What the stages learn from the student, at no teacher cost and never from the test or validation files: the
per-domain signal the feedback policy splits each stage's share by (``core/feedback.py``), and which candidates
the student answers wrongly (the ``error`` selector).

Where the signal comes from (docs/methods.md, "The feedback method"):

* **real domains**: at stage i ≥ 1 the student trained through stage i−1 writes its greedy rationale for a probe of
  the domain's remaining pool — the candidates IFD scores anyway, drawn before the quotas, ``candidate_factor`` ×
  the naive take per domain (all that is left when fewer) — and its answers are scored against the gold answers
  as the evaluation scores them (the rationale is ``selection.max_new_tokens`` long: one cut short before it
  states an answer is read for its last number or line, as evaluation reads any text, and so usually counts as
  wrong);
* **synthetic examples**: the teacher's fresh synthetic examples of stage i, answered by the student before it
  trains on them (their answers are the teacher's); they count at stage i + 1, with the real candidates there;
* a domain with neither keeps its smoothed score from earlier stages, or, never measured, takes the mean of the
  measured domains (``core.feedback.weights``); stage 0 has no student yet and takes the naive split.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from ..config import SelectionConfig
from ..core.feedback import Signal
from ..core.plan import StagePlan
from ..data import Example
from .selection import Draw, Scored, candidates


def probe(
    plan: StagePlan,
    remaining: dict[str, list[str]],
    domains: Sequence[str],
    rng: random.Random,
    sel: SelectionConfig,
    by_id: dict[str, Example],
) -> Draw:
    """The candidates of a feedback stage, drawn before its quotas: in every domain with real examples left,
    ``candidate_factor`` × its take under ``plan`` (the naive split) at random, all that is left when fewer. The
    draw's plan is the naive one until the signal replaces it (``replan``)."""
    groups = {d: remaining[d] for d in domains}
    cands = {d: candidates(groups[d], max(1, plan.take.get(d, 0)), rng, sel, by_id) for d in domains if groups[d]}
    return Draw(plan, rng, groups, {d: d in cands for d in domains}, cands)


def replan(drawn: Draw, plan: StagePlan) -> Draw:
    """The draw with the plan the signal decided: a domain is ranked when it takes some but not all of what is
    left (its candidates are the probe's; a take beyond them is filled at random by ``selection.pick``)."""
    ranked = {d: d in drawn.cands and 0 < plan.take.get(d, 0) < len(drawn.groups[d]) for d in drawn.groups}
    cands = {d: c for d, c in drawn.cands.items() if ranked[d]}
    return Draw(plan, drawn.rng, drawn.groups, ranked, cands)


def judge(scored: list[Scored], examples: list[Example], score_texts: Callable) -> None:
    """Set each candidate's ``right`` (1 right, 0 wrong; a fraction for token F1): its rationale's answer scored
    against the gold answer (``score_texts``: the run's ``Evaluator.score_texts``)."""
    _, rows = score_texts(examples, [s.response for s in scored])
    for s, row in zip(scored, rows):
        s.right = float(row["score"])


def signal(
    scored: Sequence[Scored], synthetic: dict[str, Signal] | None = None, domains: Sequence[str] = ()
) -> dict[str, Signal]:
    """The signal per domain: the judged real candidates, plus the synthetic examples answered at the stage
    before (``synthetic``)."""
    out: dict[str, Signal] = {}
    for s in scored:
        if s.right is not None:
            out[s.domain] = out.get(s.domain, Signal(0, 0)) + Signal(s.right, 1)
    for d, sig in (synthetic or {}).items():
        out[d] = out[d] + sig if d in out else sig
    return {d: out[d] for d in domains if d in out} if domains else out


def synthetic_signal(answers: list[tuple[str, float]]) -> dict[str, Signal]:
    """(domain, score) of each synthetic example the student answered, as a signal per domain."""
    out: dict[str, Signal] = {}
    for d, s in answers:
        out[d] = out.get(d, Signal(0, 0, "synthetic")) + Signal(s, 1, "synthetic")
    return out
