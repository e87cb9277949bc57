"""Examples and the files they come from (JSONL or CSV), validated with file/line/field messages."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path


class DataError(ValueError):
    """A data file that cannot be used; the message names the file, line and field."""


@dataclass
class Example:
    id: str
    domain: str
    input: str
    answer: str
    rationale: str | None = None
    source: str = "real"  # real | synthetic
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(self)
        if not d["meta"]:
            d.pop("meta")
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Example":
        return cls(**{k: d[k] for k in ("id", "domain", "input", "answer")},
                   rationale=d.get("rationale"), source=d.get("source", "real"), meta=d.get("meta") or {})


DEFAULT_FIELDS = {"input": "input", "answer": "answer", "domain": "domain", "id": "id", "rationale": "rationale"}


def _records(path: Path):
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                yield i, row
        return
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{i}: not valid JSON ({e.msg})") from None
            if not isinstance(rec, dict):
                raise DataError(f"{path}:{i}: expected a JSON object, got {type(rec).__name__}")
            yield i, rec


def _checked_records(path: Path):
    try:
        yield from _records(path)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}: {e.object[e.start:e.start + 1]!r}); convert it, "
                        f"e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}") from None


def load_examples(path: str | Path, fields: dict[str, str] | None = None, split: str = "train") -> list[Example]:
    """Read JSONL/CSV records with ``input``, ``answer``, ``domain`` (names remappable), optional
    ``id`` and ``rationale``. Raises DataError naming file, line and field on the first bad record."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    f = {**DEFAULT_FIELDS, **(fields or {})}
    out: list[Example] = []
    seen: set[str] = set()
    for line, rec in _checked_records(path):
        vals = {}
        for key in ("input", "answer", "domain"):
            v = rec.get(f[key])
            if v is None or (isinstance(v, str) and not v.strip()):
                raise DataError(f"{path}:{line}: missing or empty field '{f[key]}' ({key})")
            if not isinstance(v, (str, int, float)):
                raise DataError(f"{path}:{line}: field '{f[key]}' must be a string, got {type(v).__name__}")
            vals[key] = str(v).strip()
        ex_id = rec.get(f["id"])
        ex_id = str(ex_id) if ex_id not in (None, "") else f"{split}-{len(out)}"
        if ex_id in seen:
            raise DataError(f"{path}:{line}: duplicate id '{ex_id}' in field '{f['id']}'")
        seen.add(ex_id)
        rationale = rec.get(f["rationale"])
        out.append(Example(id=ex_id, rationale=str(rationale).strip() if rationale else None, **vals))
    if not out:
        raise DataError(f"{path}: no records")
    return out


def domain_counts(examples: list[Example]) -> dict[str, int]:
    """Per-domain counts, largest first (ties by name)."""
    c = Counter(e.domain for e in examples)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def write_jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r.to_json() if isinstance(r, Example) else r, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
