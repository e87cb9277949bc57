"""The check step of the method: which paid teacher replies become training data. Pure functions over
reply text, so changing a rule re-pays nothing (the replies are cached).

Annotation (the paper's rule): the rationale's final answer must agree with the gold. Synthesis (the
paper has no check; ours is hygiene): the reply must be in the Input/Reasoning/Answer format, its
reasoning and answer must agree, the input must be within the length bounds and must not repeat (exactly
or nearly) an example of the domain's pool or an earlier synthetic one. A rejected reply keeps its cost;
its verdict (``dropped`` or ``parse_error``, with the reason) goes to the ledger.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ..data import Example, synthetic_id
from .answers import answer_span, answers_match, parse_answer
from .structured import fields, rationale_from, read_object


@dataclass(frozen=True)
class Verdict:
    status: str  # ok | dropped | parse_error
    note: str = ""
    example: Example | None = None  # the training example, when ok

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def annotation_from(text: str, gold: str, labels: list[str] | None = None) -> tuple[str, str | None, bool]:
    """(rationale, parsed answer, agrees with gold). The rationale always ends by stating its answer. A reply
    that is a JSON object ``{reasoning, answer}`` (structured output) is written as the same kind of text."""
    obj = read_object(text)
    got = fields(obj, ("reasoning", "answer")) if obj is not None else None
    if got is not None:
        stated = parse_answer(got["reasoning"], labels) if "answer" in got["reasoning"].lower() else None
        if stated is not None and not answers_match(stated, got["answer"]):
            return got["reasoning"], stated, False  # its reasoning argues for another answer
        rationale = rationale_from(got["reasoning"], got["answer"])
    elif obj is not None:
        return text.strip(), None, False  # breaks the schema
    else:
        rationale = text.strip()
    answer = parse_answer(rationale, labels)
    return rationale, answer, answer is not None and answers_match(answer, gold)


_FIELD = re.compile(r"^\s*(input|question|reasoning|rationale|answer)\s*:\s*", re.IGNORECASE | re.MULTILINE)


SCHEMA_BROKEN = "reply breaks the JSON schema (needs string fields input, reasoning, answer)"


def synthesis_from(text: str) -> tuple[str, str, str, bool] | None:
    """(input, rationale, answer, consistent) from a reply in the Input/Reasoning/Answer format, or from a JSON
    object with those fields (structured output), or None. ``consistent`` is False when the reasoning states a
    different final answer than the Answer line."""
    obj = read_object(text)
    if obj is not None:
        parts = fields(obj, ("input", "reasoning", "answer"))
        if parts is None:
            return None
    else:
        parts = {}
        marks = list(_FIELD.finditer(text))
        for m, nxt in zip(marks, marks[1:] + [None]):
            name = {"question": "input", "rationale": "reasoning"}.get(m.group(1).lower(), m.group(1).lower())
            parts.setdefault(name, text[m.end() : nxt.start() if nxt else len(text)].strip())
    if not all(parts.get(k) for k in ("input", "answer")):
        return None
    answer = parts["answer"].splitlines()[0].strip().rstrip(".").strip()
    reasoning = parts.get("reasoning", "").strip()
    if not answer:
        return None
    stated = parse_answer(reasoning) if "answer" in reasoning.lower() else None
    consistent = stated is None or answers_match(stated, answer)
    rationale = (
        reasoning
        if stated is not None
        else (f"{reasoning} The answer is {answer}." if reasoning else f"The answer is {answer}.")
    )
    return parts["input"], rationale.strip(), answer, consistent


def _tokens(text: str) -> Counter:
    return Counter(re.findall(r"\w+", text.lower()))


def near_duplicate(text: str, others: list[str], tolerance: float = 0.02) -> bool:
    """The same words and numbers after case, spacing and punctuation are ignored, up to a few changed
    words in a long text (at most ``tolerance`` of all tokens, and no changed number). In templated
    tasks one changed word or number is a different example, so short texts must match exactly."""
    a = _tokens(text)
    na = sum(a.values())
    for o in others:
        b = _tokens(o)
        diff = (a - b) + (b - a)
        if not diff:
            return True
        if sum(diff.values()) <= tolerance * (na + sum(b.values())) and not any(t.isdigit() for t in diff):
            return True
    return False


def check_annotation(
    ex: Example,
    text: str | None,
    finish_reason: str | None = None,
    error: str | None = None,
    labels: list[str] | None = None,
) -> Verdict:
    """A teacher rationale for a real example (gold answer given): kept when its answer agrees."""
    if text is None:
        return Verdict("parse_error", error or "")
    rationale, answer, ok = annotation_from(text, ex.answer, labels)
    obj = read_object(text)
    if obj is not None and fields(obj, ("reasoning", "answer")) is None:
        return Verdict("parse_error", "reply breaks the JSON schema (needs string fields reasoning, answer)")
    if not ok and finish_reason == "length":
        return Verdict("parse_error", "reply cut at max_tokens before its answer")
    if answer is None:
        return Verdict("parse_error", "no final answer in the rationale")
    if not ok:
        return Verdict("dropped", f"answer {answer!r} != gold {ex.answer!r}")
    return Verdict("ok", example=Example(ex.id, ex.domain, ex.input, ex.answer, rationale, ex.source, ex.meta))


def check_syntheses(
    replies: list[tuple[int, str | None, str | None]],
    domain: str,
    stage: int,
    existing: list[str],
    min_chars: int,
    max_chars: int,
    domain_labels: list[str] | None = None,
) -> list[Verdict]:
    """Synthetic examples of ``domain`` from (sample index, reply text, error) in order; each accepted one
    joins the texts the next must not repeat. Text given to this function already includes whatever
    the prompt primed (a base model continues "Input: "). ``domain_labels`` (classification): the answers
    the domain's real examples carry; a synthetic example must carry one of them."""
    seen, out = list(existing), []
    for sample, text, error in replies:
        if text is None:
            out.append(Verdict("parse_error", error or ""))
            continue
        parsed = synthesis_from(text)
        why = None
        if parsed is None:
            out.append(
                Verdict(
                    "parse_error",
                    SCHEMA_BROKEN
                    if read_object(text) is not None
                    else "reply not in the Input/Reasoning/Answer format",
                )
            )
            continue
        if not parsed[3]:
            why = "reasoning and answer disagree"
        elif not min_chars <= len(parsed[0]) <= max_chars:
            why = f"input length {len(parsed[0])} outside [{min_chars}, {max_chars}]"
        elif domain_labels is not None and not any(answers_match(parsed[2], lab) for lab in domain_labels):
            why = f"answer {parsed[2]!r} is not a label of domain {domain!r}"
        elif near_duplicate(parsed[0], seen):
            why = "duplicate of an existing example"
        if why:
            out.append(Verdict("dropped", why))
            continue
        inp, rationale, answer, _ = parsed
        seen.append(inp)
        out.append(
            Verdict(
                "ok",
                example=Example(
                    synthetic_id(domain, sample), domain, inp, answer, rationale, "synthetic", {"stage": stage}
                ),
            )
        )
    return out


