"""Whole runs with teacher.batch against the fake server's Batch API: the training data equals the same run
without batches, the dollars are the discounted price; a real SIGKILL of the `baldistill run` subprocess
at every point of a batch's life (before its upload, after the upload, after its creation, while it runs,
after it finished), then --resume: the server sees one create per batch and no custom_id in two batches,
nothing paid is lost or bought twice, and the training data is the same. Also Ctrl-C during a batch, and
`baldistill batch status` / `batch cancel`.

The server runs in the test process (its batches outlive the killed client, and it keeps them in a state
file); it kills the client from inside its request handler, so the client dies at exactly that point."""

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import tiny_config
from test_golden import _synthesis_reply

from baldistill.budget.ledger import Ledger
from baldistill.data import read_jsonl
from baldistill_testing.fake_openai import FakeOpenAIServer

KEY = "sk-batch-kill-0000"
BUDGET = 24
VERIFY = "Solve it in a few short steps"
PRICE = {"input_per_mtok": 2.0, "output_per_mtok": 8.0}


def reply(body):
    text = "\n".join(str(m.get("content")) for m in body.get("messages") or [])
    if VERIFY in text:
        return "Working it out. The answer is 7."
    return _synthesis_reply(body)


def config(tiny_model, server, tmp_path, batch=True) -> Path:
    cfg = tiny_config(tiny_model, method="baldistill-n", budget=BUDGET, stages=2)
    cfg["teacher"] = {
        "kind": "openai",
        "model": "fake-teacher",
        "base_url": server.base_url,
        "api_key_env": "BD_BATCH_KEY",
        "concurrency": 4,
        "timeout": 5,
        "backoff": 0.01,
        "batch": batch,
        "batch_poll": 0.05,
        "batch_poll_max": 0.2,
        "price": PRICE,
        "verify": {"samples": 1},
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def env():
    return {**os.environ, "BD_BATCH_KEY": KEY, "BALDISTILL_PROGRESS": "0"}


def start(cfg: Path, out: Path, resume=False):
    cmd = [sys.executable, "-m", "baldistill.cli", "run", str(cfg), "--out", str(out)] + (
        ["--resume"] if resume else []
    )
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "baldistill.cli", *args],
        capture_output=True,
        text=True,
        env={**env(), "COLUMNS": "250"},
        timeout=120,
    )


def training(out: Path) -> list[list[tuple]]:
    return [
        [(e["id"], e["rationale"], e["answer"]) for e in read_jsonl(out / f"stages/{i}/train.jsonl")] for i in range(2)
    ]


def finish(p):
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    return err


@pytest.fixture(scope="module")
def runs(tiny_model, tmp_path_factory):
    """The same run without batches and with them (uninterrupted): (folder, server) each."""
    tmp = tmp_path_factory.mktemp("batch-runs")
    out = {}
    for batch in (False, True):
        with FakeOpenAIServer(api_key=KEY, reply=reply) as s:
            folder = tmp / f"batch-{batch}"
            finish(start(config(tiny_model, s, folder, batch), folder / "run"))
        out[batch] = folder / "run", s
    return out


def test_a_batch_run_trains_on_the_same_data_as_without_batches_at_half_the_price(runs):
    (plain, ps), (batched, bs) = runs[False], runs[True]
    assert training(batched) == training(plain) and any(training(plain))
    assert ps.received > 0 and not ps.batch_creates
    assert bs.received == 0  # nothing went one by one
    # stage 1: its annotations; stage 2: synthesis with annotations, then the verification of the synthetic examples
    assert len(bs.batch_creates) == 3
    a, b = Ledger(BUDGET, plain / "ledger.sqlite"), Ledger(BUDGET, batched / "ledger.sqlite")
    assert b.spent == a.spent == BUDGET and b.tokens == a.tokens
    assert b.dollars == pytest.approx(a.dollars * 0.5) and a.dollars > 0
    kinds = Counter(r["kind"] for r in b.rows())
    assert kinds["verify"] > 0 and kinds["synthesize"] > 0
    assert {r["status"] for r in b.rows()} <= {"ok", "dropped", "parse_error"}
    assert [x["state"] for x in b.batches()] == ["settled"] * 3


# each point: the event of the second batch (stage 2's synthesis and annotations) at which the client dies
POINTS = {
    "before-upload": "upload",
    "after-upload": "uploaded",
    "after-creation": "create",
    "in-progress": "retrieve",
    "after-completion": "content",
}


