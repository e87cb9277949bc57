"""Claims on the cells of one comparison folder, so that several `compare` processes can share its work.

A claim is an exclusive OS file lock (``flock``) on ``DIR/.claims/<hash>.lock``. The process that holds a
cell's claim runs that cell; another process skips it, and before it writes the final tables waits for the
claim to be let go. The OS lets go of a lock when its process ends in any way (Ctrl-C, a crash, SIGKILL),
so a claim never outlives its process and a stale lock file is harmless. Where ``fcntl`` does not exist
(Windows) every claim succeeds at once: one process per folder, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

OUTPUTS = "outputs"  # the claim that serialises writing compare.json, results and tables


def lock_path(out: Path, name: str) -> Path:
    return out / ".claims" / (hashlib.sha256(name.encode()).hexdigest()[:20] + ".lock")


@contextlib.contextmanager
def claim(out: Path, name: str, wait: bool = False) -> Iterator[bool]:
    """Hold the claim `name` of folder `out` for the ``with`` block: yields True when this process holds it,
    False when another process does (only when `wait` is False; with `wait` it blocks until it is free)."""
    if fcntl is None:
        yield True
        return
    path = lock_path(out, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
