"""R52 (the single-label Reuters subset with 52 topics) in its common tab-separated form.

The folder holds a training and a test file (``r52-train-all-terms.txt`` and ``r52-test-all-terms.txt``,
or any one ``*train*`` and one ``*test*`` file ending in .txt or .tsv); each line is ``label<TAB>text``.
Classification: domain = answer = the label; input = the text with whitespace collapsed.
"""

from __future__ import annotations

from pathlib import Path

from ..data import DataError, Example
from .common import Adapted, clean_text, example, require_dir


def _find(folder: Path, split: str) -> Path:
    files = sorted(p for p in folder.iterdir() if split in p.name.lower() and p.suffix in (".txt", ".tsv"))
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "none"
        raise DataError(f"{folder}: expected one *{split}*.txt file (e.g. r52-{split}-all-terms.txt), found {found}")
    return files[0]


def read_tsv(path: Path, split: str) -> list[Example]:
    """``label<TAB>text`` lines; blank lines are skipped, any other line without both parts is an error."""
    out = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f, start=1):
            if not line.strip():
                continue
            label, tab, text = line.rstrip("\r\n").partition("\t")
            if not tab or "\t" in text:
                raise DataError(f"{path}:{i}: expected 'label<TAB>text' (one tab)")
            out.append(example(f"r52-{split}-{i}", label, clean_text(text), label, f"{path}:{i}"))
    if not out:
        raise DataError(f"{path}: no lines")
    return out


def load(source: str | Path) -> Adapted:
    """R52 from a folder with its train and test files (see module doc)."""
    folder = require_dir(source, "r52-train-all-terms.txt and r52-test-all-terms.txt")
    return Adapted(
        read_tsv(_find(folder, "train"), "train"),
        read_tsv(_find(folder, "test"), "test"),
        "classification",
        "accuracy",
        budget_per_domain=50,
        instruction="Assign a topic to this Reuters news story. Reason briefly, then end with: The answer is <topic>.",
    )
