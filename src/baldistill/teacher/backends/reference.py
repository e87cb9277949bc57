"""The reference teacher: an offline simulation of a teacher, as active-learning research simulates
its annotator. It "replies" with the data's own reference rationale (or "The answer is X.") and
"synthesizes" by drawing unseen examples of the domain from a reserve file, in the same reply format a
real teacher is asked for, so every parser, cache and budget rule is the same.

Without noise its synthetic examples are real, correct examples: results made so are labelled **oracle
synthesis**. ``synthesis_noise`` makes them as noisy as a real teacher's: one categorical draw per
synthetic example decides whether it is clean or one of four kinds of bad example, each dressed like a
clean one (same fields, a rationale in the same style):

    wrong_answer   the answer is wrong, and the rationale argues for it (its last step changed)
    other_domain   a correct example of another domain, passed off as this one
    near_copy      one of the seed examples shown in the prompt, its wording changed, same content
    malformed      a reply that breaks the Input/Reasoning/Answer format (cut short, unlabelled, no answer)

Verification (``kind == "verify"``) is simulated too, with two stated rates: a re-answer agrees with a
correct example with probability ``accept_correct`` and disagrees with a wrong one with probability
``reject_wrong``. The simulation knows which of its synthetic examples are right because it made them
(the j-th synthetic example of a domain is a pure function of the seed, the domain and j). Results made
with it are labelled "simulated verifier".
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass

from ...core.answers import answers_match
from ...data import Example
from ..replies import Usage, openai_body
from ..requests import Request
from . import Declined

KINDS = ("wrong_answer", "other_domain", "near_copy", "malformed")

# wording changes that keep the content (the first that applies is used)
_REWORDINGS = [
    (r"^Solve the following", "Work out the following"),
    (r"^Solve for", "Find the value of"),
    (r"^Find the", "Determine the"),
    (r"^How many", "Count how many"),
    (r"^What", "Tell me: what"),
    (r"Give only the", "Give just the"),
    (r"\bnumbers\b", "integers"),
]


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)  # a rule of thumb: it reports estimated usage


@dataclass(frozen=True)
class Made:
    """One synthetic example as the reference teacher made it: the reply text, and the truth behind it."""

    text: str
    kind: str  # clean | wrong_answer | other_domain | near_copy | malformed
    input: str
    answer: str  # the answer the reply proposes
    truth: str  # the correct answer to its input


def reword(text: str, rng: random.Random) -> str:
    """The same content in changed wording."""
    for pattern, repl in _REWORDINGS:
        new, n = re.subn(pattern, repl, text, count=1)
        if n:
            return new
    return rng.choice(["Here is a task. ", "Try this one. ", "A question for you. "]) + text


def argue_for(rationale: str, answer: str, wrong: str) -> str:
    """A rationale for ``answer`` rewritten to argue for ``wrong``: its final statement and the last step that
    names the answer are changed, so it reads like a clean rationale that slipped at the end."""
    body, stated = rationale, ""
    m = re.search(r"\s*The answer is\s+.*$", rationale, flags=re.IGNORECASE | re.DOTALL)
    if m:
        body, stated = rationale[: m.start()], rationale[m.start() :]
    hits = list(re.finditer(rf"(?<![\w.]){re.escape(answer)}(?![\w])", body))
    if hits:
        h = hits[-1]
        body = body[: h.start()] + wrong + body[h.end() :]
    return (
        (body + (" " if body and not body.endswith(" ") else "") + f"The answer is {wrong}.").strip()
        if stated or not hits
        else body
    )


class ReferenceTeacher:
    name = "reference"
    where = "the reference teacher (offline)"
    concurrency = 1
    free = True  # costs nothing and is deterministic: a re-ask needs no cache

    def __init__(
        self,
        reserve: list[Example] | None,
        synthesis_noise=0.0,
        seed: int = 0,
        accept_correct: float = 1.0,
        reject_wrong: float = 1.0,
        verifies: bool = False,
    ):
        if isinstance(synthesis_noise, (int, float)):  # one number: split evenly over the four kinds
            self.rates = {k: float(synthesis_noise) / len(KINDS) for k in KINDS}
        elif hasattr(synthesis_noise, "rates"):
            self.rates = synthesis_noise.rates()
        else:
            self.rates = {k: float(synthesis_noise.get(k, 0.0)) for k in KINDS}
        self.accept_correct, self.reject_wrong, self.verifies = accept_correct, reject_wrong, verifies
        self.seed = seed
        self.by_domain: dict[str, list[Example]] = defaultdict(list)
        for ex in reserve or []:
            self.by_domain[ex.domain].append(ex)
        self.truth = {ex.input: ex.answer for ex in reserve or []}
        # the j-th synthesis call of a domain returns the j-th reserve example of a seeded permutation:
        # stateless, so a resumed run draws exactly what an uninterrupted one would
        self.order = {d: random.Random(f"{seed}/{d}").sample(xs, len(xs)) for d, xs in self.by_domain.items()}
        self._other_order: dict[str, list[Example]] = {}

    @property
    def noise(self) -> float:
        return sum(self.rates.values())

    @property
    def label(self) -> str:
        """How results made with it are labelled."""
        synth = (
            "oracle synthesis"
            if not self.noise
            else "simulated synthesis noise " + ", ".join(f"{k} {v:g}" for k, v in self.rates.items() if v)
        )
        if self.verifies:
            synth += (
                f"; simulated verifier (accept_correct {self.accept_correct:g}, reject_wrong {self.reject_wrong:g})"
            )
        return synth

    async def send(self, request: Request) -> str:
        if request.kind == "annotate":
            ex: Example = request.meta["example"]
            text = ex.rationale or f"The answer is {ex.answer}."
        elif request.kind == "verify":
            text = self._verify(request.meta["example"], int(request.meta.get("sample", 0)))
        else:
            text = self.made(
                request.domain,
                int(request.meta.get("sample", request.payload.get("sample", 0))),
                request.meta.get("seeds") or [],
            ).text
        usage = Usage(_tokens(request.prompt_text()), _tokens(text), estimated=True)
        return openai_body(text, usage, "chat" if "messages" in request.payload else "completions")

    async def aclose(self) -> None:
        pass

    def probe(self, timeout: float) -> tuple[str, str] | None:
        return None

    # ---- synthesis -------------------------------------------------------------------------------
    def made(self, domain: str, j: int, seeds: list[Example] | None = None) -> Made:
        """The ``j``-th synthetic example of ``domain``: the j-th reserve example of a seeded order, then one
        categorical draw for its kind (clean, or one of the noise kinds at their rates)."""
        order = self.order.get(domain, [])
        if j >= len(order):
            raise Declined(
                f"reference teacher: no unseen reserve examples left for domain '{domain}' "
                f"({len(order)} in the reserve)"
            )
        src = order[j]
        rng = random.Random(f"{self.seed}/{domain}/{j}/noise")
        u, kind, acc = rng.random(), "clean", 0.0
        for k in KINDS:
            acc += self.rates[k]
            if u < acc:
                kind = k
                break
        inp, answer, rationale = src.input, src.answer, src.rationale or f"The answer is {src.answer}."
        truth = answer
        if kind == "wrong_answer":
            wrong = self._wrong(domain, answer, rng)
            if wrong is None:
                kind = "clean"
            else:
                rationale, answer = argue_for(rationale, answer, wrong), wrong
        elif kind == "other_domain":
            others = self._others(domain)
            if not others:
                kind = "clean"
            else:  # the j-th of a seeded order of the other domains' examples: no repeats within a domain
                o = others[j % len(others)]
                inp, answer, truth = o.input, o.answer, o.answer
                rationale = o.rationale or f"The answer is {o.answer}."
        elif kind == "near_copy":
            shown = list(seeds or []) or order[:j]  # the seeds in the prompt; without any, an earlier draw
            if not shown:
                kind = "clean"
            else:
                s = rng.choice(shown)
                inp, answer, truth = reword(s.input, rng), s.answer, s.answer
                rationale = s.rationale or f"The answer is {s.answer}."
        if kind == "malformed":
            form = rng.randrange(3)
            if form == 0:  # cut short before the answer, as at max_tokens
                text = f"Input: {inp}\nReasoning: {rationale[: max(1, len(rationale) // 2)]}"
            elif form == 1:  # no field labels
                text = f"Here is a new example for {domain}. {inp} {rationale}"
            else:  # an empty answer
                text = f"Input: {inp}\nReasoning: {rationale}\nAnswer:"
        else:
            text = f"Input: {inp}\nReasoning: {rationale}\nAnswer: {answer}"
        return Made(text, kind, inp, answer, truth)

    def _others(self, domain: str) -> list[Example]:
        if domain not in self._other_order:
            xs = [e for d in sorted(self.by_domain) if d != domain for e in self.by_domain[d]]
            self._other_order[domain] = random.Random(f"{self.seed}/{domain}/other").sample(xs, len(xs))
        return self._other_order[domain]

    def _wrong(self, domain: str, answer: str, rng: random.Random) -> str | None:
        """A plausible wrong answer: another answer seen in the domain, else a nearby number."""
        wrong = sorted({e.answer for e in self.by_domain[domain]} - {answer})
        wrong = [w for w in wrong if not answers_match(w, answer)]
        if wrong:
            return rng.choice(wrong)
        try:
            n = int(answer)
        except ValueError:
            return None
        return str(n + rng.choice([-2, -1, 1, 2]))

    # ---- verification ----------------------------------------------------------------------------
    def _verify(self, ex: Example, sample: int) -> str:
        """A re-answer of a synthetic example from its input: agrees with a correct one with probability
        ``accept_correct``, disagrees with a wrong one with probability ``reject_wrong``."""
        truth = self._truth(ex)
        correct = truth is None or answers_match(ex.answer, truth)
        rng = random.Random(f"{self.seed}/verify/{ex.domain}/{ex.input}/{sample}")
        if correct:
            agree = rng.random() < self.accept_correct
            said = ex.answer if agree else (self._wrong(ex.domain, ex.answer, rng) or f"not {ex.answer}")
        else:
            said = truth if rng.random() < self.reject_wrong else ex.answer
        return f"Working through the question step by step. The answer is {said}."

    def _truth(self, ex: Example) -> str | None:
        """The correct answer to a synthetic example's input, which this teacher made; None when unknown."""
        m = re.fullmatch(r"syn-(.+)-(\d+)", ex.id)
        if m and m.group(1) in self.order:
            try:
                made = self.made(m.group(1), int(m.group(2)))
            except Declined:
                made = None
            if made is not None and made.input == ex.input:
                return made.truth
        if ex.input in self.truth:
            return self.truth[ex.input]
        return None
