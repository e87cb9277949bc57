"""The forecast of a run's teacher spend (``core/forecast.py``), worked by hand, and the lines that show it."""

import pytest

from baldistill.core.forecast import Charge, Limits, PlanRow, Totals, bar_text, cap_warning, project, stage_line

MAX_TOKENS = 100  # teacher.max_tokens: the worst-case completion of a kind not measured yet


def price(prompt: float, completion: float) -> float:
    """$2 / $8 per million prompt / completion tokens, half off (the Batch API): what Caps.price computes."""
    return 0.5 * (2 * prompt + 8 * completion) / 1e6


PLAN = [
    PlanRow(0, {"annotate": 4, "synthesize": 1, "verify": 0}, {"annotate": 400.0, "synthesize": 300.0, "verify": 0.0},
            500, 0.0024),
    PlanRow(1, {"annotate": 2, "synthesize": 3, "verify": 2}, {"annotate": 210.0, "synthesize": 960.0, "verify": 500.0},
            700, 0.0041),
]  # fmt: skip

# the ledger after stage 1: 3 annotations settled (100+50, 120+60, 140+70 tokens, 30 of them reasoning), one of
# unknown outcome (its worst case charged: 130 + 100), one synthetic example paid and dropped by the checks
AFTER_STAGE_1 = [
    Charge(0, "annotate", "ok", 3, 3, 360, 180, 30, price(360, 180)),
    Charge(0, "annotate", "unknown", 1, 1, 130, 100, 0, price(130, 100)),
    Charge(0, "synthesize", "dropped", 1, 1, 400, 200, 0, price(400, 200)),
]


def test_the_projection_after_stage_1_is_the_formula_worked_by_hand():
    f = project(PLAN, AFTER_STAGE_1, done={0}, max_tokens=MAX_TOKENS, price=price)
    # spent: every charged row, the unknown one at its worst case
    assert f.spent == Totals(5, 890, 480, 30, pytest.approx(0.00281))
    # left of stage 2: 2 annotations, 3 syntheses, 2 verifications
    assert {k: x.remaining for k, x in f.kinds.items()} == {"annotate": 2, "synthesize": 3, "verify": 2}
    a, s, v = f.kinds["annotate"], f.kinds["synthesize"], f.kinds["verify"]
    # measured on the settled requests only: annotate (360 / 3, 180 / 3), synthesize (400 / 1, 200 / 1)
    assert (a.requests, a.prompt, a.completion, a.source) == (3, 120.0, 60.0, "measured")
    assert (s.requests, s.prompt, s.completion, s.source) == (1, 400.0, 200.0, "measured")
    # verify was never measured: the plan's prompt estimate (500 / 2 per unit) and the worst-case completion
    assert (v.requests, v.prompt, v.completion, v.source) == (0, 250.0, 100.0, "plan")
    # to come: prompt 2*120 + 3*400 + 2*250 = 1940, completion 2*60 + 3*200 + 2*100 = 920
    assert f.more_tokens == 2860
    assert f.more_dollars == pytest.approx(0.5 * (2 * 1940 + 8 * 920) / 1e6)  # 0.00562
    assert f.tokens == 1370 + 2860 and f.dollars == pytest.approx(0.00281 + 0.00562)
    assert f.remaining == 7
    # beside the estimate before the run: its prompt tokens and completion maxima, its dollars
    assert f.estimate_tokens == 700 + 500 + 1670 + 700 and f.estimate_dollars == pytest.approx(0.0065)


def test_a_stage_cut_short_keeps_its_unspent_units_and_the_measure_grows():
    cut = [*AFTER_STAGE_1, Charge(1, "annotate", "ok", 1, 1, 110, 40, 0, price(110, 40))]
    f = project(PLAN, cut, done={0}, max_tokens=MAX_TOKENS, price=price)
    a = f.kinds["annotate"]
    assert (a.remaining, a.requests, a.prompt, a.completion) == (1, 4, 117.5, 55.0)  # (360 + 110) / 4, (180 + 40) / 4
    assert f.kinds["synthesize"].remaining == 3 and f.kinds["annotate"].spent.units == 5
    # a finished run (every stage done) has nothing more to buy
    assert project(PLAN, cut, done={0, 1}, max_tokens=MAX_TOKENS, price=price).more_tokens == 0


