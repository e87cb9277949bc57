"""Parse the final answer out of a rationale and compare it with the gold answer.

Rules (robust to the failure seen in the authors' data, where gold ``earn`` was parsed as ``tin``
inside ``reporting``):
- the answer span is the text after the *last* "answer is" (or "answer:"), up to the end of its line;
- with a label set (classification), the prediction is the longest label that occurs as a whole word
  (normalised), searched first in the answer span, then in the whole text (last occurrence wins);
- without a label set, the answer span itself, cleaned of markup and trailing punctuation; with no
  span, the last number for numeric golds, else the last non-empty line;
- comparison is on normalised text, and numbers compare as numbers (``1,000`` == ``1000.0``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SPAN = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*:?\s*(.*)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def normalize(text: str) -> str:
    s = text.strip()
    boxed = _BOXED.findall(s)
    if boxed:
        s = boxed[-1]
    s = s.replace("**", "").replace("`", "").replace("$", "")
    s = s.strip().strip("\"'“”‘’").strip()
    s = re.sub(r"\s+", " ", s.lower())
    s = re.sub(r"\s*,\s*", ", ", s)
    s = s.rstrip(" .;:!")
    return s.strip("\"'“”‘’ ")


def as_number(text: str) -> float | None:
    s = normalize(text)
    if re.fullmatch(r"-?\d{1,3}(?:, ?\d{3})+(?:\.\d+)?", s):
        s = re.sub(r", ?", "", s)
    try:
        return float(s)
    except ValueError:
        return None


def answer_span(text: str) -> str | None:
    last = None
    for line in text.splitlines():
        for m in _SPAN.finditer(line):
            last = m.group(1)
    return last.strip() if last is not None else None


def _find_label(text: str, labels: list[str]) -> str | None:
    """Longest label occurring as a whole word in ``text``; among equally long, the last occurrence."""
    norm = normalize(text)
    best: tuple[int, int, str] | None = None
    for label in labels:
        nl = normalize(label)
        if not nl:
            continue
        for m in re.finditer(r"(?<![\w-])" + re.escape(nl) + r"(?![\w-])", norm):
            key = (len(nl), m.start(), label)
            if best is None or key[:2] > best[:2]:
                best = key
    return best[2] if best else None


def parse_answer(text: str, labels: Iterable[str] | None = None, numeric: bool = False) -> str | None:
    """The final answer a rationale states, or None when it states none."""
    span = answer_span(text)
    if labels is not None:
        labels = list(labels)
        if span is not None:
            hit = _find_label(span, labels)
            if hit is not None:
                return hit
        return _find_label(text, labels)
    if span is not None and normalize(span):
        return span.strip().rstrip(".").strip()
    if numeric:
        nums = _NUMBER.findall(text)
        return nums[-1] if nums else None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else None


def answers_match(pred: str | None, gold: str) -> bool:
    if pred is None:
        return False
    a, b = as_number(pred), as_number(gold)
    if a is not None and b is not None:
        return abs(a - b) <= 1e-9 * max(1.0, abs(b))
    return normalize(pred) == normalize(gold)


def is_numeric(answer: str) -> bool:
    return as_number(answer) is not None
