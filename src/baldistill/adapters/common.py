"""What every adapter shares: the result type, text cleaning, input checks, sampling and Zipf resampling."""

from __future__ import annotations

import html
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..data import DataError, Example, domain_counts


@dataclass
class Adapted:
    """A converted dataset: train and test examples plus the task and metric the paper uses for it."""

    train: list[Example]
    test: list[Example]
    task: str  # qa | classification
    metric: str  # accuracy | token_f1
    budget_per_domain: int = 50  # the paper's budget setting 1, per domain
    instruction: str | None = None
    zipf_alpha: float | None = None  # resample train to a Zipf law by default (MATH: 1.1)
    note: str = ""


_WS = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Unescape HTML/SGML entities (``&lt;`` -> ``<``), drop control characters, collapse whitespace."""
    return _WS.sub(" ", _CONTROL.sub(" ", html.unescape(text))).strip()


def example(ex_id: str, domain: str, text: str, answer: str, where: str, meta: dict | None = None) -> Example:
    """An Example with non-empty fields; ``where`` (file and line) names the culprit otherwise."""
    vals = {"domain": str(domain).strip(), "input": str(text).strip(), "answer": str(answer).strip()}
    for key, v in vals.items():
        if not v:
            raise DataError(f"{where}: empty {key}")
    return Example(id=ex_id, meta=meta or {}, **vals)


def require_dir(path: str | Path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError(f"{path}: folder not found (expected {what})")
    return path


def sample(examples: list[Example], n: int | None, seed: int) -> list[Example]:
    """A seeded random sample of ``n`` examples (all when ``n`` is None or larger), in the original order."""
    if n is None or n >= len(examples):
        return examples
    keep = set(random.Random(seed).sample(range(len(examples)), n))
    return [e for i, e in enumerate(examples) if i in keep]


def zipf_counts(sizes: dict[str, int], alpha: float, max_per_domain: int | None = None) -> dict[str, int]:
    """Target size per domain under a Zipf law: rank domains by size, largest first (ties by name, as
    the paper ranks MATH subjects: Algebra, Intermediate Algebra, Prealgebra, ...); the domain of rank
    k keeps ``round(top / k**alpha)`` examples, at least 1 and at most what it has, where ``top`` is
    ``max_per_domain`` or, by default, the size of the largest domain (which then keeps everything)."""
    ranked = sorted(sizes, key=lambda d: (-sizes[d], d))
    if not ranked:
        return {}
    top = min(max_per_domain or sizes[ranked[0]], sizes[ranked[0]])
    return {d: min(sizes[d], max(1, math.floor(top / k**alpha + 0.5))) for k, d in enumerate(ranked, start=1)}


def zipf_resample(
    examples: list[Example], alpha: float, seed: int = 0, max_per_domain: int | None = None
) -> list[Example]:
    """Make a long-tailed pool: a seeded sample of each domain down to its :func:`zipf_counts` size
    (the original order is kept)."""
    by_domain: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        by_domain[e.domain].append(e)
    target = zipf_counts({d: len(v) for d, v in by_domain.items()}, alpha, max_per_domain)
    keep = {id(e) for d, v in by_domain.items() for e in random.Random(f"{seed}/{d}").sample(v, target[d])}
    return [e for e in examples if id(e) in keep]


def counts_by_domain(train: list[Example], test: list[Example]) -> dict[str, dict[str, int]]:
    """``{domain: {"train": n, "test": m}}``, largest training pool first."""
    tr, te = domain_counts(train), domain_counts(test)
    return {d: {"train": tr.get(d, 0), "test": te.get(d, 0)} for d in [*tr, *(d for d in te if d not in tr)]}
