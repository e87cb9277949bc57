"""Data hygiene: repeated examples in a pool, and inputs shared between the pool, the test file and the
reserve. Pure functions over examples (``stats``, ``check`` and ``run`` use the same ones).

A **repeat** is an example whose (domain, normalised input, normalised answer) equals an earlier one's:
scraped and merged data is full of them, and each repeat would become a training example that no budget
unit paid for (an identical teacher request is one call). Two records of the same input in different
domains, or with different answers, are different examples (the Reuters adapter writes one record per
(document, category) on purpose). **Overlap** is an input that occurs in two files, whatever its
domain or answer: a training input that is also a test input inflates the test score.

Normalisation: Unicode NFKC, case folded, runs of whitespace collapsed. Punctuation and digits are kept
(in templated tasks "7 * 8" and "7 * 9" are different questions).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from ..data import Example
from .answers import normalize as normalize_answer


def input_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def example_key(e: Example) -> tuple[str, str, str]:
    return e.domain, input_key(e.input), normalize_answer(e.answer)


def repeats(examples: list[Example]) -> list[tuple[Example, Example]]:
    """(repeat, the first example it repeats), in file order."""
    first: dict[tuple, Example] = {}
    out = []
    for e in examples:
        k = example_key(e)
        if k in first:
            out.append((e, first[k]))
        else:
            first[k] = e
    return out


def shared_inputs(examples: list[Example], other: list[Example]) -> list[Example]:
    """The examples whose normalised input also occurs in ``other``."""
    keys = {input_key(e.input) for e in other}
    return [e for e in examples if input_key(e.input) in keys]


@dataclass
class HygieneReport:
    """What was found (and, in a run, done): repeats per domain, inputs shared between files."""

    repeats: dict[str, int] = field(default_factory=dict)  # per domain: pool rows that repeat an earlier one
    dedupe: bool = False  # whether repeats are dropped (data.dedupe)
    overlap: dict[str, int] = field(
        default_factory=dict
    )  # "pool/test", "reserve/test", "pool/reserve", "pool/val", ...
    overlap_action: str = "allow"  # what was done with pool and reserve inputs that are also test inputs
    pool_before: int = 0
    pool_after: int = 0

    @property
    def n_repeats(self) -> int:
        return sum(self.repeats.values())

    @property
    def repeats_dropped(self) -> bool:
        return self.dedupe and self.n_repeats > 0

    def to_json(self) -> dict:
        return {
            "pool_rows": self.pool_before,
            "pool_used": self.pool_after,
            "repeats": self.repeats,
            "dedupe": self.dedupe,
            "overlap": self.overlap,
            "test_overlap": self.overlap_action,
        }


def inspect(
    pool: list[Example],
    test: list[Example] | None = None,
    reserve: list[Example] | None = None,
    val: list[Example] | None = None,
) -> HygieneReport:
    """Repeats in the pool, and inputs shared between pool, test, reserve and validation (nothing changed)."""
    rep = HygieneReport(
        repeats=dict(Counter(e.domain for e, _ in repeats(pool))), pool_before=len(pool), pool_after=len(pool)
    )
    for name, held in (("test", test), ("val", val)):
        if held:
            rep.overlap[f"pool/{name}"] = len(shared_inputs(pool, held))
            if reserve:
                rep.overlap[f"reserve/{name}"] = len(shared_inputs(reserve, held))
    if reserve:
        rep.overlap["pool/reserve"] = len(shared_inputs(pool, reserve))
    return rep
