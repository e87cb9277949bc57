"""docs/config.md, the config reference, is generated from the pydantic models by scripts/config_docs.py: every
field has a description, the page is what the script renders now, and it names every field."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, Field

from baldistill.config import RunConfig

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "config.md"
SCRIPT = ROOT / "scripts" / "config_docs.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("config_docs", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def docs():
    return _load_script()


def test_every_field_has_a_description(docs):
    missing = docs.undescribed(RunConfig)
    assert not missing, f"config fields without a description=: {', '.join(missing)}"


def test_a_field_without_a_description_is_caught(docs):
    """The check above can fail: a field (and a section) without a description is named, dotted."""

    class Inner(BaseModel):
        told: int = Field(1, description="has one")
        untold: int = 2

    class Outer(BaseModel):
        a: str = Field("x", description="has one")
        b: bool = False
        inner: Inner = Inner()

    assert docs.undescribed(Outer) == ["b", "inner", "inner.untold"]


def test_the_page_is_up_to_date(docs):
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert current == docs.render(), "docs/config.md is out of date: run .venv/bin/python scripts/config_docs.py"


def test_the_page_names_every_field(docs):
    text = docs.render()
    keys = [key for key, _ in docs.walk(RunConfig)]
    assert len(keys) > 90
    absent = [k for k in keys if f"`{k}`" not in text]
    assert not absent, f"docs/config.md does not name: {', '.join(absent)}"


def test_the_page_lists_every_method(docs):
    from baldistill.core.methods import METHODS

    text = docs.render()
    assert all(f"- `{name}`" in text and m.summary in text for name, m in METHODS.items())


def test_the_tables_are_well_formed(docs):
    """Every table row has five cells (a | inside a cell is escaped)."""
    for line in docs.render().splitlines():
        if line.startswith("| `"):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) == 5, line


def test_rendering_of_types_defaults_and_constraints(docs):
    text = docs.render()
    assert "| `budget` | int | required | ≥ 1 |" in text
    assert "| `data.val` | path \\| null | `null` |  |" in text
    assert "| `data.fields` | map of str to str | `{}` |" in text
    assert "| `student.lora.dropout` | float | `0.0` | ≥ 0, < 1 |" in text
    assert "| `student.lora.target_modules` | list of str \\| str | `[q_proj, k_proj, v_proj, o_proj]` |" in text
    assert "| `data.task` | one of: qa, classification | `qa` |" in text
    assert "| `teacher.synthesis_noise.wrong_answer` | float | `0.0` | ≥ 0, ≤ 1 |" in text
    assert "## `teacher.synthesis_noise`" in text


def test_the_example_config_is_valid(docs):
    """The minimal config the page shows validates (its files need not exist for the model)."""
    example = re.search(r"```yaml\n(.*?)```", docs.render(), re.S).group(1)
    cfg = RunConfig.model_validate(yaml.safe_load(example))
    assert cfg.budget == 96 and cfg.method == "baldistill-n"


def test_check_mode(docs, tmp_path, monkeypatch, capsys):
    """--check exits 1 with one line when the page differs, 0 when it matches; it never writes."""
    page = tmp_path / "config.md"
    monkeypatch.setattr(docs, "DOC", page)
    page.write_text("stale\n", encoding="utf-8")
    assert docs.main(["--check"]) == 1
    assert capsys.readouterr().err.strip() == docs.STALE
    assert page.read_text(encoding="utf-8") == "stale\n"
    page.write_text(docs.render(), encoding="utf-8")
    assert docs.main(["--check"]) == 0
