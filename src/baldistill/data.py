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
    line: int = field(default=0, compare=False, repr=False)  # where it was read (file line; 0: not from a file)

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("line")
        if not d["meta"]:
            d.pop("meta")
        return d

    @classmethod
    def from_json(cls, d: dict) -> Example:
        return cls(
            **{k: d[k] for k in ("id", "domain", "input", "answer")},
            rationale=d.get("rationale"),
            source=d.get("source", "real"),
            meta=d.get("meta") or {},
        )


def synthetic_id(domain: str, sample: int) -> str:
    """The id of the synthetic example that the ``sample``-th synthesis call of ``domain`` makes."""
    return f"syn-{domain}-{sample}"


DEFAULT_FIELDS = {"input": "input", "answer": "answer", "domain": "domain", "id": "id", "rationale": "rationale"}


def _records(path: Path):
    """(where, line, record) for each record: where is "file:line" (JSONL, CSV) or "file: item N" (a .json
    file holding one array of objects)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            for row in reader:
                yield f"{path}:{reader.line_num}", reader.line_num, row
        return
    if suffix == ".json":
        text = path.read_text(encoding="utf-8-sig")
        if text.lstrip().startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg})") from None
            for i, rec in enumerate(items, start=1):
                if not isinstance(rec, dict):
                    raise DataError(f"{path}: item {i}: expected a JSON object, got {type(rec).__name__}")
                yield f"{path}: item {i}", i, rec
            return
    with path.open(encoding="utf-8-sig") as f:
        for i, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{i}: not valid JSON ({e.msg}); expected one JSON object per line") from None
            if not isinstance(rec, dict):
                raise DataError(f"{path}:{i}: expected a JSON object, got {type(rec).__name__}")
            yield f"{path}:{i}", i, rec


def _checked_records(path: Path):
    try:
        yield from _records(path)
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}: not UTF-8 text (byte {e.start}: {e.object[e.start : e.start + 1]!r}); convert it, "
            f"e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}"
        ) from None
    except csv.Error as e:
        raise DataError(f"{path}: not valid CSV ({e})") from None


def read_records(path: str | Path) -> list[tuple[str, int, dict]]:
    """(where, line, record) of every record of a JSONL, JSON-array or CSV file; DataError names the file and
    line of the first problem (missing file, a folder, not UTF-8, not JSON)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a JSONL, JSON or CSV file")
    return list(_checked_records(path))


def load_examples(path: str | Path, fields: dict[str, str] | None = None, split: str = "train") -> list[Example]:
    """Read JSONL/CSV records with ``input``, ``answer``, ``domain`` (names remappable), optional
    ``id`` and ``rationale``. Raises DataError naming file, line and field on the first bad record."""
    path = Path(path)
    records = read_records(path)
    f = {**DEFAULT_FIELDS, **(fields or {})}
    out: list[Example] = []
    seen: set[str] = set()
    for where, line, rec in records:
        vals = {}
        for key in ("input", "answer", "domain"):
            v = rec.get(f[key])
            if v is None or (isinstance(v, str) and not v.strip()):
                raise DataError(f"{where}: missing or empty field '{f[key]}' ({key})")
            if not isinstance(v, (str, int, float)):
                raise DataError(f"{where}: field '{f[key]}' must be a string, got {type(v).__name__}")
            vals[key] = str(v).strip()
        ex_id = rec.get(f["id"])
        ex_id = str(ex_id) if ex_id not in (None, "") else f"{split}-{len(out)}"
        if ex_id in seen:
            raise DataError(f"{where}: duplicate id '{ex_id}' in field '{f['id']}'")
        seen.add(ex_id)
        rationale = rec.get(f["rationale"])
        out.append(Example(id=ex_id, rationale=str(rationale).strip() if rationale else None, line=line, **vals))
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
