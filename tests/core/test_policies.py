from fractions import Fraction

import pytest

from baldistill.core import policies


def r52_like_pool() -> dict[str, int]:
    """52 domains, 6560 examples, earn 2840 and platinum 1 as in R52's training pool."""
    sizes = {
        "earn": 2840,
        "acq": 1596,
        "crude": 253,
        "trade": 251,
        "money-fx": 206,
        "interest": 190,
        "ship": 108,
        "sugar": 90,
        "coffee": 90,
        "gold": 70,
        "money-supply": 70,
        "gnp": 63,
        "cpi": 54,
    }
    sizes["platinum"] = 1
    rest = 6560 - sum(sizes.values())  # 678 over the remaining 38 labels
    for k in range(38):
        sizes[f"label{k}"] = rest // 38 + (1 if k < rest % 38 else 0)
    assert len(sizes) == 52 and sum(sizes.values()) == 6560
    return sizes


def test_paper_worked_example_adaptive():
    q = policies.quotas("adaptive", r52_like_pool(), budget=2600, stages=5)
    earn = [s["earn"] for s in q]
    platinum = [s["platinum"] for s in q]
    for got, want in zip(earn, [225, 182, 139, 96, 53]):
        assert abs(got - want) <= 1
    assert platinum == [0, 2, 4, 6, 8]


def test_exact_formula_values():
    pool = r52_like_pool()
    w = policies.stage_weights("adaptive", pool, stage=1, stages=5)
    # n_d/N * B/K * (K-i)/K + B/(K*l) * i/K with B=2600, K=5, i=1, l=52
    assert w["earn"] * 520 == Fraction(2840, 6560) * 520 * Fraction(4, 5) + Fraction(2600, 5 * 52) * Fraction(1, 5)


@pytest.mark.parametrize("policy", ["proportional", "naive", "adaptive"])
@pytest.mark.parametrize("budget,stages", [(2600, 5), (97, 3), (10, 4), (7, 7), (1000, 8)])
def test_quotas_sum_to_stage_share_and_budget(policy, budget, stages):
    pool = r52_like_pool()
    q = policies.quotas(policy, pool, budget, stages)
    shares = policies.stage_shares(budget, stages)
    assert [sum(s.values()) for s in q] == shares
    assert sum(shares) == budget
    assert all(v >= 0 for s in q for v in s.values())


def test_naive_is_equal_and_stage0_adaptive_is_proportional():
    pool = {"a": 90, "b": 9, "c": 1}
    assert policies.quotas("naive", pool, 30, 1) == [{"a": 10, "b": 10, "c": 10}]
    assert policies.quotas("adaptive", pool, 300, 3)[0] == policies.quotas("proportional", pool, 300, 3)[0]
    # the adaptive schedule moves towards equal: the head's share falls, the tail's rises
    q = policies.quotas("adaptive", pool, 3000, 5)
    assert [s["a"] for s in q] == sorted([s["a"] for s in q], reverse=True)
    assert [s["c"] for s in q] == sorted([s["c"] for s in q])


def test_largest_remainder_is_exact_and_deterministic():
    assert policies.largest_remainder({"x": 1, "y": 1, "z": 1}, 10) == {"x": 4, "y": 3, "z": 3}
    assert policies.largest_remainder({"a": Fraction(2, 3), "b": Fraction(1, 3)}, 2) == {"a": 1, "b": 1}
    assert sum(policies.largest_remainder({"a": 0.1, "b": 0.2, "c": 0.7}, 13).values()) == 13


def test_tail_split_and_reporting_tail():
    head, tail = policies.tail_split({"a": 5, "b": 5, "c": 0}, {"a": 10, "b": 3, "c": 0})
    assert head == ["a", "c"] and tail == ["b"]
    assert policies.reporting_tail({"a": 100, "b": 10, "c": 4}, budget=30) == ["c"]  # B/l = 10


def test_invalid_arguments():
    with pytest.raises(ValueError):
        policies.stage_shares(10, 0)
    with pytest.raises(ValueError):
        policies.stage_weights("adaptive", {"a": 1}, 3, 3)
    with pytest.raises(ValueError):
        policies.stage_weights("greedy", {"a": 1}, 0, 1)
