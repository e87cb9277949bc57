"""The budget arithmetic of one run, stage by stage: quotas, head and tail, and how many teacher calls of
each kind a stage makes. Pure: the pipeline plans each stage from what is really left in the pool, and
``estimate`` plans the whole run ahead from the pool sizes, with the same function.

At stage i a domain is **tail** when its quota exceeds the real examples left in its pool. Its real
examples are all taken and the deficit (quota minus what is left) is either synthesized by the teacher
(one call each), filled with paid copies of its real examples (duplicate-ft-cot), or left empty. Methods
with a stage-wide quota (policy ``global``) pick from the whole pool and have no tail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import policies
from .methods import Method
from .policies import Quota


def check_budget(budget: int, stages: int) -> None:
    """Every stage needs at least one teacher call: B >= K (the one place this rule is written)."""
    if budget < stages:
        raise ValueError(f"budget ({budget}) must be at least the number of stages ({stages})")


@dataclass(frozen=True)
class StagePlan:
    stage: int
    quota: Quota
    remaining: dict[str, int]  # real examples left in each domain's pool before the stage
    head: list[str]
    tail: list[str]
    take: dict[str, int]  # real examples selected: per domain, or {"*": n} for a stage-wide quota
    synthesize: dict[str, int]  # teacher-synthesized examples per tail domain
    duplicate: dict[str, int]  # paid copies of real examples per tail domain (duplicate-ft-cot)
    annotate: int  # teacher annotation calls: selected real examples and copies (0 without rationales)

    @property
    def deficits(self) -> dict[str, int]:
        """Per tail domain: quota minus the real examples left."""
        return {d: self.quota.per_domain[d] - self.remaining.get(d, 0) for d in self.tail}

    @property
    def calls(self) -> int:
        return self.annotate + sum(self.synthesize.values())

    def units(self) -> dict[str, int]:
        """Budget units by ledger kind."""
        return {"annotate": self.annotate, "synthesize": sum(self.synthesize.values())}


def plan_stage(method: Method, quota: Quota, remaining: Mapping[str, int], stage: int) -> StagePlan:
    remaining = dict(remaining)
    if quota.is_global:
        take = {"*": min(quota.total, sum(remaining.values()))}
        head, tail, synth, dup = list(remaining), [], {}, {}
    else:
        head, tail = policies.tail_split(quota.per_domain, remaining)
        take = {d: min(q, remaining.get(d, 0)) for d, q in quota.per_domain.items()}
        deficits = {d: quota.per_domain[d] - remaining.get(d, 0) for d in tail}
        synth = deficits if method.synthesize else {}
        dup = deficits if method.duplicate else {}
    annotate = sum(take.values()) + sum(dup.values()) if method.rationale else 0
    return StagePlan(stage, quota, remaining, head, tail, take, synth, dup, annotate)


def plan_run(method: Method, pool_sizes: Mapping[str, int], budget: int, stages: int) -> list[StagePlan]:
    """Every stage of a run, planned ahead: each stage takes its real examples out of the pool. For a
    stage-wide quota the split of a random pick over the domains is its expectation (largest remainder)."""
    if not method.train:
        return []
    remaining = dict(pool_sizes)
    out = []
    for i, quota in enumerate(policies.allocate(method.policy, pool_sizes, budget, stages)):
        p = plan_stage(method, quota, remaining, i)
        out.append(p)
        taken = p.take if not quota.is_global else policies.largest_remainder(remaining, p.take["*"])
        remaining = {d: n - taken.get(d, 0) for d, n in remaining.items()}
    return out
