"""The teacher over the reference backend, as the pipeline drives it: requests, parsing, hygiene, charging."""

import hashlib


from baldistill.config import TeacherConfig
from baldistill.data import Example
from baldistill.budget.ledger import Ledger
from baldistill.core.checks import annotation_from, near_duplicate, synthesis_from
from baldistill.teacher import RequestBuilder, Usage, openai_body, parse_body
from baldistill.teacher.backends.reference import ReferenceTeacher

from teacher_kit import Client


def reserve(n=20):
    return [Example(f"{d}{k}", d, f"question {d} number {k}" + " x" * k, f"{d}-ans{k % 4}",
                    f"Because. The answer is {d}-ans{k % 4}.") for d in ("a", "b") for k in range(n)]


def client(reserve_=None, budget=100, **kw):
    return Client(ReferenceTeacher(reserve_ or [], **kw), TeacherConfig(), Ledger(budget), None, "Solve.")


def test_annotate_keeps_agreeing_rationales_and_charges_each_call():
    c = client()
    exs = [Example("1", "x", "2+2?", "4", "2+2=4. The answer is 4."), Example("2", "x", "capital?", "Paris"),
           Example("3", "x", "3+3?", "6", "3+3=7. The answer is 7.")]
    kept = c.annotate(0, exs)
    assert [e.id for e in kept] == ["1", "2"] and kept[1].rationale == "The answer is Paris."
    rows = c.ledger.rows()
    assert c.ledger.spent == 3 and [r["status"] for r in rows] == ["ok", "ok", "dropped"]
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 for r in rows)
    assert rows[0]["prompt_hash"] == c.requests.annotate_prompt.hash


def test_reference_synthesis_draws_unseen_reserve_examples_then_declines():
    c = client(reserve(20), seed=1)
    got = c.synthesize(0, "a", [], 22, 0, existing=[])
    inputs = {e.input for e in got}
    assert len(got) == 20 and len(inputs) == 20 and all(e.domain == "a" and e.source == "synthetic" for e in got)
    assert inputs <= {e.input for e in reserve(20) if e.domain == "a"}
    assert c.ledger.spent == 20  # the two declined calls were not charged


def test_synthesis_is_stateless_and_deterministic():
    a = client(reserve(), seed=3).synthesize(0, "b", [], 5, 0, [])
    b = client(reserve(), seed=3).synthesize(0, "b", [], 5, 0, [])
    c = client(reserve(), seed=3).synthesize(0, "b", [], 3, 2, [])  # calls 2..4 alone give the same draws
    assert [e.input for e in a] == [e.input for e in b] and [e.input for e in a[2:]] == [e.input for e in c]


def test_synthesis_noise_and_duplicates_are_handled():
    big = [Example(f"{d}{k}", d, f"q {d} {k} " + hashlib.md5(f"{d}{k}".encode()).hexdigest(), f"{d}{k % 5}")
           for d in "ab" for k in range(400)]
    c = client(big, budget=400, synthesis_noise=0.3, seed=0)
    a_inputs = {e.input for e in big if e.domain == "a"}
    got = c.synthesize(0, "a", [], 300, 0, existing=[])
    from_other = sum(e.input not in a_inputs for e in got)
    wrong = sum(e.input in a_inputs and e.answer != f"a{int(e.input.split()[2]) % 5}" for e in got)
    dups = sum(r["note"] == "duplicate of an existing example" for r in c.ledger.rows())
    assert len(got) + dups == 300 and dups < 15  # noise may re-draw another domain's example: dropped
    assert 20 <= from_other <= 70 and 20 <= wrong <= 70
    # a synthetic example equal to an existing one is dropped (and stays charged)
    c2 = client(reserve(5))
    existing = [e.input for e in reserve(5) if e.domain == "a"]
    assert c2.synthesize(0, "a", [], 5, 0, existing=existing) == [] and c2.ledger.spent == 5
    assert {r["note"] for r in c2.ledger.rows()} == {"duplicate of an existing example"}


def test_parsers():
    assert annotation_from("so 4. The answer is 4.", "4")[2] is True
    assert annotation_from("I think 5", "4") == ("I think 5", "I think 5", False)
    assert synthesis_from("Input: What is 2+3?\nReasoning: 2+3=5.\nAnswer: 5") == \
        ("What is 2+3?", "2+3=5. The answer is 5.", "5", True)
    assert synthesis_from("Input: q?\nReasoning: so the answer is 4.\nAnswer: 5")[3] is False
    assert synthesis_from("no format at all") is None
    r = parse_body(openai_body("hi", Usage(3, 1)))
    assert r.text == "hi" and r.usage.prompt_tokens == 3 and r.error is None
    assert parse_body("{not json").error.startswith("malformed") and parse_body('{"choices": []}').text is None
    assert near_duplicate("What is 2 + 3 ?", ["what is 2+3"]) and not near_duplicate("What is 7 * 8?", ["what is 2+3"])
    # templated tasks: one changed number or word is a different example
    assert not near_duplicate("How many 1 bits are in the number 126?", ["How many 1 bits are in the number 12?"])
    assert not near_duplicate("Reverse this list of words: all, You, set", ["Reverse this list of words: all, You, sat"])
    # a long text with one word changed is a near duplicate; with a changed number it is not
    story = " ".join(f"word{k}" for k in range(120)) + " exports rose 7 pct"
    assert near_duplicate(story.replace("word5 ", "term5 "), [story])
    assert not near_duplicate(story.replace("7 pct", "8 pct"), [story])


def test_copies_and_seeds_share_a_cached_reply_unless_fresh_samples():
    def req(seed, copy, fresh):
        ex = Example("1", "x", "2+2?", "4", meta={"copy": copy} if copy else {})
        cfg = TeacherConfig(fresh_samples=fresh, temperature=0.7)
        return RequestBuilder(cfg, "Solve.", seed=seed).annotation(0, ex)

    first, copy1, seed1 = req(0, 0, False), req(0, 1, False), req(1, 0, False)
    assert first.cache_key == copy1.cache_key == seed1.cache_key  # one reply serves them all
    assert len({first.key, copy1.key}) == 2 and first.key == seed1.key  # but each copy is a budget unit
    fresh = [req(0, 0, True), req(0, 1, True), req(1, 0, True)]
    assert len({r.cache_key for r in fresh}) == 3 and first.cache_key not in {r.cache_key for r in fresh}
