"""Export the distilled student as a Hugging Face folder (LoRA adapter, or merged weights)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..config import load_config
from ..student import Student
from .runfolder import RunFolderError


def export_student(run: Path, out: Path, merge: bool = False) -> Path:
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
    return out
