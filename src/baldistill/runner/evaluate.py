"""Per-domain evaluation of a student on a test file: generate, parse the answer, score."""

from __future__ import annotations

import random
from collections import defaultdict

from ..core.answers import is_numeric, parse_answer
from ..core.metrics import Scored, majority_baseline, score, summarize
from ..data import Example


def limit_per_domain(test: list[Example], n: int | None, seed: int = 0) -> list[Example]:
    if n is None:
        return test
    by: dict[str, list[Example]] = defaultdict(list)
    for e in test:
        by[e.domain].append(e)
    keep = set()
    for d, xs in by.items():
        keep.update(e.id for e in (xs if len(xs) <= n else random.Random(f"{seed}/{d}").sample(xs, n)))
    return [e for e in test if e.id in keep]


class Evaluator:
    def __init__(self, pool: list[Example], metric: str, classification: bool, tail_domains: list[str]):
        self.metric, self.classification, self.tail = metric, classification, tail_domains
        self.pool = pool
        self.labels = sorted({e.answer for e in pool}) if classification else None
        answers: dict[str, list[str]] = defaultdict(list)
        for e in pool:
            answers[e.domain].append(e.answer)
        # a domain is numeric when most of its answers are numbers: then a bare last number counts
        self.numeric = {d: sum(map(is_numeric, a)) > len(a) / 2 for d, a in answers.items()}

    def score_texts(self, test: list[Example], texts: list[str]) -> tuple[dict, list[dict]]:
        items, rows = [], []
        for e, text in zip(test, texts):
            pred = parse_answer(text, self.labels, numeric=self.numeric.get(e.domain, False))
            s = score(pred, e.answer, self.metric)
            items.append(Scored(e.domain, e.answer, pred, s))
            rows.append({"id": e.id, "domain": e.domain, "gold": e.answer, "pred": pred, "score": s, "output": text})
        return summarize(items, self.tail, self.labels), rows

    def evaluate(self, student, test: list[Example], desc: str = "evaluating") -> tuple[dict, list[dict]]:
        gens = student.generate([e.input for e in test], desc=desc)
        return self.score_texts(test, [g.text for g in gens])

    def majority(self, test: list[Example]) -> dict:
        return majority_baseline(
            [(e.domain, e.answer) for e in self.pool],
            [(e.domain, e.answer) for e in test],
            self.metric,
            self.tail,
            self.classification,
        )
