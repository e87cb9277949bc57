import json

import pytest
from conftest import DEMO, tiny_config

from baldistill.config import ConfigError, load_config

SHIPPED = sorted((DEMO.parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert cfg.data.train.exists() and cfg.budget >= cfg.effective_stages


def test_overrides_and_relative_paths(tmp_path):
    (tmp_path / "d").mkdir()
    for s in ("train", "test"):
        (tmp_path / "d" / f"{s}.jsonl").write_text(json.dumps({"input": "x", "answer": "y", "domain": "z"}) + "\n")
    (tmp_path / "c.yaml").write_text("budget: 10\nstages: 2\ndata: {train: d/train.jsonl, test: d/test.jsonl}\n")
    cfg = load_config(tmp_path / "c.yaml", ["budget=20", "student.train.lr=0.01", "method=baldistill-n"])
    assert cfg.budget == 20 and cfg.student.train.lr == 0.01 and cfg.method == "baldistill-n"
    assert cfg.data.train == (tmp_path / "d/train.jsonl").resolve()


@pytest.mark.parametrize(
    "over,needle",
    [
        (["budget=0"], "budget"),
        (["stages=5", "budget=3"], "at least the number of stages"),
        (["method=magic"], "method"),
        (["student.lora.rank=8"], "student.lora.rank: unknown field"),
        (["teacher.synthesis_noise=1.5"], "teacher.synthesis_noise"),
        (["budget"], "expected key=value"),
    ],
)
def test_bad_configs_give_one_line_messages(tiny_model, over, needle):
    with pytest.raises(ConfigError) as e:
        load_config(tiny_config(tiny_model), over)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_config_loads_without_its_data_files_and_the_preflight_reports_them(tiny_model):
    """A finished run folder is read (reported, exported) without its data files; a run checks them first."""
    from baldistill.runner.preflight import preflight

    cfg = load_config(tiny_config(tiny_model), ["data.train=/nope.jsonl", "data.val=/nope-val.jsonl"])
    assert str(cfg.data.train) == "/nope.jsonl"
    pf = preflight(cfg, probe=False, student=False)
    assert [f.line() for f in pf.errors] == ["data.train: file not found: /nope.jsonl"]
    with pytest.raises(ConfigError, match=r"^data.train: file not found: /nope.jsonl$"):
        pf.raise_first()


def test_synthesis_noise_per_kind_a_scalar_and_verification_settings(tmp_path):
    from baldistill.config import NOISE_KINDS

    cfg = load_config(tiny_config("m", **{"teacher.synthesis_noise": 0.2}))
    assert cfg.teacher.synthesis_noise.rates() == {k: pytest.approx(0.05) for k in NOISE_KINDS}
    # a kind can be set on top of a scalar in the file (the scalar is written out per kind first)
    cfg = load_config(
        tiny_config("m", **{"teacher.synthesis_noise": 0.2}), ["teacher.synthesis_noise.wrong_answer=0.3"]
    )
    assert cfg.teacher.synthesis_noise.wrong_answer == 0.3 and cfg.teacher.synthesis_noise.malformed == pytest.approx(
        0.05
    )
    for bad, field in [
        (["teacher.synthesis_noise.wrong_answer=0.7", "teacher.synthesis_noise.malformed=0.5"], "add up to 1.2"),
        (["teacher.synthesis_noise.typo=0.1"], "teacher.synthesis_noise.typo"),
        (["teacher.verify.samples=3"], "teacher.verify.temperature > 0"),
        (["teacher.verify.samples=-1"], "teacher.verify.samples"),
        (["teacher.verifier.reject_wrong=1.5"], "teacher.verifier.reject_wrong"),
    ]:
        with pytest.raises(ConfigError) as e:
            load_config(tiny_config("m"), bad)
        assert field in str(e.value) and "\n" not in str(e.value), (bad, str(e.value))
    cfg = load_config(tiny_config("m"), ["teacher.verify.samples=3", "teacher.verify.temperature=0.7"])
    assert cfg.teacher.verify.samples == 3
