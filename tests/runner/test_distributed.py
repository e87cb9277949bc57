"""Several processes run the same code (here `torchrun` with 2 CPU processes on gloo, which is what
`accelerate launch --multi_gpu` starts on GPUs): the main process chooses data and calls the teacher,
every process trains through the HF Trainer (DDP)."""

import json
import math
import subprocess
import sys

import yaml
from conftest import tiny_config

from baldistill.budget.ledger import Ledger


def test_two_processes_train_with_ddp(tiny_model, tmp_path):
    cfg = tiny_config(tiny_model, budget=32, stages=2)
    cfg["student"]["threads"] = 1
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "-m",
        "baldistill.cli",
        "run",
        str(tmp_path / "c.yaml"),
        "--out",
        str(out),
    ]
    r = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, env={**__import__("os").environ, "BALDISTILL_PROGRESS": "0"}
    )
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    rows = Ledger(32, out / "ledger.sqlite").rows()
    assert m["spent"] == 32 and len(rows) == 32  # the teacher was called once, not once per process
    for i, n_train in ((0, 16), (1, 32)):
        done = json.loads((out / f"stages/{i}/done.json").read_text())
        # batch 8 per process on 2 processes: the Trainer takes ceil(n / 16) steps per epoch
        assert done["n_train"] == n_train and done["training"]["steps"] == math.ceil(n_train / 16)
    assert (out / "adapter/adapter_model.safetensors").exists()
    assert r.stdout.count("tail macro") == 1  # one results table, from the main process


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_two_processes_share_selection_and_evaluation_and_match_one_process(tiny_model, tmp_path):
    """Selection (candidate rationales and IFD) and evaluation run sharded: each process generates and scores
    about half of the candidates and predicts about half of the test items, and the results are those of one
    process. The learning rate is so small that training leaves both runs with the same student (DDP on 2
    processes takes other steps than 1 process does), so all that differs is how the work is split."""
    cfg = tiny_config(tiny_model, budget=32, stages=2, eval_each_stage=2, **{"data.max_test_per_domain": 4})
    cfg["student"].update(threads=1, score_batch_size=3)
    cfg["student"]["train"]["lr"] = 1e-12
    cfg["student"]["generation"]["batch_size"] = 3  # many batches, so each process gets several
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    env = {**__import__("os").environ, "BALDISTILL_PROGRESS": "0"}
    one, two = tmp_path / "one", tmp_path / "two"
    for out, launch in ((one, []), (two, ["-m", "torch.distributed.run", "--nproc_per_node", "2"])):
        cmd = [sys.executable, *launch, "-m", "baldistill.cli", "run", str(tmp_path / "c.yaml"), "--out", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        assert r.returncode == 0, r.stderr[-3000:]

    # selection: the same candidates, rationales, IFD to 1e-6, and the same examples chosen
    ifd1, ifd2 = _read_jsonl(one / "stages/1/ifd.jsonl"), _read_jsonl(two / "stages/1/ifd.jsonl")
    assert len(ifd1) >= 12 and [s["id"] for s in ifd1] == [s["id"] for s in ifd2]
    for a, b in zip(ifd1, ifd2):
        assert a["response"] == b["response"]
        for k in ("ifd", "cond_nll", "direct_nll"):
            assert math.isclose(a[k], b[k], rel_tol=1e-6, abs_tol=1e-9), (a["id"], k, a[k], b[k])
    for i in (0, 1):
        assert [e["id"] for e in _read_jsonl(one / f"stages/{i}/selected.jsonl")] == [
            e["id"] for e in _read_jsonl(two / f"stages/{i}/selected.jsonl")
        ]
    # evaluation: the same outputs and scores, after stage 1 and at the end
    p1, p2 = _read_jsonl(one / "predictions.jsonl"), _read_jsonl(two / "predictions.jsonl")
    assert len(p1) >= 12 and p1 == p2
    e1, e2 = json.loads((one / "stages/0/eval.json").read_text()), json.loads((two / "stages/0/eval.json").read_text())
    assert e1["macro"] == e2["macro"] and e1["per_domain"] == e2["per_domain"]

    # each process generated its share: whole batches of 3 in turn, so about half each
    assert not (one / "shares.json").exists()  # one process: nothing was split
    shares = json.loads((two / "shares.json").read_text())
    assert shares["processes"] == 2
    for step, n in (("stage 2: candidates", len(ifd1)), ("test items", len(p1))):
        got = shares["rows_by_rank"][step]
        assert len(got) == 2 and sum(got) == n, (step, got)
        assert all(abs(g - n / 2) <= 3 for g in got), (step, got)  # at most one batch apart
    log = (two / "run.log").read_text()
    assert f"{len(p1)} test items predicted by 2 processes" in log
