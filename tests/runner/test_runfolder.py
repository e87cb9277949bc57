"""The run folder: a stage's record written and read back in one place, never overwritten."""

import json

import pytest

from baldistill.core.methods import METHODS
from baldistill.core.plan import plan_stage
from baldistill.core.policies import Quota
from baldistill.data import Example
from baldistill.runner.runfolder import RunFolder, RunFolderError, State


def test_a_stage_record_round_trips_and_resume_state_is_one_load(tmp_path):
    folder = RunFolder.create(tmp_path / "run")
    pool = [Example(f"a{k}", "a", f"q{k}", "1") for k in range(4)] + [Example("b0", "b", "qb", "2")]
    state = State.start(pool, ["a", "b"])
    assert state.remaining == {"a": ["a0", "a1", "a2", "a3"], "b": ["b0"]}
    plan = plan_stage(METHODS["baldistill-n"], Quota(4, {"a": 2, "b": 2}), {"a": 4, "b": 1}, 0)
    folder.write_stage_choice(
        plan,
        pool[:2] + pool[4:],
        [Example("syn-b-0", "b", "new", "2", "r", "synthetic")],
        [{"id": "a0", "ifd": 0.5}],
        {"a": 4},
    )
    q = json.loads((folder.stage_path(0) / "quota.json").read_text())
    assert q == {
        "stage": 0,
        "quota": {"a": 2, "b": 2},
        "head": ["a"],
        "tail": ["b"],
        "remaining_before": {"a": 4, "b": 1},
        "candidates": {"a": 4},
    }
    assert folder.last_completed_stage() is None  # not done until done.json
    state.train = pool[:2]
    state.remaining = {"a": ["a2", "a3"], "b": []}
    state.synth_asked = {"b": 1}
    folder.write_stage_done(0, state, kept_new=2, spent=4, training={"steps": 1})
    assert folder.last_completed_stage() == 0
    back = folder.load_state(0)
    assert back.remaining == state.remaining and back.synth_asked == {"b": 1} and back.copies == {}
    assert [e.id for e in back.train] == ["a0", "a1"]
    with pytest.raises(RunFolderError, match="--resume"):
        RunFolder.create(tmp_path / "run")
    with pytest.raises(RunFolderError, match="no run to resume"):
        RunFolder.create(tmp_path / "empty", resume=True)


def test_json_has_no_nan(tmp_path):
    folder = RunFolder.create(tmp_path / "r")
    folder.write_json("x.json", {"a": float("nan"), "b": [float("nan"), 1.0]})
    assert json.loads((tmp_path / "r/x.json").read_text()) == {"a": None, "b": [None, 1.0]}
