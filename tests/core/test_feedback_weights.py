"""The feedback policy's properties, for any stage share, domains and signal (hypothesis), and its formula on a
hand-worked case."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from baldistill.core.feedback import Signal, feedback_quota, smooth, weights
from baldistill.core.policies import largest_remainder

DOMAINS = [f"d{i}" for i in range(12)]


@st.composite
def cases(draw):
    n = draw(st.integers(1, 12))
    domains = DOMAINS[:n]
    share = draw(st.integers(0, 400))
    scores = {d: draw(st.floats(0, 1)) for d in domains if draw(st.booleans())}  # some domains never measured
    floor = draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
    return share, domains, scores, floor


@given(cases())
@settings(max_examples=300, deadline=None)
def test_quotas_sum_to_the_share_are_never_negative_keep_the_floor_and_are_deterministic(case):
    share, domains, scores, floor = case
    q = feedback_quota(share, domains, scores, floor)
    assert set(q) == set(domains) and sum(q.values()) == share and min(q.values()) >= 0
    assert all(n >= math.floor(floor * share / len(domains)) for n in q.values())
    assert q == feedback_quota(share, list(domains), dict(scores), floor)


@given(cases(), st.floats(0, 1))
@settings(max_examples=300, deadline=None)
def test_a_flat_signal_is_the_naive_split(case, level):
    share, domains, _, floor = case
    naive = largest_remainder({d: Fraction(1) for d in domains}, share)
    assert feedback_quota(share, domains, dict.fromkeys(domains, level), floor) == naive
    assert feedback_quota(share, domains, {}, floor) == naive  # nothing measured yet


@given(cases(), st.integers(0, 11), st.floats(0, 1))
@settings(max_examples=500, deadline=None)
def test_a_lower_score_never_lowers_a_domains_quota(case, which, lower):
    share, domains, scores, floor = case
    d = domains[which % len(domains)]
    if d not in scores:
        return
    worse = {**scores, d: min(scores[d], lower)}
    assert feedback_quota(share, domains, worse, floor)[d] >= feedback_quota(share, domains, scores, floor)[d]


def test_the_formula_on_a_hand_worked_case():
    # 3 domains, share 20, floor 0.5: errors 0.8, 0.2, 0.0 (sum 1.0) -> w = 1/6 + 0.5 * e
    w = weights(["a", "b", "c"], {"a": 0.2, "b": 0.8, "c": 1.0}, 0.5)
    assert w == {"a": Fraction(1, 6) + Fraction(1, 2) * Fraction(0.8), "b": Fraction(1, 6) + Fraction(1, 2) *
                 Fraction(1 - 0.8), "c": Fraction(1, 6)}  # fmt: skip
    # 20 * w = 11.33, 5.33, 3.33 -> floors 11, 5, 3 (19), the one left to the largest remainder: a
    assert feedback_quota(20, ["a", "b", "c"], {"a": 0.2, "b": 0.8, "c": 1.0}, 0.5) == {"a": 12, "b": 5, "c": 3}
    # a domain never measured counts as the mean of the others: d takes e = 1 - 0.5
    assert weights(["a", "d"], {"a": 0.5}, 0.0) == {"a": Fraction(1, 2), "d": Fraction(1, 2)}


def test_smoothing_takes_a_first_score_and_blends_the_next():
    first = smooth({}, {"a": Signal(1, 4), "b": Signal(0, 0)}, 0.5)
    assert first == {"a": 0.25}  # b had nothing checked: no score yet
    assert smooth(first, {"a": Signal(3, 4), "b": Signal(2, 2, "synthetic")}, 0.5) == {"a": 0.5, "b": 1.0}
    assert smooth(first, {}, 0.5) == first  # not measured: kept
    assert (Signal(1, 2) + Signal(1, 1, "synthetic")) == Signal(2, 3, "both")
