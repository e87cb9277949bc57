"""The budget ledger: every teacher call is charged here, and it refuses to go past the budget B.

The unit is the paper's: one teacher call = one budget unit, whether it annotates a real example or
produces a synthetic one. A reply that is dropped later (answer check, parse failure) keeps its unit.
A call refused before the teacher did any work releases its unit. Each charge is appended to a JSONL
journal the moment it is made.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path


class BudgetExceeded(RuntimeError):
    pass


class TeacherUnavailable(RuntimeError):
    """The teacher declined before doing any work (nothing was billed)."""


@dataclass
class Entry:
    stage: int
    domain: str
    kind: str  # annotate | synthesize
    example_id: str | None = None
    units: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    status: str = "ok"  # ok | dropped | failed
    note: str = ""
    time: float = field(default_factory=time.time)


class Ledger:
    def __init__(self, budget: int, path: Path | None = None, entries: list[Entry] | None = None):
        self.budget = budget
        self.path = Path(path) if path else None
        self.entries: list[Entry] = list(entries or [])
        self._reserved = 0

    @property
    def spent(self) -> int:
        return sum(e.units for e in self.entries)

    @property
    def remaining(self) -> int:
        return self.budget - self.spent - self._reserved

    @contextmanager
    def call(self, *, stage: int, domain: str, kind: str, example_id: str | None = None):
        """Reserve one unit for a teacher call; the unit is kept whatever the reply, unless the teacher
        raises TeacherUnavailable (declined before any work)."""
        if self.remaining < 1:
            raise BudgetExceeded(f"teacher budget exhausted: {self.spent}/{self.budget} units spent")
        self._reserved += 1
        entry = Entry(stage=stage, domain=domain, kind=kind, example_id=example_id)
        try:
            yield entry
        except TeacherUnavailable:
            self._reserved -= 1
            raise
        except BaseException as e:
            entry.status, entry.note = "failed", f"{type(e).__name__}: {e}"[:300]
            self._reserved -= 1
            self._commit(entry)
            raise
        self._reserved -= 1
        self._commit(entry)

    def _commit(self, entry: Entry) -> None:
        self.entries.append(entry)
        if self.path:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(asdict(entry)) + "\n")

    def mark(self, example_id: str, status: str, note: str = "") -> None:
        """Record a later verdict (e.g. 'dropped' by the answer check) on an already charged call."""
        for e in reversed(self.entries):
            if e.example_id == example_id:
                e.status, e.note = status, note
                if self.path:
                    with self.path.open("a", encoding="utf-8") as f:
                        f.write(json.dumps({"mark": example_id, "status": status, "note": note}) + "\n")
                return
        raise KeyError(example_id)

    @classmethod
    def load(cls, budget: int, path: Path, max_stage: int | None = None) -> "Ledger":
        """Rebuild from the journal, keeping only stages <= max_stage (rewrites the file to match)."""
        entries: dict[int, Entry] = {}
        order: list[Entry] = []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                rec = json.loads(line)
                if "mark" in rec:
                    for e in reversed(order):
                        if e.example_id == rec["mark"]:
                            e.status, e.note = rec["status"], rec["note"]
                            break
                    continue
                order.append(Entry(**rec))
        if max_stage is not None:
            order = [e for e in order if e.stage <= max_stage]
        led = cls(budget, path, order)
        path.write_text("".join(json.dumps(asdict(e)) + "\n" for e in order), encoding="utf-8")
        return led

    def summary(self) -> dict:
        def group(key):
            out: dict = defaultdict(lambda: {"units": 0, "dropped": 0, "prompt_tokens": 0, "completion_tokens": 0})
            for e in self.entries:
                g = out[str(getattr(e, key))]
                g["units"] += e.units
                g["dropped"] += e.status != "ok"
                g["prompt_tokens"] += e.prompt_tokens
                g["completion_tokens"] += e.completion_tokens
            return dict(out)

        return {
            "budget": self.budget,
            "spent": self.spent,
            "prompt_tokens": sum(e.prompt_tokens for e in self.entries),
            "completion_tokens": sum(e.completion_tokens for e in self.entries),
            "by_stage": group("stage"),
            "by_domain": group("domain"),
            "by_kind": group("kind"),
        }
