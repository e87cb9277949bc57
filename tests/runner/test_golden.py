"""Golden runs: today's behaviour, frozen. Every method on the tiny model with the reference teacher, a run
with the less common options, and a run against the fake OpenAI-compatible server are compared file by
file (everything under stages/, predictions.jsonl, metrics.json) with copies recorded in tests/golden/.

Left out of the comparison, and only these: timing fields, package versions and paths (the adapter's model
card, its base-model path) and the results schema version. Floats compare to 1e-6 relative (a different
summation order is not a change of behaviour); adapter weights compare through per-tensor statistics on the
tensor's own scale (another CPU's BLAS kernels round differently; see ``assert_same_weights``).

A change that alters these files on purpose re-records them in a commit of its own that says why:
    BALDISTILL_RECORD_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from conftest import tiny_config
from goldens import RECORD, assert_same

from baldistill import load_config, run

GOLDEN = Path(__file__).parent / "golden"
IGNORED_KEYS = {"wall_seconds", "phase_seconds", "schema_version", "base_model_name_or_path", "revision"}
IGNORED_FILES = {"README.md", "env.json"}
KEY = "sk-golden-0000"


def _synthesis_reply(body: dict) -> str:
    """The fake server's teacher: rationales with the gold answer; a synthetic example per domain."""
    from baldistill_testing.fake_openai import default_reply

    text = "\n".join(str(m.get("content")) for m in body.get("messages") or [])
    m = re.search(r'examples from the domain "([^"]+)"', text)
    if not m:
        return default_reply(body)
    return f"Input: A new question for {m.group(1)}?\nReasoning: Think it through.\nAnswer: 7"


def tensor_digest(path: Path) -> dict:
    from safetensors.torch import load_file

    out = {}
    for name, t in sorted(load_file(str(path)).items()):
        x = t.double()
        out[name] = {
            "shape": list(t.shape),
            "dtype": str(t.dtype),
            "sum": float(x.sum()),
            "sumsq": float((x * x).sum()),
            "first": [float(v) for v in x.flatten()[:4]],
        }
    return out


def _strip(x):
    if isinstance(x, dict):  # peft writes target_modules from a set: its order means nothing
        return {
            k: sorted(v) if k == "target_modules" and isinstance(v, list) else _strip(v)
            for k, v in x.items()
            if k not in IGNORED_KEYS
        }
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def snapshot(folder: Path) -> dict:
    """What the golden copy holds of a run folder: {relative path: normalised content}."""
    files = [folder / "metrics.json", folder / "predictions.jsonl", *sorted((folder / "stages").rglob("*"))]
    out = {}
    for p in files:
        if not p.is_file() or p.name in IGNORED_FILES:
            continue
        rel = p.relative_to(folder).as_posix()
        if p.suffix == ".json":
            out[rel] = _strip(json.loads(p.read_text(encoding="utf-8")))
        elif p.suffix == ".jsonl":
            out[rel] = _strip([json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()])
        elif p.suffix == ".safetensors":
            out[rel] = tensor_digest(p)
        else:
            out[rel] = p.read_text(encoding="utf-8")
    return out


def assert_same_weights(got: dict, want: dict, where: str) -> None:
    """Trained weights carry the rounding of the machine's BLAS kernels (seen between two 2-core x86 CPUs: 1e-6
    relative after one stage, 1e-4 on a near-zero sum after three), so they compare on the tensor's own scale:
    each recorded value within 1e-3 of the tensor's RMS (the sum within that times sqrt(n)), the sum of squares
    within 1e-3 relative. Another selection, seed or training set moves them by about the RMS itself."""
    assert sorted(got) == sorted(want), f"{where}: tensors differ"
    for name, w in want.items():
        g, at = got[name], f"{where}/{name}"
        assert g["shape"] == w["shape"] and g["dtype"] == w["dtype"], at
        n = math.prod(w["shape"])
        rms = math.sqrt(w["sumsq"] / n)
        assert math.isclose(g["sumsq"], w["sumsq"], rel_tol=1e-3, abs_tol=1e-12), (
            f"{at}/sumsq: {g['sumsq']} != {w['sumsq']}"
        )
        assert abs(g["sum"] - w["sum"]) <= 1e-3 * rms * math.sqrt(n) + 1e-12, f"{at}/sum: {g['sum']} != {w['sum']}"
        for i, (a, b) in enumerate(zip(g["first"], w["first"], strict=True)):
            assert abs(a - b) <= 1e-3 * rms + 1e-12, f"{at}/first[{i}]: {a} != {b}"


def check(name: str, folder: Path) -> None:
    path = GOLDEN / f"{name}.json"
    got = json.loads(json.dumps(snapshot(folder)))  # the same types as the recorded copy
    if RECORD:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    assert path.exists(), f"no golden copy {path}: record it with BALDISTILL_RECORD_GOLDEN=1"
    want = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(want), f"{name}: files {sorted(set(got) ^ set(want))} differ"
    for rel in want:
        (assert_same_weights if rel.endswith(".safetensors") else assert_same)(got[rel], want[rel], f"{name}:{rel}")


def test_every_method_matches_its_golden_copy(method_runs):
    for name, (folder, _) in method_runs.items():
        check(name, folder)


def test_less_common_options_match_the_golden_copy(tiny_model_plain, tmp_path):
    cfg = load_config(
        tiny_config(tiny_model_plain, budget=30, stages=2),
        [
            "student.train.fresh_adapter_each_stage=false",
            "selection.response=reference",
            "selection.drop_ifd_ge_1=true",
            "selection.ifd_variant=loss_ratio",
            "teacher.synthesis_noise=0.5",
        ],
    )
    run(cfg, tmp_path / "opts")
    check("options", tmp_path / "opts")


def test_a_run_against_the_fake_server_matches_the_golden_copy(tiny_model, tmp_path, monkeypatch):
    from baldistill_testing.fake_openai import FakeOpenAIServer

    monkeypatch.setenv("BD_GOLDEN_KEY", KEY)
    with FakeOpenAIServer(api_key=KEY, reply=_synthesis_reply) as s:
        cfg = tiny_config(tiny_model, method="baldistill-n", budget=24, stages=2)
        cfg["teacher"] = {
            "kind": "openai",
            "model": "fake-teacher",
            "base_url": s.base_url,
            "api_key_env": "BD_GOLDEN_KEY",
            "concurrency": 4,
            "timeout": 5,
            "backoff": 0.01,
        }
        run(load_config(cfg), tmp_path / "http")
    check("fake-server", tmp_path / "http")
