"""The one registry of methods: every list of methods is read from it."""

import pytest
from conftest import tiny_config

from baldistill.config import ConfigError, load_config
from baldistill.core.methods import METHOD_ORDER, METHODS, method_rank
from baldistill.report.plots import COLORS


def test_every_registered_method_is_a_valid_config_and_nothing_else_is(tiny_model):
    for name in METHODS:
        assert load_config(tiny_config(tiny_model, method=name)).method == name
    with pytest.raises(ConfigError, match="method"):
        load_config(tiny_config(tiny_model, method="baldistill-x"))


def test_paper_row_order_and_consistent_fields():
    assert METHOD_ORDER[0] == "zero-shot" and METHOD_ORDER[7] == "baldistill-a"  # the paper's rows, then ours
    assert METHOD_ORDER[8:] == ["baldistill-f", "baldistill-f-ifd", "baldistill-n-err"]
    assert sorted(["baldistill-a", "unknown", "random-ft"], key=method_rank) == ["random-ft", "baldistill-a", "unknown"]
    assert set(COLORS) == set(METHODS)
    for m in METHODS.values():
        assert not (m.synthesize and m.duplicate), m.name
        assert m.policy is None or m.train, m.name
        if m.policy == "global":  # a stage-wide quota has no per-domain tail to fill
            assert not (m.synthesize or m.duplicate), m.name
        if m.multi_stage:
            assert m.selector in ("ifd", "error"), m.name
        if m.policy == "feedback":  # the feedback policy needs stages to learn from
            assert m.multi_stage and m.synthesize, m.name


def test_the_feedback_method_and_its_two_ablations_differ_from_it_in_one_part_each():
    full = METHODS["baldistill-f"]
    assert (full.policy, full.selector) == ("feedback", "error")
    assert (METHODS["baldistill-f-ifd"].policy, METHODS["baldistill-f-ifd"].selector) == ("feedback", "ifd")
    assert (METHODS["baldistill-n-err"].policy, METHODS["baldistill-n-err"].selector) == ("naive", "error")


def test_target_is_the_rationale_for_cot_methods_and_the_label_otherwise():
    assert METHODS["random-ft-cot"].target("2 + 2 = 4. The answer is 4.", "4") == "2 + 2 = 4. The answer is 4."
    assert METHODS["random-ft-cot"].target(None, "4") == "The answer is 4."  # no rationale (yet): the label
    assert METHODS["random-ft"].target("2 + 2 = 4. The answer is 4.", "4") == "The answer is 4."
