"""Training: the completion-only loss equals the model's own loss, and the Trainer loop lowers it."""

import pytest
import torch
from transformers import DataCollatorForSeq2Seq

from baldistill.config import StudentConfig, TrainConfig
from baldistill.student import Student
from baldistill.student.scoring import token_nll
from baldistill.student.training import CompletionTrainer, train_adapter


@pytest.fixture(scope="module")
def student(tiny_model):
    return Student(StudentConfig(model=str(tiny_model), threads=2), instruction="Solve it.")


def test_completion_loss_equals_the_models_own_loss(student):
    feats = [student.train_features(f"question {k}" * (k + 1), "answer " * (k + 2)) for k in range(4)]
    batch = DataCollatorForSeq2Seq(student.tokenizer, padding=True, label_pad_token_id=-100)(feats)
    with torch.no_grad():
        ref = student.base(**batch).loss
        nll, _ = token_nll(student.base, batch["input_ids"], batch["attention_mask"], batch["labels"] != -100)
        mine = CompletionTrainer.compute_loss(
            type("T", (), {"current_gradient_accumulation_steps": 1})(), student.base, dict(batch)
        )
    assert nll.mean().item() == pytest.approx(ref.item(), rel=1e-5) and mine.item() == pytest.approx(
        ref.item(), rel=1e-5
    )


def test_train_adapter_counts_steps_and_loss_tokens(student):
    student.new_adapter(0)
    feats = [student.train_features("2 + 2?", "The answer is 4.") for _ in range(6)]
    stats = train_adapter(
        student.model,
        student.tokenizer,
        feats,
        TrainConfig(epochs=2, batch_size=4, lr=1e-2),
        student.device,
        student.dtype,
        seed=0,
    )
    assert stats["examples"] == 6 and stats["steps"] == 4  # ceil(6 / 4) per epoch, two epochs
    assert stats["loss_tokens"] == sum(sum(t != -100 for t in f["labels"]) for f in feats)
    assert len(stats["losses"]) == 4 and stats["losses"][-1] < stats["losses"][0]
