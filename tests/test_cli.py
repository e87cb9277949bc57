import json
import os
import subprocess
import sys

import pytest
from conftest import DEMO
from typer.testing import CliRunner

from baldistill.cli import app

runner = CliRunner()


def test_stats_shows_head_tail_and_quotas():
    r = runner.invoke(app, ["stats", str(DEMO / "train.jsonl"), "--budget", "96", "--stages", "3"])
    assert r.exit_code == 0, r.output
    assert "products" in r.output and "tail" in r.output and "25 18 11" in r.output


def test_demo_predict_evaluate_export(tiny_model, tmp_path):
    out = tmp_path / "run"
    args = [
        "demo",
        "--out",
        str(out),
        "--set",
        f"student.model={tiny_model}",
        "--set",
        "budget=24",
        "--set",
        "student.train.epochs=1",
        "--set",
        "data.max_test_per_domain=2",
        "--set",
        "student.generation.max_new_tokens=6",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "tail macro" in r.output and (out / "metrics.json").exists()
    r = runner.invoke(app, args)  # a second run into the same folder is refused in one line
    assert r.exit_code == 2 and "--resume" in r.output
    r = runner.invoke(app, ["predict", "--run", str(out), "What is 2 * 3?"])
    assert r.exit_code == 0 and "rationale:" in r.output
    r = runner.invoke(
        app, ["evaluate", "--run", str(out), "--data", str(DEMO / "test.jsonl"), "--out", str(tmp_path / "e.json")]
    )
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
    r = runner.invoke(
        app,
        [
            "estimate",
            str(cfg),
            "--set",
            "teacher.price.input_per_mtok=2.5",
            "--set",
            "teacher.price.output_per_mtok=10",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "synthesize" in r.output and "total" in r.output
    from baldistill import load_config
    from baldistill.runner.estimate import estimate

    rows = estimate(load_config(cfg))
    # baldistill-n: 12 per domain over the 3 stages; the tail pools 9, 5, 3, 2, 2 leave 3 + 7 + 9 + 10 + 10
    # to synthesize
    assert sum(r["calls"] for r in rows) == 96 and sum(r["synthesize"] for r in rows) == 39
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


@pytest.mark.parametrize(
    "args",
    [
        ["stats", str(DEMO / "train.jsonl"), "--budget", "96", "--stages", "3"],
        ["estimate", str(DEMO.parents[1] / "configs" / "demo.yaml")],
        ["--help"],
    ],
    ids=["stats", "estimate", "help"],
)
def test_light_commands_import_no_torch(args):
    """stats, estimate and --help run in a fresh process without importing torch or transformers."""
    r = subprocess.run(
        [sys.executable, "-c", NO_TORCH.format(args=args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BALDISTILL_PROGRESS": "0"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "HEAVY []" in r.stdout, r.stdout[-500:]


def test_ledger_command_imports_no_torch(tmp_path):
    from baldistill.budget.ledger import Ledger

    led = Ledger(3, tmp_path / "ledger.sqlite")
    led.settle(led.reserve(key="k", stage=0, domain="d", kind="annotate", prompt_tokens=5, max_tokens=7), 5, 3)
    led.close()
    r = subprocess.run(
        [sys.executable, "-c", NO_TORCH.format(args=["ledger", str(tmp_path)])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "HEAVY []" in r.stdout, r.stderr[-2000:]
    assert "1 calls charged" in " ".join(r.stdout.split())


def _config(tmp_path, tiny_model, **over):
    import yaml
    from conftest import tiny_config

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tiny_model, budget=12, stages=2, **over)))
    return path


def test_a_latin1_data_file_is_one_line(tmp_path, tiny_model):
    data = tmp_path / "latin1.jsonl"
    data.write_bytes('{"input": "caf\u00e9?", "answer": "x", "domain": "d"}\n'.encode("latin-1"))
    r = runner.invoke(app, ["stats", str(data)])
    assert r.exit_code == 2 and "not UTF-8 text" in r.output and len(r.output.strip().splitlines()) == 1
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(_config(tmp_path, tiny_model, **{"data.train": str(data)})), "--out", str(out)])
    assert r.exit_code == 2 and "not UTF-8 text" in r.output and not out.exists()


def test_check_lists_every_finding_and_speaks_json(tmp_path, tiny_model):
    ok = runner.invoke(app, ["check", str(_config(tmp_path, tiny_model))])
    assert ok.exit_code == 0 and "ready: a run would start" in ok.output, ok.output
    bad = _config(
        tmp_path,
        tiny_model,
        **{"student.model": "/nonexistent/m", "teacher.annotate_prompt": "nope_v1", "data.test_overlap": "allow"},
    )
    r = runner.invoke(app, ["check", str(bad), "--json"])
    assert r.exit_code == 2
    report = json.loads(r.stdout)
    assert report["ok"] is False and report["data"]["pool_rows"] == 393
    wheres = [(f["level"], f["where"]) for f in report["findings"]]
    assert ("error", "student.model") in wheres and ("error", "teacher") in wheres  # both, not only the first
    r = runner.invoke(app, ["check", str(tmp_path / "missing.yaml"), "--json"])
    assert r.exit_code == 2 and "config file not found" in json.loads(r.stdout)["findings"][0]["message"]


def test_stats_reports_repeats_and_shared_inputs(tmp_path):
    rows = [{"domain": "a", "input": f"q{i}?", "answer": "1"} for i in range(4)]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:2]))
    test = tmp_path / "t.jsonl"
    test.write_text(json.dumps({"domain": "a", "input": "Q3?", "answer": "1"}) + "\n")
    r = runner.invoke(app, ["stats", str(data), "--test", str(test)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "repeats: 2 row(s) repeat an earlier (domain, input, answer): a 2" in text
    assert "inputs shared between files: data/test 1" in text


def test_debug_shows_the_traceback_and_a_bug_exits_1(tmp_path, monkeypatch):
    r = runner.invoke(app, ["--debug", "stats", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 2 and "Traceback" in r.output and "error:" in r.output
    r = runner.invoke(app, ["stats", str(tmp_path / "missing.jsonl"), "--debug"])  # anywhere on the line
    assert r.exit_code == 2 and "Traceback" in r.output
    import baldistill.cli as cli

    monkeypatch.setattr(cli, "domain_counts", lambda exs: 1 / 0)  # a bug inside a command
    r = runner.invoke(app, ["stats", str(DEMO / "train.jsonl")])
    assert r.exit_code == 1 and "Traceback" in r.output and "internal error" in r.output
    assert "ZeroDivisionError" in r.output


def test_an_error_message_keeps_its_square_brackets(tmp_path):
    """Rich would read '[gemma]' or '[x]' in a message as markup and drop it; an error line prints them as they are
    (extras, lists and file names carry brackets)."""
    r = runner.invoke(app, ["demo", "--data", "[bold]wide[/bold]", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--data '[bold]wide[/bold]': use demo or wide" in r.output, r.output
    r = runner.invoke(app, ["stats", str(tmp_path / "[gemma].jsonl")])
    assert r.exit_code == 2 and "[gemma].jsonl" in r.output, r.output
