"""Content-addressed request cache: the raw reply of every teacher request, keyed on
(model, messages or prompt, generation parameters, sample index). Parsing and filtering are pure
functions over the cached replies, so changing them re-pays nothing, and re-running a finished run
sends zero requests. Several runs may share one file (SQLite, WAL); the first writer wins."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path


def request_key(payload: dict) -> str:
    """sha256 of the canonical JSON of everything that determines the reply."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ReplyCache:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, request TEXT, raw TEXT,"
            " prompt_hash TEXT, time REAL)"
        )

    def get(self, key: str) -> str | None:
        r = self.db.execute("SELECT raw FROM replies WHERE key=?", (key,)).fetchone()
        return r[0] if r else None

    def put(self, key: str, request: dict, raw: str, prompt_hash: str = "") -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO replies VALUES (?,?,?,?,?)",
            (key, json.dumps(request, sort_keys=True), raw, prompt_hash, time.time()),
        )

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        self.db.close()
