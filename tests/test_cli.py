import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from baldistill.cli import app

from conftest import DEMO

runner = CliRunner()


def test_stats_shows_head_tail_and_quotas():
    r = runner.invoke(app, ["stats", str(DEMO / "train.jsonl"), "--budget", "96", "--stages", "3"])
    assert r.exit_code == 0, r.output
    assert "products" in r.output and "tail" in r.output and "25 18 11" in r.output


def test_demo_predict_evaluate_export(tiny_model, tmp_path):
    out = tmp_path / "run"
    args = ["demo", "--out", str(out), "--set", f"student.model={tiny_model}", "--set", "budget=24",
            "--set", "student.train.epochs=1", "--set", "data.max_test_per_domain=2",
            "--set", "student.generation.max_new_tokens=6"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "tail macro" in r.output and (out / "metrics.json").exists()
    r = runner.invoke(app, args)  # a second run into the same folder is refused in one line
    assert r.exit_code == 2 and "--resume" in r.output
    r = runner.invoke(app, ["predict", "--run", str(out), "What is 2 * 3?"])
    assert r.exit_code == 0 and "rationale:" in r.output
    r = runner.invoke(app, ["evaluate", "--run", str(out), "--data", str(DEMO / "test.jsonl"), "--out", str(tmp_path / "e.json")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "e.json").read_text())["summary"]["per_domain"]
    r = runner.invoke(app, ["export", "--run", str(out), "--out", str(tmp_path / "merged"), "--merge"])
    assert r.exit_code == 0, r.output
    from transformers import AutoModelForCausalLM
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "merged") is not None
    r = runner.invoke(app, ["export", "--run", str(out), "--out", str(tmp_path / "adapter")])
    assert r.exit_code == 0 and (tmp_path / "adapter/adapter_config.json").exists()


def test_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("budget: 10\ndata: {train: nope.jsonl, test: nope.jsonl}\n")
    r = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "data.train: file not found" in r.output
    r = runner.invoke(app, ["stats", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 2 and "file not found" in r.output


def test_estimate_and_ledger_commands(tmp_path, tiny_model):
    from baldistill.budget.ledger import Caps, Ledger

    cfg = DEMO.parents[1] / "configs" / "demo.yaml"
    r = runner.invoke(app, ["estimate", str(cfg), "--set", "teacher.price.input_per_mtok=2.5",
                            "--set", "teacher.price.output_per_mtok=10"])
    assert r.exit_code == 0, r.output
    assert "synthesize" in r.output and "total" in r.output
    from baldistill import load_config
    from baldistill.runner.estimate import estimate
    rows = estimate(load_config(cfg))
    assert sum(r["calls"] for r in rows) == 96 and sum(r["synthesize"] for r in rows) == 5
    assert rows[0]["dollars_max"] == 0.0
    led = Ledger(Caps(10, input_per_mtok=1.0), tmp_path / "ledger.sqlite")
    row = led.reserve(key="k", stage=0, domain="lcm", kind="synthesize", prompt_tokens=10, max_tokens=10)
    led.settle(row, 7, 3)
    r = runner.invoke(app, ["ledger", str(tmp_path), "--csv", str(tmp_path / "l.csv")])
    assert r.exit_code == 0, r.output
    assert "lcm" in r.output and (tmp_path / "l.csv").read_text().count("\n") == 2
    r = runner.invoke(app, ["ledger", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no ledger.sqlite" in r.output


NO_TORCH = """
import sys
from baldistill.cli import app
try:
    app({args!r}, standalone_mode=False)
except SystemExit as e:
    assert not e.code, e.code
heavy = sorted(m for m in ("torch", "transformers", "peft", "matplotlib") if m in sys.modules)
print("HEAVY", heavy)
"""


@pytest.mark.parametrize("args", [
    ["stats", str(DEMO / "train.jsonl"), "--budget", "96", "--stages", "3"],
    ["estimate", str(DEMO.parents[1] / "configs" / "demo.yaml")],
    ["--help"],
], ids=["stats", "estimate", "help"])
def test_light_commands_import_no_torch(args):
    """stats, estimate and --help run in a fresh process without importing torch or transformers."""
    r = subprocess.run([sys.executable, "-c", NO_TORCH.format(args=args)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "BALDISTILL_PROGRESS": "0"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "HEAVY []" in r.stdout, r.stdout[-500:]


def test_ledger_command_imports_no_torch(tmp_path):
    from baldistill.budget.ledger import Ledger

    led = Ledger(3, tmp_path / "ledger.sqlite")
    led.settle(led.reserve(key="k", stage=0, domain="d", kind="annotate", prompt_tokens=5, max_tokens=7), 5, 3)
    led.close()
    r = subprocess.run([sys.executable, "-c", NO_TORCH.format(args=["ledger", str(tmp_path)])], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "HEAVY []" in r.stdout, r.stderr[-2000:]
    assert "1 calls charged" in " ".join(r.stdout.split())


def _config(tmp_path, tiny_model, **over):
    import yaml

    from conftest import tiny_config

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tiny_model, budget=12, stages=2, **over)))
    return path


@pytest.mark.parametrize("over,needle", [
    ({"student.model": "/nonexistent/student-folder"}, "student.model: cannot load '/nonexistent/student-folder'"),
    ({"teacher.annotate_prompt": "annotate_v9"}, "teacher.annotate_prompt: no prompt file named 'annotate_v9'"),
    ({"teacher": {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "BD_UNSET_KEY"}},
     "the environment variable BD_UNSET_KEY is not set"),
], ids=["student", "prompt", "key"])
def test_pre_flight_stops_before_the_run_folder_exists(tmp_path, tiny_model, over, needle, monkeypatch):
    """What would fail later (and after teacher calls were paid) fails first, in one line, writing nothing."""
    monkeypatch.delenv("BD_UNSET_KEY", raising=False)
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(_config(tmp_path, tiny_model, **over)), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert not out.exists()


def test_a_latin1_data_file_is_one_line(tmp_path, tiny_model):
    data = tmp_path / "latin1.jsonl"
    data.write_bytes('{"input": "caf\u00e9?", "answer": "x", "domain": "d"}\n'.encode("latin-1"))
    r = runner.invoke(app, ["stats", str(data)])
    assert r.exit_code == 2 and "not UTF-8 text" in r.output and len(r.output.strip().splitlines()) == 1
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(_config(tmp_path, tiny_model, **{"data.train": str(data)})), "--out", str(out)])
    assert r.exit_code == 2 and "not UTF-8 text" in r.output and not out.exists()
