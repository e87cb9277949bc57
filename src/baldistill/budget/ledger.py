"""The budget ledger: every teacher call is charged here, and no cap is ever crossed.

Caps: calls (the paper's unit: one teacher call = one budget unit, whether it annotates a real example
or synthesizes one; a re-send of the same request after an unknown outcome is the same call and takes
no second unit), and optionally total tokens and dollars (from a price table), which count every
attempt that was sent. Before a call the
worst case is reserved (prompt tokens bound + max completion tokens); after it, the reported usage
settles the row. A call refused before the server did any work (429, connection refused) releases its
reservation. A call whose outcome is unknown (timed out, connection cut after sending, 5xx, in flight
at a crash) keeps its reservation charged: the cap holds even against bills nobody saw. A reply that
is dropped later (answer check, parse failure) keeps its charge and is not bought again.

Through the Batch API (``teacher/batch.py``) a call's worst case is charged at submission with the status
``submitted``, in the same transaction that records its batch (table ``batches``: the batch and file ids,
the batch's state and its requests' custom_ids; ``batch_rows``: which row each custom_id settles). A
``submitted`` row stays charged across a crash and is *not* turned into ``unknown`` at start-up: its batch
is looked up by id on resume, never submitted again.

Provenance (table ``replies``, one row per paid reply that was judged, keyed by its ledger row): the reply's text,
the verdict of the checks on it (ok, dropped, parse_error, with the reason) and, for a synthesis request, the ids
of the real examples its prompt showed. Written after the checks (``TeacherEngine.record``); it charges nothing
and is what ``baldistill export --dataset`` traces each example through.

Stored in SQLite (WAL, synchronous=NORMAL: survives a killed process); each row is committed before
the request is sent. Replies served from a shared cache are charged to this run as if paid
("logical" spend) and marked not physical, so the money actually sent to a server is reported apart.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core.forecast import Charge
from ..core.spend import PhysicalSpend, Spend, SpendGroup

CHARGED = ("reserved", "submitted", "ok", "unknown", "dropped", "parse_error")
# a batch in one of these states is finished: its rows are settled, released or unknown
BATCH_DONE = ("settled", "lost", "abandoned")
COLUMNS = (
    "id",
    "key",
    "stage",
    "domain",
    "kind",
    "example_id",
    "status",
    "units",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "dollars",
    "physical",
    "prompt_hash",
    "note",
    "time",
)


@dataclass(frozen=True)
class ReplyRecord:
    """A paid reply as the checks judged it (table ``replies``): its ledger row and key, the text the teacher
    wrote (None when the body held none; then ``error`` says why), the verdict (ok, dropped, parse_error) with its
    note, and for a synthesis request the ids of the real examples its prompt showed."""

    row: int
    key: str
    kind: str
    example_id: str | None
    text: str | None
    error: str | None
    verdict: str
    note: str = ""
    shown: tuple[str, ...] = ()


class BudgetExceeded(RuntimeError):
    """A call would cross a cap; ``cap`` names it: calls, tokens or dollars."""

    def __init__(self, message: str, cap: str = "calls"):
        super().__init__(message)
        self.cap = cap


@dataclass(frozen=True)
class Caps:
    calls: int
    tokens: int | None = None
    dollars: float | None = None
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    factor: float = 1.0  # what is paid of the listed prices: 1 - price.batch_discount through the Batch API

    def price(self, prompt_tokens: int, completion_tokens: int) -> float:
        return self.factor * (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1e6


class Ledger:
    def __init__(self, caps: Caps | int, path: Path | str | None = None, recover: bool = True):
        self.caps = caps if isinstance(caps, Caps) else Caps(calls=caps)
        self.path = Path(path) if path else None
        self.db = sqlite3.connect(
            str(self.path) if self.path else ":memory:", isolation_level=None, check_same_thread=False
        )
        if self.path:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("""CREATE TABLE IF NOT EXISTS calls (
            id INTEGER PRIMARY KEY, key TEXT, stage INTEGER, domain TEXT, kind TEXT, example_id TEXT,
            status TEXT, units INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER,
            reasoning_tokens INTEGER DEFAULT 0, dollars REAL, physical INTEGER, prompt_hash TEXT,
            note TEXT DEFAULT '', time REAL)""")
        self.db.execute("CREATE INDEX IF NOT EXISTS calls_key ON calls(key)")
        self.db.execute("""CREATE TABLE IF NOT EXISTS batches (
            ref INTEGER PRIMARY KEY, batch_id TEXT, file_id TEXT, state TEXT, stage INTEGER, kind TEXT,
            endpoint TEXT, custom_ids TEXT, output_file_id TEXT, error_file_id TEXT, note TEXT DEFAULT '',
            created REAL, updated REAL)""")
        self.db.execute("""CREATE TABLE IF NOT EXISTS batch_rows (
            ref INTEGER, custom_id TEXT, row INTEGER, request TEXT, PRIMARY KEY (ref, custom_id))""")
        if "form" not in {r[1] for r in self.db.execute("PRAGMA table_info(batches)")}:  # a ledger before it
            self.db.execute("ALTER TABLE batches ADD COLUMN form TEXT DEFAULT ''")
        # provenance: the text of each judged reply, the checks' verdict on it and (synthesis) the examples shown
        self.db.execute("""CREATE TABLE IF NOT EXISTS replies (
            row INTEGER PRIMARY KEY, key TEXT, kind TEXT, example_id TEXT, text TEXT, error TEXT,
            verdict TEXT, note TEXT DEFAULT '', shown TEXT DEFAULT '[]', time REAL)""")
        # what the run learned of its teacher and must not learn again on resume (e.g. the structured form)
        self.db.execute("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT)")
        # rows still 'reserved' belong to calls in flight when a previous process died: unknown outcome
        # ('submitted' rows are not: their batch is looked up by id). recover=False: a reader beside a live run
        if recover:
            self.db.execute(
                "UPDATE calls SET status='unknown', note='in flight when the process stopped' WHERE status='reserved'"
            )
        # ledgers written before units were keyed per example used the request's payload hash as the key
        self._legacy = self.db.execute("SELECT 1 FROM calls WHERE instr(key, '/') = 0 LIMIT 1").fetchone() is not None

    # ---- totals --------------------------------------------------------------------------------
    def _sum(self, expr: str, where: str = "") -> float:
        q = f"SELECT COALESCE(SUM({expr}), 0) FROM calls WHERE status IN {CHARGED} {where}"
        return self.db.execute(q).fetchone()[0]

    @property
    def spent(self) -> int:
        return int(self._sum("units"))

    @property
    def tokens(self) -> int:
        return int(self._sum("prompt_tokens + completion_tokens"))

    @property
    def dollars(self) -> float:
        return float(self._sum("dollars"))

    # ---- one call's life -----------------------------------------------------------------------
    def reserve(
        self,
        *,
        key: str | None,
        stage: int,
        domain: str,
        kind: str,
        example_id: str | None = None,
        prompt_tokens: int = 0,
        max_tokens: int = 0,
        physical: bool = True,
        prompt_hash: str = "",
        status: str = "reserved",
    ) -> int:
        """Charge the worst case of one call; raises BudgetExceeded (and charges nothing) when any cap
        would be crossed. Returns the row id to settle, release or mark unknown."""
        c = self.caps
        dollars = c.price(prompt_tokens, max_tokens)
        # a call unit is one teacher-annotated example (the paper's unit): re-sending the same request
        # after an unknown outcome takes no second unit, but its tokens and dollars are charged again
        units = (
            0
            if key is not None
            and self.db.execute(
                f"SELECT 1 FROM calls WHERE key=? AND units=1 AND status IN {CHARGED}", (key,)
            ).fetchone()
            else 1
        )
        if self.spent + units > c.calls:
            raise BudgetExceeded(f"teacher budget exhausted: {self.spent}/{c.calls} calls", "calls")
        if c.tokens is not None and self.tokens + prompt_tokens + max_tokens > c.tokens:
            raise BudgetExceeded(
                f"token cap: {self.tokens:,} + up to {prompt_tokens + max_tokens:,} > {c.tokens:,}", "tokens"
            )
        if c.dollars is not None and self.dollars + dollars > c.dollars + 1e-12:
            raise BudgetExceeded(
                f"dollar cap: ${self.dollars:.4f} + up to ${dollars:.4f} > ${c.dollars:.4f}", "dollars"
            )
        cur = self.db.execute(
            "INSERT INTO calls (key, stage, domain, kind, example_id, status, units, prompt_tokens, completion_tokens,"
            " dollars, physical, prompt_hash, time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                key,
                stage,
                domain,
                kind,
                example_id,
                status,
                units,
                prompt_tokens,
                max_tokens,
                dollars,
                int(physical),
                prompt_hash,
                time.time(),
            ),
        )
        assert cur.lastrowid is not None  # an INSERT always sets it
        return cur.lastrowid

    # ---- batches (the Batch API) -----------------------------------------------------------------
    def submit(
        self, asks: list[dict], *, stage: int, kind: str, endpoint: str, form: str = ""
    ) -> tuple[int | None, list[int], str | None]:
        """Charge the worst case of each ask (``reserve``'s keyword arguments plus ``custom_id`` and ``request``,
        the body sent) as ``submitted`` and record them as one batch, in one transaction. Stops at the first ask
        a cap refuses. Returns (the batch's ref or None when nothing was charged, the rows, the cap's message)."""
        rows, refused = [], None
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for a in asks:
                args = {k: v for k, v in a.items() if k not in ("custom_id", "request")}
                try:
                    rows.append(self.reserve(**args, status="submitted"))
                except BudgetExceeded as e:
                    refused = e
                    break
            ref = None
            if rows:
                now = time.time()
                ids = [a["custom_id"] for a in asks[: len(rows)]]
                ref = self.db.execute(
                    "INSERT INTO batches (state, stage, kind, endpoint, custom_ids, created, updated, form)"
                    " VALUES ('preparing',?,?,?,?,?,?,?)",
                    (stage, kind, endpoint, json.dumps(ids), now, now, form),
                ).lastrowid
                self.db.executemany(
                    "INSERT INTO batch_rows VALUES (?,?,?,?)",
                    [(ref, a["custom_id"], r, json.dumps(a["request"])) for a, r in zip(asks, rows)],
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        if refused is not None and not rows:
            raise refused
        return ref, rows, (str(refused) if refused else None)

    def setting(self, key: str) -> str | None:
        """What the run learned and keeps across a resume (``set_setting``), or None."""
        r = self.db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return r[0] if r else None

    def set_setting(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO settings VALUES (?,?)", (key, value))

    def update_batch(self, ref: int, **fields) -> None:
        """Record what became of a batch: batch_id, file_id, state, output_file_id, error_file_id, note."""
        cols = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE batches SET {cols}, updated=? WHERE ref=?", (*fields.values(), time.time(), ref))

    def batches(self, open_only: bool = False) -> list[dict]:
        cols = (
            "ref",
            "batch_id",
            "file_id",
            "state",
            "stage",
            "kind",
            "endpoint",
            "custom_ids",
            "output_file_id",
            "error_file_id",
            "note",
            "created",
            "updated",
            "form",
        )
        where = f" WHERE state NOT IN {BATCH_DONE}" if open_only else ""
        out = []
        for r in self.db.execute(f"SELECT {', '.join(cols)} FROM batches{where} ORDER BY ref").fetchall():
            d = dict(zip(cols, r))
            d["custom_ids"] = json.loads(d["custom_ids"] or "[]")
            out.append(d)
        return out

    def batch_rows(self, ref: int) -> dict[str, tuple[int, dict, str]]:
        """custom_id -> (ledger row, the request body sent, the row's status) of one batch."""
        cur = self.db.execute(
            "SELECT b.custom_id, b.row, b.request, c.status FROM batch_rows b JOIN calls c"
            " ON c.id = b.row WHERE b.ref=?",
            (ref,),
        )
        return {cid: (row, json.loads(req), status) for cid, row, req, status in cur.fetchall()}

    def row(self, row: int) -> dict:
        r = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM calls WHERE id=?", (row,)).fetchone()
        return dict(zip(COLUMNS, r))

    def settle(
        self,
        row: int,
        prompt_tokens: int,
        completion_tokens: int,
        reasoning_tokens: int = 0,
        status: str = "ok",
        note: str = "",
    ) -> None:
        """Replace the reservation with the reported usage. A server that reports more than was reserved
        is believed (its bill counts) and the row is flagged; once a cap is crossed no call can reserve."""
        reserved = self.db.execute("SELECT prompt_tokens + completion_tokens FROM calls WHERE id=?", (row,)).fetchone()
        if reserved is not None and prompt_tokens + completion_tokens > reserved[0]:
            flag = f"usage above the reservation ({prompt_tokens + completion_tokens} > {reserved[0]} tokens)"
            note = f"{flag}; {note}" if note else flag
        self.db.execute(
            "UPDATE calls SET status=?, prompt_tokens=?, completion_tokens=?, reasoning_tokens=?,"
            " dollars=?, note=? WHERE id=?",
            (
                status,
                prompt_tokens,
                completion_tokens,
                reasoning_tokens,
                self.caps.price(prompt_tokens, completion_tokens),
                note,
                row,
            ),
        )

    def release(self, row: int, note: str = "") -> None:
        """The server did no work (refused before starting): the reservation is returned."""
        self.db.execute("UPDATE calls SET status='released', note=? WHERE id=?", (note, row))

    def unknown(self, row: int, note: str = "") -> None:
        """Outcome unknown (timeout, cut connection, 5xx): the worst case stays charged."""
        self.db.execute("UPDATE calls SET status='unknown', note=? WHERE id=?", (note, row))

    def mark(self, row: int, status: str, note: str = "") -> None:
        """A later verdict on a paid reply ('dropped' by the answer check, 'parse_error')."""
        self.db.execute("UPDATE calls SET status=?, note=? WHERE id=?", (status, note, row))

    def record_replies(self, replies: Iterable[ReplyRecord]) -> None:
        """Keep the text of paid replies and the checks' verdicts on them (table ``replies``), in one transaction.
        A reply judged again (a resumed stage re-reads it from the cache) replaces its earlier record. Charges
        nothing: the verdict's effect on the spend is ``mark``'s."""
        now = time.time()
        rows = [
            (r.row, r.key, r.kind, r.example_id, r.text, r.error, r.verdict, r.note, json.dumps(list(r.shown)), now)
            for r in replies
        ]
        if not rows:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR REPLACE INTO replies VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def replies(self) -> dict[int, ReplyRecord]:
        """Every recorded reply by its ledger row (empty for a ledger written before replies were kept)."""
        cur = self.db.execute(
            "SELECT row, key, kind, example_id, text, error, verdict, note, shown FROM replies ORDER BY row"
        )
        return {
            r[0]: ReplyRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] or "", tuple(json.loads(r[8] or "[]")))
            for r in cur.fetchall()
        }

    def adopt(self, legacy_key: str, key: str) -> None:
        """A ledger of the earlier format keyed a call by its payload hash: give its rows the per-example key
        (the first example that asks), so a resumed old run neither loses nor re-buys them."""
        if not self._legacy or self.db.execute("SELECT 1 FROM calls WHERE key=? LIMIT 1", (key,)).fetchone():
            return
        self.db.execute("UPDATE calls SET key=? WHERE key=?", (key, legacy_key))

    def completed(self, key: str) -> int | None:
        """The row of a reply this run already paid for under ``key`` (a resumed stage re-asks it)."""
        r = self.db.execute(
            "SELECT id FROM calls WHERE key=? AND status IN ('ok','dropped','parse_error') ORDER BY id LIMIT 1", (key,)
        ).fetchone()
        return r[0] if r else None

    # ---- reports -------------------------------------------------------------------------------
    def rows(self) -> list[dict]:
        cur = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM calls ORDER BY id")
        return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]

    def summary(self) -> Spend:
        """Units, tokens and dollars of the charged calls: in all, sent to a server (physical), and per stage,
        domain and kind."""
        rows = [r for r in self.rows() if r["status"] in CHARGED]

        def group(key: str) -> dict[str, SpendGroup]:
            out: dict[str, SpendGroup] = {}
            for r in rows:
                g = out.setdefault(str(r[key]), SpendGroup())
                g.units += r["units"]
                g.dropped += r["status"] in ("dropped", "parse_error")
                g.prompt_tokens += r["prompt_tokens"]
                g.completion_tokens += r["completion_tokens"]
                g.dollars += r["dollars"]
            return out

        phys = [r for r in rows if r["physical"]]
        return Spend(
            budget=self.caps.calls,
            spent=sum(r["units"] for r in rows),
            prompt_tokens=sum(r["prompt_tokens"] for r in rows),
            completion_tokens=sum(r["completion_tokens"] for r in rows),
            dollars=round(sum(r["dollars"] for r in rows), 6),
            unknown_outcome=sum(r["status"] == "unknown" for r in rows),
            submitted=sum(r["status"] == "submitted" for r in rows),
            over_reservation=sum(r["note"].startswith("usage above the reservation") for r in rows),
            physical=PhysicalSpend(
                calls=len(phys),
                prompt_tokens=sum(r["prompt_tokens"] for r in phys),
                completion_tokens=sum(r["completion_tokens"] for r in phys),
                dollars=round(sum(r["dollars"] for r in phys), 6),
            ),
            by_stage=group("stage"),
            by_domain=group("domain"),
            by_kind=group("kind"),
        )

    @staticmethod
    def open_batches(path: Path | str) -> int:
        """How many teacher batches of the ledger at ``path`` are still open, read without touching the ledger
        (0 when there is no ledger or it cannot be read)."""
        path = Path(path)
        if not path.exists():
            return 0
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                return db.execute(f"SELECT COUNT(*) FROM batches WHERE state NOT IN {BATCH_DONE}").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return 0

    def charges(self) -> list[Charge]:
        """The charged rows summed per stage, kind and status, in one query (what a live bar and the forecast
        read while replies arrive)."""
        cur = self.db.execute(
            "SELECT stage, kind, status, COUNT(*), SUM(units), SUM(prompt_tokens), SUM(completion_tokens),"
            f" SUM(COALESCE(reasoning_tokens, 0)), SUM(dollars) FROM calls WHERE status IN {CHARGED}"
            " GROUP BY stage, kind, status ORDER BY stage, kind, status"
        )
        return [
            Charge(
                stage=int(r[0]),
                kind=r[1],
                status=r[2],
                requests=int(r[3] or 0),
                units=int(r[4] or 0),
                prompt_tokens=int(r[5] or 0),
                completion_tokens=int(r[6] or 0),
                reasoning_tokens=int(r[7] or 0),
                dollars=float(r[8] or 0.0),
            )
            for r in cur.fetchall()
        ]

    def shortfall_reasons(self) -> dict[str, dict[str, int]]:
        """Per domain: the units paid that did not become a training example, by reason (the check's verdict,
        a verification call, an unknown outcome)."""
        out: dict[str, dict[str, int]] = {}
        for r in self.rows():
            if r["status"] not in CHARGED or not r["units"]:
                continue
            why = shortfall_reason(r["kind"], r["status"], r["note"] or "")
            if why:
                by = out.setdefault(r["domain"], {})
                by[why] = by.get(why, 0) + r["units"]
        return out

    def units_by_stage_domain(self) -> dict[str, dict[str, int]]:
        """Budget units charged per stage and domain (the 'budget spent per domain per stage' plot)."""
        out: dict[str, dict[str, int]] = {}
        for r in self.rows():
            if r["status"] in CHARGED and r["units"]:
                by = out.setdefault(str(r["stage"]), {})
                by[r["domain"]] = by.get(r["domain"], 0) + r["units"]
        return out

    def export(self, path: Path) -> None:
        rows = self.rows()
        path = Path(path)
        if path.suffix == ".csv":
            with path.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=COLUMNS)
                w.writeheader()
                w.writerows(rows)
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def close(self) -> None:
        self.db.close()


_REASONS = [
    ("rejected by verification", "rejected by verification"),
    ("duplicate", "duplicate"),
    ("is not a label of domain", "not a label of its domain"),
    ("reasoning and answer disagree", "reasoning and answer disagree"),
    ("input length", "input length"),
    ("!= gold", "answer disagrees with gold"),
]


def shortfall_reason(kind: str, status: str, note: str) -> str | None:
    """Why a paid unit is no training example, in a few words (None: it is one, or its kind makes none)."""
    if kind == "verify":
        return "verification calls"
    if status in ("ok", "reserved", "submitted"):
        return None
    if status == "unknown":
        return f"{kind}: outcome unknown"
    if status == "parse_error":
        return f"{kind}: reply not usable"
    return f"{kind}: " + next((name for key, name in _REASONS if key in note), "dropped")
