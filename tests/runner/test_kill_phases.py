"""SIGKILL in any phase of a stage -- training, the student's rationales for IFD, IFD scoring, the final
evaluation; under select-then-train also a selection student's training and the final fine-tune -- then
``--resume``: the unfinished stage is redone and every file a run writes (stages/*, predictions.jsonl,
metrics.json; timing fields aside) equals an uninterrupted run's.

The kill is real: the run is a subprocess that sends itself SIGKILL the first time a progress bar of the
named phase moves (every long step drives one), so it dies in the middle of that phase."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import tiny_config
from test_golden import assert_same, snapshot

KILL_AT = """
import os, signal, sys
from rich.progress import Progress

mark, marked = os.environ["BD_KILL_AT"], set()
add, update, advance = Progress.add_task, Progress.update, Progress.advance

def add_task(self, description, *a, **k):
    task = add(self, description, *a, **k)
    if mark in description:
        marked.add((id(self), task))
    return task

def moved(self, task, *a, **k):
    if (id(self), task) in marked:
        os.kill(os.getpid(), signal.SIGKILL)

Progress.add_task = add_task
Progress.update = lambda self, task, *a, **k: (moved(self, task), update(self, task, *a, **k))[1]
Progress.advance = lambda self, task, *a, **k: (moved(self, task), advance(self, task, *a, **k))[1]
from baldistill.cli import app
app(sys.argv[1:])
"""


def start(cfg: Path, out: Path, kill_at: str | None = None, resume: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "BALDISTILL_PROGRESS": "0"}
    if kill_at:
        env["BD_KILL_AT"] = kill_at
    code = KILL_AT if kill_at else "import sys; from baldistill.cli import app; app(sys.argv[1:])"
    args = ["run", str(cfg), "--out", str(out)] + (["--resume"] if resume else [])
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def uninterrupted(tiny_model, tmp_path_factory):
    """Per training scheme: the config and the files of an uninterrupted run (made once)."""
    made = {}

    def get(scheme: str):
        if scheme not in made:
            root = tmp_path_factory.mktemp(f"kill-{scheme}")
            cfg = root / "c.yaml"
            cfg.write_text(
                yaml.safe_dump(tiny_config(tiny_model, budget=24, stages=2, **{"student.train.scheme": scheme}))
            )
            r = start(cfg, root / "uninterrupted")
            assert r.returncode == 0, r.stderr[-2000:]
            made[scheme] = cfg, snapshot(root / "uninterrupted")
        return made[scheme]

    return get


@pytest.mark.parametrize(
    "scheme,phase",
    [
        ("paper", "stage 2/2: training"),
        ("paper", "stage 2: student rationales"),
        ("paper", "stage 2: IFD"),
        ("paper", "evaluating"),
        ("select-then-train", "stage 1/2: training"),
        ("select-then-train", "stage 2/2: training"),
    ],
    ids=["training", "ifd-generation", "ifd-scoring", "evaluation", "stt-selection-student", "stt-final-fine-tune"],
)
def test_sigkill_in_any_phase_then_resume_equals_an_uninterrupted_run(uninterrupted, tmp_path, scheme, phase):
    cfg, want = uninterrupted(scheme)
    out = tmp_path / "run"
    r = start(cfg, out, kill_at=phase)
    assert r.returncode == -signal.SIGKILL, (phase, r.returncode, r.stderr[-2000:])
    if phase.startswith("stage 2"):
        assert (out / "stages/0/done.json").exists() and not (out / "stages/1/done.json").exists()
    elif phase.startswith("stage 1"):
        assert not (out / "stages/0/done.json").exists()
    else:
        assert (out / "stages/1/done.json").exists() and not (out / "metrics.json").exists()
    r = start(cfg, out, resume=True)
    assert r.returncode == 0, r.stderr[-2000:]
    got = snapshot(out)
    assert sorted(got) == sorted(want)
    for rel in want:
        assert_same(got[rel], want[rel], rel)
