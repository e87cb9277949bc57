"""Bootstrap intervals on constructed cases whose intervals are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from baldistill.core.bootstrap import RESAMPLES, bootstrap, distribution, draws, paired_difference


def run(scores: dict[str, list[float]]) -> dict[str, tuple[str, float]]:
    """One run's per-item scores: {domain: [score of item 0, item 1, ...]} -> {id: (domain, score)}."""
    return {f"{d}-{i}": (d, s) for d, xs in scores.items() for i, s in enumerate(xs)}


def test_all_equal_scores_give_a_zero_width_interval():
    runs = [run({"a": [1, 0, 1, 1], "b": [0, 0, 1]}) for _ in range(3)]
    iv = bootstrap([run({"a": [0.5] * 4, "b": [0.5] * 3})] * 3)
    assert all((v.mean, v.lo, v.hi) == (0.5, 0.5, 0.5) for k, v in iv.items() if v is not None)
    # the same scores in every seed but different items: items vary, seeds do not -> a proper interval
    iv = bootstrap(runs, tail=["b"])
    assert iv["macro"].lo < iv["macro"].mean < iv["macro"].hi
    assert iv["macro"].mean == pytest.approx((0.75 + 1 / 3) / 2)
    assert iv["tail_macro"].mean == pytest.approx(1 / 3) and iv["head_macro"].mean == pytest.approx(0.75)


def test_two_items_one_seed_interval_by_hand():
    """Items scored 0 and 1: a resample's mean is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4, so the
    2.5th and 97.5th percentiles are 0 and 1, and about half the resamples sit at 1/2."""
    one = [run({"a": [0, 1]})]
    iv = bootstrap(one)["macro"]
    assert (iv.mean, iv.lo, iv.hi) == (0.5, 0.0, 1.0)
    dist = distribution(one)
    assert len(dist) == RESAMPLES and set(np.unique(dist)) == {0.0, 0.5, 1.0}
    assert abs(np.mean(dist == 0.5) - 0.5) < 0.04 and abs(np.mean(dist == 0.0) - 0.25) < 0.04


def test_two_seeds_one_item_each_interval_by_hand():
    """No item variation (one item per domain): seeds 0.2 and 0.4 give resample means 0.2, 0.3, 0.4."""
    seeds = [run({"a": [0.2]}), run({"a": [0.4]})]
    iv = bootstrap(seeds)["macro"]
    assert iv.mean == pytest.approx(0.3) and iv.lo == pytest.approx(0.2) and iv.hi == pytest.approx(0.4)


def test_stratification_keeps_per_domain_counts():
    """One domain of 1 item (score 1) and one of 99 (score 0): micro is 1/100 in every resample only if each
    resample keeps both counts; an unstratified draw of 100 items would often miss the single item."""
    one = [run({"rare": [1.0], "common": [0.0] * 99})]
    micro = distribution(one, "micro")
    assert np.allclose(micro, 0.01)
    assert bootstrap(one)["domain:rare"] == bootstrap(one)["domain:rare"]  # deterministic
    d = draws(2, {"x": 3, "y": 7}, resamples=50)
    assert d.items["x"].shape == (50, 3) and d.items["y"].shape == (50, 7) and d.seeds.shape == (50, 2)
    assert d.items["x"].max() < 3 and d.seeds.max() < 2


def test_fixed_generator_and_per_domain_intervals():
    runs = [run({"a": [1, 0, 1, 0, 1], "b": [0, 1, 1]}), run({"a": [1, 1, 1, 0, 0], "b": [1, 1, 0]})]
    first, again = bootstrap(runs), bootstrap(runs)
    assert first == again
    assert first["domain:a"].mean == pytest.approx(0.6) and first["domain:b"].mean == pytest.approx(2 / 3)
    assert first["tail_macro"] is None  # no tail domain: undefined, not zero
    other = bootstrap(runs, seed=1)
    assert other["macro"].mean == first["macro"].mean and other != first  # another generator, other bounds


def test_paired_difference_cancels_what_both_share():
    """A scores exactly 0.1 above B on every item of every seed: each alone has a wide interval (items and
    seeds vary), their paired difference is exactly 0.1 with zero width."""
    base = [
        run({"a": [0.2, 0.9, 0.4, 0.7], "b": [0.1, 0.6, 0.3]}),
        run({"a": [0.5, 0.1, 0.8, 0.3], "b": [0.6, 0.2, 0.2]}),
    ]
    better = [
        run({d: [s + 0.1 for s in xs] for d, xs in r_scores.items()})
        for r_scores in (
            {"a": [0.2, 0.9, 0.4, 0.7], "b": [0.1, 0.6, 0.3]},
            {"a": [0.5, 0.1, 0.8, 0.3], "b": [0.6, 0.2, 0.2]},
        )
    ]
    alone = bootstrap(better)["macro"]
    assert alone.hi - alone.lo > 0.1
    diff = paired_difference(better, base, tail_a=["b"])
    for key in ("macro", "micro", "head_macro", "tail_macro", "domain:a", "domain:b"):
        assert (
            diff[key].mean == pytest.approx(0.1)
            and diff[key].lo == pytest.approx(0.1)
            and diff[key].hi == pytest.approx(0.1)
        )


def test_paired_difference_of_a_method_with_itself_is_zero_and_mismatches_are_refused():
    runs = [run({"a": [1, 0, 1], "b": [0, 1]}), run({"a": [0, 0, 1], "b": [1, 1]})]
    d = paired_difference(runs, runs)["macro"]
    assert (d.mean, d.lo, d.hi) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference(runs, runs[:1])
    with pytest.raises(ValueError, match="item counts"):
        bootstrap([run({"a": [1, 0]}), run({"a": [1]})])
