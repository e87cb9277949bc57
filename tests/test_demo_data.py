"""Checks on the committed demo dataset (src/baldistill/bundled/demo)."""

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DEMO = ROOT / "src/baldistill/bundled/demo"
SCRIPT = ROOT / "scripts/build_demo_data.py"
SPLITS = ("train", "test", "reserve", "val")


def _load_script():
    spec = importlib.util.spec_from_file_location("build_demo_data", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def build():
    return _load_script()


@pytest.fixture(scope="module")
def data():
    return {s: [json.loads(line) for line in (DEMO / f"{s}.jsonl").read_text("utf-8").splitlines()] for s in SPLITS}


def test_schema(data):
    for split, recs in data.items():
        for r in recs:
            assert list(r) == ["id", "domain", "input", "answer", "rationale"]
            assert all(isinstance(v, str) and v == v.strip() and v for v in r.values())
            assert r["id"].startswith(f"{r['domain']}-{split}-")
        assert len({r["id"] for r in recs}) == len(recs)


def test_domains_and_sizes(data, build):
    counts = {s: Counter(r["domain"] for r in recs) for s, recs in data.items()}
    assert len(build.DOMAINS) == 8
    for s in SPLITS:
        assert set(counts[s]) == set(build.DOMAINS)
    assert dict(counts["train"]) == build.POOL_SIZES
    assert list(build.POOL_SIZES.values()) == [300, 53, 19, 9, 5, 3, 2, 2]
    assert all(counts["test"][d] >= 20 for d in build.DOMAINS)
    assert dict(counts["test"]) == build.TEST_SIZES
    assert all(counts["reserve"][d] == 60 for d in build.DOMAINS)
    # val: 50 per domain where the generator has that many questions left after the other splits
    assert {d: min(n, 50) for d, n in counts["val"].items()} == {d: 38 if d == "count_bits" else 50 for d in build.DOMAINS}


def test_disjoint_by_input(data):
    inputs = [r["input"] for recs in data.values() for r in recs]
    assert len(inputs) == len(set(inputs))


def test_rationale_ends_with_answer(data):
    for recs in data.values():
        for r in recs:
            assert r["rationale"].endswith(f"The answer is {r['answer']}."), r


def test_rebuild_is_byte_identical(build, tmp_path):
    pytest.importorskip("reasoning_gym")
    build.main(["--seed", "0", "--out", str(tmp_path)])
    for s in SPLITS:
        assert (tmp_path / f"{s}.jsonl").read_bytes() == (DEMO / f"{s}.jsonl").read_bytes(), s