@pytest.mark.parametrize("point", list(POINTS))
def test_sigkill_at_each_point_of_a_batch_then_resume(tiny_model, tmp_path, runs, point):
    event = POINTS[point]
    holder, seen = {}, Counter()

    def on_batch(ev, info):
        seen[ev] += 1
        if holder.get("done") or ev != event:
            return None
        if ev in ("upload", "uploaded") and seen[ev] != 2:
            return None
        if ev == "create" and seen[ev] != 2:
            return None
        if ev == "retrieve" and not (len(s.batch_creates) == 2 and info["status"] == "in_progress"):
            return None
        if ev == "content" and len(s.batch_creates) != 2:
            return None
        holder["done"] = True
        os.kill(holder["proc"].pid, signal.SIGKILL)
        return "drop" if ev == "upload" else None

    with FakeOpenAIServer(
        api_key=KEY, reply=reply, on_batch=on_batch, state_file=tmp_path / "server.json", batch_seconds=0.5
    ) as s:
        cfg, out = config(tiny_model, s, tmp_path), tmp_path / "run"
        holder["proc"] = start(cfg, out)
        holder["proc"].communicate(timeout=600)
        assert holder["proc"].returncode == -signal.SIGKILL and holder.get("done")
        before = Ledger(BUDGET, out / "ledger.sqlite", recover=False)
        assert any(r["status"] == "submitted" for r in before.rows())  # the batch's rows stay charged as submitted
        assert not (out / "stages/1/done.json").exists()
        creates_before = len(s.batch_creates)
        finish(start(cfg, out, resume=True))

        # one create per batch, no custom_id in two batches, nothing billed twice, nothing sent one by one
        assert len(s.batch_creates) == 3, (point, creates_before)
        assert len(s.batch_submitted) == len(set(s.batch_submitted))
        assert len(s.batch_billed) == len(set(s.batch_billed)) and s.received == 0
        led = Ledger(BUDGET, out / "ledger.sqlite")
        rows = led.rows()
        assert led.spent == BUDGET
        assert {r["status"] for r in rows} <= {"ok", "dropped", "parse_error", "released"}
        paid = [r for r in rows if r["status"] != "released" and r["physical"]]
        assert len(paid) == len(s.batch_billed)  # every reply the server billed is in the ledger, once
        released = [r for r in rows if r["status"] == "released"]
        if point in ("before-upload", "after-upload"):  # never created: released, then submitted anew
            assert released and all("never created" in r["note"] for r in released)
        else:
            assert not released
        if point == "after-upload":
            assert s.uploads == 4  # the orphaned file, and the new one
        assert led.dollars == pytest.approx(Ledger(BUDGET, runs[True][0] / "ledger.sqlite").dollars)
    assert training(out) == training(runs[False][0])


def test_ctrl_c_leaves_the_batch_running_then_status_cancel_and_resume(tiny_model, tmp_path, runs):
    """Ctrl-C while a batch runs: exit 130, the batch keeps running on the server and the message says how
    to see it and resume; `batch status` shows it, `batch cancel` cancels it; --resume settles the cancelled
    batch (nothing of it was billed) and submits its requests again."""
    holder = {}

    def on_batch(ev, info):
        if (
            ev == "retrieve"
            and info["status"] == "in_progress"
            and len(s.batch_creates) == 2
            and not holder.get("sent")
        ):
            holder["sent"] = True
            os.kill(holder["proc"].pid, signal.SIGINT)

    with FakeOpenAIServer(api_key=KEY, reply=reply, on_batch=on_batch, batch_faults=[None, "never"]) as s:
        cfg, out = config(tiny_model, s, tmp_path), tmp_path / "run"
        holder["proc"] = start(cfg, out)
        _, err = holder["proc"].communicate(timeout=600)
        assert holder["proc"].returncode == 130, err[-3000:]
        line = " ".join(err.split())
        assert "keep running on the server" in line and f"baldistill batch status {out}" in line and "--resume" in line
        bid = s.batch_creates[1]
        assert s.batches[bid]["status"] == "in_progress"
        rows = Ledger(BUDGET, out / "ledger.sqlite", recover=False).rows()
        assert sum(r["status"] == "submitted" for r in rows) > 0 and not any(r["status"] == "unknown" for r in rows)

        spent = cli("ledger", str(out))
        assert spent.returncode == 0 and "in a teacher batch not yet read back" in " ".join(
            (spent.stdout + spent.stderr).split()
        )
        st = cli("batch", "status", str(out))
        assert st.returncode == 0 and bid in st.stdout + st.stderr and "in_progress" in st.stdout + st.stderr
        cancel = cli("batch", "cancel", str(out))
        assert cancel.returncode == 0, cancel.stderr
        assert s.batches[bid]["status"] == "cancelled"
        after = cli("batch", "status", str(out), "--all")
        assert after.returncode == 0 and "cancelled" in after.stdout + after.stderr

        finish(start(cfg, out, resume=True))
        assert len(s.batch_creates) == 4  # the cancelled one's requests went in a new batch
        cancelled = set(s.batch_submitted) - set(s.batch_billed)
        assert Counter(s.batch_submitted) == Counter({c: 2 if c in _ids(s, bid) else 1 for c in set(s.batch_submitted)})
        assert cancelled == set()  # everything submitted was finally billed, once
        assert len(s.batch_billed) == len(set(s.batch_billed)) and s.received == 0
        led = Ledger(BUDGET, out / "ledger.sqlite")
        assert led.spent == BUDGET
        assert sum(r["status"] == "released" for r in led.rows()) == len(_ids(s, bid))
    assert training(out) == training(runs[False][0])


