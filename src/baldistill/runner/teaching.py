"""The teacher steps of a stage, one call per unit each: ask (and pay), check, record the verdicts.

* ``annotate_examples``: a rationale for each real example (the gold answer given); kept when its answer agrees.
* ``synthesize_examples``: a tail domain's synthetic examples (few-shot on the domain's real examples), kept when
  they pass the checks and, with verification (k re-answers from the input alone), when a strict majority of
  the re-answers agrees.

Each step runs in a ``Teaching`` context (the engine that pays, the request builder, the stage, the task's label
set and the progress bar) and a synthesis is described by a ``SynthesisAsk``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..core.checks import Verdict, check_annotation, check_syntheses, check_verification
from ..data import Example
from ..teacher import Outcome, Request, RequestBuilder, TeacherEngine


@dataclass
class Teaching:
    """Where a teacher step runs: the engine that pays, the requests, the stage (0-based), the task's label set
    (classification: any label may be a re-answer; None for qa) and the bar that counts the calls."""

    engine: TeacherEngine
    requests: RequestBuilder
    stage: int
    labels: list[str] | None = None
    advance: Callable[[int], None] | None = None


@dataclass
class SynthesisAsk:
    """One tail domain's synthesis at a stage: ``n`` requests with sample indices ``first`` .. ``first + n - 1``,
    each few-shot on its own window of ``real`` (a seeded order of the domain's real examples), listing ``avoid``
    (synthetic inputs of earlier stages). A synthetic example may not repeat an input of ``existing``; for
    classification its label must be one of ``own_labels``, the domain's own."""

    domain: str
    n: int
    real: list[Example]
    first: int = 0
    existing: list[str] = field(default_factory=list)
    own_labels: list[str] | None = None
    avoid: list[str] = field(default_factory=list)

    def requests(self, t: Teaching) -> list[Request]:
        return [
            t.requests.synthesis(t.stage, self.domain, self.real, self.first + j, self.avoid, self.own_labels)
            for j in range(self.n)
        ]


@dataclass
class Synthesis:
    examples: list[Example]  # kept: parsed, passed the checks and (with verification) verified
    unverified: int = 0  # synthesis calls whose example got no verification (not usable, or not made)


Judged = tuple[Outcome, Verdict]


def annotate_examples(t: Teaching, examples: Sequence[Example]) -> list[Example]:
    """Teacher rationales for real examples (gold answer given); those whose answer agrees are kept."""
    outs = t.engine.execute([t.requests.annotation(t.stage, e, t.labels) for e in examples], t.advance)
    judged = [
        (o, check_annotation(e, o.reply.text, o.reply.finish_reason, o.reply.error, t.labels))
        for e, o in zip(examples, outs)
        if o.reply is not None
    ]
    t.engine.record(judged)
    return [v.example for _, v in judged if v.ok and v.example is not None]


def synthesize_examples(t: Teaching, ask: SynthesisAsk, verify: int = 0) -> Synthesis:
    """``ask.n`` synthetic examples of ``ask.domain``, one call each; those that pass the checks are kept, and with
    ``verify`` = k each is re-answered k times from its input alone and kept when a strict majority agrees. An
    example that is not usable gets no re-answers: their units are not spent."""
    judged, ok = _checked_syntheses(t, ask)
    if verify:
        if t.advance and ask.n > len(ok):
            t.advance((ask.n - len(ok)) * verify)  # re-answers not asked
        vouts = t.engine.execute(_verifications(t, judged, ok, verify), t.advance)
        answers: list[Judged] = []
        for m, j in enumerate(ok):
            mine = vouts[m * verify : (m + 1) * verify]
            replies = [(None, x.error) if x.reply is None else (x.reply.text, x.reply.error) for x in mine]
            example = judged[j][1].example
            assert example is not None  # a usable synthesis has its example
            verdict, per = check_verification(example, replies, t.labels)
            judged[j] = (judged[j][0], verdict)
            answers += [(x, pv) for x, pv in zip(mine, per) if x.reply is not None]
        judged += answers
    t.engine.record(judged)
    kept = [v.example for _, v in judged if v.ok and v.example is not None]
    return Synthesis(kept, ask.n - len(ok) if verify else 0)


def verification_requests(t: Teaching, ask: SynthesisAsk, verify: int) -> list[Request]:
    """The verification requests ``synthesize_examples`` will make for a domain (its synthesis replies already
    paid: read from the cache), so that a stage's verification can go out as one batch."""
    judged, ok = _checked_syntheses(Teaching(t.engine, t.requests, t.stage, t.labels), ask)
    return _verifications(t, judged, ok, verify)


def _verifications(t: Teaching, judged: list[Judged], ok: list[int], verify: int) -> list[Request]:
    out = []
    for j in ok:
        example = judged[j][1].example
        assert example is not None  # a usable synthesis has its example
        out += [t.requests.verification(t.stage, example, s, t.labels) for s in range(verify)]
    return out


def _checked_syntheses(t: Teaching, ask: SynthesisAsk) -> tuple[list[Judged], list[int]]:
    """Ask (and pay) the synthesis requests, check the replies: (judged outcomes, indices of the usable)."""
    cfg = t.requests.cfg
    outs = t.engine.execute(ask.requests(t), t.advance)
    paid = [(ask.first + j, o) for j, o in enumerate(outs) if o.reply is not None]
    prime = t.requests.synthesis_prime  # a base model continues a prompt ending with it
    verdicts = check_syntheses(
        [(s, None if o.reply.text is None else prime + o.reply.text, o.reply.error) for s, o in paid],
        ask.domain,
        t.stage,
        ask.existing,
        cfg.synthesis_min_chars,
        cfg.synthesis_max_chars,
        ask.own_labels,
    )
    judged = list(zip([o for _, o in paid], verdicts))
    return judged, [j for j, (_, v) in enumerate(judged) if v.ok]
