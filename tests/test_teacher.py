from collections import Counter

import pytest

from baldistill.data import Example
from baldistill.ledger import TeacherUnavailable
from baldistill.teacher import ReferenceTeacher


def reserve():
    out = []
    for d in ("a", "b"):
        for k in range(20):
            out.append(Example(f"{d}{k}", d, f"question {d} {k}", f"{d}-ans{k % 4}", f"Because. The answer is {d}-ans{k % 4}."))
    return out


def test_annotate_returns_reference_rationale_with_usage():
    t = ReferenceTeacher([])
    ann = t.annotate(Example("1", "x", "2+2?", "4", "2+2=4. The answer is 4."))
    assert ann.rationale.endswith("The answer is 4.") and ann.answer == "4"
    assert ann.usage.prompt_tokens > 0 and ann.usage.completion_tokens > 0
    bare = t.annotate(Example("2", "x", "capital?", "Paris"))
    assert bare.rationale == "The answer is Paris." and bare.answer == "Paris"


def test_synthesize_draws_unseen_reserve_of_the_domain_and_runs_out():
    t = ReferenceTeacher(reserve(), seed=1)
    got = [s.example for s in t.synthesize("a", [], 20)]
    assert all(e.domain == "a" and e.source == "synthetic" for e in got)
    assert len({e.meta["from"] for e in got}) == 20  # never the same reserve item twice
    with pytest.raises(TeacherUnavailable):
        t.synthesize("a", [], 1)


def test_synthesis_is_deterministic_given_seed_and_history():
    a = [s.example.id for s in ReferenceTeacher(reserve(), seed=3).synthesize("b", [], 5)]
    b = [s.example.id for s in ReferenceTeacher(reserve(), seed=3).synthesize("b", [], 5)]
    assert a == b


def test_synthesis_noise_fraction():
    big = [Example(f"{d}{k}", d, f"q {d} {k}", f"{d}{k % 5}") for d in "ab" for k in range(400)]
    t = ReferenceTeacher(big, synthesis_noise=0.3, seed=0)
    got = [s.example for s in t.synthesize("a", [], 300)]
    kinds = Counter(e.meta.get("noise") for e in got)
    noisy = kinds["wrong-answer"] + kinds["other-domain"]
    assert 60 <= noisy <= 120 and kinds["wrong-answer"] > 0 and kinds["other-domain"] > 0
    for e in got:
        src = e.meta["from"]
        if e.meta.get("noise") == "wrong-answer":
            assert e.answer != f"a{int(src[1:]) % 5}"
        if e.meta.get("noise") == "other-domain":
            assert src.startswith("b") and e.domain == "a"
    assert ReferenceTeacher(big).label == "oracle synthesis"
