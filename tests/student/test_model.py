import pytest

from baldistill.config import StudentConfig
from baldistill.student import Student
from baldistill_testing.reference import hf_generate


@pytest.fixture(scope="module")
def student(tiny_model):
    return Student(StudentConfig(model=str(tiny_model), threads=2), instruction="Solve it.")


def test_spans_follow_the_chat_template(student):
    f = student.train_features("2 + 2?", "2 + 2 = 4. The answer is 4.")
    p = student.prompt_ids("2 + 2?")
    assert f["input_ids"][: len(p)] == p and all(x == -100 for x in f["labels"][: len(p)])
    response = student.tokenizer.decode(f["input_ids"][len(p) :])
    assert response == "2 + 2 = 4. The answer is 4.<|im_end|>\n"
    assert student.tokenizer.decode(p).endswith("<|im_start|>assistant\n")


def test_plain_model_prompt(tiny_model_plain):
    s = Student(StudentConfig(model=str(tiny_model_plain), threads=2))
    assert s.prompt_text("q").startswith("<s>") and s.completion_text("q", "r") == "r</s>"


def test_batched_generation_equals_one_by_one(student):
    texts = ["2 + 2?", "Reverse this list of words: a, b, c", "gcd of 12 and 18 please, thank you"]
    batched = student.generate(texts)
    single = [student.generate([t])[0] for t in texts]
    assert [g.ids for g in batched] == [g.ids for g in single]
    assert all(student.tokenizer.eos_token_id not in g.ids for g in batched)


def test_training_lowers_the_loss_and_adapters_round_trip(student, tmp_path):
    pairs = [("2 + 2?", "The answer is 4.")] * 8
    student.new_adapter(0)
    stats = student.fit(pairs, seed=0)
    assert stats["losses"][-1] < stats["losses"][0]
    student.save_adapter(tmp_path / "a")
    assert (tmp_path / "a/adapter_model.safetensors").exists()
    before = student.generate(["2 + 2?"])[0].ids
    student.new_adapter(1)  # a fresh adapter replaces the old one
    student.load_adapter(tmp_path / "a")
    assert student.generate(["2 + 2?"])[0].ids == before


def test_early_exit_generation_equals_hf_generate(student):
    """Rows that end leave their batch; tokens and log-probs are those of HF generate, which keeps computing
    finished rows. Frequent tokens are made end-of-sequence tokens so that rows end at different steps."""
    from collections import Counter

    texts = [
        "2 + 2?",
        "Reverse this list of words: a, b, c",
        "gcd of 12 and 18 please, thank you",
        "7 * 8 = ?",
        "How many 1 bits are in 23?",
        "lcm(4, 6)?",
    ]
    first = student.generate(texts, max_new_tokens=12)
    # tokens that no row starts with, the most frequent first: as end-of-sequence tokens they end rows mid-way
    late = Counter(t for g in first for t in set(g.ids) if all(x.ids.index(t) >= 2 for x in first if t in x.ids))
    common = [t for t, _ in late.most_common(2)]
    saved = student.eos_ids
    try:
        student.eos_ids = sorted(set(saved) | set(common))
        got = student.generate(texts, logprobs=True, max_new_tokens=12)
        want = hf_generate(student, texts, 12)
    finally:
        student.eos_ids = saved
    lengths = [len(g.ids) for g in got]
    assert len(set(lengths)) > 1 and min(lengths) < 12  # rows ended at different steps
    assert [g.ids for g in got] == [w[0] for w in want]
    for g, (_, lp) in zip(got, want):
        assert g.logprobs == pytest.approx(lp, abs=1e-5)
