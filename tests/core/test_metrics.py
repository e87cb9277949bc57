import math

import pytest

from baldistill.core.metrics import Scored, majority_baseline, summarize, token_f1


def test_macro_micro_head_tail():
    items = [Scored("a", "1", "1", 1.0)] * 3 + [Scored("a", "1", "0", 0.0)] + [Scored("b", "2", "2", 1.0)]
    s = summarize(items, tail_domains=["b"])
    assert s["macro"] == pytest.approx((0.75 + 1.0) / 2)
    assert s["micro"] == pytest.approx(4 / 5)
    assert s["head"]["domains"] == ["a"] and s["head"]["macro"] == pytest.approx(0.75)
    assert s["tail"]["domains"] == ["b"] and s["tail"]["micro"] == 1.0
    assert s["per_domain"]["b"] == {"n": 1, "score": 1.0, "tail": True}


def test_empty_tail_is_nan_not_zero():
    s = summarize([Scored("a", "1", "1", 1.0)], tail_domains=[])
    assert math.isnan(s["tail"]["macro"])


def test_label_f1_matches_sklearn_definition():
    items = [Scored("x", "x", "x", 1), Scored("x", "x", "y", 0), Scored("y", "y", "y", 1), Scored("y", "y", None, 0)]
    s = summarize(items, [], labels=["x", "y"])
    # x: P=1, R=.5 -> F1 2/3; y: P=.5, R=.5 -> .5; macro = 7/12. Micro: the unparsed prediction is a
    # miss for recall (2/4) but predicts no label, so precision is 2/3 -> F1 = 4/7
    assert s["macro_f1"] == pytest.approx(7 / 12) and s["micro_f1"] == pytest.approx(4 / 7)


def test_token_f1():
    assert token_f1("the cat sat", "a cat sat down") == pytest.approx(2 * (1 * 2 / 3) / (1 + 2 / 3))
    assert token_f1(None, "x") == 0.0 and token_f1("", "") == 1.0


def test_majority_baseline_per_domain():
    train = [("a", "1"), ("a", "1"), ("a", "2"), ("b", "son")]
    test = [("a", "1"), ("a", "2"), ("b", "son"), ("b", "wife")]
    m = majority_baseline(train, test, "accuracy", ["b"], classification=False)
    assert m["macro"] == pytest.approx(0.5) and m["tail"]["macro"] == pytest.approx(0.5)
