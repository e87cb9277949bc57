"""student.train.report_to: one tracker run per BalDistill run, global steps continuous across stages, the
stage's quotas, candidates and spend beside the loss (read back from TensorBoard's event files)."""

from __future__ import annotations

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
