"""A run with an HTTP teacher killed with SIGKILL at points chosen by the server's request count,
then resumed: nothing paid is lost or bought again, the cap holds, and the result equals an
uninterrupted run. Also: the API key never reaches the run folder."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from baldistill import load_config, run
from baldistill.data import read_jsonl
from baldistill.budget.ledger import Ledger
from baldistill_testing.fake_openai import FakeOpenAIServer

from conftest import tiny_config

KEY = "sk-live-do-not-leak-7f3a9c"
BUDGET = 24


def config(tiny_model, server, tmp_path) -> Path:
    cfg = tiny_config(tiny_model, budget=BUDGET, stages=2)
    cfg["teacher"] = {"kind": "openai", "model": "fake-teacher", "base_url": server.base_url,
                      "api_key_env": "BD_KILL_KEY", "concurrency": 4, "timeout": 5, "backoff": 0.01}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def start(cfg: Path, out: Path, resume=False):
    cmd = [sys.executable, "-m", "baldistill.cli", "run", str(cfg), "--out", str(out)] + (["--resume"] if resume else [])
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


def test_a_teacher_that_is_gone_stops_the_run_which_resumes_where_it_stopped(tiny_model, tmp_path, reference):
    """Connection refused on every retry: exit 3 with one line naming the URL, the stage is not recorded
    done, nothing is charged; resumed against a live server (transport settings may change), it ends with
    the same training data as an uninterrupted run."""
    dead = FakeOpenAIServer().start()
    dead_url = dead.base_url
    dead.stop()
    env = {**os.environ, "BD_KILL_KEY": KEY, "BALDISTILL_PROGRESS": "0"}
    with FakeOpenAIServer(api_key=KEY) as s:
        cfg, out = config(tiny_model, s, tmp_path), tmp_path / "run"
        cmd = [sys.executable, "-m", "baldistill.cli", "run", str(cfg), "--out", str(out),
               "--set", f"teacher.base_url={dead_url}", "--set", "teacher.max_retries=1"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 3, r.stderr[-2000:]
        line = " ".join(r.stderr.split())
        assert f"teacher unavailable at {dead_url}" in line and "--resume" in line and "Traceback" not in r.stderr
        assert not (out / "stages/0/done.json").exists() and not (out / "metrics.json").exists()
        rows = Ledger(BUDGET, out / "ledger.sqlite").rows()
        # refused calls are released; the others in flight when the run stopped stay charged as unknown
        assert {r["status"] for r in rows} <= {"released", "unknown"} and s.received == 0
        assert sum(r["status"] == "unknown" for r in rows) <= 4  # at most the concurrency
        p = start(cfg, out, resume=True)  # the saved config's base_url and max_retries differ: allowed
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        assert s.answered == BUDGET and train_ids(out) == train_ids(reference)
        assert Ledger(BUDGET, out / "ledger.sqlite").spent == BUDGET  # a re-sent unknown is the same unit
        assert "max_retries: 5" in (out / "config.yaml").read_text()  # the settings it resumed with


def test_resume_still_refuses_a_change_of_what_the_teacher_is_asked(tiny_model, tmp_path, reference):
    r = subprocess.run([sys.executable, "-m", "baldistill.cli", "run", str(reference.parent / "c.yaml"), "--out",
                        str(reference), "--resume", "--set", "teacher.max_tokens=99"], capture_output=True, text=True,
                       env={**os.environ, "BD_KILL_KEY": KEY, "BALDISTILL_PROGRESS": "0"}, timeout=120)
    assert r.returncode == 2 and "teacher.max_tokens changed" in " ".join(r.stderr.split())
