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
from conftest import FEEDBACK_METHODS, tiny_config
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
# the feedback method's runs answer as tests/answering_student.py makes them (simulated), so its signal moves the
# quotas and a resume that lost the signal would show
ANSWERING = "import answering_student; answering_student.install()\n"


def start(
    cfg: Path, out: Path, kill_at: str | None = None, resume: bool = False, answering: bool = False
) -> subprocess.CompletedProcess:
    env = {**os.environ, "BALDISTILL_PROGRESS": "0"}
    if kill_at:
        env["BD_KILL_AT"] = kill_at
    code = KILL_AT if kill_at else "import sys; from baldistill.cli import app; app(sys.argv[1:])"
    if answering:
        tests = str(Path(__file__).parents[1])
        env["PYTHONPATH"] = os.pathsep.join([tests, *filter(None, [os.environ.get("PYTHONPATH")])])
        code = ANSWERING + code
    args = ["run", str(cfg), "--out", str(out)] + (["--resume"] if resume else [])
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def uninterrupted(tiny_model, tmp_path_factory):
    """Per training scheme: the config and the files of an uninterrupted run (made once)."""
    made = {}

    def get(scheme: str, method: str = "baldistill-a"):
        if (scheme, method) not in made:
            root = tmp_path_factory.mktemp(f"kill-{scheme}-{method}")
            cfg = root / "c.yaml"
            over = {"method": method, "student.train.scheme": scheme}
            budget = 48 if method in FEEDBACK_METHODS else 24  # 48: the tail is synthesized at stage 1 too
            cfg.write_text(yaml.safe_dump(tiny_config(tiny_model, budget=budget, stages=2, **over)))
            r = start(cfg, root / "uninterrupted", answering=method in FEEDBACK_METHODS)
            assert r.returncode == 0, r.stderr[-2000:]
            made[(scheme, method)] = cfg, snapshot(root / "uninterrupted")
        return made[(scheme, method)]

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


@pytest.mark.parametrize(
    "phase", ["stage 1: answering the synthetic examples", "stage 2: student rationales"], ids=["synthetic", "probe"]
)
def test_sigkill_while_the_signal_is_measured_then_resume_gives_the_same_quotas_and_training_data(
    uninterrupted, tmp_path, phase
):
    """baldistill-f under the replay scheme: killed while the student answers stage 1's synthetic examples (the
    signal stage 2 reads) or writes the rationales of stage 2's probe, then resumed: every file as in a run that was
    not killed, its signal.json and quotas included."""
    cfg, want = uninterrupted("replay", "baldistill-f")
    assert "stages/1/signal.json" in want
    out = tmp_path / "run"
    r = start(cfg, out, kill_at=phase, answering=True)
    assert r.returncode == -signal.SIGKILL, (phase, r.returncode, r.stderr[-2000:])
    assert (out / "stages/0/done.json").exists() == phase.startswith("stage 2")
    r = start(cfg, out, resume=True, answering=True)
    assert r.returncode == 0, r.stderr[-2000:]
    got = snapshot(out)
    assert sorted(got) == sorted(want)
    for rel in want:
        assert_same(got[rel], want[rel], rel)
    quota = want["stages/1/quota.json"]["quota"]
    assert quota != {d: 3 for d in quota}  # the signal moved them off the naive split
