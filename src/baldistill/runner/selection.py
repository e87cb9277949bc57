"""Choosing a stage's real examples: the plan's take per group (a domain, or the whole pool under a stage-wide
quota), at random, or the top IFD among ``candidate_factor`` × take candidates drawn at random once there is a
student to score them (stage ≥ 1, methods whose selector is ``ifd``).

The main process draws (``draw``: the plan, the candidates, the stage's generator); every process scores its
share of the candidates (``Distiller.score``, as ``Scored`` rows); the main process picks (``pick``)."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from ..config import SelectionConfig
from ..core.ifd import select_top
from ..core.plan import StagePlan
from ..data import Example


@dataclass
class Draw:
    """A stage's plan and the candidates IFD scores, drawn by the main process with the stage's generator
    (which goes on to pick the random examples and the synthesis seeds)."""

    plan: StagePlan
    rng: random.Random
    groups: dict[str, list[str]]  # group (a domain, or "*" for a stage-wide quota) -> ids left in it
    ranked: dict[str, bool]  # group -> chosen by IFD
    cands: dict[str, list[str]]  # ranked group -> its candidates, in the order drawn

    @property
    def ids(self) -> list[str]:
        return [x for c in self.cands.values() for x in c]


@dataclass
class Scored:
    """A candidate's IFD under the current student: the ratio, its two mean NLLs, and the response y scored
    (the student's own rationale, or the reference text with ``selection.response: reference``)."""

    id: str
    domain: str
    ifd: float
    cond_nll: float
    direct_nll: float
    response: str
    right: float | None = None  # its answer scored against the gold one, where a method looks (1: right, 0: wrong)

    def to_json(self) -> dict:
        """A line of ``stages/<i>/ifd.jsonl``."""
        out = {
            "id": self.id,
            "domain": self.domain,
            "ifd": self.ifd,
            "cond_nll": self.cond_nll,
            "direct_nll": self.direct_nll,
            "response": self.response,
        }
        return out if self.right is None else {**out, "right": self.right}


def draw(
    plan: StagePlan,
    remaining: dict[str, list[str]],
    domains: list[str],
    rng: random.Random,
    use_ifd: bool,
    sel: SelectionConfig,
    domain_of: dict[str, Example],
) -> Draw:
    """The groups of a stage (``remaining``: the real ids left per domain), which of them IFD ranks, and their
    candidates (drawn with ``rng``)."""
    if plan.quota.is_global:  # one ranking over all domains
        groups = {"*": [x for d in domains for x in remaining[d]]}
        ranked = {"*": use_ifd}
    else:
        groups = {d: remaining[d] for d in domains}
        ranked = {d: use_ifd and 0 < plan.take[d] < len(groups[d]) for d in domains}
    cands = {
        g: candidates(groups[g], plan.take[g], rng, sel, domain_of, stage_wide=plan.quota.is_global)
        for g in groups
        if ranked[g]
    }
    return Draw(plan, rng, groups, ranked, cands)


def candidates(
    ids: list[str],
    take: int,
    rng: random.Random,
    sel: SelectionConfig,
    domain_of: dict[str, Example],
    stage_wide: bool = False,
) -> list[str]:
    """The candidates a group scores to take ``take``: ``candidate_factor`` x take drawn at random (all that
    are left when fewer), at most ``candidates_per_domain`` per domain but never fewer than ``take``."""
    cap = sel.candidates_per_domain
    n = min(len(ids), math.ceil(sel.candidate_factor * take))
    if cap is not None and not stage_wide:
        n = min(n, max(cap, take))
    drawn = list(ids) if n >= len(ids) else rng.sample(ids, n)
    if cap is None or not stage_wide:
        return drawn
    per: Counter[str] = Counter()  # a stage-wide group: the cap applies to each domain in it
    kept: list[str] = []
    rest: list[str] = []
    for x in drawn:
        d = domain_of[x].domain
        (kept if per[d] < cap else rest).append(x)
        per[d] += 1
    return kept + rest[: max(0, take - len(kept))]


def pick(drawn: Draw, scored: list[Scored], drop_ifd_ge_1: bool, errors_first: bool = False) -> list[str]:
    """``plan.take`` ids per group: at random (the stage's generator), or the top IFD of the group's candidates;
    with ``errors_first`` the candidates the student answered wrongly (``right`` below 1) come first, each of the
    two by IFD. Equal IFD: the candidate drawn first wins (the order of the seeded random draw, the same for any
    number of processes). A take beyond the candidates is filled at random from the rest of the group."""
    plan, rng = drawn.plan, drawn.rng
    cands = {g: set(c) for g, c in drawn.cands.items()}
    picked: list[str] = []
    for g, ids in drawn.groups.items():
        k = plan.take[g]
        if not drawn.ranked[g]:
            picked += rng.sample(ids, k)
            continue
        mine = [s for s in scored if s.id in cands[g]]
        if errors_first:
            wrong = [s for s in mine if s.right is not None and s.right < 1]
            rest = [s for s in mine if not (s.right is not None and s.right < 1)]
            top = [wrong[j].id for j in select_top([s.ifd for s in wrong], min(k, len(wrong)), drop_ifd_ge_1)]
            top += [rest[j].id for j in select_top([s.ifd for s in rest], k - len(top), drop_ifd_ge_1)]
        else:
            top = [mine[j].id for j in select_top([s.ifd for s in mine], k, drop_ifd_ge_1)]
        if len(top) < k:  # fewer candidates than the take (cannot happen by the rule above): fill at random
            top += rng.sample(sorted(set(ids) - set(top)), k - len(top))
        picked += top
    return picked
