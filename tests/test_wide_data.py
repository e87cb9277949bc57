"""Checks on the committed ``wide`` data set (src/baldistill/bundled/wide) and its config (configs/wide.yaml)."""

import json
import math
from collections import Counter
from pathlib import Path

import pytest
from bundled_data import SPLITS, assert_schema, load_script, read_splits
from typer.testing import CliRunner

from baldistill import load_config
from baldistill.core import plan, policies
from baldistill.core.answers import parse_answer
from baldistill.core.methods import METHODS

ROOT = Path(__file__).parents[1]
WIDE = ROOT / "src/baldistill/bundled/wide"
CONFIG = ROOT / "src/baldistill/configs/wide.yaml"
SCRIPT = ROOT / "scripts/build_wide_data.py"
DEMO_FAMILIES = {
    "products",
    "word_sequence_reversal",
    "gcd",
    "count_bits",
    "letter_counting",
    "simple_equations",
    "lcm",
    "family_relationships",
}


@pytest.fixture(scope="module")
def build():
    return load_script(SCRIPT)


@pytest.fixture(scope="module")
def data():
    return read_splits(WIDE)


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIG)


def test_schema(data):
    assert_schema(data)


def test_families_and_split_sizes(data, build):
    counts = {s: Counter(r["domain"] for r in recs) for s, recs in data.items()}
    assert list(counts["train"]) == build.DOMAINS  # head -> tail order
    assert len(build.DOMAINS) >= 12 and DEMO_FAMILIES <= set(build.DOMAINS)
    assert dict(counts["train"]) == build.POOL_SIZES
    for d in build.DOMAINS:
        assert {s: counts[s][d] for s in SPLITS} == build.split_sizes(d)
        assert counts["test"][d] >= 30 and counts["val"][d] >= 30 and counts["reserve"][d] == 60, d


def test_pool_is_zipf_shaped_with_large_heads_and_a_tail_of_1_to_10(cfg, build):
    pools = list(build.POOL_SIZES.values())
    assert pools == sorted(pools, reverse=True)
    assert sum(n >= 300 for n in pools) >= 3
    tail = policies.reporting_tail(build.POOL_SIZES, cfg.budget)
    assert tail and all(1 <= build.POOL_SIZES[d] <= 10 for d in tail)
    assert {d for d, n in build.POOL_SIZES.items() if n <= 10} == set(tail)


def test_splits_are_disjoint(data):
    inputs = [r["input"] for recs in data.values() for r in recs]
    assert len(inputs) == len(set(inputs))


def test_every_rationale_states_the_gold_answer(data):
    for recs in data.values():
        for r in recs:
            assert r["rationale"].endswith(f"The answer is {r['answer']}."), r
            assert parse_answer(r["rationale"]) == r["answer"], r


def test_rationale_answers_pass_reasoning_gyms_scorer(data, build):
    """Every item of every split, regenerated from the seed with its metadata: the answer its rationale states
    scores 1.0 with reasoning-gym's own scorer for that item."""
    pytest.importorskip("reasoning_gym")
    by_domain: dict[str, list[dict]] = {}
    for recs in data.values():
        for r in recs:
            by_domain.setdefault(r["domain"], []).append(r)
    for d, recs in by_domain.items():
        ds = build.open_dataset(d, 0)
        items = {rec["input"]: item for rec, item in build.stream_items(ds, d, limit=len(recs))}
        for r in recs:
            assert ds.score_answer(parse_answer(r["rationale"]), items[r["input"]]) == 1.0, r


def test_a_slice_rebuilt_from_the_seed_is_identical(data, build):
    """The largest head and the last three tail families, rebuilt alone from seed 0: the same records, in the
    same order, as shipped (a family's items depend on its name and the seed only); another seed differs."""
    pytest.importorskip("reasoning_gym")
    slice_ = [build.DOMAINS[0], *build.DOMAINS[-3:]]
    rebuilt = build.build(0, slice_)
    for s in SPLITS:
        assert rebuilt[s] == [r for r in data[s] if r["domain"] in slice_], s
    assert build.build(1, slice_[-1:])["test"] != [r for r in data["test"] if r["domain"] == slice_[-1]]


