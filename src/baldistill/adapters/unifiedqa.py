"""UnifiedQA in its TSV form: ``ROOT/<dataset>/{train,dev,test}.tsv``, each line ``input<TAB>output``.

Rules:

* Each subfolder with a ``train.tsv`` is one domain, named after the folder (``domains`` picks some).
* The test set comes from ``dev.tsv`` by default (the paper samples its QA test sets from the dev
  sets; several UnifiedQA ``test.tsv`` files have no gold answers); ``test_split="test"`` changes it.
* Inputs carry newlines as the two characters ``\\n``; they become real newlines (then whitespace
  within a line is collapsed). The output is the answer (for multiple choice, the option's text).
* ``kind``: ``mcqa`` (metric accuracy), ``absqa`` (metric token_f1) or ``auto``: a folder is
  multiple-choice when most of its inputs list options ``(a) ... (b) ...`` (or ``(A)``); all folders
  must then agree, else pick ``kind`` or fewer ``domains``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..data import DataError, Example
from .common import Adapted, example, require_dir

_OPTION = re.compile(r"\([aA]\)")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_KINDS = {"mcqa": ("accuracy", 500), "absqa": ("token_f1", 1000)}


def _text(raw: str) -> str:
    lines = (_SPACES.sub(" ", ln).strip() for ln in raw.replace("\\n", "\n").split("\n"))
    return "\n".join(ln for ln in lines if ln)


def read_tsv(path: Path, domain: str, split: str) -> list[Example]:
    """``input<TAB>output`` lines (exactly one tab); blank lines are skipped."""
    if not path.exists():
        raise DataError(f"{path}: file not found (each UnifiedQA folder needs train.tsv and {split}.tsv)")
    out = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) != 2:
                raise DataError(f"{path}:{i}: expected 'input<TAB>output' (one tab), found {len(parts) - 1} tabs")
            out.append(example(f"{domain}-{split}-{i}", domain, _text(parts[0]), _text(parts[1]), f"{path}:{i}"))
    if not out:
        raise DataError(f"{path}: no lines")
    return out


def is_multiple_choice(examples: list[Example]) -> bool:
    """True when most inputs contain an ``(a)``/``(A)`` option."""
    return sum(bool(_OPTION.search(e.input)) for e in examples) * 2 > len(examples)


def _folders(root: Path, domains: str | list[str] | None) -> list[Path]:
    if domains:
        names = domains.split(",") if isinstance(domains, str) else list(domains)
        folders = [root / n.strip() for n in names if n.strip()]
        for f in folders:
            if not (f / "train.tsv").exists():
                raise DataError(f"{f}: no train.tsv (domains are subfolders of {root})")
        return folders
    folders = sorted(p for p in root.iterdir() if (p / "train.tsv").exists())
    if not folders:
        raise DataError(f"{root}: no subfolder with a train.tsv (expected ROOT/<dataset>/train.tsv, dev.tsv)")
    return folders


def load(
    source: str | Path, kind: str = "auto", domains: str | list[str] | None = None, test_split: str = "dev"
) -> Adapted:
    """UnifiedQA datasets as domains; MCQA or AbsQA (see module doc)."""
    if kind not in ("auto", *_KINDS):
        raise DataError(f"kind {kind!r}: use auto, mcqa or absqa")
    root = require_dir(source, "one UnifiedQA dataset folder per domain")
    train, test, mc = [], [], {}
    for folder in _folders(root, domains):
        tr = read_tsv(folder / "train.tsv", folder.name, "train")
        train += tr
        test += read_tsv(folder / f"{test_split}.tsv", folder.name, test_split)
        mc[folder.name] = is_multiple_choice(tr)
    if kind == "auto":
        if len(set(mc.values())) > 1:
            m = ", ".join(d for d, v in mc.items() if v)
            a = ", ".join(d for d, v in mc.items() if not v)
            raise DataError(
                f"{root}: multiple-choice folders ({m}) and abstractive ones ({a}); "
                "choose --qa-kind mcqa|absqa or --domains"
            )
        kind = "mcqa" if next(iter(mc.values())) else "absqa"
    metric, per_domain = _KINDS[kind]
    instruction = (
        "Answer this multiple-choice question with the text of the correct option. "
        if kind == "mcqa"
        else "Answer this question. "
    ) + "Reason briefly, then end with: The answer is <answer>."
    return Adapted(
        train,
        test,
        "qa",
        metric,
        budget_per_domain=per_domain,
        instruction=instruction,
        note=f"{kind}: {len(mc)} datasets, test from {test_split}.tsv",
    )
