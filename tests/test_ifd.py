import math
import random

import pytest
import torch
import torch.nn.functional as F

from baldistill.config import StudentConfig
from baldistill.ifd import ifd_from_nll, ifd_scores, response_nll, select_top
from baldistill.student import Student


@pytest.fixture(scope="module")
def student(tiny_model):
    return Student(StudentConfig(model=str(tiny_model), threads=2), instruction="Solve it.")


def plain_nll(model, context, response):
    """Independent reference: one sequence, full logits, plain F.cross_entropy over response tokens."""
    ids = torch.tensor([list(context) + list(response)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    start = max(len(context), 1)
    return F.cross_entropy(logits[start - 1:-1], ids[0, start:]).item()


def varied_pairs(student, n=11, seed=0):
    rng = random.Random(seed)
    texts = [f"Find the value of x{k}: {' + '.join(str(rng.randint(1, 9)) for _ in range(rng.randint(1, 9)))}" for k in range(n)]
    resps = [student.encode(" ".join(["step"] * rng.randint(1, 12)) + f" The answer is {k}.") for k in range(n)]
    return texts, resps


def test_batched_equals_one_at_a_time_and_plain_cross_entropy(student):
    texts, resps = varied_pairs(student)
    prompts = [student.prompt_ids(t) for t in texts]
    assert len({len(p) + len(r) for p, r in zip(prompts, resps)}) > 3  # really varied lengths
    batched = ifd_scores(student.model, prompts, resps, student.start_ids, batch_size=4, pad_id=student.tokenizer.pad_token_id)
    single = [ifd_scores(student.model, [p], [r], student.start_ids, batch_size=1)[0] for p, r in zip(prompts, resps)]
    for b, s, p, r in zip(batched, single, prompts, resps):
        assert b.cond_nll == pytest.approx(s.cond_nll, abs=1e-5)
        assert b.direct_nll == pytest.approx(s.direct_nll, abs=1e-5)
        assert b.ifd == pytest.approx(s.ifd, rel=1e-5)
        assert b.cond_nll == pytest.approx(plain_nll(student.model, p, r), abs=1e-5)
        assert b.direct_nll == pytest.approx(plain_nll(student.model, student.start_ids, r), abs=1e-5)
        assert b.ifd == pytest.approx(math.exp(b.cond_nll - b.direct_nll), rel=1e-9)


def test_hand_value_on_a_known_distribution():
    """A 'model' whose next-token distribution is fixed: the NLLs are computable by hand."""
    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))
            self.logits = torch.log(torch.tensor([0.5, 0.25, 0.125, 0.125]))

        def forward(self, input_ids, attention_mask=None):
            out = self.logits.expand(*input_ids.shape, 4).clone()
            return type("Out", (), {"logits": out})()

    m = Fixed()
    # response tokens [1, 2]: -log(0.25), -log(0.125) -> mean = 2.5 * ln 2
    nll = response_nll(m, [([0, 0], [1, 2]), ([], [0, 1, 2])])
    assert nll[0] == pytest.approx(2.5 * math.log(2))
    assert nll[1] == pytest.approx(2.5 * math.log(2))  # empty context: the first token is not scored
    assert ifd_from_nll(2.0, 1.0) == pytest.approx(math.e)
    assert ifd_from_nll(2.0, 1.0, "loss_ratio") == pytest.approx(2.0)
    with pytest.raises(ValueError):
        ifd_from_nll(1, 1, "cosine")


def test_bucketing_does_not_change_the_selection(student):
    texts, resps = varied_pairs(student, n=9, seed=3)
    prompts = [student.prompt_ids(t) for t in texts]
    a = ifd_scores(student.model, prompts, resps, student.start_ids, batch_size=16)
    b = ifd_scores(student.model, prompts, resps, student.start_ids, batch_size=2)
    assert select_top([s.ifd for s in a], 4) == select_top([s.ifd for s in b], 4)


def test_select_top_and_drop_rule():
    scores = [0.5, 1.2, 0.9, float("nan"), 0.7]
    assert select_top(scores, 2) == [1, 2]
    assert select_top(scores, 2, drop_ge_1=True) == [2, 4]
    # too few below 1: the highest remaining fill the quota
    assert select_top(scores, 5, drop_ge_1=True) == [2, 4, 0, 1, 3]
