"""Training the student's LoRA adapter with the HF Trainer: a completion-only loss that applies the LM head
at response positions only, and a rich progress bar that keeps the loss curve."""

from __future__ import annotations

import tempfile

import torch
from rich.progress import Progress
from transformers import DataCollatorForSeq2Seq, PrinterCallback, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_pt_utils import LengthGroupedSampler

from ..runtime.dist import world_size
from ..runtime.progress import new_progress
from .scoring import token_nll


def train_adapter(
    model,
    tokenizer,
    features: list[dict],
    tc,
    device: torch.device,
    dtype: torch.dtype,
    seed: int,
    desc: str = "training",
    callbacks: list | None = None,
) -> dict:
    """Fine-tune ``model`` (a PeftModel) on tokenised features; ``tc`` is the TrainConfig. ``callbacks``: more
    TrainerCallbacks (the run's experiment tracker, ``runner/tracking.py``, which owns ``report_to``: the
    Trainer's own integrations stay off so that one tracker run spans every stage).

    ``tc.batch_size`` is the global batch: under N processes each takes ``batch_size / N`` examples per step, so
    a run makes the same optimizer steps on the same examples whatever N (the pre-flight refuses a batch size N
    does not divide)."""
    with tempfile.TemporaryDirectory(prefix="baldistill-trainer-") as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=per_device_batch(tc.batch_size),
            gradient_accumulation_steps=tc.grad_accum,
            num_train_epochs=tc.epochs,
            learning_rate=tc.lr,
            lr_scheduler_type=tc.scheduler,
            warmup_steps=tc.warmup_ratio,
            weight_decay=tc.weight_decay,
            max_grad_norm=1.0,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            seed=seed,
            data_seed=seed,
            use_cpu=device.type == "cpu",
            bf16=dtype == torch.bfloat16 and device.type == "cuda",
            train_sampling_strategy="group_by_length",
            remove_unused_columns=False,
            dataloader_num_workers=0,
        )
        progress = TrainerProgress(desc)
        trainer = CompletionTrainer(
            model=model,
            args=args,
            train_dataset=features,
            data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100),
            callbacks=[progress, *(callbacks or [])],
        )
        trainer.remove_callback(PrinterCallback)
        result = trainer.train()
    return {
        "examples": len(features),
        "steps": result.global_step,
        "train_loss": float(result.training_loss),
        "loss_tokens": sum(sum(1 for t in f["labels"] if t != -100) for f in features),
        "losses": progress.losses,
    }


def per_device_batch(batch_size: int) -> int:
    """Each process's share of the global batch ``student.train.batch_size``."""
    n = world_size()
    if batch_size % n:
        raise ValueError(f"student.train.batch_size {batch_size} is not divisible by the {n} processes")
    return batch_size // n


class CompletionTrainer(Trainer):
    """The HF Trainer with a completion-only loss that applies the LM head at response positions
    only (same value as the model's own loss with prompt labels at -100; less work with a big
    vocabulary). Everything else (optimiser, schedule, accelerate, DDP/FSDP) is the Trainer's.

    The loss is the mean over the response tokens of the whole global batch, as ``Trainer.compute_loss`` makes
    it: each process sums its tokens' NLL and divides by the token count of every process
    (``num_items_in_batch``, gathered when ``average_tokens_across_devices`` is on), times the number of
    processes, since DDP averages the gradients over them. So one process and N give the same loss and step."""

    loss_is_scaled_for_ga = True

    def _get_train_sampler(self, train_dataset=None):
        """Examples grouped by length in runs of one global batch (every process's share of it), so that the
        per-device batches of a step are consecutive slices of the batch one process would take: N processes
        step on the same examples as one."""
        if self.args.train_sampling_strategy != "group_by_length":
            return super()._get_train_sampler(train_dataset)
        dataset = self.train_dataset if train_dataset is None else train_dataset
        size = self.args.train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
        return LengthGroupedSampler(size, dataset=dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs["labels"]
        nll, _ = token_nll(model, inputs["input_ids"], inputs["attention_mask"], labels != -100)
        if num_items_in_batch is None:
            loss = nll.mean() / self.current_gradient_accumulation_steps
        else:
            loss = nll.sum() / num_items_in_batch
            if self.args.average_tokens_across_devices:
                loss = loss * self.accelerator.num_processes
        return (loss, None) if return_outputs else loss


class TrainerProgress(TrainerCallback):
    """Drives a rich bar from the HF Trainer and keeps the loss curve."""

    def __init__(self, description: str):
        self.description = description
        self.losses: list[float] = []
        self._p: Progress | None = None

    def on_train_begin(self, args, state, control, **kw):
        self._p = new_progress()
        self._p.start()
        self._task = self._p.add_task(self.description, total=state.max_steps, info="")

    def on_step_end(self, args, state, control, **kw):
        self._p.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))
            self._p.update(self._task, info=f"loss {logs['loss']:.3f}")

    def on_train_end(self, args, state, control, **kw):
        if self._p:
            self._p.stop()
