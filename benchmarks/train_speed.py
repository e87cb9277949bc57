"""Student fine-tuning speed: BalDistill's trainer (``Student.fit``) against TRL's ``SFTTrainer`` with
completion-only loss, same model, data, LoRA (same initialisation), steps, batch size, learning rate,
schedule, seed, dtype and threads, in one process.

    python benchmarks/train_speed.py [--model smollm2-135m-instruct] [--n 64] [--batch 8] [--repeats 5]
    python benchmarks/train_speed.py --trl-group-by-length   # TRL with BalDistill's batches: same loss curve
    python benchmarks/train_speed.py --smoke   # seconds: a tiny model, 8 examples; TRL's side only if TRL is installed

Data: n demo examples (inputs with their reference rationales), in TRL's conversational prompt-completion
format (user turn / assistant turn), so TRL applies the same chat template as BalDistill; the script checks
that both tokenise every example identically. Loss tokens/s counts the tokens that carry loss (the
completion tokens) per second of the whole call: building the trainer (tokenising included) and training.

What differs, by design of each trainer:
- loss head: BalDistill applies the LM head only at the completion positions; TRL's fused LM head scores
  every position on a CPU (it keeps only valid positions on Triton devices) and also computes entropy and
  top-1 accuracy for its logs;
- batching: BalDistill groups examples of similar length into a batch (``group_by_length``), so less
  padding; TRL shuffles; neither packs; both pad to the longest in the batch;
- collator: BalDistill's ``DataCollatorForSeq2Seq`` over pre-built labels, TRL's own collator with a
  completion mask; both normalise the loss by the number of loss tokens in the batch.
TRL defaults overridden here: ``gradient_checkpointing`` (TRL default True) and ``bf16`` (TRL default True)
are off, as in BalDistill: checkpointing would only slow TRL down, bf16 would change the numerics.

Final loss: the mean completion NLL over all n examples after training, computed the same way for both.
With ``--trl-group-by-length`` TRL gets BalDistill's length-grouped batches (same sampler, same seed), so
both see the same batches in the same order: then the per-step loss curves agree, and the remaining speed
difference is the loss head's.
"""

from __future__ import annotations

import importlib.util
import tempfile

import torch
from _common import demo_pairs, describe, load_student, median, parse, parser, skipped, timed

from baldistill.student import Student
from baldistill.student.scoring import token_nll


@torch.inference_mode()
def mean_loss(st: Student, pairs, batch: int = 16) -> float:
    """Mean completion NLL over all loss tokens of pairs, under the current adapter."""
    from transformers import DataCollatorForSeq2Seq

    collate = DataCollatorForSeq2Seq(st.tokenizer, padding=True, label_pad_token_id=-100)
    st.model.eval()
    total, count = 0.0, 0
    feats = [st.train_features(x, y) for x, y in pairs]
    for s in range(0, len(feats), batch):
        b = collate(feats[s : s + batch])
        nll, _ = token_nll(st.model, b["input_ids"], b["attention_mask"], b["labels"] != -100)
        total, count = total + nll.sum().item(), count + nll.numel()
    return total / count


def trl_run(st: Student, pairs, a) -> tuple[dict, list]:
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    tc = st.cfg.train
    data = Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": st.user_text(x)}],
                "completion": [{"role": "assistant", "content": y}],
            }
            for x, y in pairs
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(
            output_dir=tmp,
            per_device_train_batch_size=tc.batch_size,
            gradient_accumulation_steps=tc.grad_accum,
            num_train_epochs=tc.epochs,
            learning_rate=tc.lr,
            lr_scheduler_type=tc.scheduler,
            warmup_steps=tc.warmup_ratio,
            weight_decay=tc.weight_decay,
            max_grad_norm=1.0,
            seed=a.seed,
            data_seed=a.seed,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=st.device.type == "cpu",
            dataloader_num_workers=0,
            max_length=tc.max_length,
            completion_only_loss=True,
            gradient_checkpointing=False,
            bf16=False,
            train_sampling_strategy="group_by_length" if a.trl_group_by_length else "random",
        )
        trainer = SFTTrainer(model=st.model, args=args, train_dataset=data, processing_class=st.tokenizer)
        trainer.remove_callback(PrinterCallback)
        result = trainer.train()
    st.model.eval()
    ds = trainer.train_dataset
    tokens = sum(sum(t != -100 for t in labels) for labels in ds["labels"])
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    seqs = [{"input_ids": list(i), "labels": list(lab)} for i, lab in zip(ds["input_ids"], ds["labels"])]
    return {"steps": result.global_step, "loss_tokens": tokens * tc.epochs, "losses": losses}, seqs


