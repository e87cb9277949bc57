"""Checks on the committed demo dataset (src/baldistill/bundled/demo)."""

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from bundled_data import SPLITS, assert_schema, load_script, read_splits

ROOT = Path(__file__).parents[1]
DEMO = ROOT / "src/baldistill/bundled/demo"
SCRIPT = ROOT / "scripts/build_demo_data.py"


@pytest.fixture(scope="module")
def build():
    return load_script(SCRIPT)


@pytest.fixture(scope="module")
def data():
    return read_splits(DEMO)


def test_schema(data):
    assert_schema(data)


def test_domains_and_sizes(data, build):
    counts = {s: Counter(r["domain"] for r in recs) for s, recs in data.items()}
    assert len(build.DOMAINS) == 8
    for s in SPLITS:
        assert set(counts[s]) == set(build.DOMAINS)
    assert dict(counts["train"]) == build.POOL_SIZES
    assert list(build.POOL_SIZES.values()) == [300, 53, 19, 9, 5, 3, 2, 2]
    # test: the first TEST_SIZES items of each domain (the 201-item split of earlier builds), topped up to 50
    # where the generator has questions left: count_bits (n in 1..127) has none, lcm (1..12 squared) 12
    assert build.MIN_EVAL == 50
    assert dict(counts["test"]) == {d: max(n, 50) for d, n in build.TEST_SIZES.items()} | {"count_bits": 20, "lcm": 32}
    assert all(counts["reserve"][d] == 60 for d in build.DOMAINS)
    # val: 50 per domain where the generator has that many questions left after the other splits
    assert {d: min(n, 50) for d, n in counts["val"].items()} == {
        d: 38 if d == "count_bits" else 50 for d in build.DOMAINS
    }


# sha256 of the splits the larger test split must not touch (train and reserve as every earlier build
# wrote them; val as the build that added it)
UNCHANGED = {
    "train": "57e396fb1396af4c15514a86e8d26fb3e77adda0292660064d4147891884e52a",
    "reserve": "4d2c4483a67bfdae5b7f9cf42ffd16c986e3596ed0d099be6da52b080c473e6b",
    "val": "847420de9b77b3448de88982fdc44a153d5ca0d191cb0ab5d7a7c4a5b5472157",
}
OLD_TEST = ROOT / "tests/fixtures/demo_test_201.jsonl"


def test_train_reserve_and_val_are_byte_identical_to_earlier_builds():
    for split, digest in UNCHANGED.items():
        assert hashlib.sha256((DEMO / f"{split}.jsonl").read_bytes()).hexdigest() == digest, split


def test_earlier_test_items_lead_each_domain(data):
    """The 201 items of the earlier test split (kept as a fixture for the golden runs) are, unchanged, the
    first items of each domain's block; the added ones come from the stream after val."""
    old = [json.loads(line) for line in OLD_TEST.read_text("utf-8").splitlines()]
    assert len(old) == 201
    for d in {r["domain"] for r in old}:
        mine = [r for r in old if r["domain"] == d]
        assert [r for r in data["test"] if r["domain"] == d][: len(mine)] == mine, d


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
