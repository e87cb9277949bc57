"""The run folder: everything a run writes, in files a person can read."""

from __future__ import annotations

import json
import logging
import math
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from . import dist
from .data import write_jsonl


class RunFolderError(ValueError):
    pass


def _clean(x):
    """JSON has no NaN: write null instead."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def create(cls, path: Path, resume: bool = False) -> "RunFolder":
        path = Path(path)
        if not dist.is_main():  # the main process checks and creates the folder
            return cls(path)
        if path.exists() and any(path.iterdir()) and not resume:
            raise RunFolderError(f"{path} exists and is not empty: choose another --out, or add --resume to continue it")
        if resume and not (path / "config.yaml").exists():
            raise RunFolderError(f"{path} holds no run to resume (no config.yaml)")
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def write_json(self, rel: str, obj) -> None:
        if not dist.is_main():
            return
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(_clean(obj), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(p)

    def read_json(self, rel: str):
        return json.loads((self.path / rel).read_text(encoding="utf-8"))

    def write_jsonl(self, rel: str, rows) -> None:
        if not dist.is_main():
            return
        write_jsonl(self.path / rel, [_clean(r) if isinstance(r, dict) else r for r in rows])

    def write_text(self, rel: str, text: str) -> None:
        if not dist.is_main():
            return
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")

    def completed_stages(self) -> list[int]:
        return sorted(int(p.parent.name) for p in self.path.glob("stages/*/done.json"))

    def attach_log(self) -> logging.Handler:
        if not dist.is_main():
            return logging.NullHandler()
        h = logging.FileHandler(self.path / "run.log", encoding="utf-8")
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("baldistill").addHandler(h)
        return h


def environment() -> dict:
    pkgs = {}
    for name in ("baldistill", "torch", "transformers", "peft", "accelerate", "tokenizers", "pydantic", "numpy"):
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pkgs[name] = None
    try:
        git = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        git = None
    import torch

    device = "cuda:" + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {"python": platform.python_version(), "platform": platform.platform(), "packages": pkgs, "git": git,
            "device": device, "torch_threads": torch.get_num_threads()}
