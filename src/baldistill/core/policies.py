"""Balancing policies: how many teacher-annotated examples each domain gets at each stage.

Pure functions, exact per the paper (section 3, "balancing policy"). With pool sizes n_d (N = sum),
l domains, budget B and K stages, stage i = 0..K-1:

    proportional  n_d/N * B/K                      (the expectation of random selection)
    naive         B/(K*l)
    adaptive      n_d/N * B/K * (K-i)/K + B/(K*l) * i/K

``global`` (random-ft-cot, active-ft-cot) keeps each stage's share B/K whole: one stage-wide quota, picked
from the whole pool, with no per-domain split and so no tail.

Stage 0 of the adaptive policy is therefore the proportional one (there is no fine-tuned student to
select with yet) and it moves linearly towards equal shares. Real-valued quotas are turned into
integers by largest-remainder rounding so that every stage spends exactly its share and the whole run
exactly B.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

# global: one stage-wide quota, no per-domain split; feedback: each stage's split decided at run time from the
# student's errors (core/feedback.py), naive until it is measured (the plan made before the run uses naive)
Policy = Literal["proportional", "naive", "adaptive", "global", "feedback"]


@dataclass(frozen=True)
class Quota:
    """One stage's quota: a count per domain, or (policy ``global``) one stage-wide count with no split."""

    total: int
    per_domain: dict[str, int] | None = None

    @property
    def is_global(self) -> bool:
        return self.per_domain is None

    def to_json(self) -> dict[str, int]:
        """As the run folder writes it (quota.json): a stage-wide quota under the key "*"."""
        return {"*": self.total} if self.per_domain is None else dict(self.per_domain)


def largest_remainder(weights: Mapping[str, Fraction | float], total: int) -> dict[str, int]:
    """Integers proportional to ``weights`` that sum to exactly ``total`` (Hamilton's method).

    Ties in the remainder go to the larger weight, then to the name, so the result is deterministic.
    """
    if total < 0:
        raise ValueError("total must be >= 0")
    keys = list(weights)
    if not keys:
        if total:
            raise ValueError("cannot distribute a positive total over no keys")
        return {}
    w = {k: Fraction(weights[k]) for k in keys}
    if any(v < 0 for v in w.values()):
        raise ValueError("weights must be >= 0")
    s = sum(w.values())
    if s == 0:
        w, s = {k: Fraction(1) for k in keys}, Fraction(len(keys))
    exact = {k: w[k] * total / s for k in keys}
    out = {k: int(exact[k]) for k in keys}  # floor: exact values are >= 0
    left = total - sum(out.values())
    order = sorted(keys, key=lambda k: (-(exact[k] - out[k]), -w[k], k))
    for k in order[:left]:
        out[k] += 1
    return out


def stage_shares(budget: int, stages: int) -> list[int]:
    """Split B into K integer stage shares (B/K each, remainder to the earliest stages)."""
    if stages < 1:
        raise ValueError("stages must be >= 1")
    shares = largest_remainder({str(i): Fraction(1) for i in range(stages)}, budget)
    return [shares[str(i)] for i in range(stages)]


def stage_weights(policy: Policy, pool_sizes: Mapping[str, int], stage: int, stages: int) -> dict[str, Fraction]:
    """The real-valued per-domain share of one stage's budget (sums to 1)."""
    if not 0 <= stage < stages:
        raise ValueError(f"stage {stage} outside 0..{stages - 1}")
    total = sum(pool_sizes.values())
    n_domains = len(pool_sizes)
    if total <= 0 or n_domains == 0:
        raise ValueError("pool is empty")
    prop = {d: Fraction(n, total) for d, n in pool_sizes.items()}
    equal = Fraction(1, n_domains)
    if policy == "proportional":
        return prop
    if policy in ("naive", "feedback"):
        return {d: equal for d in pool_sizes}
    if policy == "adaptive":
        lam = Fraction(stage, stages)
        return {d: prop[d] * (1 - lam) + equal * lam for d in pool_sizes}
    raise ValueError(f"unknown policy {policy!r}")


def quotas(policy: Policy, pool_sizes: Mapping[str, int], budget: int, stages: int) -> list[dict[str, int]]:
    """Integer quotas for every stage: ``result[i][d]``. Each stage sums to its share, all to B."""
    return [
        largest_remainder(stage_weights(policy, pool_sizes, i, stages), share)
        for i, share in enumerate(stage_shares(budget, stages))
    ]


def allocate(policy: Policy, pool_sizes: Mapping[str, int], budget: int, stages: int) -> list[Quota]:
    """The quota of every stage under ``policy``; ``global`` keeps each stage's share undivided."""
    if policy == "global":
        return [Quota(s) for s in stage_shares(budget, stages)]
    return [Quota(sum(q.values()), q) for q in quotas(policy, pool_sizes, budget, stages)]


def tail_split(quota: Mapping[str, int], remaining: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """(head, tail) at one stage: a domain is tail when its quota exceeds the real examples left."""
    head = [d for d in quota if quota[d] <= remaining.get(d, 0)]
    tail = [d for d in quota if quota[d] > remaining.get(d, 0)]
    return head, tail


def reporting_tail(pool_sizes: Mapping[str, int], budget: int) -> list[str]:
    """The fixed head/tail split used for reporting: tail = pool smaller than B/l (same for every method)."""
    per_domain = Fraction(budget, len(pool_sizes))
    return sorted(d for d, n in pool_sizes.items() if n < per_domain)
