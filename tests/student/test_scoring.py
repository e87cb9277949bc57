import math
import os
import random

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_config

from baldistill import load_config
from baldistill.config import StudentConfig
from baldistill.core.ifd import select_top
from baldistill.runner.pipeline import Distiller
from baldistill.runner.runfolder import RunFolder
from baldistill.student import Student
from baldistill.student.scoring import ifd_scores, response_nll


@pytest.fixture(scope="module")
def student(tiny_model):
    return Student(StudentConfig(model=str(tiny_model), threads=2), instruction="Solve it.")


def plain_nll(model, context, response):
    """Independent reference: one sequence, full logits, plain F.cross_entropy over response tokens."""
    ids = torch.tensor([list(context) + list(response)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    start = max(len(context), 1)
    return F.cross_entropy(logits[start - 1 : -1], ids[0, start:]).item()


def varied_pairs(student, n=11, seed=0):
    rng = random.Random(seed)
    texts = [
        f"Find the value of x{k}: {' + '.join(str(rng.randint(1, 9)) for _ in range(rng.randint(1, 9)))}"
        for k in range(n)
    ]
    resps = [student.encode(" ".join(["step"] * rng.randint(1, 12)) + f" The answer is {k}.") for k in range(n)]
    return texts, resps


def test_batched_equals_one_at_a_time_and_plain_cross_entropy(student):
    texts, resps = varied_pairs(student)
    prompts = [student.prompt_ids(t) for t in texts]
    assert len({len(p) + len(r) for p, r in zip(prompts, resps)}) > 3  # really varied lengths
    batched = ifd_scores(
        student.model, prompts, resps, student.start_ids, batch_size=4, pad_id=student.tokenizer.pad_token_id
    )
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


def test_bucketing_does_not_change_the_selection(student):
    texts, resps = varied_pairs(student, n=9, seed=3)
    prompts = [student.prompt_ids(t) for t in texts]
    a = ifd_scores(student.model, prompts, resps, student.start_ids, batch_size=16)
    b = ifd_scores(student.model, prompts, resps, student.start_ids, batch_size=2)
    assert select_top([s.ifd for s in a], 4) == select_top([s.ifd for s in b], 4)


def test_shared_prefix_and_bucketing_equal_plain_scoring(student):
    """The prompts' shared prefix runs once (a KV cache); scores equal independent full-logit passes,
    whatever the batch size, and so does the selection."""
    texts, resps = varied_pairs(student, n=13, seed=5)
    prompts = [student.prompt_ids(t) for t in texts]
    assert len(os.path.commonprefix(prompts)) > 5  # the chat template's system turn and the instruction
    plain = [
        math.exp(plain_nll(student.model, p, r) - plain_nll(student.model, student.start_ids, r))
        for p, r in zip(prompts, resps)
    ]
    for bs in (1, 3, 16):
        got = [
            s.ifd
            for s in ifd_scores(
                student.model, prompts, resps, student.start_ids, batch_size=bs, pad_id=student.tokenizer.pad_token_id
            )
        ]
        assert got == pytest.approx(plain, rel=1e-4)
        assert select_top(got, 5) == select_top(plain, 5)


def test_ifd_from_generation_logprobs_equals_two_passes(student):
    """log p(y|x) recorded while generating y greedily gives the same IFD as scoring y again; y is the
    generated tokens without the end-of-sequence token, also when rows of a batch end at different steps."""
    texts = [
        "2 + 2?",
        "Reverse this list of words: a, b, c",
        "gcd of 12 and 18",
        "count the letters in banana",
        "What is 7 * 8? Answer with a number.",
    ]
    first = student.generate(texts)
    stop = next(t for t in first[1].ids[2:] if all(g.ids[0] != t for g in first))
    saved = student.eos_ids
    student.eos_ids = [*saved, stop]  # make a token the model emits end some rows early
    try:
        gens = student.generate(texts, logprobs=True)
    finally:
        student.eos_ids = saved
    lengths = {len(g.ids) for g in gens}
    assert len(lengths) > 1 and min(lengths) > 0
    assert all(len(g.logprobs) == len(g.ids) and stop not in g.ids for g in gens)
    responses = [g.ids for g in gens]
    two = student.ifd(texts, responses, "ppl_ratio")
    one = student.ifd(texts, responses, "ppl_ratio", cond_nll=[g.nll for g in gens])
    for a, b in zip(one, two):
        assert a.cond_nll == pytest.approx(b.cond_nll, rel=1e-4)
        assert a.direct_nll == b.direct_nll
        assert a.ifd == pytest.approx(b.ifd, rel=1e-4)


def test_distiller_scores_generated_rationales_with_generation_logprobs(student, tiny_model, tmp_path):
    d = Distiller(load_config(tiny_config(tiny_model)), RunFolder(tmp_path), student=student)
    ids = [e.id for e in d.pool[::40]]
    rows = d.score(1, ids)
    texts = [d.by_id[x].input for x in ids]
    gens = student.generate(texts)
    two = student.ifd(texts, [g.ids for g in gens], d.cfg.selection.ifd_variant)
    assert [r.response for r in rows] == [g.text for g in gens]
    assert [r.ifd for r in rows] == pytest.approx([s.ifd for s in two], rel=1e-4)
