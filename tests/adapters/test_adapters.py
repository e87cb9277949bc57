"""Dataset adapters on tiny hand-written fixtures in each dataset's original format (nothing downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baldistill.adapters import load, prepare, zipf_counts, zipf_resample
from baldistill.adapters.math import last_boxed
from baldistill.cli import app
from baldistill.config import load_config
from baldistill.data import DataError, Example, load_examples

FIX = Path(__file__).parent / "fixtures" / "datasets"


def _by_id(exs):
    return {e.id: e for e in exs}


def test_reuters_modapte_categories_and_text():
    a = load("reuters", FIX / "reuters", multi_label="first")
    assert (a.task, a.metric) == ("classification", "accuracy")
    train, test = _by_id(a.train), _by_id(a.test)
    # NEWID 4 (TOPICS="NO"), 5 (no topic), 14828 (NOT-USED), 14829 (grain: only in test) are not used
    assert sorted(train) == ["reuters-1", "reuters-2", "reuters-3"]
    assert sorted(test) == ["reuters-14826", "reuters-14827", "reuters-14830"]
    e = train["reuters-1"]
    assert e.domain == e.answer == "earn"
    assert e.input.startswith("CHAMPION PRODUCTS <CH> APPROVES STOCK SPLIT Champion Products Inc said its board")
    assert "shares & raised" in e.input and "café" in e.input and "\n" not in e.input and "ROCHESTER" not in e.input
    assert train["reuters-2"].input == "COMPUTER TERMINAL SYSTEMS <CPML> BUYS UNIT"  # no BODY
    assert train["reuters-3"].answer == "acq"  # cocoa is listed first but has no test document
    assert test["reuters-14827"].answer == "acq"  # first listed topic among the categories
    assert test["reuters-14830"].input == "QTLY DIV 12 CTS VS 10 CTS PAY APRIL 30"  # TYPE="UNPROC"


def test_reuters_pairs_keep_every_category():
    a = load("reuters", FIX / "reuters")  # the paper's counting is the default
    assert {e.id for e in a.test} == {
        "reuters-14826-earn",
        "reuters-14827-acq",
        "reuters-14827-earn",
        "reuters-14830-earn",
    }


def test_r52():
    a = load("r52", FIX / "r52")
    assert a.task == "classification" and len(a.train) == 4 and len(a.test) == 3
    assert {e.domain for e in a.train} == {"earn", "acq", "crude"}
    assert a.train[-1].input == "opec output rises oil output rose in february" and a.train[-1].answer == "crude"


def test_unifiedqa_mcqa_absqa_and_mixed():
    mc = load("unifiedqa", FIX / "unifiedqa", domains="arc_easy,openbookqa")
    assert (mc.task, mc.metric) == ("qa", "accuracy") and len(mc.train) == 3 and len(mc.test) == 2
    first = mc.train[0]
    assert first.domain == "arc_easy" and first.answer == "wind"
    assert first.input == "which is a renewable resource?\n(a) coal (b) wind (c) oil (d) natural gas"
    ab = load("unifiedqa", FIX / "unifiedqa", domains=["narrativeqa"])
    assert ab.metric == "token_f1" and ab.test[0].answer == "the dragon"
    assert "in a tower by a dragon" in ab.train[1].input
    with pytest.raises(DataError, match="multiple-choice folders .*arc_easy.* abstractive ones .*narrativeqa"):
        load("unifiedqa", FIX / "unifiedqa")
    assert load("unifiedqa", FIX / "unifiedqa", kind="absqa").metric == "token_f1"


def test_math_reads_boxed_answers():
    a = load("math", FIX / "math")
    train = _by_id(a.train)
    assert a.zipf_alpha == 1.1 and len(a.train) == 5 and len(a.test) == 3
    assert train["math-train/algebra/2"].answer == "\\frac{1}{2}"  # the last \boxed
    assert train["math-train/algebra/10"].answer == "2"
    assert train["math-train/counting_and_probability/5"].domain == "Counting & Probability"
    assert train["math-train/counting_and_probability/5"].answer == "4"
    assert train["math-train/precalculus/7"].meta == {"level": "Level 2"}


@pytest.mark.parametrize(
    "solution, answer",
    [
        ("so $\\boxed{2}$", "2"),
        ("$\\boxed{\\frac{1}{\\sqrt{2}}}$.", "\\frac{1}{\\sqrt{2}}"),
        ("first \\boxed{1}, finally \\boxed{ \\{a, b\\} }", "\\{a, b\\}"),
        ("escaped \\boxed{\\}}", "\\}"),
        ("$\\boxed 5$ and more", "5"),
        ("\\fbox{7} after \\boxed{6}", "6"),
        ("\\boxed{6} after \\fbox{7}", "7"),
        ("\\boxed{x^{2", None),
        ("no answer here", None),
    ],
)
def test_last_boxed(solution, answer):
    assert last_boxed(solution) == answer


def _pool(sizes: dict[str, int]) -> list[Example]:
    return [Example(f"{d}-{i}", d, f"q {d} {i}", "a") for d, n in sizes.items() for i in range(n)]


def test_zipf_counts_follow_the_law():
    sizes = {
        "Algebra": 1744,
        "Intermediate Algebra": 1295,
        "Prealgebra": 1205,
        "Geometry": 870,  # MATH train
        "Number Theory": 869,
        "Counting & Probability": 771,
        "Precalculus": 746,
    }
    got = zipf_counts(sizes, 1.1)
    assert got == {d: round(1744 / k**1.1) for k, d in enumerate(sizes, start=1)}
    assert list(got.values()) == [1744, 814, 521, 380, 297, 243, 205]
    assert zipf_counts(sizes, 1.1, max_per_domain=500)["Intermediate Algebra"] == 233
    assert zipf_counts({"a": 100, "b": 3}, 0.5) == {"a": 100, "b": 3}  # never more than a domain has
    assert zipf_counts({"a": 10, "b": 10, "c": 1}, 3.0) == {"a": 10, "b": 1, "c": 1}  # ties by name, at least 1


def test_zipf_resample_is_seeded_and_keeps_order():
    pool = _pool({"a": 50, "b": 40, "c": 30})
    out = zipf_resample(pool, 1.1, seed=3)
    counts = {d: sum(e.domain == d for e in out) for d in "abc"}
    assert counts == {"a": 50, "b": 23, "c": 15}
    assert out == [e for e in pool if e in out]
    assert [e.id for e in zipf_resample(pool, 1.1, seed=3)] == [e.id for e in out]
    assert [e.id for e in zipf_resample(pool, 1.1, seed=4)] != [e.id for e in out]


def test_hf_local_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")

    feats = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"text": ["bad film", "great film", "fine"], "label": [0, 1, 1]}, features=feats
            ),
            "validation": datasets.Dataset.from_dict({"text": ["awful", "lovely"], "label": [0, 1]}, features=feats),
        }
    )
    dd.save_to_disk(str(tmp_path / "ds"))
    a = load(
        "hf",
        str(tmp_path / "ds"),
        splits="train,validation",
        input_field="text",
        answer_field="label",
        domain_field="label",
    )
    assert a.task == "classification" and [e.answer for e in a.train] == ["neg", "pos", "pos"]
    assert a.test[1].domain == "pos" and a.test[1].input == "lovely"

    rows = [{"q": "2+2?", "a": 4, "topic": "math"}, {"q": "capital of France?", "a": "Paris", "topic": "geo"}]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    b = load(
        "hf", str(tmp_path / "qa.jsonl"), splits="train,train", input_field="q", answer_field="a", domain_field="topic"
    )
    assert b.task == "qa" and b.train[0].answer == "4" and b.train[1].domain == "geo"
    with pytest.raises(DataError, match=r"no field 'question' \(input\); fields: .*; use --input-field"):
        load("hf", str(tmp_path / "qa.jsonl"), splits="train,train", input_field="question")


def test_prepare_writes_loadable_files(tmp_path):
    stats = prepare("math", FIX / "math", tmp_path / "m", stages=3, seed=1)
    assert stats["domains"] == {
        "Algebra": {"train": 3, "test": 1},
        "Counting & Probability": {"train": 1, "test": 1},
        "Precalculus": {"train": 1, "test": 1},
    }
    assert stats["budget"] == 900 and stats["zipf_alpha"] == 1.1
    cfg = load_config(tmp_path / "m" / "config.yaml")
    assert (cfg.method, cfg.stages, cfg.budget, cfg.data.task, cfg.data.metric) == (
        "baldistill-n",
        3,
        900,
        "qa",
        "accuracy",
    )
    assert len(load_examples(cfg.data.train)) == 5 and len(load_examples(cfg.data.test, split="test")) == 3
    assert "train: train.jsonl" in (tmp_path / "m" / "config.yaml").read_text()
    with pytest.raises(DataError, match="already holds"):
        prepare("math", FIX / "math", tmp_path / "m")

    s = prepare("reuters", FIX / "reuters", tmp_path / "r", budget=20, max_test=2)
    cfg = load_config(tmp_path / "r" / "config.yaml")
    assert cfg.data.task == "classification" and cfg.budget == 20 and s["test"] == 2


def test_prepare_drops_test_only_domains(tmp_path):
    s = prepare("unifiedqa", FIX / "unifiedqa", tmp_path / "u", kind="mcqa", zipf_alpha=1.0, max_train=2)
    assert s["train"] == 2 and s["zipf_alpha"] == 1.0
    assert s["test"] + s["dropped_test"] == 3
    assert set(s["domains"]) == {e.domain for e in load_examples(tmp_path / "u" / "train.jsonl")}


def test_cli_prepare(tmp_path):
    r = CliRunner().invoke(
        app, ["prepare", "r52", str(FIX / "r52"), "--out", str(tmp_path / "o"), "--budget", "6", "--stages", "3"]
    )
    assert r.exit_code == 0, r.output
    assert (
        "earn" in r.output
        and "crude" in r.output
        and "head" in r.output
        and "tail" in r.output
        and "config.yaml" in r.output
    )
    assert load_config(tmp_path / "o" / "config.yaml").budget == 6
    r = CliRunner().invoke(
        app, ["prepare", "unifiedqa", str(FIX / "unifiedqa"), "--out", str(tmp_path / "q"), "--domains", "narrativeqa"]
    )
    assert r.exit_code == 0, r.output
    assert load_config(tmp_path / "q" / "config.yaml").data.metric == "token_f1"


def _one_line_error(args: list[str]) -> str:
    r = CliRunner().invoke(app, ["prepare", *args])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error:") and r.output.strip().count("\n") == 0, r.output
    return r.output


@pytest.mark.parametrize(
    "make, args, message",
    [
        (None, ["reuters", "{tmp}/nope"], "folder not found"),
        ("empty", ["reuters", "{tmp}/d"], "no reut2-*.sgm files"),
        ("r52_bad", ["r52", "{tmp}/d"], "r52-train-all-terms.txt:2: expected 'label<TAB>text'"),
        ("qa_bad", ["unifiedqa", "{tmp}/d"], "train.tsv:1: expected 'input<TAB>output'"),
        ("math_bad", ["math", "{tmp}/d"], "1.json: missing or empty field 'solution'"),
        (None, ["csv", "{tmp}"], "unknown format 'csv'"),
        (
            None,
            ["r52", str(FIX / "r52"), "--zipf-alpha", "1", "--domains", "x"],
            "option domains does not apply to format r52",
        ),
    ],
)
def test_bad_input_is_one_line(tmp_path, make, args, message):
    d = tmp_path / "d"
    if make:
        d.mkdir()
    if make == "r52_bad":
        (d / "r52-train-all-terms.txt").write_text("earn\tok text\nno tab on this line\n")
        (d / "r52-test-all-terms.txt").write_text("earn\tok\n")
    elif make == "qa_bad":
        (d / "arc").mkdir()
        (d / "arc" / "train.tsv").write_text("a question without an answer\n")
    elif make == "math_bad":
        (d / "train" / "algebra").mkdir(parents=True)
        (d / "train" / "algebra" / "1.json").write_text(json.dumps({"problem": "1+1?", "type": "Algebra"}))
    args = [a.format(tmp=tmp_path) for a in args] + ["--out", str(tmp_path / "out")]
    assert message in _one_line_error(args)
