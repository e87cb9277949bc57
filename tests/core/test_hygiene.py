"""Repeats and shared inputs: what counts as the same example, and as the same input."""

from baldistill.core import hygiene
from baldistill.data import Example


def ex(i, domain, text, answer="1"):
    return Example(f"e{i}", domain, text, answer, line=i)


def test_a_repeat_is_the_same_domain_input_and_answer_after_normalisation():
    pool = [
        ex(1, "a", "What is  2 * 3?", "6"),
        ex(2, "a", "what is 2 * 3?", "6 "),
        ex(3, "b", "What is 2 * 3?", "6"),
        ex(4, "a", "What is 2 * 3?", "7"),
        ex(5, "a", "What is 2 * 4?", "8"),
        ex(6, "a", "WHAT IS 2 * 3?", "6"),
    ]
    got = [(r.id, first.id) for r, first in hygiene.repeats(pool)]
    # another domain, another answer or another number is a different example
    assert got == [("e2", "e1"), ("e6", "e1")]
    rep = hygiene.inspect(pool)
    assert rep.repeats == {"a": 2} and rep.n_repeats == 2 and rep.overlap == {}


def test_shared_inputs_ignore_domain_and_answer():
    pool = [ex(1, "a", "Is it grain?"), ex(2, "b", "Is it oil?"), ex(3, "c", "is  it GRAIN?", "x")]
    test = [ex(9, "z", "Is it grain?", "no")]
    assert [e.id for e in hygiene.shared_inputs(pool, test)] == ["e1", "e3"]
    rep = hygiene.inspect(pool, test, reserve=[ex(7, "a", "Is it oil?")])
    assert rep.overlap == {"pool/test": 2, "reserve/test": 0, "pool/reserve": 1}


def test_unicode_forms_of_one_text_are_the_same_input():
    assert hygiene.input_key("ﬁle  Ｆ") == hygiene.input_key("file f")
