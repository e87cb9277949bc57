"""The budget plan: one stage from what is left, and a whole run ahead (what estimate shows)."""

import pytest

from baldistill.core.methods import METHODS
from baldistill.core.plan import check_budget, plan_run, plan_stage
from baldistill.core.policies import Quota

POOL = {"big": 30, "mid": 6, "small": 1}


def test_head_takes_its_quota_and_the_tail_deficit_goes_to_synthesis_copies_or_nothing():
    quota = Quota(12, {"big": 4, "mid": 4, "small": 4})
    left = {"big": 30, "mid": 6, "small": 1}
    syn = plan_stage(METHODS["baldistill-n"], quota, left, 1)
    assert syn.head == ["big", "mid"] and syn.tail == ["small"]
    assert syn.take == {"big": 4, "mid": 4, "small": 1} and syn.deficits == {"small": 3}
    assert syn.synthesize == {"small": 3} and syn.duplicate == {} and syn.annotate == 9 and syn.calls == 12
    dup = plan_stage(METHODS["duplicate-ft-cot"], quota, left, 0)
    assert dup.synthesize == {} and dup.duplicate == {"small": 3} and dup.annotate == 12
    assert dup.units() == {"annotate": 12, "synthesize": 0, "verify": 0}


def test_a_stage_wide_quota_has_no_tail_and_cannot_take_more_than_the_pool():
    p = plan_stage(METHODS["random-ft-cot"], Quota(50), POOL, 0)
    assert p.quota.is_global and p.tail == [] and p.take == {"*": 37} and p.annotate == 37
    labels_only = plan_stage(METHODS["random-ft"], Quota(10), POOL, 0)
    assert labels_only.take == {"*": 10} and labels_only.calls == 0  # gold labels: no teacher calls


def test_a_planned_run_spends_exactly_the_budget_and_empties_the_tail():
    plans = plan_run(METHODS["baldistill-a"], POOL, 30, 3)
    assert [p.stage for p in plans] == [0, 1, 2] and sum(p.calls for p in plans) == 30
    left = dict(POOL)
    for p in plans:  # each stage plans from what the stages before it took
        assert p.remaining == left
        left = {d: n - p.take[d] for d, n in left.items()}
    assert plan_run(METHODS["zero-shot"], POOL, 30, 3) == []
    glob = plan_run(METHODS["active-ft-cot"], POOL, 36, 3)
    assert [p.take["*"] for p in glob] == [12, 12, 12] and sum(glob[-1].remaining.values()) == 37 - 24


def test_budget_at_least_stages():
    check_budget(3, 3)
    with pytest.raises(ValueError, match=r"budget \(2\) must be at least the number of stages \(3\)"):
        check_budget(2, 3)


def test_verification_is_paid_from_the_tail_deficit_and_the_remainder_carries():
    from baldistill.core.plan import split_synthesis

    assert (
        split_synthesis(7, 0) == (7, 0, 0) and split_synthesis(7, 1) == (3, 3, 1) and split_synthesis(7, 3) == (1, 3, 3)
    )
    quota = Quota(12, {"big": 4, "mid": 4, "small": 4})
    left = {"big": 30, "mid": 6, "small": 1}
    for k, synth, ver, carry in [(0, 3, 0, 0), (1, 1, 1, 1), (3, 0, 0, 3)]:
        p = plan_stage(METHODS["baldistill-n"], quota, left, 1, verify=k)
        assert p.synthesize == {"small": synth} and p.verify == ({"small": ver} if ver else {})
        assert p.carry == ({"small": carry} if carry else {}) and p.units()["verify"] == ver
        assert p.calls + carry == 12  # every unit of the quota is spent or carried
    # what a domain carried joins its next deficit: 3 + 1 units at k = 1 buy 2 examples and 2 re-answers
    p = plan_stage(METHODS["baldistill-n"], quota, left, 2, verify=1, carry={"small": 1})
    assert p.synthesize == {"small": 2} and p.verify == {"small": 2} and p.carry == {}


def test_over_a_run_no_domain_spends_more_than_its_quota_and_the_last_remainder_is_left():
    from baldistill.core import policies

    pools = {"a": 200, "b": 9, "c": 3, "d": 1}
    for k in (0, 1, 3):
        for name in ("baldistill-n", "baldistill-a", "balance-ft-cot"):
            m = METHODS[name]
            stages = 5 if m.multi_stage else 1
            plans = plan_run(m, pools, 80, stages, verify=k)
            quotas = policies.allocate(m.policy, pools, 80, stages)
            for d in pools:
                used = sum(p.take.get(d, 0) + p.synthesize.get(d, 0) + p.verify.get(d, 0) for p in plans)
                assert used + plans[-1].carry.get(d, 0) == sum(q.per_domain[d] for q in quotas), (k, name, d)
                assert all(p.verify.get(d, 0) == k * p.synthesize.get(d, 0) for p in plans)
            assert sum(p.calls for p in plans) + sum(plans[-1].carry.values()) == 80
            if k == 0:
                assert all(not p.carry for p in plans)
