"""The reference teacher: an offline simulation of a teacher, as active-learning research simulates
its annotator. It "replies" with the data's own reference rationale (or "The answer is X.") and
"synthesizes" by drawing unseen examples of the domain from a reserve file, in the same reply format a
real teacher is asked for, so every parser, cache and budget rule is the same. Results made with it are
labelled "oracle synthesis": a real teacher's synthetic data is noisier, which ``synthesis_noise``
imitates (that fraction of synthetic examples gets a wrong answer or comes from another domain).
"""

from __future__ import annotations

import random
from collections import defaultdict

from ...data import Example
from ..replies import Usage, openai_body
from ..requests import Request
from . import Declined


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)  # a rule of thumb: it reports estimated usage


class ReferenceTeacher:
    name = "reference"
    where = "the reference teacher (offline)"
    label = "oracle synthesis"
    concurrency = 1
    free = True  # costs nothing and is deterministic: a re-ask needs no cache

    def __init__(self, reserve: list[Example] | None, synthesis_noise: float = 0.0, seed: int = 0):
        self.noise = synthesis_noise
        self.seed = seed
        self.by_domain: dict[str, list[Example]] = defaultdict(list)
        for ex in reserve or []:
            self.by_domain[ex.domain].append(ex)
        # the j-th synthesis call of a domain returns the j-th reserve example of a seeded permutation:
        # stateless, so a resumed run draws exactly what an uninterrupted one would
        self.order = {d: random.Random(f"{seed}/{d}").sample(xs, len(xs)) for d, xs in self.by_domain.items()}

    async def send(self, request: Request) -> str:
        if request.kind == "annotate":
            ex: Example = request.meta["example"]
            text = ex.rationale or f"The answer is {ex.answer}."
        else:
            text = self._synthesize(request.domain, int(request.payload.get("sample", 0)))
        usage = Usage(_tokens(request.prompt_text()), _tokens(text), estimated=True)
        return openai_body(text, usage, "chat" if "messages" in request.payload else "completions")

    async def aclose(self) -> None:
        pass

    def probe(self, timeout: float) -> None:
        return None

    def _synthesize(self, domain: str, j: int) -> str:
        order = self.order.get(domain, [])
        if j >= len(order):
            raise Declined(f"reference teacher: no unseen reserve examples left for domain '{domain}' "
                           f"({len(order)} in the reserve)")
        src = order[j]
        rng = random.Random(f"{self.seed}/{domain}/{j}/noise")
        answer, rationale = src.answer, src.rationale or ""
        if self.noise and rng.random() < self.noise:
            others = [e for d, xs in self.by_domain.items() if d != domain for e in xs]
            wrong = sorted({e.answer for e in self.by_domain[domain]} - {src.answer})
            if others and (not wrong or rng.random() < 0.5):
                src = rng.choice(others)  # an example of another domain, passed off as this one
                answer, rationale = src.answer, src.rationale or ""
            elif wrong:
                answer, rationale = rng.choice(wrong), ""  # a wrong answer
        reasoning = rationale or f"The answer is {answer}."
        return f"Input: {src.input}\nReasoning: {reasoning}\nAnswer: {answer}"
