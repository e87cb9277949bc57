"""The feedback policy: each stage's share of the budget split over the domains by what the current student
still gets wrong, measured at no teacher cost. Pure.

The signal of a domain at stage i (``Signal``): how many of the student's answers were checked and how many
were right (``runner/feedback.py`` measures it: the student's own greedy answers to the real candidates IFD
scores anyway, and to the teacher's synthetic examples before it trains on them; never the test or validation
files). From it, with the stage's share S, l domains, a floor f and a smoothing weight a:

    s_d(i)   = right / checked                       the domain's score at stage i, where measured
    ŝ_d(i)   = a · s_d(i) + (1 − a) · ŝ_d(i−1)       smoothed across stages (ŝ_d(i−1) alone where not measured)
    e_d      = 1 − ŝ_d(i)                            its error: a weak domain has a high one
    w_d      = f / l + (1 − f) · e_d / Σ_j e_j        its share of S (all errors 0: w_d = 1/l)
    quota_d  = S · w_d, rounded by largest remainder (the quotas sum to S exactly)

A domain never measured yet takes the mean ŝ of those measured (neutral); with none measured every w_d is 1/l,
the naive split. So a flat signal gives the naive split, every domain keeps at least the floor f·S/l (before
rounding), and a lower score, all else equal, never lowers a domain's quota. "Still improving" enters through
the smoothing: a domain whose error just fell keeps part of its earlier, larger share for a stage, so the
allocator does not drop a domain the moment it starts to learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .policies import largest_remainder

FLOOR = 0.5  # f: half of each stage's share spread equally, half by the error
SMOOTHING = 0.5  # a: the weight of the newest measurement


@dataclass(frozen=True)
class Signal:
    """The student's checked answers in one domain at one stage: how many were checked, how many right, and
    where they came from ("real": its answers to real pool candidates; "synthetic": to the teacher's fresh
    synthetic examples; "both")."""

    right: float  # a fraction of an answer where the metric gives partial credit (token F1)
    checked: int
    source: str = "real"

    @property
    def score(self) -> float | None:
        return self.right / self.checked if self.checked else None

    def __add__(self, other: Signal) -> Signal:
        source = self.source if self.source == other.source else "both"
        return Signal(self.right + other.right, self.checked + other.checked, source)

    def to_json(self) -> dict:
        return {"right": self.right, "checked": self.checked, "score": self.score, "source": self.source}

    @classmethod
    def from_json(cls, x: Mapping) -> Signal:
        """The signal ``to_json`` wrote (its ``score`` is derived, so it is not read back)."""
        return cls(x["right"], x["checked"], x.get("source", "real"))


def smooth(previous: Mapping[str, float], measured: Mapping[str, Signal], alpha: float = SMOOTHING) -> dict[str, float]:
    """ŝ of every domain with a score so far: the newest measurement blended into the earlier ŝ (a domain
    measured for the first time takes its score; one not measured now keeps its earlier ŝ)."""
    out = dict(previous)
    for d, sig in measured.items():
        if sig.score is None:
            continue
        out[d] = sig.score if d not in previous else alpha * sig.score + (1 - alpha) * previous[d]
    return out


def weights(domains: Sequence[str], smoothed: Mapping[str, float], floor: float = FLOOR) -> dict[str, Fraction]:
    """Each domain's share of a stage (sums to 1; see the module doc)."""
    if not 0 <= floor <= 1:
        raise ValueError("floor must be in [0, 1]")
    known = [smoothed[d] for d in domains if d in smoothed]
    if not known:
        return {d: Fraction(1, len(domains)) for d in domains}
    neutral = sum(known) / len(known)
    err = {d: Fraction(max(0.0, min(1.0, 1 - smoothed.get(d, neutral)))) for d in domains}
    total = sum(err.values())
    f, n = Fraction(floor), len(domains)
    if total == 0:
        return {d: Fraction(1, n) for d in domains}
    return {d: f / n + (1 - f) * err[d] / total for d in domains}


def feedback_quota(
    share: int, domains: Sequence[str], smoothed: Mapping[str, float], floor: float = FLOOR
) -> dict[str, int]:
    """One stage's integer quotas: ``share`` split by ``weights`` with largest-remainder rounding."""
    return largest_remainder(weights(domains, smoothed, floor), share)
