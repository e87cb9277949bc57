"""Golden copies shared by the golden tests: recorded with BALDISTILL_RECORD_GOLDEN=1, compared otherwise."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

RECORD = os.environ.get("BALDISTILL_RECORD_GOLDEN") == "1"


def assert_same(got, want, where: str = "") -> None:
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and isinstance(want, (int, float)), f"{where}: {got!r} != {want!r}"
        if math.isnan(want):
            assert math.isnan(got), f"{where}: {got!r} != NaN"
        else:
            assert math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9), f"{where}: {got!r} != {want!r}"
    elif isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: not a mapping"
        assert sorted(got) == sorted(want), f"{where}: keys {sorted(set(got) ^ set(want))} differ"
        for k in want:
            assert_same(got[k], want[k], f"{where}/{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        for i, (a, b) in enumerate(zip(got, want)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def check_text(path: Path, got: str) -> None:
    """``got`` equals the text recorded at ``path`` (the first differing line is shown)."""
    if RECORD:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
        return
    assert path.exists(), f"no golden copy {path}: record it with BALDISTILL_RECORD_GOLDEN=1"
    want = path.read_text(encoding="utf-8")
    assert got == want, f"{path.name} differs from its golden copy:\n{_first_difference(got, want)}"


def _first_difference(got: str, want: str) -> str:
    for i, (a, b) in enumerate(zip(got.splitlines(), want.splitlines())):
        if a != b:
            return f"line {i + 1}:\n got: {a}\nwant: {b}"
    return f"lengths differ: {len(got.splitlines())} lines against {len(want.splitlines())}"


def check_json(path: Path, got) -> None:
    """``got`` equals the JSON recorded at ``path`` (floats to 1e-6 relative, ``assert_same``)."""
    if RECORD:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    assert path.exists(), f"no golden copy {path}: record it with BALDISTILL_RECORD_GOLDEN=1"
    assert_same(got, json.loads(path.read_text(encoding="utf-8")), path.name)


def html_text(page: str) -> str:
    """report.html without the inlined plot images (their pixels depend on matplotlib's version)."""
    import re

    return re.sub(r'src="data:image/png;base64,[^"]*"', 'src="data:image/png;base64,..."', page)
