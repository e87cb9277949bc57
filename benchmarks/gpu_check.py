"""The CUDA path in one command, for the first GPU the project is lent: randomly initialised models with the
real configurations of SmolLM2-135M and of a 1B-class Llama (Llama-3.2-1B's sizes), in bf16, through the code
paths a run uses, one table at the end:

* IFD: the one-at-a-time reference (``ifd_speed.reference``) against BalDistill's batched ``ifd_scores`` (length
  buckets, the shared prefix, the LM head at response positions): the largest relative difference and the
  speed-up;
* generation: BalDistill's greedy decoder (``Student.generate``: rows that end leave the batch) against HF
  ``generate`` over the same batch (``baldistill_testing.reference.hf_generate``): how many of the texts are the
  same (a random model's near-flat logits make bf16 argmax ties likely, so this is reported, not required);
* a LoRA fine-tune (``Student.fit``, the HF Trainer with the completion-only loss): optimizer steps, tokens per
  second, peak GPU memory;
* the staged-cost ratio at a small size (SmolLM2-135M only): a 3-stage run (``staged_cost.staged``: selection
  students, the student's rationales, IFD, the final fine-tune) against one fine-tune on its final data.

The weights are random (model files over 64 MiB cannot travel to the GPU machine) and the tokenizer is trained
in code (512 tokens, ids within any vocabulary): the shapes, and so the speed, are the real models'.

    python benchmarks/gpu_check.py                  # on the GPU machine: about 2-3 minutes on one H100
    python benchmarks/gpu_check.py --smoke          # seconds, on a CPU: the tiny model, bf16
    python benchmarks/gpu_check.py --configs smollm2-135m --n 32

On the GPU machine (Python 3.12, torch, transformers, peft and accelerate installed; pydantic carried as
wheels): ``PYTHONPATH=src:testing/src:benchmarks python3 benchmarks/gpu_check.py`` (docs/performance.md).
The exit status is 1 when the batched IFD leaves the tolerance.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from _common import demo_rows, parse, parser, print_table, spread_rows, timed

CONFIGS: dict[str, dict] = {
    "smollm2-135m": dict(
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=49152,
        max_position_embeddings=8192,
        rope_theta=100000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
    ),
    "llama-1b": dict(  # Llama-3.2-1B's sizes
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
    ),
    "tiny": {},  # baldistill_testing.tiny's sizes: the smoke run
}
# the batched IFD against the reference, largest relative difference allowed: bf16 rounds each logit to 8 bits
# of mantissa, and a batch's padding and shared prefix change the order of the sums
TOLERANCE = {"bfloat16": 3e-2, "float16": 1e-2, "float32": 1e-4}


def build(name: str, folder: Path, dtype: str) -> Path:
    """A random model of the named configuration with the tests' in-code tokenizer, saved in ``folder``."""
    from baldistill_testing.tiny import make_tiny_model

    texts = [r[k] for split in ("train", "test") for r in demo_rows(split) for k in ("input", "rationale")]
    return make_tiny_model(folder, texts, chat=True, seed=0, dtype=dtype, **CONFIGS[name])


def peak_memory() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB (GPU)"
    import resource

    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (RSS)"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def check_ifd(st, rows, dtype: str) -> tuple[list[list[str]], bool]:
    from ifd_speed import reference

    from baldistill.student.scoring import ifd_scores

    prompts = [st.prompt_ids(r["input"]) for r in rows]
    responses = [st.encode(r["rationale"]) for r in rows]
    model = st.model.eval()
    pad = st.tokenizer.pad_token_id
    reference(model, prompts[:2], responses[:2], st.start_ids)  # warm-up
    ifd_scores(model, prompts[:2], responses[:2], st.start_ids, batch_size=16, pad_id=pad)
    sync()
    ref, t_ref = timed(reference, model, prompts, responses, st.start_ids)
    ours, t_ours = timed(ifd_scores, model, prompts, responses, st.start_ids, batch_size=16, pad_id=pad)
    sync()
    worst = max(abs(o.ifd - r) / abs(r) for o, r in zip(ours, ref))
    ok = worst <= TOLERANCE[dtype]
    return [
        ["IFD, batched vs reference", f"max relative difference {worst:.1e} (tolerance {TOLERANCE[dtype]:.0e})",
         "ok" if ok else "FAIL"],
        ["IFD speed", f"{len(rows) / t_ref:.1f} -> {len(rows) / t_ours:.1f} ex/s", f"{t_ref / t_ours:.2f}x"],
    ], ok  # fmt: skip


