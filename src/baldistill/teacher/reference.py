"""The reference teacher: an offline simulation of a teacher, as active-learning research simulates
its annotator. It annotates with the data's own reference rationale (or "The answer is X.") and
"synthesizes" by drawing unseen examples of the domain from a reserve file. Results made with it are
labelled "oracle synthesis": a real teacher's synthetic data is noisier, which ``synthesis_noise``
imitates (that fraction of synthetic examples gets a wrong answer or comes from another domain).
"""

from __future__ import annotations

import random
from collections import defaultdict

from ..answers import parse_answer
from ..data import Example
from ..ledger import TeacherUnavailable
from .base import Annotation, Synthesis, Usage, estimate_tokens


class ReferenceTeacher:
    name = "reference"
    label = "oracle synthesis"

    def __init__(self, reserve: list[Example] | None, synthesis_noise: float = 0.0, seed: int = 0,
                 used: set[str] | None = None):
        self.noise = synthesis_noise
        self.seed = seed
        self.by_domain: dict[str, list[Example]] = defaultdict(list)
        for ex in reserve or []:
            self.by_domain[ex.domain].append(ex)
        self.used: set[str] = set(used or ())

    def annotate(self, example: Example, labels: list[str] | None = None) -> Annotation:
        rationale = example.rationale or f"The answer is {example.answer}."
        prompt = f"{example.input}\nGold answer: {example.answer}\nExplain step by step."
        return Annotation(rationale, parse_answer(rationale, labels),
                          Usage(estimate_tokens(prompt), estimate_tokens(rationale), estimated=True))

    def synthesize(self, domain: str, seeds: list[Example], n: int = 1) -> list[Synthesis]:
        return [self._one(domain, seeds) for _ in range(n)]

    def _one(self, domain: str, seeds: list[Example]) -> Synthesis:
        fresh = [e for e in self.by_domain.get(domain, []) if e.id not in self.used]
        if not fresh:
            raise TeacherUnavailable(f"reference teacher: no unseen reserve examples left for domain '{domain}'")
        # deterministic in (seed, domain, how many were drawn): a resumed run draws the same
        rng = random.Random(f"{self.seed}/{domain}/{len(self.used)}")
        src = rng.choice(fresh)
        self.used.add(src.id)
        answer, rationale, noise = src.answer, src.rationale or f"The answer is {src.answer}.", None
        if self.noise and rng.random() < self.noise:
            others = [e for d, xs in self.by_domain.items() if d != domain for e in xs]
            wrong = sorted({e.answer for e in self.by_domain[domain]} - {src.answer})
            if others and (not wrong or rng.random() < 0.5):
                o = rng.choice(others)
                src, answer, rationale, noise = o, o.answer, o.rationale or f"The answer is {o.answer}.", "other-domain"
            elif wrong:
                answer = rng.choice(wrong)
                rationale, noise = f"The answer is {answer}.", "wrong-answer"
        ex = Example(id=f"syn-{src.id}", domain=domain, input=src.input, answer=answer, rationale=rationale,
                     source="synthetic", meta={"from": src.id, **({"noise": noise} if noise else {})})
        prompt = f"Domain: {domain}\n" + "\n".join(s.input for s in seeds) + "\nWrite a new example."
        return Synthesis(ex, Usage(estimate_tokens(prompt), estimate_tokens(ex.input + rationale), estimated=True))
