"""The reference teacher's noise (four kinds at their rates, dressed like clean examples) and its simulated
verifier (re-answers that keep and reject at their stated rates), driven through the engine and the checks."""

import hashlib
import math
from pathlib import Path

import pytest
from teacher_kit import Client

from baldistill.budget.ledger import Ledger
from baldistill.config import TeacherConfig
from baldistill.core.answers import answers_match
from baldistill.core.checks import check_syntheses
from baldistill.data import Example, read_jsonl
from baldistill.teacher.backends.reference import KINDS, ReferenceTeacher, argue_for

DEMO = Path(__file__).parents[2] / "src/baldistill/bundled/demo"
RESERVE = [Example.from_json(r) for r in read_jsonl(DEMO / "reserve.jsonl")]
POOL = [Example.from_json(r) for r in read_jsonl(DEMO / "train.jsonl")]


def big_reserve(n=2500):
    return [
        Example(
            f"{d}{k}",
            d,
            f"q {d} {k} " + hashlib.md5(f"{d}{k}".encode()).hexdigest(),
            str(k % 7),
            f"Step one gives {k % 7}. The answer is {k % 7}.",
        )
        for d in "ab"
        for k in range(n)
    ]


def within(count, n, p, sigmas=4.5):
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def test_each_noise_kind_is_drawn_at_its_rate():
    rates = {"wrong_answer": 0.1, "other_domain": 0.2, "near_copy": 0.15, "malformed": 0.05}
    t = ReferenceTeacher(big_reserve(), rates, seed=4)
    seeds = [Example("s", "a", "a seed question about something", "3", "The answer is 3.")]
    kinds = [t.made("a", j, seeds).kind for j in range(2500)]
    for k in KINDS:
        assert within(kinds.count(k), 2500, rates[k]), (k, kinds.count(k))
    assert within(kinds.count("clean"), 2500, 0.5)


def test_one_number_is_split_evenly_over_the_four_kinds():
    assert ReferenceTeacher([], 0.3).rates == {k: pytest.approx(0.075) for k in KINDS}
    assert TeacherConfig(synthesis_noise=0.3).synthesis_noise.rates() == {k: pytest.approx(0.075) for k in KINDS}
    t = ReferenceTeacher(big_reserve(), 0.4, seed=1)  # a draw is a function of (domain, j): one teacher serves all
    kinds = [t.made("b", j).kind for j in range(2000)]
    for k in ("wrong_answer", "other_domain", "malformed"):  # near_copy needs seeds or earlier draws: j > 0 has them
        assert within(kinds.count(k), 2000, 0.1), (k, kinds.count(k))


def test_wrong_and_other_domain_examples_look_clean_to_every_check():
    """At least 95 % of wrong-answer and other-domain examples pass the parse, consistency, length and
    near-duplicate checks on the demo data (real rationales), and they really are what they say. (Near
    duplicates are checked among the synthetic examples themselves: some demo reserve inputs of `products`
    repeat pool inputs, which the check rejects for clean and noisy draws alike.)"""
    t = ReferenceTeacher(RESERVE, {"wrong_answer": 0.5, "other_domain": 0.5}, seed=0)
    total, passed = 0, 0
    for d in sorted({e.domain for e in RESERVE}):
        made = [t.made(d, j) for j in range(len(t.order[d]))]
        verdicts = check_syntheses([(j, m.text, None) for j, m in enumerate(made)], d, 0, [], 1, 2000)
        for m, v in zip(made, verdicts):
            assert m.kind in ("wrong_answer", "other_domain")
            if m.kind == "wrong_answer":
                assert not answers_match(m.answer, m.truth)
            else:
                assert m.input not in {e.input for e in RESERVE if e.domain == d}
            total += 1
            passed += v.ok
    assert total == len(RESERVE) and passed >= 0.95 * total, (passed, total)


def test_malformed_replies_never_parse_and_near_copies_reword_a_seed():
    t = ReferenceTeacher(RESERVE, {"malformed": 0.5, "near_copy": 0.5}, seed=2)
    seeds = [e for e in POOL if e.domain == "products"][:3]
    made = [t.made("products", j, seeds) for j in range(60)]
    verdicts = check_syntheses([(j, m.text, None) for j, m in enumerate(made)], "products", 0, [], 1, 2000)
    for m, v in zip(made, verdicts):
        if m.kind == "malformed":
            assert v.status == "parse_error"
        else:  # the same content as one of the seeds shown, in changed wording (two of one seed are duplicates)
            assert m.input not in {s.input for s in seeds}
            src = max(seeds, key=lambda s: len(set(s.input.split()) & set(m.input.split())))
            assert m.answer == m.truth == src.answer
            assert len(set(src.input.split()) ^ set(m.input.split())) <= 4
    assert {m.kind for m in made} == {"malformed", "near_copy"}


