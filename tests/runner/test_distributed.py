"""Several processes run the same code (here `torchrun` with 2 CPU processes on gloo, which is what
`accelerate launch --multi_gpu` starts on GPUs): the main process chooses data and calls the teacher,
every process trains through the HF Trainer (DDP)."""

import json
import math
import subprocess
import sys

import yaml

from baldistill.budget.ledger import Ledger

from conftest import tiny_config


def test_two_processes_train_with_ddp(tiny_model, tmp_path):
    cfg = tiny_config(tiny_model, budget=32, stages=2)
    cfg["student"]["threads"] = 1
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "baldistill.cli", "run", str(tmp_path / "c.yaml"), "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**__import__("os").environ,
                                                                              "BALDISTILL_PROGRESS": "0"})
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
