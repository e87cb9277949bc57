"""What a K-stage run costs against one fine-tune: the demo's run (baldistill-a, B = 96, 4 epochs, the
reference teacher) at each K, every part timed -- the selection students' training, the student's rationales
for IFD (generation), IFD scoring, the teacher (simulated: near zero), the final fine-tune; evaluation is left
out -- against ``Student.fit`` on that run's final train.jsonl (a fresh adapter, the same epochs), which is
what a single-stage method pays. One process, one student model, repetitions interleaved (K = 3, K = 5, K = 3,
...), the median ratio over repetitions.

    python benchmarks/staged_cost.py [--scheme select-then-train] [--ks 3,5] [--reps 3] [--factor 4]
        [--ifd-tokens N] [--threads 2] [--model smollm2-135m-instruct]
    python benchmarks/staged_cost.py --smoke   # seconds: a tiny model, B = 24, one epoch, K = 2 and 3, 1 rep

Its last line reads exactly ``K=3: <ratio>x, K=5: <ratio>x``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch
from _common import demo_config, median, parse, parser, set_threads, smoke_sets, timed

from baldistill.data import Example, read_jsonl
from baldistill.runner.pipeline import Distiller
from baldistill.runner.runfolder import RunFolder, State
from baldistill.student import Student


def staged(cfg, student: Student, out: Path) -> dict:
    """One staged run without its evaluation: seconds per part, candidates and optimizer steps per stage."""
    folder = RunFolder.create(out)
    d = Distiller(cfg, folder, student=student)
    state = State.start(d.pool, d.domains)
    for i in range(d.stages):
        d.stage(i, state)
    last = str(d.stages)
    parts = {
        "selection training": sum(v.get("train", 0.0) for k, v in d.clock.seconds.items() if k != last),
        "generation": sum(v.get("generate", 0.0) for v in d.clock.seconds.values()),
        "IFD": sum(v.get("ifd", 0.0) for v in d.clock.seconds.values()),
        "teacher (simulated)": sum(v.get("teacher", 0.0) for v in d.clock.seconds.values()),
        "final fine-tune": d.clock.seconds[last].get("train", 0.0),
    }
    done = [json.loads((out / f"stages/{i}/done.json").read_text()) for i in range(d.stages)]
    quota = [json.loads((out / f"stages/{i}/quota.json").read_text()) for i in range(d.stages)]
    d.close()
    return {
        "parts": parts,
        "total": sum(parts.values()),
        "candidates": [sum(q["candidates"].values()) for q in quota],
        "steps": [x["training"].get("steps", 0) for x in done],
        "train": [
            (e.input, d.target(e))
            for e in map(Example.from_json, read_jsonl(out / f"stages/{d.stages - 1}/train.jsonl"))
        ],
    }


def main() -> None:
    ap = parser(__doc__, model=True, threads=True, default_threads=2, repeats=3, repeat_flags=("--reps", "--repeats"))
    ap.add_argument("--scheme", default="select-then-train", choices=["paper", "continue", "select-then-train"])
    ap.add_argument("--ks", default="3,5")
    ap.add_argument("--factor", type=float, default=4.0)
    ap.add_argument("--ifd-tokens", type=int, default=None, help="selection.max_new_tokens (default: the config's)")
    args = parse(ap, smoke={"ks": "2,3"})
    set_threads(args.threads)
    ks = [int(k) for k in args.ks.split(",")]
    sets = [
        f"student.model={args.model}",
        f"student.threads={args.threads}",
        f"student.train.scheme={args.scheme}",
        f"selection.candidate_factor={args.factor}",
        "selection.candidates_per_domain=null",
    ]
    if args.smoke:  # a small budget, one epoch, short rationales
        sets += smoke_sets(args.model)
    if args.ifd_tokens:
        sets.append(f"selection.max_new_tokens={args.ifd_tokens}")
    base = demo_config(sets)
    student = Student(base.student, base.data.instruction, base.seed)
    print(
        f"scheme {args.scheme}, candidate factor {args.factor}, IFD response "
        f"{base.selection.max_new_tokens or base.student.generation.max_new_tokens} "
        f"tokens, {base.student.train.epochs:g} epochs, B={base.budget}, {args.threads} threads, torch "
        f"{torch.__version__}"
    )
    ratios: dict[int, list[float]] = {k: [] for k in ks}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for k in ks:
                cfg = demo_config(sets + [f"stages={k}"])
                run = staged(cfg, student, Path(tmp) / f"r{rep}-k{k}")
                student.new_adapter(cfg.seed)  # what a single-stage method does, on the same final training set
                ref, t_ref = timed(student.fit, run["train"], seed=cfg.seed, desc="reference fine-tune")
                ratio = run["total"] / t_ref
                ratios[k].append(ratio)
                parts = ", ".join(f"{name} {s:.1f} s" for name, s in run["parts"].items())
                print(
                    f"rep {rep + 1} K={k}: {parts}; staged {run['total']:.1f} s; one fine-tune {t_ref:.1f} s "
                    f"({ref['steps']} steps); ratio {ratio:.2f}x"
                )
                print(
                    f"    candidates scored per stage {run['candidates']}; optimizer steps per stage {run['steps']}",
                    flush=True,
                )
    for k in ks:
        print(
            f"K={k}: median {median(ratios[k]):.2f}x over {len(ratios[k])} reps "
            f"({', '.join(f'{r:.2f}' for r in ratios[k])})"
        )
    print(", ".join(f"K={k}: {median(ratios[k]):.2f}x" for k in ks))


if __name__ == "__main__":
    main()
