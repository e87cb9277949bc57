import pytest

from baldistill.core.answers import answers_match, normalize, parse_answer

R52 = ["earn", "acq", "tin", "income", "money-fx", "money-supply", "crude", "gold"]


def test_no_substring_hits():
    text = "The company is reporting higher earnings this quarter. The answer is earn."
    assert parse_answer(text, R52) == "earn"
    # 'tin' inside 'reporting' and 'continuing' must never match
    assert parse_answer("Reporting continuing growth in earnings", ["tin", "earn"]) is None


def test_longest_label_wins():
    assert parse_answer("The answer is money-supply.", R52) == "money-supply"
    assert parse_answer("so the topic is money-fx", R52) == "money-fx"


def test_label_from_span_then_text():
    assert parse_answer("It mentions gold and crude oil prices. The answer is crude.", R52) == "crude"
    assert parse_answer("This story is about gold mining.", R52) == "gold"
    assert parse_answer("The Answer Is: **ACQ**", R52) == "acq"


def test_free_form_and_numbers():
    assert parse_answer("6 * 7 = 42. The answer is 42.") == "42"
    assert parse_answer("so the answer is 24.5.") == "24.5"
    assert parse_answer("The answer is not, by, Foundation, processing.") == "not, by, Foundation, processing"
    assert parse_answer("first the answer is 3\nthen the answer is 4") == "4"
    assert parse_answer("We get 12 and then 17", numeric=True) == "17"
    assert parse_answer("") is None
    assert parse_answer("The answer is \\boxed{7}") is not None and answers_match(
        parse_answer("The answer is \\boxed{7}"), "7"
    )


@pytest.mark.parametrize(
    "pred,gold,ok",
    [
        ("1,000", "1000", True),
        ("1000.0", "1000", True),
        ("-3", "-3.0", True),
        ("3", "4", False),
        ("Son", "son", True),
        ("work,obtain , telephone", "work, obtain, telephone", True),
        ("son.", "son", True),
        (None, "son", False),
        ("sons", "son", False),
        ("'42'", "42", True),
    ],
)
def test_answers_match(pred, gold, ok):
    assert answers_match(pred, gold) is ok


def test_normalize():
    assert normalize("  **The  Answer** . ") == "the answer"
