"""Rich progress bars for every long step (generation, IFD scoring, teacher calls, training)."""

from __future__ import annotations

import os
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import TrainerCallback

console = Console(stderr=True)


def _enabled() -> bool:
    return os.environ.get("BALDISTILL_PROGRESS", "1") != "0"


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, disable=not _enabled())


@contextmanager
def bar(description: str, total: int):
    """``with bar("scoring", n) as advance: ... advance(k)``"""
    with _progress() as p:
        task = p.add_task(description, total=total, info="")
        yield lambda n=1: p.advance(task, n)


class TrainerProgress(TrainerCallback):
    """Drives a rich bar from the HF Trainer and keeps the loss curve."""

    def __init__(self, description: str):
        self.description = description
        self.losses: list[float] = []
        self._p: Progress | None = None

    def on_train_begin(self, args, state, control, **kw):
        self._p = _progress()
        self._p.start()
        self._task = self._p.add_task(self.description, total=state.max_steps, info="")

    def on_step_end(self, args, state, control, **kw):
        self._p.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))
            self._p.update(self._task, info=f"loss {logs['loss']:.3f}")

    def on_train_end(self, args, state, control, **kw):
        if self._p:
            self._p.stop()