def test_before_anything_is_paid_the_projection_is_the_plan_at_the_worst_case_completion():
    f = project(PLAN, [], done=(), max_tokens=MAX_TOKENS, price=price)
    a = f.kinds["annotate"]
    # 4 units at 100 prompt tokens each (stage 1), 2 at 105 (stage 2): a mean of 610 / 6
    assert (a.remaining, a.source, a.prompt, a.completion) == (6, "plan", pytest.approx(610 / 6), 100.0)
    assert f.more_tokens == pytest.approx(400 + 210 + 300 + 960 + 500 + 12 * 100)
    assert f.spent == Totals()


def test_the_bar_shows_units_tokens_and_dollars_against_each_cap_that_is_set():
    f = project(PLAN, AFTER_STAGE_1, done={0}, max_tokens=MAX_TOKENS, price=price)
    text = bar_text(f.spent, Limits(12, tokens=5000, dollars=0.01, priced=True), f)
    assert text == (
        "5/12 units · 1,370 tok (890 in, 480 out, 30 reasoning) of 5,000 · $0.0028 of $0.0100"
        " · proj. 4,230 tok, $0.0084"
    )
    # priced without caps; no reasoning reported: none shown
    plain = Totals(2, 100, 40, 0, 0.0012)
    assert bar_text(plain, Limits(12, priced=True)) == "2/12 units · 140 tok (100 in, 40 out) · $0.0012"


def test_the_reference_teacher_shows_units_only():
    spent = Totals(7, 700, 300, 0, 0.0)  # the reference teacher reports estimated tokens, but has no price
    f = project(PLAN, AFTER_STAGE_1, done={0}, max_tokens=MAX_TOKENS, price=lambda p, c: 0.0)
    assert bar_text(spent, Limits(12), f) == "7/12 units"
    line = stage_line(0, 2, spent, Limits(12), f)
    assert "$" not in line and "tok" not in line and line.startswith("spend at stage 1/2: 7 units; total 5/12 units")


def test_the_stage_line_says_what_was_spent_what_is_left_and_where_it_is_heading():
    f = project(PLAN, AFTER_STAGE_1, done={0}, max_tokens=MAX_TOKENS, price=price)
    mine = Totals.of(c for c in AFTER_STAGE_1 if c.stage == 0)
    line = stage_line(0, 2, mine, Limits(12, tokens=5000, dollars=0.01, priced=True), f)
    assert line == (
        "spend at stage 1/2: 5 units, 1,370 tokens, $0.0028; total 5/12 units, 1,370 tokens, $0.0028; left 7 units, "
        "3,630 tokens, $0.0072; projected 4,230 tokens, $0.0084 (annotate at 120+60 tokens/call measured, synthesize "
        "at 400+200 tokens/call measured, verify at 250+100 tokens/call planned; estimate before the run: at most "
        "3,570 tokens, $0.0065)"
    )


def test_a_warning_says_by_how_much_the_projection_crosses_a_cap():
    f = project(PLAN, AFTER_STAGE_1, done={0}, max_tokens=MAX_TOKENS, price=price)  # 4,230 tokens, $0.00843
    assert cap_warning(f, Limits(12, tokens=5000, dollars=0.01, priced=True)) is None
    dollars = cap_warning(f, Limits(12, dollars=0.005, priced=True))
    assert dollars is not None and "teacher.max_dollars $0.0050 by $0.0034 (projected $0.0084)" in dollars
    assert "stops buying at the cap" in dollars and "keeping everything paid" in dollars
    both = cap_warning(f, Limits(12, tokens=4000, dollars=0.005, priced=True))
    assert both is not None and "and teacher.max_total_tokens 4,000 by 230 (projected 4,230)" in both
