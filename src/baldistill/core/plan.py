"""The budget arithmetic of one run, stage by stage: quotas, head and tail, and how many teacher calls of
each kind a stage makes. Pure: the pipeline plans each stage from what is really left in the pool, and
``estimate`` plans the whole run ahead from the pool sizes, with the same function.

At stage i a domain is **tail** when its quota exceeds the real examples left in its pool. Its real
examples are all taken and the deficit (quota minus what is left) is either synthesized by the teacher
(one call each), filled with paid copies of its real examples (duplicate-ft-cot), or left empty. Methods
with a stage-wide quota (policy ``global``) pick from the whole pool and have no tail.

Verification (``k`` re-answers per synthetic example) is paid from the same units: a tail deficit of d
units (plus what the domain carried from its last stage) buys ``(d + carry) // (1 + k)`` synthetic
examples and ``k`` re-answers for each, so a domain never spends more than its quota and verification's
price shows as fewer synthetic examples. The remainder ``(d + carry) % (1 + k)`` carries to the domain's
next stage; after the last stage it stays unspent (reported).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
    verify: dict[str, int] = field(default_factory=dict)  # re-answers per tail domain (k per synthetic example)
    carry: dict[str, int] = field(default_factory=dict)  # units of a tail domain left for its next stage

    @property
    def deficits(self) -> dict[str, int]:
        """Per tail domain: quota minus the real examples left."""
        per = self.quota.per_domain or {}
        return {d: per[d] - self.remaining.get(d, 0) for d in self.tail}

    @property
    def calls(self) -> int:
        return self.annotate + sum(self.synthesize.values()) + sum(self.verify.values())

    def units(self) -> dict[str, int]:
        """Budget units by ledger kind."""
        return {
            "annotate": self.annotate,
            "synthesize": sum(self.synthesize.values()),
            "verify": sum(self.verify.values()),
        }


def split_synthesis(units: int, k: int) -> tuple[int, int, int]:
    """``units`` of a tail domain with ``k`` re-answers per synthetic example: (synthesis calls,
    verification calls, units left over for the next stage)."""
    n = units // (1 + k)
    return n, k * n, units - (1 + k) * n


def plan_stage(
    method: Method,
    quota: Quota,
    remaining: Mapping[str, int],
    stage: int,
    verify: int = 0,
    carry: Mapping[str, int] | None = None,
) -> StagePlan:
    """``verify``: re-answers per synthetic example; ``carry``: units each domain left at its last stage."""
    remaining, carry = dict(remaining), dict(carry or {})
    synth: dict[str, int] = {}
    ver: dict[str, int] = {}
    left: dict[str, int] = {}
    tail: list[str]
    dup: dict[str, int]
    if quota.per_domain is None:  # a stage-wide quota
        take = {"*": min(quota.total, sum(remaining.values()))}
        head, tail, dup = list(remaining), [], {}
    else:
        per = quota.per_domain
        head, tail = policies.tail_split(per, remaining)
        take = {d: min(q, remaining.get(d, 0)) for d, q in per.items()}
        deficits = {d: per[d] - remaining.get(d, 0) for d in tail}
        if method.synthesize:
            for d in sorted(set(deficits) | {d for d, c in carry.items() if c}, key=list(per).index):
                synth[d], v, c = split_synthesis(deficits.get(d, 0) + carry.get(d, 0), verify)
                if v:
                    ver[d] = v
                if c:
                    left[d] = c
            synth = {d: n for d, n in synth.items() if n or d in deficits}
        dup = deficits if method.duplicate else {}
    annotate = sum(take.values()) + sum(dup.values()) if method.rationale else 0
    return StagePlan(stage, quota, remaining, head, tail, take, synth, dup, annotate, ver, left)


def plan_run(
    method: Method, pool_sizes: Mapping[str, int], budget: int, stages: int, verify: int = 0
) -> list[StagePlan]:
    """Every stage of a run, planned ahead: each stage takes its real examples out of the pool. For a
    stage-wide quota the split of a random pick over the domains is its expectation (largest remainder).
    With verification, as if every synthesis reply parses and passes the checks (an upper bound)."""
    if not method.train or method.policy is None:
        return []
    remaining: dict[str, int] = dict(pool_sizes)
    carry: dict[str, int] = {}
    out = []
    for i, quota in enumerate(policies.allocate(method.policy, pool_sizes, budget, stages)):
        p = plan_stage(method, quota, remaining, i, verify, carry)
        out.append(p)
        carry = p.carry
        taken = p.take if not quota.is_global else policies.largest_remainder(remaining, p.take["*"])
        remaining = {d: n - taken.get(d, 0) for d, n in remaining.items()}
    return out