def check_generation(st, rows, max_new_tokens: int) -> list[list[str]]:
    from baldistill_testing.reference import hf_generate

    texts = [r["input"] for r in rows]
    st.generate(texts[:2], max_new_tokens=4)  # warm-up
    sync()
    ours, t_ours = timed(st.generate, texts, max_new_tokens=max_new_tokens)
    theirs, t_hf = timed(hf_generate, st, texts, max_new_tokens)
    sync()
    same = sum(g.ids == ids for g, (ids, _) in zip(ours, theirs))
    tokens = sum(len(g.ids) for g in ours)
    return [
        ["greedy decoder vs HF generate", f"{same}/{len(texts)} texts identical", f"{tokens / t_ours:.0f} tok/s"],
        ["HF generate", f"{tokens} tokens in {t_hf:.2f} s", f"decoder {t_hf / t_ours:.2f}x as fast"],
    ]


def check_training(st, rows) -> list[list[str]]:
    pairs = [(r["input"], r["rationale"]) for r in rows]
    tokens = sum(len(st.train_features(x, y)["input_ids"]) for x, y in pairs)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    stats, dt = timed(st.fit, pairs, 0)
    sync()
    return [["LoRA fine-tune", f"{stats['steps']} steps, {len(pairs)} examples", f"{tokens / dt:.0f} tok/s"],
            ["peak memory", peak_memory(), ""]]  # fmt: skip


def check_staged(folder: Path, out: Path, dtype: str, smoke: bool) -> list[list[str]]:
    from _common import demo_config, smoke_sets
    from staged_cost import staged

    from baldistill.student import Student

    sets = smoke_sets(str(folder)) if smoke else [f"student.model={folder}", "budget=48", "student.train.epochs=1"]
    cfg = demo_config([*sets, "stages=3", f"student.dtype={dtype}", "method=baldistill-n"])
    student = Student(cfg.student, cfg.data.instruction, cfg.seed)
    run = staged(cfg, student, out)
    student.new_adapter(cfg.seed)
    _, one = timed(student.fit, run["train"], cfg.seed)
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in run["parts"].items())
    return [["staged run vs one fine-tune (K=3)", parts, f"{run['total'] / one:.2f}x"]]


def main() -> None:
    ap = parser(__doc__, n=64, n_help="examples per check, spread over the demo's domains")
    ap.add_argument("--configs", default="smollm2-135m,llama-1b", help=f"comma-separated, of {', '.join(CONFIGS)}")
    ap.add_argument("--dtype", default="bfloat16", choices=list(TOLERANCE))
    ap.add_argument("--max-new-tokens", type=int, default=64)
    a = parse(ap, smoke={"n": 4, "configs": "tiny", "max_new_tokens": 8})
    from _common import load_student

    torch.manual_seed(0)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(f"gpu_check: {device}, torch {torch.__version__}, {a.dtype}, {a.n} examples per check", flush=True)
    rows = spread_rows(demo_rows(), a.n)
    table, ok = [], True
    with tempfile.TemporaryDirectory(prefix="bd-gpu-check-") as tmp:
        for name in a.configs.split(","):
            t0 = time.perf_counter()
            folder = build(name, Path(tmp) / name, a.dtype)
            st = load_student(str(folder), dtype=a.dtype, score_batch_size=16,
                              generation={"batch_size": 64, "max_new_tokens": a.max_new_tokens},
                              train={"epochs": 1, "batch_size": 8})  # fmt: skip
            params = sum(p.numel() for p in st.model.parameters())
            table.append(
                [name, f"{params / 1e6:.0f}M parameters on {st.device}", f"built in {time.perf_counter() - t0:.0f} s"]
            )
            lines, good = check_ifd(st, rows, a.dtype)
            ok &= good
            table += lines + check_generation(st, rows, a.max_new_tokens) + check_training(st, rows)
            if name in ("smollm2-135m", "tiny"):
                table += check_staged(folder, Path(tmp) / f"run-{name}", a.dtype, a.smoke)
            del st
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    print_table(["check", "result", "figure"], table)
    print(f"gpu_check {'passed' if ok else 'FAILED'}", flush=True)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
