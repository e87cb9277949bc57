"""Selection and evaluation sharded across processes, against one process: the demo's stage-2 candidates
(drawn by the demo config's rule after a random first stage: the student writes each candidate's rationale,
then IFD scores it) and the demo's test file (the student's answer to each item), on a randomly initialised
model with SmolLM2-135M-Instruct's architecture and tokenizer (its weights do not change the work; without
an end-of-sequence token every row writes all its tokens, so the work is the same in every setting).

Three settings, each a fresh process (group) that loads the model, then times the two steps:
    2x1   ``torchrun --nproc_per_node 2``, 1 thread per process (each process its share of the batches)
    1x2   one process, 2 threads
    1x1   one process, 1 thread
It checks that every setting chose the same candidates, wrote the same rationales and predictions, and
scored IFD within 1e-6, and prints a table of seconds and speed-ups.

    python benchmarks/sharded_selection.py [--batch 16] [--reps 1] [--test-per-domain N] [--settings 2x1,1x2,1x1]
    python benchmarks/sharded_selection.py --smoke   # seconds: the tiny model, B = 24, settings 2x1 and 1x1

``--batch`` is student.generation.batch_size and student.score_batch_size: processes get whole batches of
the one-process cut, so a step of only a few batches cannot be split evenly (the demo's 64-prompt batches
make 2 batches of candidates and 4 of test items).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import demo_config, median, parse, parser, smoke_sets


def random_model(folder: Path, name: str) -> Path:
    """Model ``name``'s config and tokenizer (SmolLM2-135M-Instruct's by default) with random weights (seed 0),
    saved once in ``folder``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from baldistill.student.assets import resolve_model

    out = folder / "random-model"
    if (out / "model.safetensors").exists():
        return out
    src = resolve_model(name)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(src), dtype=torch.float32)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(src).save_pretrained(out)
    return out


def worker(a) -> None:
    """One setting: load, draw the stage-2 candidates, time scoring and evaluation; the main process prints
    a JSON line with the seconds and what it computed."""
    from baldistill.runner.evaluate import limit_per_domain
    from baldistill.runner.pipeline import Distiller, load_student
    from baldistill.runner.runfolder import RunFolder, State
    from baldistill.runtime import dist

    sets = [
        f"student.model={a.model}",
        f"student.threads={a.threads}",
        f"student.generation.batch_size={a.batch}",
        f"student.score_batch_size={a.batch}",
    ]
    cfg = demo_config(sets + (smoke_sets(a.model) if a.smoke else []))
    student = load_student(cfg)
    out = Path(a.out)
    folder = RunFolder.create(out / f"run-{os.getpid() if dist.is_main() else 'x'}")
    d = Distiller(cfg, folder, student=student)
    state = State.start(d.pool, d.domains)

    def stage0() -> list[str]:  # stage 1 picks at random (no student yet): what stage 2 draws from
        plan = d.draw(0, state)
        d.select(state, plan, [])
        return d.draw(1, state).ids

    ids = dist.on_main(stage0)
    test = limit_per_domain(d.test, a.test_per_domain or None, cfg.seed)
    times: dict[str, list[float]] = {"selection": [], "evaluation": []}
    for _ in range(a.repeats):
        dist.barrier()
        t0 = time.perf_counter()
        scored = d.score(1, ids)
        dist.barrier()
        t1 = time.perf_counter()
        texts = d.predict(test, "evaluating", share="test items")
        dist.barrier()
        t2 = time.perf_counter()
        times["selection"].append(t1 - t0)
        times["evaluation"].append(t2 - t1)
    if dist.is_main():
        print(
            "RESULT "
            + json.dumps(
                {
                    "times": times,
                    "candidates": len(ids),
                    "test_items": len(test),
                    "shares": d.shares,
                    "scored": [[s.id, s.ifd, s.response] for s in scored],
                    "texts": texts,
                }
            ),
            flush=True,
        )
    d.close()


def run_setting(name: str, a, model: Path, out: Path) -> dict:
    procs, threads = {"2x1": (2, 1), "1x2": (1, 2), "1x1": (1, 1)}[name]
    launch = ["-m", "torch.distributed.run", "--nproc_per_node", str(procs)] if procs > 1 else []
    cmd = [
        sys.executable,
        *launch,
        __file__,
        "--worker",
        "--model",
        str(model),
        "--threads",
        str(threads),
        "--batch",
        str(a.batch),
        "--reps",
        str(a.repeats),
        "--test-per-domain",
        str(a.test_per_domain),
        "--out",
        str(out / name),
        *(["--smoke"] if a.smoke else []),
    ]
    env = {**os.environ, "BALDISTILL_PROGRESS": "0", "OMP_NUM_THREADS": str(threads)}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(f"{name} failed:\n{r.stderr[-3000:]}")
    line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    ap = parser(__doc__, model=True, threads=True, default_threads=1, repeats=1, repeat_flags=("--reps", "--repeats"))
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--test-per-domain", type=int, default=0, help="at most N test items per domain (0: all)")
    ap.add_argument("--out", default="")
    ap.add_argument("--settings", default="2x1,1x2,1x1")
    # smoke: 1x2 is 1x1's code path with two threads (and two threads on a busy machine crawl), so it is left out
    a = parse(ap, smoke={"batch": 4, "test_per_domain": 1, "settings": "2x1,1x1"})
    if a.worker:
        return worker(a)
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="bd-sharded-") as tmp:
        tmp = Path(tmp)
        model = Path(a.model) if a.smoke else random_model(tmp, a.model)  # the smoke model is random already
        res = {}
        for name in a.settings.split(","):
            res[name] = run_setting(name, a, model, tmp)
            t = {k: round(median(v), 1) for k, v in res[name]["times"].items()}
            print(f"{name} done: {t}; load average {os.getloadavg()[0]:.2f}", flush=True)
    base = next(iter(res.values()))
    for name, r in res.items():  # the same work and the same results in every setting
        assert [s[0] for s in r["scored"]] == [s[0] for s in base["scored"]], name
        assert [s[2] for s in r["scored"]] == [s[2] for s in base["scored"]], name
        assert all(abs(x[1] - y[1]) <= 1e-6 * abs(y[1]) for x, y in zip(r["scored"], base["scored"])), name
        assert r["texts"] == base["texts"], name
    print(
        f"{base['candidates']} candidates (stage 2 of the demo), {base['test_items']} test items; "
        f"batches of {a.batch}; {a.repeats} repetition(s), medians; identical results in every setting"
    )
    print(f"{'setting':8} {'selection s':>12} {'evaluation s':>13}  rows per process")
    med = {n: {k: median(v) for k, v in r["times"].items()} for n, r in res.items()}
    for n, r in res.items():
        print(f"{n:8} {med[n]['selection']:12.1f} {med[n]['evaluation']:13.1f}  {r['shares'] or '-'}")
    if "2x1" in med:
        for other in ("1x2", "1x1"):
            if other in med:
                print(
                    f"2x1 against {other}: selection {med[other]['selection'] / med['2x1']['selection']:.2f}x, "
                    f"evaluation {med[other]['evaluation'] / med['2x1']['evaluation']:.2f}x"
                )


if __name__ == "__main__":
    main()
