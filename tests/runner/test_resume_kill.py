"""A run with an HTTP teacher killed with SIGKILL at points chosen by the server's request count,
then resumed: nothing paid is lost or bought again, the cap holds, and the result equals an
uninterrupted run. Also: the API key never reaches the run folder."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from conftest import tiny_config

from baldistill import load_config, run
from baldistill.budget.ledger import Ledger
from baldistill.data import read_jsonl
from baldistill_testing.fake_openai import FakeOpenAIServer

KEY = "sk-live-do-not-leak-7f3a9c"
BUDGET = 24


def config(tiny_model, server, tmp_path) -> Path:
    cfg = tiny_config(tiny_model, budget=BUDGET, stages=2)
    cfg["teacher"] = {
        "kind": "openai",
        "model": "fake-teacher",
        "base_url": server.base_url,
        "api_key_env": "BD_KILL_KEY",
        "concurrency": 4,
        "timeout": 5,
        "backoff": 0.01,
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def start(cfg: Path, out: Path, resume=False, extra=()):
    cmd = [sys.executable, "-m", "baldistill.cli", "run", str(cfg), "--out", str(out)] + (
        ["--resume"] if resume else []
    )
    cmd += list(extra)
    env = {**os.environ, "BD_KILL_KEY": KEY, "BALDISTILL_PROGRESS": "0"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def train_ids(out: Path) -> list[list[str]]:
    return [[e["id"] for e in read_jsonl(out / f"stages/{i}/train.jsonl")] for i in range(2)]


@pytest.fixture(scope="module")
def reference(tiny_model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("uninterrupted")
    with FakeOpenAIServer(api_key=KEY) as s:
        p = start(config(tiny_model, s, tmp), tmp / "run")
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    return tmp / "run"


@pytest.mark.parametrize("kill_at", [3, 11, 15, 22])
def test_kill_and_resume(tiny_model, tmp_path, reference, kill_at):
    holder = {}

    def on_request(n, body):
        if n == kill_at:
            os.kill(holder["proc"].pid, signal.SIGKILL)

    with FakeOpenAIServer(api_key=KEY, on_request=on_request, latency=0.02) as s:
        cfg, out = config(tiny_model, s, tmp_path), tmp_path / "run"
        holder["proc"] = start(cfg, out)
        holder["proc"].communicate(timeout=300)
        assert holder["proc"].returncode == -signal.SIGKILL
        answered_before = s.answered
        p = start(cfg, out, resume=True)
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        led = Ledger(BUDGET, out / "ledger.sqlite")
        rows = led.rows()
        assert led.spent <= BUDGET  # the cap holds across the crash
        in_flight = {r["key"] for r in rows if r["status"] == "unknown"}
        # only requests in flight at the kill were sent again; each of those stayed charged
        assert s.duplicates() <= len(in_flight) <= 4
        assert s.answered - s.duplicates() == BUDGET  # each distinct request was paid for once, plus re-sends
        assert answered_before >= kill_at - 4
        assert train_ids(out) == train_ids(reference)  # same selection and training data


def test_secret_never_reaches_the_run_folder(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("BD_KILL_KEY", KEY)
    with FakeOpenAIServer(api_key=KEY) as s:
        m = run(load_config(config(tiny_model, s, tmp_path)), tmp_path / "run")
        assert m.spent == BUDGET and s.answered == BUDGET
    for f in (tmp_path / "run").rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f
    assert "BD_KILL_KEY" in (tmp_path / "run/config.yaml").read_text()


def test_ctrl_c_exits_130_keeps_paid_replies_and_resumes(tiny_model, tmp_path, reference):
    holder = {}

    def on_request(n, body):
        if n == 6:
            os.kill(holder["proc"].pid, signal.SIGINT)

    with FakeOpenAIServer(api_key=KEY, on_request=on_request, latency=0.2) as s:
        cfg, out = config(tiny_model, s, tmp_path), tmp_path / "run"
        holder["proc"] = start(cfg, out)
        _, err = holder["proc"].communicate(timeout=300)
        assert holder["proc"].returncode == 130, err[-2000:]
        assert "--resume" in err
        rows = Ledger(BUDGET, out / "ledger.sqlite").rows()
        assert rows and all(r["status"] != "reserved" for r in rows)  # every in-flight call was settled as unknown
        p = start(cfg, out, resume=True)
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        assert s.answered - s.duplicates() == BUDGET
        assert train_ids(out) == train_ids(reference)


def test_a_server_that_dies_mid_stage_stops_the_run_which_resumes_on_another_port(tiny_model, tmp_path, reference):
    """The teacher server goes away in the middle of stage 2: the run exits 3 with one line naming the URL and
    the resume command; stage 2 is not recorded done, so the pool it drew from is intact and nothing paid is
    lost. A server started on another port takes over through --resume --set teacher.base_url=..., and the
    training data equals an uninterrupted run's, with nothing bought twice."""
    first = FakeOpenAIServer(api_key=KEY, latency=0.02)

    def on_request(n, body):
        if n == 16:  # stage 2 (12 calls each): stop the server from another thread, mid-stage
            threading.Thread(target=first.stop).start()

    first.on_request = on_request
    first.start()
    dead_url = first.base_url
    cfg, out = config(tiny_model, first, tmp_path), tmp_path / "run"
    env = {**os.environ, "BD_KILL_KEY": KEY, "BALDISTILL_PROGRESS": "0"}
    r = subprocess.run(
        [sys.executable, "-m", "baldistill.cli", "run", str(cfg), "--out", str(out), "--set", "teacher.max_retries=2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 3, r.stderr[-2000:]
    line = " ".join(r.stderr.split())
    assert f"teacher unavailable at {dead_url}" in line and "--resume" in line and "Traceback" not in r.stderr
    assert (out / "stages/0/done.json").exists() and not (out / "stages/1/done.json").exists()
    assert not (out / "metrics.json").exists()
    remaining = json.loads((out / "stages/0/done.json").read_text())["remaining"]
    assert sum(map(len, remaining.values())) == 393 - 12  # stage 2's picks are still in the pool
    led = Ledger(BUDGET, out / "ledger.sqlite")
    rows, paid_before = led.rows(), led.spent
    assert 12 <= paid_before < BUDGET and {r["status"] for r in rows} <= {"ok", "unknown", "released"}
    ok_keys = set(first.answered_keys)
    with FakeOpenAIServer(api_key=KEY) as second:
        assert second.base_url != dead_url
        p = start(cfg, out, resume=True, extra=["--set", f"teacher.base_url={second.base_url}"])
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        unknown = sum(r["status"] == "unknown" for r in rows)
        assert len(ok_keys & set(second.answered_keys)) <= unknown  # only calls whose outcome was unknown went again
        assert second.answered <= BUDGET - 12
    assert train_ids(out) == train_ids(reference)
    assert Ledger(BUDGET, out / "ledger.sqlite").spent == BUDGET
    assert second.base_url in (out / "config.yaml").read_text()  # the settings it resumed with


def test_resume_still_refuses_a_change_of_what_the_teacher_is_asked(tiny_model, tmp_path, reference):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "baldistill.cli",
            "run",
            str(reference.parent / "c.yaml"),
            "--out",
            str(reference),
            "--resume",
            "--set",
            "teacher.max_tokens=99",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BD_KILL_KEY": KEY, "BALDISTILL_PROGRESS": "0"},
        timeout=120,
    )
    assert r.returncode == 2 and "teacher.max_tokens changed" in " ".join(r.stderr.split())
