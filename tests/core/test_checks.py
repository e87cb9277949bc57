"""The check step: pure verdicts on teacher replies."""

from baldistill.core.checks import annotation_from, check_annotation, check_syntheses, near_duplicate, synthesis_from
from baldistill.data import Example


def test_parsers():
    assert annotation_from("so 4. The answer is 4.", "4")[2] is True
    assert annotation_from("I think 5", "4") == ("I think 5", "I think 5", False)
    assert synthesis_from("Input: What is 2+3?\nReasoning: 2+3=5.\nAnswer: 5") == (
        "What is 2+3?",
        "2+3=5. The answer is 5.",
        "5",
        True,
    )
    assert synthesis_from("Input: q?\nReasoning: so the answer is 4.\nAnswer: 5")[3] is False
    assert synthesis_from("no format at all") is None
    assert near_duplicate("What is 2 + 3 ?", ["what is 2+3"]) and not near_duplicate("What is 7 * 8?", ["what is 2+3"])
    # templated tasks: one changed number or word is a different example
    assert not near_duplicate("How many 1 bits are in the number 126?", ["How many 1 bits are in the number 12?"])
    assert not near_duplicate(
        "Reverse this list of words: all, You, set", ["Reverse this list of words: all, You, sat"]
    )
    # a long text with one word changed is a near duplicate; with a changed number it is not
    story = " ".join(f"word{k}" for k in range(120)) + " exports rose 7 pct"
    assert near_duplicate(story.replace("word5 ", "term5 "), [story])
    assert not near_duplicate(story.replace("7 pct", "8 pct"), [story])


def test_annotation_verdicts():
    ex = Example("1", "d", "2+2?", "4")
    ok = check_annotation(ex, "2+2=4. The answer is 4.")
    assert ok.ok and ok.example.rationale == "2+2=4. The answer is 4." and ok.example.id == "1"
    assert check_annotation(ex, "so 5. The answer is 5.").status == "dropped"
    assert check_annotation(ex, "I am not sure").status == "dropped"  # its last line is its answer
    assert check_annotation(ex, "  ").note == "no final answer in the rationale"
    cut = check_annotation(ex, "2+2 is", finish_reason="length")
    assert (cut.status, cut.note) == ("parse_error", "reply cut at max_tokens before its answer")
    assert check_annotation(ex, None, error="malformed JSON").note == "malformed JSON"
    labels = ["earn", "tin"]  # label-set aware: "tin" never matches inside another word
    assert check_annotation(Example("2", "d", "x", "earn"), "reporting earnings. The answer is earn.", labels=labels).ok


def test_synthesis_verdicts_in_order_with_a_growing_seen_list():
    good = "Input: What is 2+3?\nReasoning: 2+3=5.\nAnswer: 5"
    replies = [
        (0, good, None),
        (1, good, None),
        (2, "no format", None),
        (3, None, "no choices in the response"),
        (4, "Input: q?\nReasoning: so the answer is 4.\nAnswer: 5", None),
        (5, "Input: " + "x" * 50 + "\nAnswer: 1", None),
        (6, "Input: What is 9+1?\nAnswer: 10", None),
    ]
    v = check_syntheses(replies, "add", 2, existing=["what is 9 + 1"], min_chars=1, max_chars=20)
    assert [x.status for x in v] == ["ok", "dropped", "parse_error", "parse_error", "dropped", "dropped", "dropped"]
    assert [x.note for x in v][4:] == [
        "reasoning and answer disagree",
        "input length 50 outside [1, 20]",
        "duplicate of an existing example",
    ]
    e = v[0].example
    assert (e.id, e.domain, e.source, e.meta, e.answer) == ("syn-add-0", "add", "synthetic", {"stage": 2}, "5")


def test_a_synthetic_example_must_carry_a_label_of_its_own_domain():
    from baldistill.core.checks import check_syntheses

    replies = [
        (0, "Input: Wheat output rose.\nReasoning: About wheat.\nAnswer: wheat", None),
        (1, "Input: Gold mine opens.\nReasoning: About gold.\nAnswer: gold", None),
    ]
    v = check_syntheses(replies, "wheat", 0, [], 1, 2000, domain_labels=["wheat"])
    assert [x.status for x in v] == ["ok", "dropped"] and v[1].note == "answer 'gold' is not a label of domain 'wheat'"
    assert [x.status for x in check_syntheses(replies, "wheat", 0, [], 1, 2000)] == ["ok", "ok"]  # qa: no label check


def test_verification_keeps_an_example_when_a_strict_majority_of_re_answers_agree():
    from baldistill.core.checks import check_verification
    from baldistill.data import Example

    ex = Example("syn-lcm-3", "lcm", "LCM of 4 and 6?", "12", "The answer is 12.", "synthetic", {"stage": 1})
    say = lambda a: (f"Some steps. The answer is {a}.", None)  # noqa: E731
    ok, per = check_verification(ex, [say("12")])
    assert ok.ok and ok.example.meta == {"stage": 1, "verified": "1/1"} and [p.status for p in per] == ["ok"]
    assert not check_verification(ex, [say("24")])[0].ok
    assert check_verification(ex, [say("12.0"), say("24"), say("12")])[0].example.meta["verified"] == "2/3"
    no, per = check_verification(ex, [say("12"), (None, "no choices in the response"), ("I am not sure.", None)])
    assert (
        not no.ok and no.status == "dropped" and "1/3 re-answers agree with '12'" in no.note
    )  # unpaid/unparsed disagree
    assert [p.status for p in per] == ["ok", "parse_error", "parse_error"]
    assert not check_verification(ex, [say("12"), say("7")])[0].ok  # a tie is no majority
    labels = ["acq", "earn", "grain"]
    cls = Example("syn-earn-0", "earn", "Profit up 5 pct", "earn")
    assert check_verification(cls, [("It reports profits, so earn. The answer is earn.", None)], labels)[0].ok
    assert not check_verification(cls, [("A takeover: The answer is acq.", None)], labels)[0].ok