def test_rebuild_is_byte_identical(build, tmp_path):
    pytest.importorskip("reasoning_gym")
    build.main(["--seed", "0", "--out", str(tmp_path)])
    for s in SPLITS:
        assert (tmp_path / f"{s}.jsonl").read_bytes() == (WIDE / f"{s}.jsonl").read_bytes(), s


def _takes_with_candidates(method: str, cfg, pools):
    """(stage, domain, take, candidates) of every take the selector makes by IFD (stages >= 1, stage heads)."""
    for p in plan.plan_run(METHODS[method], pools, cfg.budget, cfg.stages)[1:]:
        for d in p.head:
            if p.take[d]:
                yield p.stage, d, p.take[d], min(p.remaining[d], math.ceil(cfg.selection.candidate_factor * p.take[d]))


def test_config_budget_leaves_four_candidates_per_head_example(cfg, build):
    """The shipped budget: with the default method (naive balancing) every take IFD selects, at stages 2 and 3,
    is from a head domain and has candidate_factor (4) candidates per example; with every other method that
    selects among candidates per domain (by IFD or by the student's errors), as planned before the run, every
    head domain's take has them too."""
    assert cfg.data.train == (WIDE / "train.jsonl").resolve() and cfg.teacher.kind == "reference"
    assert cfg.method == "baldistill-n" and cfg.selection.candidate_factor == 4 and cfg.stages == 3
    pools = build.POOL_SIZES
    head = set(pools) - set(policies.reporting_tail(pools, cfg.budget))
    takes = list(_takes_with_candidates(cfg.method, cfg, pools))
    assert {d for _, d, _, _ in takes} == head and len(takes) == 2 * len(head)
    assert all(c >= 4 * t for _, _, t, c in takes), takes
    for m in METHODS.values():
        if m.selector not in (None, "random") and m.policy not in (None, "global"):
            for stage, d, t, c in _takes_with_candidates(m.name, cfg, pools):
                assert d not in head or c >= 4 * t, (m.name, stage, d, t, c)


def test_stats_runs_on_wide(cfg):
    from baldistill.cli import app

    r = CliRunner().invoke(
        app,
        [
            "stats",
            str(WIDE / "train.jsonl"),
            "--budget",
            str(cfg.budget),
            "--stages",
            str(cfg.stages),
            "--policy",
            "naive",
            "--test",
            str(WIDE / "test.jsonl"),
            "--reserve",
            str(WIDE / "reserve.jsonl"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "tail" in r.output and "head" in r.output and "repeats: none" in r.output
    assert "data/test 0, reserve/test 0, data/reserve 0" in " ".join(r.output.split())


def test_demo_command_runs_wide(tiny_model, tmp_path, build):
    from baldistill.cli import app

    out = tmp_path / "run"
    args = ["demo", "--data", "wide", "--out", str(out), "--set", f"student.model={tiny_model}"]
    args += ["--set", "budget=42", "--set", "student.train.epochs=1", "--set", "data.max_test_per_domain=1"]
    args += ["--set", "student.generation.max_new_tokens=4", "--set", "selection.max_new_tokens=4"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["per_domain"].keys() == set(build.DOMAINS)
    r = CliRunner().invoke(app, ["demo", "--data", "nope", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "use demo or wide" in r.output


def test_estimate_and_compare_take_wide_by_name():
    """'wide' names the bundled config, as 'demo' does: nothing runs, nothing is sent."""
    from baldistill.cli import app

    r = CliRunner().invoke(app, ["estimate", "wide"])
    assert r.exit_code == 0 and "180" in r.output, r.output
    r = CliRunner().invoke(app, ["compare", "wide", "--methods", "baldistill-n", "--seeds", "2", "--estimate"])
    assert r.exit_code == 0 and "2 of 2 runs to do" in " ".join(r.output.split()), r.output
