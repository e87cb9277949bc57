"""MATH (Hendrycks et al.) from its per-problem JSON files: ``ROOT/{train,test}/<subject>/<n>.json``.

Rules:

* Each file has ``problem``, ``level``, ``type`` and ``solution``; domain = ``type`` (e.g.
  "Counting & Probability"), input = ``problem``, answer = the contents of the LAST ``\\boxed{...}``
  (or ``\\fbox{...}``, or ``\\boxed 5``) in the solution, braces balanced (see :func:`last_boxed`).
* The training pool is made long-tailed as in the paper: Zipf resampling with alpha = 1.1, domains
  ranked by their original size (Algebra first, Precalculus last), see
  :func:`~baldistill.adapters.common.zipf_resample`. The test split keeps its natural distribution.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..data import DataError, Example
from .common import Adapted, example, require_dir, zipf_counts, zipf_resample

__all__ = ["last_boxed", "load", "zipf_counts", "zipf_resample"]

_COMMANDS = ("\\boxed", "\\fbox")


def _braced(s: str, start: int) -> str | None:
    """The text inside the brace group opening at ``s[start] == "{"``; escaped braces (``\\{``) do not
    count. None when the group is never closed."""
    depth, i = 0, start
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return s[start + 1 : i]
        i += 1
    return None


def last_boxed(solution: str) -> str | None:
    """The answer in the last ``\\boxed{...}``/``\\fbox{...}`` (nested braces kept), or after
    ``\\boxed `` up to the next ``$``; None when there is none or its braces never close."""
    pos, cmd = max((solution.rfind(c), c) for c in _COMMANDS)
    if pos < 0:
        return None
    rest = pos + len(cmd)
    if solution.startswith("{", rest):
        inner = _braced(solution, rest)
        return inner.strip() if inner is not None else None
    if solution.startswith(" ", rest):
        return solution[rest:].split("$")[0].strip() or None
    return None


def _read(path: Path, split: str, root: Path) -> Example:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(rec, dict):
        raise DataError(f"{path}: expected a JSON object")
    for key in ("problem", "type", "solution"):
        if not isinstance(rec.get(key), str) or not rec[key].strip():
            raise DataError(f"{path}: missing or empty field '{key}'")
    answer = last_boxed(rec["solution"])
    if not answer:
        raise DataError(f"{path}: no \\boxed{{...}} answer in field 'solution'")
    rel = path.relative_to(root).with_suffix("").as_posix()
    return example(
        f"math-{rel}",
        rec["type"],
        rec["problem"],
        answer,
        str(path),
        {"level": rec["level"]} if rec.get("level") else None,
    )


def read_split(root: Path, split: str) -> list[Example]:
    folder = root / split
    files = sorted(folder.glob("*/*.json"), key=lambda p: (p.parent.name, int(p.stem) if p.stem.isdigit() else p.stem))
    if not files:
        raise DataError(f"{folder}: no <subject>/<n>.json files (expected MATH/{split}/algebra/1.json ...)")
    return [_read(p, split, root) for p in files]


def load(source: str | Path) -> Adapted:
    """MATH train and test, one domain per subject (see module doc); the Zipf resampling is applied
    by :func:`baldistill.adapters.prepare` (``zipf_alpha``, default 1.1 for this format)."""
    root = require_dir(source, "MATH's train/ and test/ folders")
    return Adapted(
        read_split(root, "train"),
        read_split(root, "test"),
        "qa",
        "accuracy",
        budget_per_domain=300,
        instruction="Solve this math problem. Reason step by step, then end with: The answer is <answer>.",
        zipf_alpha=1.1,
    )
