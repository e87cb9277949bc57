"""Head selection at stages >= 1: how many candidates each group scores (``selection.candidate_factor``, the
``candidates_per_domain`` cap) and that exactly the top-k of their IFD values are taken. The student is a
stand-in whose IFD values are constructed from the input, so the expected picks are known."""

from __future__ import annotations

import hashlib
import math

import pytest
from conftest import tiny_config

from baldistill import load_config
from baldistill.core.ifd import IFDScore
from baldistill.core.methods import METHODS
from baldistill.core.plan import plan_stage
from baldistill.runner.pipeline import Distiller
from baldistill.runner.runfolder import RunFolder, State
from baldistill.student.model import Generation


def constructed_ifd(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 16**8 * 1.5


class StandIn:
    """What Distiller.score asks of a student; records what it was asked to score."""

    def __init__(self):
        self.scored: list[str] = []

    def generate(self, texts, desc="", logprobs=False, max_new_tokens=None, shard=False):
        self.scored += texts
        return [Generation("r", [1, 2], [-1.0, -1.0]) for _ in texts]

    def ifd(self, texts, responses, variant, desc="", cond_nll=None, shard=False):
        return [IFDScore(1.0, 1.0, constructed_ifd(t)) for t in texts]


def distiller(tmp_path, **over) -> Distiller:
    cfg = load_config(
        tiny_config("unused", **{"budget": 96, "stages": 3, "selection.candidates_per_domain": None, **over})
    )
    return Distiller(cfg, RunFolder.create(tmp_path / "run"), student=StandIn())


@pytest.mark.parametrize(
    "method,factor,cap",
    [
        ("baldistill-a", 4, None),
        ("baldistill-n", 2.5, None),
        ("baldistill-a", 4, 5),
        ("active-ft-cot", 4, None),
        ("active-ft-cot", 1.5, 3),
    ],
)
def test_each_group_scores_factor_times_its_take_and_takes_exactly_the_top_k(tmp_path, method, factor, cap):
    d = distiller(
        tmp_path, method=method, **{"selection.candidate_factor": factor, "selection.candidates_per_domain": cap}
    )
    state = State.start(d.pool, d.domains)
    plan = plan_stage(METHODS[method], d.quotas[1], {x: len(state.remaining[x]) for x in d.domains}, 1)
    remaining = {g: list(state.remaining[g]) for g in d.domains}
    draw = d.draw(1, state)  # the main process draws, every process scores its share, the main one selects
    assert draw.plan == plan
    scored = d.score(1, draw.ids)
    picked = d.select(state, draw, scored)
    counts = {g: len(c) for g, c in draw.cands.items()}
    groups = {"*": [x for g in d.domains for x in remaining[g]]} if plan.quota.is_global else remaining
    for g, take in plan.take.items():
        left = len(groups[g])
        ranked = 0 < take < left or (g == "*" and take > 0)
        if not ranked:
            assert g not in counts
            continue
        drawn = min(left, math.ceil(factor * take))
        mine = [s for s in scored if g == "*" or s.domain == g]
        if cap is None:
            assert counts[g] == drawn, (g, counts[g], drawn)
        elif g != "*":  # at most the cap, never fewer than the take
            assert counts[g] == min(drawn, max(cap, take)), (g, counts[g])
        else:  # a stage-wide quota: at most the cap per domain, unless the take needs more
            per = [sum(s.domain == dom for s in mine) for dom in d.domains]
            assert take <= counts[g] <= drawn and (max(per) <= cap or counts[g] == take)
        assert len(mine) == counts[g] and len({s.id for s in mine}) == counts[g]
        best = sorted(mine, key=lambda s: -s.ifd)[:take]
        got = [e.id for e in picked if g == "*" or e.domain == g]
        assert sorted(got) == sorted(s.id for s in best)  # exactly the top-k of the constructed values
    assert len(d.student.scored) == sum(counts.values())
    q = plan.quota.to_json()
    assert sum(len([e for e in picked if plan.quota.is_global or e.domain == g]) for g in q) == sum(plan.take.values())


class Flat(StandIn):
    def ifd(self, texts, responses, variant, desc="", cond_nll=None, shard=False):
        return [IFDScore(1.0, 1.0, 0.5) for _ in texts]


def test_equal_ifd_takes_the_candidates_in_the_order_drawn(tmp_path):
    """The tie rule: equal IFD -> the candidate drawn first (the seeded draw of the main process)."""
    d = distiller(tmp_path)
    d._student = Flat()
    state = State.start(d.pool, d.domains)
    draw = d.draw(1, state)
    scored = d.score(1, draw.ids)
    picked = d.select(state, draw, scored)
    assert draw.cands and [s.id for s in scored] == draw.ids
    for g, cands in draw.cands.items():
        assert [e.id for e in picked if e.domain == g] == cands[: draw.plan.take[g]]


def test_error_first_takes_the_wrong_answers_first_each_group_by_ifd():
    """``errors_first``: the candidates answered wrongly come first (by IFD among themselves), then the right
    ones by IFD; a take beyond the wrong ones goes on with the best of the right ones."""
    import random

    from baldistill.core.policies import Quota
    from baldistill.runner.selection import Draw, Scored, pick

    plan = plan_stage(METHODS["baldistill-n-err"], Quota(6, {"a": 3, "b": 3}), {"a": 10, "b": 10}, 1)
    ids = {g: [f"{g}{j}" for j in range(10)] for g in "ab"}
    cands = {g: ids[g][:6] for g in "ab"}
    # a: wrong answers a0 (IFD .2), a3 (.9); right a1 (.8), a2 (.5), a4 (.7), a5 (.95)
    right = {"a0": 0, "a1": 1, "a2": 1, "a3": 0, "a4": 1, "a5": 1, "b0": 0, "b1": 0.5, "b2": 0, "b3": 0, "b4": 1}
    ifd = {"a0": 0.2, "a1": 0.8, "a2": 0.5, "a3": 0.9, "a4": 0.7, "a5": 0.95}
    ifd |= {"b0": 0.1, "b1": 0.6, "b2": 0.3, "b3": 0.4, "b4": 0.99, "b5": 0.98}
    scored = [Scored(x, x[0], ifd[x], 1.0, 1.0, "r", right.get(x)) for g in "ab" for x in cands[g]]

    def run(errors_first):
        drawn = Draw(plan, random.Random(0), ids, {"a": True, "b": True}, cands)
        return pick(drawn, scored, drop_ifd_ge_1=True, errors_first=errors_first)

    # a: both wrong ones (a3, a0), then the best right one (a5); b: wrong by IFD (b1 half right counts as
    # wrong, b3, b2); b5 (not judged) and b4 (right) come after
    assert run(True) == ["a3", "a0", "a5", "b1", "b3", "b2"]
    assert run(False) == ["a5", "a3", "a1", "b4", "b5", "b1"]  # top IFD alone
