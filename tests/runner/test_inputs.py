"""The data a run uses: repeats dropped (data.dedupe), test overlap handled (data.test_overlap), and the
problems pre-flight reports for data that loads but cannot serve the config."""

import json

import pytest
from conftest import DEMO, tiny_config

from baldistill import load_config
from baldistill.data import DataError
from baldistill.runner.inputs import Inputs


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def rows(n, domain="d", start=0, **kw):
    return [
        {"id": f"{domain}{i}", "domain": domain, "input": f"What is {i} + {i}?", "answer": str(2 * i), **kw}
        for i in range(start, start + n)
    ]


def cfg_for(tmp_path, pool, test, reserve=None, **over):
    c = tiny_config("unused", **over)
    c["data"].update(train=str(write(tmp_path / "train.jsonl", pool)), test=str(write(tmp_path / "test.jsonl", test)))
    c["data"]["reserve"] = str(write(tmp_path / "reserve.jsonl", reserve)) if reserve else None
    return load_config(c)


def test_repeats_are_dropped_by_default_and_reported(tmp_path):
    repeats = [dict(r, id=f"r{r['id']}") for r in rows(3)]
    pool = rows(5) + repeats + [dict(r, id=f"x{r['id']}", domain="e") for r in rows(2)]  # 3 repeats; 2 in domain e
    inputs = Inputs.load(cfg_for(tmp_path, pool, rows(2, start=50)))
    assert len(inputs.pool) == 7 and inputs.report.repeats == {"d": 3} and inputs.report.repeats_dropped
    assert [e.id for e in inputs.pool] == ["d0", "d1", "d2", "d3", "d4", "xd0", "xd1"]  # the first of each is kept
    kept = Inputs.load(cfg_for(tmp_path, pool, rows(2, start=50), **{"data.dedupe": False}))
    assert len(kept.pool) == 10 and not kept.report.repeats_dropped
    assert kept.report.to_json()["pool_rows"] == 10


def test_test_overlap_is_an_error_by_default_then_dropped_or_allowed(tmp_path):
    pool, test = rows(6), rows(2, start=4, domain="d")  # d4 and d5 are also test inputs
    reserve = rows(3, start=5)  # d5 again
    with pytest.raises(DataError, match=r"train.jsonl:5: input also in the test file .*\(2 pool and 1 reserve"):
        Inputs.load(cfg_for(tmp_path, pool, test, reserve))
    dropped = Inputs.load(cfg_for(tmp_path, pool, test, reserve, **{"data.test_overlap": "drop"}))
    assert [e.id for e in dropped.pool] == ["d0", "d1", "d2", "d3"] and [e.id for e in dropped.reserve] == ["d6", "d7"]
    assert dropped.report.overlap == {"pool/test": 2, "reserve/test": 1, "pool/reserve": 1}
    allowed = Inputs.load(cfg_for(tmp_path, pool, test, reserve, **{"data.test_overlap": "allow"}))
    assert len(allowed.pool) == 6 and len(allowed.reserve) == 3


def test_problems_and_warnings_for_data_that_loads(tmp_path):
    pool = rows(20) + rows(2, domain="t")
    test = rows(2, start=30) + rows(1, start=30, domain="t") + rows(1, start=30, domain="new")
    cfg = cfg_for(tmp_path, pool, test, rows(1, start=40, domain="t"), budget=40, stages=2)
    inputs = Inputs.load(cfg)
    probs = dict(inputs.problems(cfg))
    assert "test domain(s) 'new' not in the training pool" in probs[str(cfg.data.test)]
    warn = dict(inputs.warnings(cfg))  # t needs synthesis beyond its 1 reserve example
    assert "t (needs" in warn["data.reserve"] and "records the shortfall" in warn["data.reserve"]
    big = load_config({**cfg.model_dump(mode="json"), "method": "random-ft-cot", "budget": 30})
    assert "larger than the pool (22 examples)" in dict(inputs.problems(big))["budget"]


def test_the_demo_data_is_clean():
    cfg = load_config(tiny_config("unused"))
    inputs = Inputs.load(cfg)
    assert inputs.report.n_repeats == 0 and inputs.report.overlap == {
        "pool/test": 0,
        "reserve/test": 0,
        "pool/reserve": 0,
    }
    assert len(inputs.pool) == len((DEMO / "train.jsonl").read_text().splitlines())
    assert inputs.problems(cfg) == [] and inputs.warnings(cfg) == []