def test_a_wrong_rationale_argues_for_the_wrong_answer():
    assert argue_for("9 * 8 = 72. The answer is 72.", "72", "63") == "9 * 8 = 63. The answer is 63."
    assert argue_for("Because of the weather.", "grain", "wheat") == "Because of the weather. The answer is wheat."


def verify_client(rates, accept, reject, k=1, temperature=0.0):
    cfg = TeacherConfig(verify={"samples": k, "temperature": temperature})
    teacher = ReferenceTeacher(RESERVE, rates, 0, accept, reject, verifies=True)
    return Client(teacher, cfg, Ledger(10_000), None, "Solve."), teacher


def test_the_simulated_verifier_keeps_and_rejects_at_its_rates():
    c, t = verify_client({"wrong_answer": 0.5}, accept=0.8, reject=0.6)
    n = {"correct": 0, "correct_kept": 0, "wrong": 0, "wrong_rejected": 0}
    for d in sorted(t.order):
        made = {f"syn-{d}-{j}": t.made(d, j) for j in range(len(t.order[d]))}
        kept = {e.id for e in c.synthesize(0, d, [], len(made), 0, existing=[])}
        for sid, m in made.items():
            if m.kind == "clean":
                n["correct"] += 1
                n["correct_kept"] += sid in kept
            else:
                n["wrong"] += 1
                n["wrong_rejected"] += sid not in kept
    assert n["correct"] > 150 and n["wrong"] > 150
    assert within(n["correct_kept"], n["correct"], 0.8), n
    assert within(n["wrong_rejected"], n["wrong"], 0.6), n
    rows = c.ledger.rows()
    n_verify = sum(r["kind"] == "verify" for r in rows)  # one per example that passed the hygiene checks
    assert 0.9 * len(RESERVE) < n_verify <= len(RESERVE) and c.ledger.spent == len(RESERVE) + n_verify
    assert "simulated verifier" in t.label and "wrong_answer 0.5" in t.label


def test_a_perfect_verifier_rejects_every_wrong_answer_and_nothing_else():
    c, t = verify_client({"wrong_answer": 0.3, "other_domain": 0.2}, accept=1.0, reject=1.0, k=3, temperature=0.7)
    kept = c.synthesize(0, "lcm", [], 60, 0, existing=[])
    made = [t.made("lcm", j) for j in range(60)]
    rows = c.ledger.rows()
    hygiene = {
        r["example_id"]
        for r in rows
        if r["kind"] == "synthesize"
        and r["status"] == "dropped"
        and not r["note"].startswith("rejected by verification")
    }  # e.g. repeated inputs: never verified
    assert len(hygiene) < 10
    assert {e.id for e in kept} == {f"syn-lcm-{j}" for j, m in enumerate(made) if m.kind != "wrong_answer"} - hygiene
    assert all(e.meta["verified"] == "3/3" for e in kept)
    assert sum(r["kind"] == "verify" for r in rows) == 3 * (60 - len(hygiene))
    notes = [
        r["note"]
        for r in rows
        if r["kind"] == "synthesize" and r["status"] == "dropped" and r["example_id"] not in hygiene
    ]
    assert len(notes) == len({f"syn-lcm-{j}" for j, m in enumerate(made) if m.kind == "wrong_answer"} - hygiene) > 10
    assert all(n.startswith("rejected by verification: 0/3 re-answers agree") for n in notes)


def test_unusable_synthesis_gets_no_verification_calls():
    c, t = verify_client({"malformed": 1.0}, accept=1.0, reject=1.0, k=2, temperature=0.5)
    assert c.synthesize(0, "gcd", [], 10, 0, existing=[]) == []
    assert [r["kind"] for r in c.ledger.rows()] == ["synthesize"] * 10 and c.ledger.spent == 10


def test_verification_requests_hide_the_proposed_answer_and_show_the_label_set():
    from baldistill.teacher import RequestBuilder

    b = RequestBuilder(TeacherConfig(verify={"samples": 3, "temperature": 0.7}), "Classify the story.")
    ex = Example("syn-grain-4", "grain", "Wheat harvest up 5 pct in Kansas", "grain", "It is about wheat.")
    reqs = [b.verification(1, ex, s, ["corn", "grain", "wheat"]) for s in range(3)]
    text = reqs[0].prompt_text()
    assert "Wheat harvest up 5 pct in Kansas" in text and "Choose the answer from: corn, grain, wheat" in text
    assert "It is about wheat" not in text and "Gold" not in text
    assert len({r.cache_key for r in reqs}) == 3 and len({r.key for r in reqs}) == 3  # a sample index each
    assert reqs[0].payload["temperature"] == 0.7 and reqs[0].kind == "verify" and reqs[0].domain == "grain"
    assert "Choose the answer" not in b.verification(1, ex, 0).prompt_text()  # qa: no label set
