"""student.train.report_to: one tracker run per BalDistill run, global steps continuous across stages, the
stage's quotas, candidates and spend beside the loss (read back from TensorBoard's event files)."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from conftest import tiny_config

from baldistill import load_config, run
from baldistill.budget.ledger import Ledger
from baldistill.config import ConfigError
from baldistill.runner import tracking
from baldistill.runner.preflight import preflight


def _scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_holds_the_loss_and_the_spend_of_every_stage(tiny_model, tmp_path):
    pytest.importorskip("tensorboard")
    cfg = load_config(tiny_config(tiny_model, budget=32, stages=2), ["student.train.report_to=tensorboard"])
    out = tmp_path / "run"
    m = run(cfg, out)
    events = list((out / "tracker").glob("events.out.tfevents.*"))
    assert len(events) == 1  # one tracker run for the whole BalDistill run
    sc = _scalars(out / "tracker")
    steps = [__import__("json").loads((out / f"stages/{i}/done.json").read_text())["training"]["steps"] for i in (0, 1)]
    assert all(steps)

    # the loss at every training step, the steps of stage 2 continuing after those of stage 1
    loss_steps = [s for s, _ in sc["train/loss"]]
    assert loss_steps == list(range(1, steps[0] + steps[1] + 1))
    assert all(v > 0 for _, v in sc["train/loss"])

    # beside it, at each stage's last step: the stage, its spend (what the ledger holds), quotas, candidates
    ends = [steps[0], steps[0] + steps[1]]
    assert sc["stage"] == [(ends[0], 1.0), (ends[1], 2.0)]
    by_stage = Ledger(32, out / "ledger.sqlite").summary().by_stage
    assert sc["spend/stage_units"] == [(ends[i], float(by_stage[str(i)].units)) for i in (0, 1)]
    assert [v for _, v in sc["spend/stage_units"]] == [16.0, 16.0]
    assert sc["spend/units"] == [(ends[0], 16.0), (ends[1], 32.0)]
    quota = __import__("json").loads((out / "stages/1/quota.json").read_text())
    for d, n in quota["quota"].items():
        assert sc[f"quota/{d}"][-1] == (ends[1], float(n))
    assert sc["candidates/total"] == [(ends[0], 0.0), (ends[1], float(sum(quota["candidates"].values())))]
    assert sum(quota["candidates"].values()) > 0
    assert sc["eval/macro"] == [(ends[1], pytest.approx(m.macro))]


def test_resumed_run_continues_the_steps(tiny_model, tmp_path):
    pytest.importorskip("tensorboard")
    cfg = load_config(tiny_config(tiny_model, budget=32, stages=2), ["student.train.report_to=tensorboard"])
    out = tmp_path / "run"
    run(cfg, out)
    import json
    import shutil

    steps = [json.loads((out / f"stages/{i}/done.json").read_text())["training"]["steps"] for i in (0, 1)]
    shutil.rmtree(out / "stages/1")  # stage 2 did not finish: resume redoes it
    shutil.rmtree(out / "tracker")
    run(cfg, out, resume=True)
    sc = _scalars(out / "tracker")
    assert [s for s, _ in sc["train/loss"]] == list(range(steps[0] + 1, steps[0] + steps[1] + 1))
    assert sc["stage"] == [(steps[0] + steps[1], 2.0)]


@pytest.mark.parametrize(
    "value,want",
    [
        ("none", "none"),
        ("tensorboard", "tensorboard"),
        ("TensorBoard", "tensorboard"),
        ("all", "all"),
        ("[tensorboard, mlflow]", ["tensorboard", "mlflow"]),
        ("tensorboard,wandb", ["tensorboard", "wandb"]),
        ("[]", "none"),
    ],
)
def test_report_to_accepts_tracker_names(value, want):
    assert load_config(tiny_config("m"), [f"student.train.report_to={value}"]).student.train.report_to == want


@pytest.mark.parametrize("value", ["tensorbaord", "[tensorboard, comet]", "[none, wandb]", "3"])
def test_report_to_refuses_unknown_trackers(value):
    with pytest.raises(ConfigError) as e:
        load_config(tiny_config("m"), [f"student.train.report_to={value}"])
    assert "student.train.report_to" in str(e.value) and "\n" not in str(e.value)


def test_default_reports_nowhere():
    assert load_config(tiny_config("m")).student.train.report_to == "none"
    assert tracking.resolve("none") == []


def test_preflight_names_a_tracker_that_is_not_installed(tiny_model, monkeypatch):
    monkeypatch.setattr(tracking, "installed", lambda name: name != "wandb")
    cfg = load_config(tiny_config(tiny_model), ["student.train.report_to=[tensorboard, wandb]"])
    pf = preflight(cfg, None, probe=False, student=False)
    lines = [f.line() for f in pf.errors]
    assert lines == ["student.train.report_to: wandb is not installed (pip install wandb), or leave it out"]
    assert tracking.resolve("all") == ["tensorboard", "mlflow"]
    cfg = load_config(tiny_config(tiny_model), ["student.train.report_to=tensorboard"])
    assert not preflight(cfg, None, probe=False, student=False).errors


def _wandb_history(folder) -> tuple[list[str], list[dict]]:
    """(run ids, history rows) of every W&B offline run under ``folder``, in the order they were written. wandb
    keeps a run in a ``.wandb`` file: a LevelDB-style log of its protobuf ``Record``s; the reader of that file
    left the Python package when its core moved to Go, so the framing is read here and the records with the
    package's own protobuf classes."""
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    ids, rows = [], []
    for path in sorted(folder.glob("wandb/offline-run-*/run-*.wandb")):
        data = path.read_bytes()
        assert struct.unpack("<4sHB", data[:7]) == (b":W&B", 0xBEE1, 0), path
        pos, pending = 7, b""
        while pos + 7 <= len(data):
            if 32768 - pos % 32768 < 7:  # a block's tail too short for a header is padding
                pos += 32768 - pos % 32768
                continue
            _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
            chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
            if kind in (2, 3):  # first and middle pieces of a record
                pending += chunk
                continue
            if kind not in (1, 4):
                break
            record = pb.Record()
            record.ParseFromString(pending + chunk)
            pending = b""
            kind = record.WhichOneof("record_type")
            if kind == "run":
                ids.append(record.run.run_id)
            elif kind == "history":
                rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item})
    return ids, rows


