"""Several processes run the same code (here `torchrun` with 2 CPU processes on gloo, which is what
`accelerate launch --multi_gpu` starts on GPUs): the main process chooses data and calls the teacher,
every process trains through the HF Trainer (DDP)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import tiny_config

from baldistill.budget.ledger import Ledger


def _adapter(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter/adapter_model.safetensors"))


def test_n_processes_train_like_one(tiny_model, tmp_path):
    """The batch is the global one: 2 processes (torchrun, gloo) each take half of every batch of 8, so they make
    the same optimizer steps on the same examples as 1 process, with the same logged loss (the mean over the
    whole batch's response tokens) and, at a real learning rate, the same adapter. The teacher is called once."""
    cfg = tiny_config(tiny_model, method="random-ft-cot", budget=48, **{"student.train.epochs": 2})
    cfg["student"]["threads"] = 1
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "BALDISTILL_PROGRESS": "0"}
    one, two = tmp_path / "one", tmp_path / "two"
    for out, launch in ((one, []), (two, ["-m", "torch.distributed.run", "--nproc_per_node", "2"])):
        cmd = [sys.executable, *launch, "-m", "baldistill.cli", "run", str(tmp_path / "c.yaml"), "--out", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("tail macro") == 1  # one results table, from the main process
    m = json.loads((two / "metrics.json").read_text())
    assert m["spent"] == 48 and len(Ledger(48, two / "ledger.sqlite").rows()) == 48  # once, not once per process
    t1 = json.loads((one / "stages/0/done.json").read_text())["training"]
    t2 = json.loads((two / "stages/0/done.json").read_text())["training"]
    assert t1["steps"] == t2["steps"] == 2 * math.ceil(48 / 8)  # 12: two epochs of batches of 8
    assert len(t1["losses"]) == len(t2["losses"]) == 12
    # the logged loss of every step: the same examples, the same mean (seen: 1.5e-7 relative, float rounding);
    # 1e-4 is far below what another batch of the same data changes at the first step (1.3e-3 seen) and what the
    # old per-process mean gave (half the loss)
    for a, b in zip(t1["losses"], t2["losses"]):
        assert abs(a - b) <= 1e-4 * abs(a), (t1["losses"], t2["losses"])
    # the adapters after 12 steps at lr 1e-3: what differs is the order in which DDP sums the two halves'
    # gradients (seen: 1.4e-6 of a tensor's RMS). The bound, 1e-3 of the RMS, is the golden tests' allowance for
    # another CPU's BLAS rounding; other batches leave a difference of about 6 % of the RMS
    w1, w2 = _adapter(one), _adapter(two)
    assert sorted(w1) == sorted(w2)
    moved = 0
    for name in w1:
        a, b = w1[name].double(), w2[name].double()
        rms = float(a.pow(2).mean().sqrt())
        assert float((a - b).abs().max()) <= 1e-3 * rms + 1e-9, name
        moved += "lora_B" in name and rms > 0  # lora_B starts at 0: training moved it
    assert moved > 0


def test_a_batch_size_the_processes_do_not_divide_stops_before_the_run(tiny_model, tmp_path):
    cfg = tiny_config(tiny_model, method="random-ft-cot", budget=24, **{"student.train.batch_size": 5})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "baldistill.cli", "run",
           str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "BALDISTILL_PROGRESS": "0"})
    assert r.returncode != 0
    assert "student.train.batch_size: 5 is not divisible by the 2 processes" in r.stdout + r.stderr
    assert not (tmp_path / "run").exists()


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("method", ["baldistill-a", "baldistill-f"])
def test_two_processes_share_selection_and_evaluation_and_match_one_process(tiny_model, tmp_path, method):
    """Selection (candidate rationales and IFD) and evaluation run sharded: each process generates and scores
    about half of the candidates and predicts about half of the test items, and the results are those of one
    process. The learning rate is so small that training leaves both runs with exactly the same student (at a real
    one they differ in the last bits, test_n_processes_train_like_one), so all that differs is how the work is
    split. baldistill-f (its answers made right in some domains, tests/answering_student.py: simulated) also
    gets the same signal and quotas."""
    cfg = tiny_config(
        tiny_model, method=method, budget=32, stages=2, eval_each_stage=2, **{"data.max_test_per_domain": 4}
    )
    cfg["student"].update(threads=1, score_batch_size=3)
    cfg["student"]["train"]["lr"] = 1e-12
    cfg["student"]["generation"]["batch_size"] = 3  # many batches, so each process gets several
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "BALDISTILL_PROGRESS": "0"}
    main = tmp_path / "main.py"
    patch = "import answering_student; answering_student.install()\n" if method == "baldistill-f" else ""
    main.write_text(f"import sys\n{patch}from baldistill.cli import app\napp(sys.argv[1:])\n")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), *filter(None, [env.get("PYTHONPATH")])])
    one, two = tmp_path / "one", tmp_path / "two"
    for out, launch in ((one, []), (two, ["-m", "torch.distributed.run", "--nproc_per_node", "2"])):
        cmd = [sys.executable, *launch, str(main), "run", str(tmp_path / "c.yaml"), "--out", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
    for i in (0, 1):  # the same quotas (and, for baldistill-f, the same signal)
        q1, q2 = (json.loads((x / f"stages/{i}/quota.json").read_text()) for x in (one, two))
        assert q1["quota"] == q2["quota"]
    if method == "baldistill-f":
        s1, s2 = (json.loads((x / "stages/1/signal.json").read_text()) for x in (one, two))
        assert s1 == s2 and len({s["score"] for s in s1["measured"].values()}) > 1

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
