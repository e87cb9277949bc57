"""Rich progress bars for every long step (generation, IFD scoring, teacher calls; training drives one through
``student/training.py``). No torch or transformers here: every command imports this."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


def _enabled() -> bool:
    return os.environ.get("BALDISTILL_PROGRESS", "1") != "0"


def new_progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not _enabled(),
    )


class Advance:
    """Moves one bar: ``advance(k)``; ``advance.info(text)`` sets the text beside it (e.g. a batch's state and the
    teacher's spend). ``live``: whether the bar is shown at all (not with ``BALDISTILL_PROGRESS=0``), so that
    text nobody sees is not computed."""

    def __init__(self, progress: Progress, task):
        self.progress, self.task = progress, task
        self.live = not progress.disable

    def __call__(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def info(self, text: str) -> None:
        self.progress.update(self.task, info=text)


@contextmanager
def bar(description: str, total: int):
    """``with bar("scoring", n) as advance: ... advance(k)``"""
    with new_progress() as p:
        task = p.add_task(description, total=total, info="")
        yield Advance(p, task)


class PhaseClock:
    """Seconds spent per stage and phase (generate, ifd, teacher, train, evaluate), for run.log and metrics.json."""

    def __init__(self):
        self.seconds: dict[str, dict[str, float]] = {}

    @contextmanager
    def phase(self, stage: str, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            got = self.seconds.setdefault(stage, {})
            got[name] = round(got.get(name, 0.0) + time.perf_counter() - t0, 2)

    def line(self, stage: str) -> str:
        return ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.get(stage, {}).items()) or "nothing timed"