def _cut_after_stage_1(out) -> None:
    """The run as a crash during stage 2 leaves it: stage 2 and the final files are not there."""
    for p in ("stages/1", "adapter"):
        shutil.rmtree(out / p, ignore_errors=True)
    (out / "metrics.json").unlink()


def _steps(out) -> list[int]:
    return [json.loads((out / f"stages/{i}/done.json").read_text())["training"]["steps"] for i in (0, 1)]


def test_wandb_offline_holds_one_run_with_the_loss_the_spend_and_the_final_scores(tiny_model, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = load_config(tiny_config(tiny_model, budget=32, stages=2), ["student.train.report_to=wandb"])
    out = tmp_path / "run"
    m = run(cfg, out)
    ids, rows = _wandb_history(out / "tracker")
    assert len(ids) == 1 and json.loads((out / "tracker/ids.json").read_text())["wandb"] == ids[0]
    steps = _steps(out)
    ends = [steps[0], sum(steps)]
    at = {r["_step"]: r for r in rows}
    assert sorted(s for s, r in at.items() if "train/loss" in r) == list(range(1, sum(steps) + 1))
    assert [at[e]["stage"] for e in ends] == [1, 2] and [at[e]["spend/units"] for e in ends] == [16, 32]
    assert [at[e]["spend/stage_units"] for e in ends] == [16, 16]
    final = at[ends[1]]
    assert final["eval/macro"] == pytest.approx(m.macro)
    assert {k.removeprefix("eval/domain/"): v for k, v in final.items() if k.startswith("eval/domain/")} == {
        d: pytest.approx(s.score) for d, s in m.per_domain.items()
    }
    # a resumed run logs into the same W&B run, its steps after those of the stage it kept
    _cut_after_stage_1(out)
    run(cfg, out, resume=True)
    for _ in range(50):  # wandb's service process may still be writing the segment's file
        ids, rows = _wandb_history(out / "tracker")
        if len(ids) == 2:
            break
        time.sleep(0.2)
    assert ids[-1] == ids[0] and len(ids) == 2  # a second offline segment of the one run
    resumed = [r["_step"] for r in rows[len(at) :] if "train/loss" in r]
    assert resumed == list(range(steps[0] + 1, sum(_steps(out)) + 1))


def test_mlflow_holds_one_run_with_the_loss_the_spend_and_the_final_scores(tiny_model, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = load_config(tiny_config(tiny_model, budget=32, stages=2), ["student.train.report_to=mlflow"])
    out = tmp_path / "run"
    m = run(cfg, out)
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'tracker/mlflow.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == "baldistill"]
    (r,) = client.search_runs([exp.experiment_id])
    assert json.loads((out / "tracker/ids.json").read_text())["mlflow"] == r.info.run_id
    assert r.data.params["budget"] == "32" and r.info.status == "FINISHED"

    def history(key):
        return [(x.step, x.value) for x in sorted(client.get_metric_history(r.info.run_id, key), key=lambda x: x.step)]

    steps = _steps(out)
    ends = [steps[0], sum(steps)]
    assert [s for s, _ in history("train/loss")] == list(range(1, sum(steps) + 1))
    assert history("spend/stage_units") == [(ends[0], 16.0), (ends[1], 16.0)]
    assert history("eval/macro") == [(ends[1], pytest.approx(m.macro))]
    for d, s in m.per_domain.items():
        assert history(f"eval/domain/{d}") == [(ends[1], pytest.approx(s.score))]
    # a resumed run continues the same MLflow run: the loss of the redone stage is logged into it again
    _cut_after_stage_1(out)
    run(cfg, out, resume=True)
    assert [x.info.run_id for x in client.search_runs([exp.experiment_id])] == [r.info.run_id]
    again = [s for s, _ in history("train/loss")]
    assert again.count(ends[1]) == 2 and again.count(1) == 1  # stage 2's steps twice, stage 1's once
