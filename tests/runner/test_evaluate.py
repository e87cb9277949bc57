"""Evaluation without a model: parsing the student's text, scoring per domain, the test subset."""

from baldistill.data import Example
from baldistill.runner.evaluate import Evaluator, limit_per_domain


def test_scores_parsed_answers_per_domain_with_head_and_tail():
    pool = [Example(f"n{k}", "num", "q", str(k)) for k in range(5)] + [Example("w0", "word", "q", "cat")]
    ev = Evaluator(pool, "accuracy", False, tail_domains=["word"])
    test = [Example("t0", "num", "q", "3"), Example("t1", "num", "q", "4"), Example("t2", "word", "q", "dog")]
    summary, rows = ev.score_texts(test, ["so 1 + 2 = 3", "The answer is 5.", "The answer is dog."])
    assert [r["pred"] for r in rows] == ["3", "5", "dog"]  # a numeric domain: a bare last number counts
    assert summary["per_domain"]["num"]["score"] == 0.5 and summary["tail"]["macro"] == 1.0
    assert summary["macro"] == 0.75 and summary["head"]["domains"] == ["num"]


def test_limit_per_domain_is_seeded_and_keeps_file_order():
    test = [Example(f"{d}{k}", d, "q", "a") for d in "ab" for k in range(10)]
    a = limit_per_domain(test, 3, seed=1)
    assert a == limit_per_domain(test, 3, seed=1) and len(a) == 6
    assert [e.id for e in a] == [e.id for e in test if e in a]
    assert limit_per_domain(test, None) is test