def main() -> None:
    ap = parser(__doc__, model=True, threads=True, repeats=5, n=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trl-group-by-length", action="store_true", help="give TRL BalDistill's length-grouped batches")
    a = parse(ap, smoke={"n": 8, "batch": 4})
    has_trl = importlib.util.find_spec("trl") is not None
    if not has_trl and not a.smoke:
        raise SystemExit("train_speed.py compares against TRL: pip install trl (--smoke runs BalDistill's side alone)")
    st = load_student(a.model, a.threads, train={"batch_size": a.batch, "epochs": a.epochs})
    pairs = demo_pairs(a.n)
    print(
        f"{a.model}, {a.n} examples, batch {a.batch}, {a.epochs} epoch(s), LoRA r={st.cfg.lora.r}, "
        f"lr {st.cfg.train.lr}, {describe(st.model)}; TRL batches "
        + ("length-grouped like BalDistill's" if a.trl_group_by_length else "shuffled (its default)")
    )

    def ours():
        st.new_adapter(a.seed)
        stats = st.fit(pairs, a.seed)
        return {**stats, "loss_tokens": stats["loss_tokens"] * a.epochs}

    def trl():
        st.new_adapter(a.seed)
        return trl_run(st, pairs, a)[0]

    if has_trl:  # the tokenisation check (and TRL's warm-up)
        st.new_adapter(a.seed)
        _, seqs = trl_run(st, pairs[: 2 * a.batch], a)
        ours_seqs = [st.train_features(x, y) for x, y in pairs[: 2 * a.batch]]
        assert seqs == [{"input_ids": f["input_ids"], "labels": f["labels"]} for f in ours_seqs], (
            "TRL tokenises or masks the examples differently"
        )
    else:
        skipped("TRL's SFTTrainer", "TRL is not installed; smoke run of BalDistill's side only")
    if a.warmup:
        st.new_adapter(a.seed)
        st.fit(pairs[: 2 * a.batch], a.seed)
    runs = {"baldistill": ([], [], ours), "trl": ([], [], trl)}
    if not has_trl:
        del runs["trl"]
    tokens, curves = {}, {}
    for rep in range(a.repeats):
        line = []
        for name, (times, finals, fn) in runs.items():
            stats, dt = timed(fn)
            times.append(dt)
            finals.append(mean_loss(st, pairs))
            tokens[name], curves[name] = stats["loss_tokens"], stats["losses"]
            line.append(
                f"{name} {tokens[name] / times[-1]:.0f} tok/s ({stats['steps']} steps, final loss {finals[-1]:.4f})"
            )
        print(f"repeat {rep + 1}: " + "; ".join(line))
    med = {k: median(v[0]) for k, v in runs.items()}
    for name, (times, finals, _) in runs.items():
        rates = sorted(tokens[name] / t for t in times)
        print(
            f"{name}: median {tokens[name] / med[name]:.0f} loss tok/s (min-max {rates[0]:.0f}-{rates[-1]:.0f}), "
            f"median {med[name]:.1f} s per run, final loss {median(finals):.4f}"
        )
    if not has_trl:
        return
    assert tokens["baldistill"] == tokens["trl"], tokens
    steps = list(zip(curves["baldistill"], curves["trl"]))
    print(
        "per-step training loss (baldistill / trl): "
        + ", ".join(f"{x:.3f}/{y:.3f}" for x, y in steps)
        + f"; largest relative difference {max(abs(x - y) / y for x, y in steps):.1%}"
    )
    fb, ft = median(runs["baldistill"][1]), median(runs["trl"][1])
    print(
        f"baldistill / trl: {med['trl'] / med['baldistill']:.2f}x loss tokens/s; "
        f"final loss differs by {100 * abs(fb - ft) / ft:.2f}%"
    )
    assert abs(fb - ft) <= 0.02 * ft, "final losses differ by more than 2%"


if __name__ == "__main__":
    main()
