"""What a K-stage run costs against one fine-tune on its final data, per training scheme. The run is the one
benchmarks/staged_cost.yaml names (its method, budget, student and scheme: baldistill-f, B = 96, 4 epochs,
scheme replay, the reference teacher), at each K; every part is timed -- training before the last stage (the
selection students), the student's rationales for IFD (generation), IFD scoring, the signal (its answers judged,
and its answers to the synthetic examples), the teacher (simulated: near zero) and the last stage's training;
evaluation is left out -- against ``Student.fit`` on that run's final train.jsonl (a fresh adapter, the same
epochs), which is what a single-stage method pays. One process, one student model, repetitions interleaved
(each scheme at K = 3, K = 5, then again), the median ratio over repetitions.

    python benchmarks/staged_cost.py [--config benchmarks/staged_cost.yaml] [--schemes paper,replay] [--ks 3,5]
        [--reps 3] [--factor 4] [--ifd-tokens N] [--threads 2] [--model smollm2-135m-instruct]
    python benchmarks/staged_cost.py --smoke   # seconds: a tiny model, B = 24, one epoch, K = 3, two schemes

Every line names the method and scheme it measured; the last reads exactly
``K=3: <ratio>x, K=5: <ratio>x`` for the first scheme (the config's unless --schemes says otherwise).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch
from _common import ROOT, median, parse, parser, set_threads, smoke_sets, timed

from baldistill import load_config
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

    def total(phase: str) -> float:
        return sum(v.get(phase, 0.0) for v in d.clock.seconds.values())

    parts = {
        "training before the last stage": sum(v.get("train", 0.0) for k, v in d.clock.seconds.items() if k != last),
        "generation": total("generate"),
        "IFD": total("ifd"),
        "signal": total("signal"),
        "teacher (simulated)": total("teacher"),
        "last stage's training": d.clock.seconds[last].get("train", 0.0),
    }
    done = [json.loads((out / f"stages/{i}/done.json").read_text()) for i in range(d.stages)]
    d.close()
    return {
        "parts": parts,
        "total": sum(parts.values()),
        "candidates": [len(read_jsonl(out / f"stages/{i}/ifd.jsonl")) for i in range(d.stages)],
        "steps": [x["training"].get("steps", 0) for x in done],
        "train": [
            (e.input, d.method.target(e.rationale, e.answer))
            for e in map(Example.from_json, read_jsonl(out / f"stages/{d.stages - 1}/train.jsonl"))
        ],
    }


CONFIG = ROOT / "benchmarks/staged_cost.yaml"


def main() -> None:
    ap = parser(__doc__, model=True, threads=True, default_threads=2, repeats=3, repeat_flags=("--reps", "--repeats"))
    ap.add_argument("--config", default=str(CONFIG), help="the run timed (default: benchmarks/staged_cost.yaml)")
    ap.add_argument(
        "--schemes", default=None, help="student.train.scheme values, comma-separated (default: the config's)"
    )
    ap.add_argument("--ks", default="3,5")
    ap.add_argument("--factor", type=float, default=None, help="selection.candidate_factor (default: the config's)")
    ap.add_argument("--ifd-tokens", type=int, default=None, help="selection.max_new_tokens (default: the config's)")
    args = parse(ap, smoke={"ks": "3", "schemes": "replay,paper"})
    set_threads(args.threads)
    ks = [int(k) for k in args.ks.split(",")]
    sets = [f"student.threads={args.threads}"]
    if args.model:
        sets.append(f"student.model={args.model}")
    if args.factor is not None:
        sets.append(f"selection.candidate_factor={args.factor}")
    if args.smoke:  # a small budget, one epoch, short rationales
        sets += smoke_sets(args.model)
    if args.ifd_tokens:
        sets.append(f"selection.max_new_tokens={args.ifd_tokens}")
    base = load_config(args.config, sets)
    schemes = args.schemes.split(",") if args.schemes else [base.student.train.scheme]
    student = Student(base.student, base.data.instruction, base.seed)
    sel = base.selection
    print(
        f"{args.config}: method {base.method}, schemes {', '.join(schemes)}, candidate factor "
        f"{sel.candidate_factor:g}, IFD response {sel.max_new_tokens or base.student.generation.max_new_tokens} "
        f"tokens, {base.student.train.epochs:g} epochs, B={base.budget}, {args.threads} threads, torch "
        f"{torch.__version__}"
    )
    ratios: dict[tuple[str, int], list[float]] = {(s, k): [] for s in schemes for k in ks}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for scheme in schemes:
                for k in ks:
                    cfg = load_config(args.config, sets + [f"stages={k}", f"student.train.scheme={scheme}"])
                    run = staged(cfg, student, Path(tmp) / f"r{rep}-{scheme}-k{k}")
                    student.new_adapter(cfg.seed)  # what a single-stage method does, on the same final training set
                    ref, t_ref = timed(student.fit, run["train"], seed=cfg.seed, desc="reference fine-tune")
                    ratio = run["total"] / t_ref
                    ratios[(scheme, k)].append(ratio)
                    parts = ", ".join(f"{name} {s:.1f} s" for name, s in run["parts"].items())
                    print(
                        f"rep {rep + 1} {cfg.method} scheme {scheme} K={k}: {parts}; staged {run['total']:.1f} s; "
                        f"one fine-tune {t_ref:.1f} s ({ref['steps']} steps, {len(run['train'])} examples); "
                        f"ratio {ratio:.2f}x"
                    )
                    print(
                        f"    candidates scored per stage {run['candidates']}; optimizer steps per stage "
                        f"{run['steps']}",
                        flush=True,
                    )
    for (scheme, k), rs in ratios.items():
        print(
            f"{base.method} scheme {scheme} K={k}: median {median(rs):.2f}x over {len(rs)} reps "
            f"({', '.join(f'{r:.2f}' for r in rs)})"
        )
    print(", ".join(f"K={k}: {median(ratios[(schemes[0], k)]):.2f}x" for k in ks))


if __name__ == "__main__":
    main()
