"""The reference teacher (an offline simulation), as the pipeline drives it: annotation, synthesis from
the reserve, noise, hygiene and charging."""

import hashlib

from teacher_kit import Client

from baldistill.budget.ledger import Ledger
from baldistill.config import TeacherConfig
from baldistill.data import Example
from baldistill.teacher.backends.reference import ReferenceTeacher


def reserve(n=20):
    return [
        Example(
            f"{d}{k}",
            d,
            f"question {d} number {k}" + " x" * k,
            f"{d}-ans{k % 4}",
            f"Because. The answer is {d}-ans{k % 4}.",
        )
        for d in ("a", "b")
        for k in range(n)
    ]


def client(reserve_=None, budget=100, **kw):
    return Client(ReferenceTeacher(reserve_ or [], **kw), TeacherConfig(), Ledger(budget), None, "Solve.")


def test_annotate_keeps_agreeing_rationales_and_charges_each_call():
    c = client()
    exs = [
        Example("1", "x", "2+2?", "4", "2+2=4. The answer is 4."),
        Example("2", "x", "capital?", "Paris"),
        Example("3", "x", "3+3?", "6", "3+3=7. The answer is 7."),
    ]
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
    big = [
        Example(f"{d}{k}", d, f"q {d} {k} " + hashlib.md5(f"{d}{k}".encode()).hexdigest(), f"{d}{k % 5}")
        for d in "ab"
        for k in range(400)
    ]
    c = client(big, budget=400, synthesis_noise={"other_domain": 0.15, "wrong_answer": 0.15}, seed=0)
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