def check_verification(
    ex: Example, replies: list[tuple[str | None, str | None]], labels: list[str] | None = None
) -> tuple[Verdict, list[Verdict]]:
    """A synthetic example and the teacher's re-answers to its input (text, error), asked without its answer:
    kept when a strict majority of the re-answers agree with its answer (for one re-answer: it agrees). A
    re-answer that was not paid or states no answer counts as disagreeing. Returns the verdict on the example
    and one on each re-answer (``parse_error`` when it states no answer)."""
    per, said = [], []
    for text, error in replies:
        obj = read_object(text) if text is not None else None
        if obj is not None:  # structured: {reasoning, answer}
            got = fields(obj, ("reasoning", "answer"))
            text = rationale_from(got["reasoning"], got["answer"]) if got and got["answer"] else None
            error = error or (None if text else "re-answer breaks the JSON schema (needs reasoning, answer)")
        stated = text is not None and (labels is not None or answer_span(text) is not None)
        answer = parse_answer(text.strip(), labels) if stated and text is not None else None  # qa: "The answer is"
        if answer is None:
            per.append(Verdict("parse_error", error or "no final answer in the re-answer"))
        else:
            per.append(Verdict("ok"))
            said.append(answer)
    agree, k = sum(answers_match(a, ex.answer) for a in said), len(replies)
    if agree * 2 > k:
        kept = Example(
            ex.id, ex.domain, ex.input, ex.answer, ex.rationale, ex.source, {**ex.meta, "verified": f"{agree}/{k}"}
        )
        return Verdict("ok", example=kept), per
    return Verdict(
        "dropped",
        f"rejected by verification: {agree}/{k} re-answers agree with {ex.answer!r} "
        f"(said {', '.join(repr(a) for a in said) or 'nothing'})",
    ), per