def test_sigkill_while_a_structured_fallback_batch_is_in_flight_then_resume(tiny_model, tmp_path, runs):
    """A server that takes only json_object (a FastAPI one): stage 2's synthesis lines ask json_schema and are
    refused (not billed); the run submits them again as json_object and is killed while that batch runs. The
    resumed run picks the batch up by its id (no third submission of those requests, no new refusal: the form
    it learned is in the ledger), and ends with B units, each reply billed once, the training data of a run
    without batches."""
    holder = {}

    def fallback(info) -> bool:
        return '"json_object"' in s.files[info["input_file_id"]]["_content"]

    def on_batch(ev, info):
        if ev == "retrieve" and info["status"] == "in_progress" and fallback(info) and not holder.get("done"):
            holder["done"] = True
            os.kill(holder["proc"].pid, signal.SIGKILL)

    with FakeOpenAIServer(
        api_key=KEY, reply=reply, on_batch=on_batch, response_formats="fastapi", batch_seconds=0.5
    ) as s:
        cfg, out = config(tiny_model, s, tmp_path), tmp_path / "run"
        holder["proc"] = start(cfg, out)
        holder["proc"].communicate(timeout=600)
        assert holder["proc"].returncode == -signal.SIGKILL and holder.get("done")
        refused = len(s.format_rejections)
        assert refused > 0 and set(s.format_rejections) == {"json_schema"}
        assert Ledger(BUDGET, out / "ledger.sqlite", recover=False).setting("structured_form") == "json_object"
        finish(start(cfg, out, resume=True))
        assert len(s.format_rejections) == refused  # not learned again
        assert len(s.batch_billed) == len(set(s.batch_billed)) and s.received == 0  # nothing bought twice
        # stage 1; stage 2's synthesis and annotations; its fallback (picked up on resume); the verification
        assert len(s.batch_creates) == 4
        assert max(Counter(s.batch_submitted).values()) == 2  # a refused line once more, in its fallback, no third
        led = Ledger(BUDGET, out / "ledger.sqlite")
        assert led.spent == BUDGET and all(r["units"] <= 1 for r in led.rows())
        paid = [r for r in led.rows() if r["status"] != "released" and r["physical"]]
        assert len(paid) == len(s.batch_billed)  # every billed reply is in the ledger, once
        assert sum(r["status"] == "released" for r in led.rows()) == refused  # the refused lines: not billed
    assert training(out) == training(runs[False][0])


def _ids(s, bid):
    at = 0
    for b in s.batch_creates:
        n = s.batches[b]["request_counts"]["total"]
        if b == bid:
            return set(s.batch_submitted[at : at + n])
        at += n
    return set()


def test_a_run_with_batch_on_stops_before_anything_when_the_server_has_no_files_endpoint(tiny_model, tmp_path):
    with FakeOpenAIServer(api_key=KEY, reply=reply, batch_api=False) as s:
        cfg, out = config(tiny_model, s, tmp_path), tmp_path / "run"
        r = subprocess.run(
            [sys.executable, "-m", "baldistill.cli", "run", str(cfg), "--out", str(out)],
            capture_output=True,
            text=True,
            env=env(),
            timeout=300,
        )
        assert r.returncode == 2, r.stderr[-2000:]
        line = " ".join(r.stderr.split())
        assert "teacher.batch:" in line and "404" in line and "teacher.batch: false" in line
        assert not out.exists() and s.received == 0 and not s.batch_creates
        ok = cli("check", str(cfg), "--set", "teacher.batch=false")
        assert ok.returncode == 0, ok.stdout + ok.stderr


def test_estimate_shows_the_batch_discount(tiny_model, tmp_path):
    with FakeOpenAIServer(api_key=KEY) as s:
        cfg = config(tiny_model, s, tmp_path)
    full = cli("estimate", str(cfg), "--set", "teacher.batch=false")
    half = cli("estimate", str(cfg))
    assert full.returncode == 0 and half.returncode == 0, half.stderr
    full, half = full.stdout + full.stderr, half.stdout + half.stderr
    assert "Batch API, 50% off" in " ".join(half.split()) and "Batch API" not in full

    def total(text):
        row = [ln for ln in text.splitlines() if "total" in ln][0]
        return float(row.strip("│ ").split("│")[-1])

    assert total(half) == pytest.approx(total(full) * 0.5, abs=1e-4) and total(full) > 0
