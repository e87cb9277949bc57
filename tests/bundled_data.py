"""What the checks on the two bundled data sets (tests/test_demo_data.py, tests/test_wide_data.py) share: their
build script loaded as a module, their splits read, and the record schema every split keeps."""

import importlib.util
import json
from pathlib import Path

SPLITS = ("train", "test", "reserve", "val")


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read_splits(folder: Path) -> dict[str, list[dict]]:
    return {s: [json.loads(line) for line in (folder / f"{s}.jsonl").read_text("utf-8").splitlines()] for s in SPLITS}


def assert_schema(data: dict[str, list[dict]]) -> None:
    """Five string fields, stripped and non-empty, in this order; ids unique per split and named by domain and
    split."""
    for split, recs in data.items():
        for r in recs:
            assert list(r) == ["id", "domain", "input", "answer", "rationale"]
            assert all(isinstance(v, str) and v == v.strip() and v for v in r.values())
            assert r["id"].startswith(f"{r['domain']}-{split}-")
        assert len({r["id"] for r in recs}) == len(recs)
