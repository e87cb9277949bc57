"""IFD maths without a model: the ratio, the top-k rule and the length buckets."""

import math
import random

import pytest

from baldistill.core.ifd import buckets, ifd_from_nll, select_top


def test_ifd_from_nll_variants():
    assert ifd_from_nll(2.0, 1.0) == pytest.approx(math.e)
    assert ifd_from_nll(2.0, 1.0, "loss_ratio") == pytest.approx(2.0)
    assert ifd_from_nll(1.0, 0.0, "loss_ratio") == math.inf
    with pytest.raises(ValueError):
        ifd_from_nll(1, 1, "cosine")


def test_buckets_cover_every_index_once_with_little_padding():
    rng = random.Random(1)
    lengths = [rng.randint(5, 120) for _ in range(77)]
    got = buckets(lengths, 16)
    assert sorted(k for b in got for k in b) == list(range(77)) and all(len(b) <= 16 for b in got)
    flat = [k for b in got for k in b]
    assert [lengths[k] for k in flat] == sorted(lengths)  # consecutive in length order
    order = sorted(range(77), key=lambda k: lengths[k])
    fixed = sum(len(c) * lengths[c[-1]] for c in (order[s : s + 16] for s in range(0, 77, 16)))
    assert sum(len(b) * max(lengths[k] for k in b) for b in got) <= fixed
    assert buckets([], 16) == []


def test_select_top_and_drop_rule():
    scores = [0.5, 1.2, 0.9, float("nan"), 0.7]
    assert select_top(scores, 2) == [1, 2]
    assert select_top(scores, 2, drop_ge_1=True) == [2, 4]
    # too few below 1: the highest remaining fill the quota
    assert select_top(scores, 5, drop_ge_1=True) == [2, 4, 0, 1, 3]
