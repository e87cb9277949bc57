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
    assert dup.units() == {"annotate": 12, "synthesize": 0}


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
