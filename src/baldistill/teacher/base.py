"""The teacher interface. Backends (the reference simulation here; HTTP servers elsewhere) all
return the same reply shape, and every reply carries its token usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..data import Example


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False  # True when counted by a rule of thumb rather than reported by a server


@dataclass
class Annotation:
    rationale: str
    answer: str | None  # parsed from the rationale; None when none could be parsed
    usage: Usage


@dataclass
class Synthesis:
    example: Example  # source="synthetic", with rationale and the teacher's own answer
    usage: Usage


class Teacher(Protocol):
    name: str
    label: str  # how results made with it are labelled, e.g. "oracle synthesis"

    def annotate(self, example: Example, labels: list[str] | None = None) -> Annotation:
        """Chain-of-thought rationale for an example, given its gold answer (one budget unit)."""

    def synthesize(self, domain: str, seeds: list[Example], n: int = 1) -> list[Synthesis]:
        """``n`` new examples of ``domain`` with rationales (one budget unit each)."""


def estimate_tokens(text: str) -> int:
    """A rule of thumb (about 4 characters per token) for backends that report no usage."""
    return max(1, (len(text) + 3) // 4)
