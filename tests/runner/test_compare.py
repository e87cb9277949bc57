"""`baldistill compare` on the tiny model: every method, two seeds, one shared teacher cache."""

import csv
import json
import os
import shutil
import sqlite3

import pytest
from conftest import DEMO, DEMO_TEST, PAPER_METHODS, tiny_config
from typer.testing import CliRunner

from baldistill import load_config
from baldistill.budget.ledger import Caps, Ledger
from baldistill.cli import app
from baldistill.config import ConfigError
from baldistill.runner.compare import compare
from baldistill.runner.estimate import estimate_comparison as estimate
from baldistill.runner.sweeps import make_spec

ORDER = list(PAPER_METHODS)  # the shared comparison runs the paper's eight (conftest)


def base_cfg(model, **over):
    return load_config(tiny_config(model, budget=48, stages=2, **over))


@pytest.fixture
def done(comparison):
    return comparison


def test_every_method_and_seed_has_a_row(done):
    out, _, _, rows, _ = done
    assert [(r.method, r.seed) for r in rows] == [(m, s) for s in (0, 1) for m in ORDER]
    with (out / "results.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 16 and {r["method"] for r in table} == set(ORDER)
    doc = json.loads((out / "results.json").read_text())
    assert doc["spec"]["methods"] == ORDER and len(doc["rows"]) == 16
    for r in rows:
        assert 0 <= r.macro <= 1 and set(r.per_domain) == set(r.pool_sizes)
        assert r.wall_seconds > 0  # loading, training and evaluation all count
        trained_with_teacher = r.method not in ("zero-shot", "random-ft")
        assert r.spent_units == (96 if trained_with_teacher else 0), r.cell
    for name in ("table.md", "table_generalization.md", "report.html"):
        assert (out / name).stat().st_size > 0


def test_multi_stage_methods_are_scored_after_every_stage(done):
    _, _, _, rows, _ = done
    for r in rows:
        stages = [s.stage for s in r.stage_scores]
        assert stages == ([1, 2, 3] if r.method in ("active-ft-cot", "baldistill-n", "baldistill-a") else [])
        if stages:
            assert r.stage_scores[0].n_test <= 2 * len(r.pool_sizes)  # the per-stage subset
            assert r.stage_scores[-1].macro == r.macro


def test_shared_cache_each_reply_is_paid_once(done):
    """Logical spend is every run's full budget; physical spend is each distinct request once."""
    out, _, _, rows, _ = done
    doc = json.loads((out / "results.json").read_text())["spend"]
    assert doc["logical_units"] == 96 * 12  # 6 teacher methods x 2 seeds
    cached = sqlite3.connect(out / "teacher_cache.sqlite").execute("SELECT COUNT(*) FROM replies").fetchone()[0]
    assert doc["physical_calls"] == cached  # every reply sent exactly once, whichever run asked first
    assert 0 < doc["physical_calls"] < doc["logical_units"]
    # a later run re-uses what an earlier one paid: its ledger charges units without sending them
    second = Ledger(
        Caps(0),
        out / "runs/" / next(r.run for r in rows if r.method == "random-ft-cot" and r.seed == 1) / "ledger.sqlite",
    ).summary()
    assert second.spent == 96 and second.physical.calls < 96


def test_duplicate_ft_cot_pays_each_copy_but_sends_it_once(done):
    out, _, _, rows, _ = done
    r = next(r for r in rows if r.method == "duplicate-ft-cot" and r.seed == 0)
    assert r.n_train_duplicate > 0 and r.n_train_synthetic == 0 and r.spent_units == 96
    led = Ledger(Caps(0), out / "runs" / r.run / "ledger.sqlite")
    copies = [x for x in led.rows() if "#copy" in x["key"]]
    assert len(copies) == r.n_train_duplicate and all(x["units"] == 1 and not x["physical"] for x in copies)
    # tail domains reach their naive quota (96 / 8 = 12) through copies of their few real examples
    train = [json.loads(line) for line in (out / "runs" / r.run / "stages/0/train.jsonl").open()]
    fam = [t for t in train if t["domain"] == "family_relationships"]
    assert len(fam) == 12 and len({t["input"] for t in fam}) == 2


def test_estimate_before_and_after(done):
    out, base, spec, _, before = done
    assert before["todo"] == before["cells"] == 16  # one K, one B: one run per method and seed
    assert before["logical"]["calls"] == 96 * 12 and before["physical_max"]["calls"] <= before["logical"]["calls"]
    after = estimate(base, spec, out)
    assert after["todo"] == 0 and after["logical"]["calls"] == 0 and after["cached_replies"] > 0


def test_rerun_skips_finished_and_resumes_a_cut_cell(done, tiny_model):
    out, base, spec, rows, _ = done
    cut = out / "runs" / next(r.run for r in rows if r.method == "baldistill-a" and r.seed == 1)
    (cut / "metrics.json").unlink()
    import shutil

    shutil.rmtree(cut / "stages/2")  # the last stage never finished
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("**/metrics.json")}
    seen = []
    again = compare(base, spec, out, on_cell=lambda n, total, rid, resume: seen.append((rid, resume)))
    assert seen == [(str(cut.relative_to(out / "runs")), True)]
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    assert len(again) == 16 and (cut / "metrics.json").exists()


def test_interrupted_comparison_continues(tiny_model, tmp_path):
    base = base_cfg(tiny_model)
    spec = make_spec(tmp_path / "c.yaml", base, "zero-shot,random-ft,random-ft-cot", seeds=1, stage_eval=None)

    def stop_at_third(n, total, rid, resume):
        if n == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compare(base, spec, tmp_path / "c", on_cell=stop_at_third)
    assert len(json.loads((tmp_path / "c/results.json").read_text())["rows"]) == 2
    seen = []
    compare(base, spec, tmp_path / "c", on_cell=lambda *a: seen.append(a[2]))
    assert [s.split("/", 1)[1] for s in seen] == ["B48/K1/random-ft-cot/seed0"]  # only the unfinished run
    changed = base_cfg(tiny_model, **{"student.train.lr": 5e-3})
    with pytest.raises(ConfigError, match="student.train.lr changed"):  # would mix two experiments
        compare(changed, spec, tmp_path / "c")


def test_sweeps_make_one_row_per_stage_count_and_budget(tiny_model, tmp_path):
    base = base_cfg(tiny_model)
    spec = make_spec(
        tmp_path / "c.yaml", base, "random-ft,baldistill-n", seeds=1, stages="1,2", budgets="16,32", stage_eval=None
    )
    rows = compare(base, spec, tmp_path / "c")
    assert sorted((r.method, r.budget, r.stages) for r in rows) == sorted(
        (m, b, k) for m in ("random-ft", "baldistill-n") for b in (16, 32) for k in (1, 2)
    )
    runs = {r.run for r in rows}
    assert len(runs) == 2 + 4  # random-ft is single-stage: one run per budget serves every K
    assert (tmp_path / "c/table_generalization.md").exists()


def test_bad_options_are_one_line_errors(tiny_model, tmp_path):
    base = base_cfg(tiny_model)
    for kw, msg in [
        ({"methods": "baldistill-z"}, "unknown baldistill-z"),
        ({"stages": "3,x"}, "--stages"),
        ({"budgets": "1", "stages": "2"}, "budget \\(1\\) must be at least the number of stages \\(2\\)"),
        ({"seeds": 0}, "--seeds"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            make_spec(tmp_path / "c.yaml", base, **kw)


def test_cli_estimate_sends_nothing(tiny_model, tmp_path):
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(tiny_model, budget=48, stages=2)))
    methods = ",".join(PAPER_METHODS)
    args = ["compare", str(cfg), "--methods", methods, "--seeds", "3", "--estimate", "--out", str(tmp_path / "c")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "logical" in res.output and "physical" in res.output and "864" in res.output  # 48 x 6 methods x 3 seeds
    assert not (tmp_path / "c").exists()


def test_a_folder_written_before_the_schema_version_still_reports(done, tmp_path):
    """metrics.json files of earlier versions (no schema_version, fewer keys) load; report rebuilds the same rows."""
    import shutil

    out = done[0]
    old = tmp_path / "old"
    shutil.copytree(out, old)
    rows = json.loads((old / "results.json").read_text())["rows"]  # as the current version wrote them
    for p in (old / "runs").rglob("metrics.json"):
        m = json.loads(p.read_text())
        for key in ("schema_version", "n_train_duplicate", "spend_by_stage_domain"):
            m.pop(key)
        p.write_text(json.dumps(m))
    (old / "results.json").unlink()
    spec = json.loads((old / "compare.json").read_text())
    for key in ("sweep", "base_values", "reference"):  # as written before sweeps and intervals existed
        spec.pop(key)
    spec["default"].pop("settings")
    (old / "compare.json").write_text(json.dumps(spec))
    r = CliRunner().invoke(app, ["report", str(old)])
    assert r.exit_code == 0, r.output
    doc = json.loads((old / "results.json").read_text())
    again = doc["rows"]
    # intervals come from the runs' predictions; differences against the default reference, random-ft-cot
    assert len(doc["intervals"]["groups"]) == len(ORDER)
    assert {d["b"]["method"] for d in doc["intervals"]["differences"]} == {"random-ft-cot"}

    def keep(row):
        return {k: v for k, v in row.items() if k not in ("n_train_duplicate", "spend_by_stage_domain")}

    assert [keep(x) for x in again] == [keep(x) for x in rows]
    assert (old / "report.html").stat().st_size > 0


def test_every_cell_is_checked_before_the_first_runs(tiny_model, tmp_path, monkeypatch):
    """A student that cannot be loaded in the second sweep value stops the comparison before any cell runs."""
    import baldistill.runner.pipeline as pipeline

    monkeypatch.setattr(pipeline, "run", lambda *a, **k: pytest.fail("a cell ran"))
    base = base_cfg(tiny_model)
    spec = make_spec(
        tmp_path / "c.yaml",
        base,
        "random-ft-cot",
        seeds=1,
        students=f"{tiny_model},/nonexistent/student",
        stage_eval=None,
    )
    with pytest.raises(
        ConfigError,
        match=r"cell --nonexistent--student/B48/K1/random-ft-cot/seed0: student.model: "
        r"folder not found: /nonexistent/student.*nothing was run",
    ):
        compare(base, spec, tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_results_carry_bootstrap_intervals_from_the_runs_predictions(done):
    """Every method's group has intervals computed from its runs' predictions.jsonl; the point estimate is the
    mean of the rows' scores; every method is paired with random-ft-cot."""
    out, _, _, rows, _ = done
    iv = json.loads((out / "results.json").read_text())["intervals"]
    assert iv["resamples"] == 2000 and iv["level"] == 0.95
    groups = {g["method"]: g for g in iv["groups"]}
    assert set(groups) == set(ORDER)
    for m, g in groups.items():
        mine = [r for r in rows if r.method == m]
        assert g["seeds"] == [0, 1]
        t = g["test"]
        assert abs(t["macro"]["mean"] - sum(r.macro for r in mine) / 2) < 1e-9
        assert t["macro"]["lo"] <= t["macro"]["mean"] <= t["macro"]["hi"]
        assert set(t["per_domain"]) == set(mine[0].per_domain)
    diffs = [d for d in iv["differences"] if d["kind"] == "method"]
    assert sorted(d["a"]["method"] for d in diffs) == sorted(m for m in ORDER if m != "random-ft-cot")
    assert all(d["b"]["method"] == "random-ft-cot" and d["seeds"] == [0, 1] for d in diffs)
    a = next(d for d in diffs if d["a"]["method"] == "baldistill-a")
    assert (
        abs(
            a["test"]["macro"]["mean"]
            - (groups["baldistill-a"]["test"]["macro"]["mean"] - groups["random-ft-cot"]["test"]["macro"]["mean"])
        )
        < 1e-9
    )
    table = (out / "table.md").read_text()
    assert "95 % bootstrap interval" in table and "## Per domain" in table and "baldistill-a − random-ft-cot" in table


def test_several_reference_methods_pair_each_method_with_each_and_two_references_once(done, tmp_path):
    """`--reference random-ft-cot,baldistill-n` on a finished comparison (nothing runs): every other method
    against both, baldistill-n against random-ft-cot once (not also the other way), in that order in the table."""
    import shutil

    from baldistill.runner.results import write_outputs, write_results

    out, _, _, _, _ = done
    again = tmp_path / "again"
    shutil.copytree(out, again, copy_function=os.link)
    for f in again.iterdir():  # the folder's own files are rewritten here: no links to the shared fixture's
        if f.is_file():
            data = f.read_bytes()
            f.unlink()
            f.write_bytes(data)
    spec = json.loads((again / "compare.json").read_text())
    spec["reference"] = "random-ft-cot,baldistill-n"
    (again / "compare.json").write_text(json.dumps(spec))
    write_results(again)
    write_outputs(again)
    diffs = json.loads((again / "results.json").read_text())["intervals"]["differences"]
    pairs = sorted((d["a"]["method"], d["b"]["method"]) for d in diffs if d["kind"] == "method")
    others = [m for m in ORDER if m not in ("random-ft-cot", "baldistill-n")]
    assert pairs == sorted(
        [(m, "random-ft-cot") for m in ORDER if m != "random-ft-cot"] + [(m, "baldistill-n") for m in others]
    )
    table = (again / "table.md").read_text()
    assert "| baldistill-a − baldistill-n |" in table and "baldistill-n − random-ft-cot" in table
    assert "random-ft-cot − baldistill-n" not in table
    assert table.index("baldistill-a − random-ft-cot") < table.index("baldistill-a − baldistill-n")
    assert "the reference methods random-ft-cot and baldistill-n" in table


def test_stages_budgets_and_students_are_spellings_of_sweep(tiny_model, tmp_path):
    base = base_cfg(tiny_model)
    a = make_spec(tmp_path / "c.yaml", base, "random-ft,baldistill-n", stages="1,2", budgets="16,32", stage_eval=None)
    b = make_spec(
        tmp_path / "c.yaml", base, "random-ft,baldistill-n", sweeps=["stages=1,2", "budget=16,32"], stage_eval=None
    )
    assert a.to_json() == b.to_json() and [c.run_id for c in a.cells()] == [c.run_id for c in b.cells()]
    assert b.sweep == {} and b.stages == [1, 2] and b.budgets == [16, 32]


@pytest.mark.parametrize(
    "sweeps, msg",
    [
        (["teacher.verfy.samples=0,1"], r"--sweep teacher.verfy.samples=0: teacher.verfy: unknown field"),
        (
            ["teacher.verify.samples=0,-1"],
            r"--sweep teacher.verify.samples=-1: teacher.verify.samples: .*greater than or equal to 0",
        ),
        (["teacher.verify.samples=3"], r"--sweep teacher.verify.samples=3: .*need teacher.verify.temperature > 0"),
        (
            ["teacher.verify.samples=1,3", "teacher.verify.temperature=0,0.7"],
            r"--sweep teacher.verify.samples=3,teacher.verify.temperature=0: .*need teacher.verify.temperature > 0",
        ),
        (["teacher.verify.samples"], r"--sweep 'teacher.verify.samples': expected KEY=V1,V2"),
        (["teacher.verify.samples="], r"--sweep teacher.verify.samples: no values"),
        (["teacher.verify.samples=[1, 2]"], r"--sweep teacher.verify.samples: the value '\[1' is not valid YAML"),
        (["data.fields={a: b}"], r"--sweep data.fields: the value '\{a: b\}' is not a single value"),
        (["method=random-ft"], r"--sweep method: not a sweep axis; use --methods"),
        (["seed=1,2"], r"--sweep seed: not a sweep axis; use --seeds"),
        (["budget=16", "budget=32"], r"--sweep budget: given twice"),
        (["stages=x"], r"--sweep stages: expected positive whole numbers"),
    ],
)
def test_bad_sweeps_are_one_line_errors(tiny_model, tmp_path, sweeps, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        make_spec(tmp_path / "c.yaml", base_cfg(tiny_model), "random-ft-cot", sweeps=sweeps)
    assert "\n" not in str(e.value)


def test_a_value_valid_only_beside_another_swept_value_is_accepted(tiny_model, tmp_path):
    """3 re-answers need a temperature above 0: swept together with one, the pair is a valid cell."""
    spec = make_spec(
        tmp_path / "c.yaml",
        base_cfg(tiny_model),
        "balance-ft-cot",
        sweeps=["teacher.verify.samples=0,3", "teacher.verify.temperature=0.7"],
    )
    assert [c.settings for c in spec.cells()] == [
        (("teacher.verify.samples", 0), ("teacher.verify.temperature", 0.7)),
        (("teacher.verify.samples", 3), ("teacher.verify.temperature", 0.7)),
    ]
    assert spec.base_values == {"teacher.verify.samples": 0}  # 0.7 is not the base's temperature: it names the run
    assert [c.run_id.split("/")[3] for c in spec.cells()] == [
        "teacher.verify.temperature=0.7",
        "teacher.verify.samples=3,teacher.verify.temperature=0.7",
    ]


def test_sweep_and_its_spelling_together_are_refused(tiny_model, tmp_path):
    with pytest.raises(ConfigError, match=r"--sweep stages: given twice \(--stages and --sweep stages\)"):
        make_spec(tmp_path / "c.yaml", base_cfg(tiny_model), "random-ft-cot", stages="1,2", sweeps=["stages=3"])
    with pytest.raises(ConfigError, match="--reference: baldistill-a is not among the compared methods"):
        make_spec(tmp_path / "c.yaml", base_cfg(tiny_model), "random-ft-cot", reference="baldistill-a")
    with pytest.raises(ConfigError, match="--reference: baldistill-n is not among the compared methods"):
        make_spec(
            tmp_path / "c.yaml",
            base_cfg(tiny_model),
            "random-ft-cot,baldistill-a",
            reference="baldistill-a, baldistill-n",
        )
    with pytest.raises(ConfigError, match="--reference ',': no method named; give one or more of random-ft-cot"):
        make_spec(tmp_path / "c.yaml", base_cfg(tiny_model), "random-ft-cot", reference=",")


def _as_written_before_sweeps(out):
    """Turn a comparison folder into one written before --sweep existed: compare.json without the new keys,
    result rows without settings (the run folders were always the same)."""
    spec = json.loads((out / "compare.json").read_text())
    for key in ("sweep", "base_values", "reference"):
        spec.pop(key)
    spec["default"].pop("settings")
    (out / "compare.json").write_text(json.dumps(spec))
    res = json.loads((out / "results.json").read_text())
    res.pop("intervals")
    for r in res["rows"]:
        r.pop("settings")
    (out / "results.json").write_text(json.dumps(res))


def test_sweep_cells_share_the_cache_and_an_earlier_folder_resumes(tiny_model, tmp_path):
    """A comparison written before the sweep, re-run with two swept settings: its runs serve the cells at the
    base config's values (not re-run), methods that do not synthesize share one run over the synthesis
    settings, and the new runs buy only what the shared cache lacks."""
    out = tmp_path / "c"
    base = base_cfg(tiny_model)
    first = make_spec(tmp_path / "c.yaml", base, "random-ft-cot,balance-ft-cot", seeds=1, stage_eval=None)
    compare(base, first, out)
    _as_written_before_sweeps(out)
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("**/metrics.json")}
    assert len(before) == 2
    cache = out / "teacher_cache.sqlite"
    replies_before = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    swept = make_spec(
        tmp_path / "c.yaml",
        base,
        "random-ft-cot,balance-ft-cot",
        seeds=1,
        stage_eval=None,
        sweeps=["teacher.verify.samples=0,1", "teacher.synthesis_noise.wrong_answer=0,0.5"],
    )
    seen = []
    rows = compare(base, swept, out, on_cell=lambda n, total, rid, resume: seen.append(rid))
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # the earlier runs were reused
    prefix = "B48/K1/"
    assert sorted(s.split("/", 1)[1] for s in seen) == sorted(
        prefix + x + "/balance-ft-cot/seed0"
        for x in (
            "teacher.verify.samples=1",
            "teacher.synthesis_noise.wrong_answer=0.5",
            "teacher.verify.samples=1,teacher.synthesis_noise.wrong_answer=0.5",
        )
    )
    assert len(rows) == 8  # 2 methods x 4 combinations, one row each
    assert len({r.run for r in rows if r.method == "random-ft-cot"}) == 1  # it never synthesizes
    assert {tuple(r.settings.items()) for r in rows} == {
        (("teacher.verify.samples", v), ("teacher.synthesis_noise.wrong_answer", n)) for v in (0, 1) for n in (0, 0.5)
    }
    by = {
        (r.method, r.settings["teacher.verify.samples"], r.settings["teacher.synthesis_noise.wrong_answer"]): r
        for r in rows
    }
    for (m, v, n), r in by.items():
        cfg = load_config(out / "runs" / r.run / "config.yaml")
        synth = m == "balance-ft-cot"
        assert cfg.teacher.verify.samples == (v if synth else 0)
        assert cfg.teacher.synthesis_noise.wrong_answer == (n if synth else 0)
        assert str(cfg.teacher.cache) == str(cache.resolve())  # one cache for every cell
        kinds = Ledger(Caps(0), out / "runs" / r.run / "ledger.sqlite").summary().by_kind
        assert ("verify" in kinds) == (synth and v == 1)

    # the noisy cells got their own synthetic examples, not the oracle run's replies from the shared cache
    def synthetic(key):
        train = (out / "runs" / by[key].run / "stages/0/train.jsonl").read_text().splitlines()
        return {(t["input"], t["answer"]) for t in map(json.loads, train) if t["source"] == "synthetic"}

    assert synthetic(("balance-ft-cot", 0, 0)) and synthetic(("balance-ft-cot", 0, 0.5)) != synthetic(
        ("balance-ft-cot", 0, 0)
    )
    # one shared cache: the new runs sent only what it lacked, and physical spend is the cache's size
    new = [r for r in rows if r.run in {s for s in seen}]
    assert all(r.physical_calls < r.spent_units for r in new)
    replies = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM replies").fetchone()[0]
    doc = json.loads((out / "results.json").read_text())
    assert replies > replies_before and doc["spend"]["physical_calls"] == replies
    # paired differences: each setting's value against its first, for balance-ft-cot (random-ft-cot: one run)
    kinds = sorted((d["kind"], d["a"]["method"]) for d in doc["intervals"]["differences"])
    assert (
        kinds
        == [("method", "balance-ft-cot")] * 4
        + [("teacher.synthesis_noise.wrong_answer", "balance-ft-cot")] * 2
        + [("teacher.verify.samples", "balance-ft-cot")] * 2
    )
    table = (out / "table.md").read_text()
    assert (
        "## Swept settings" in table
        and "| teacher.verify.samples | teacher.synthesis_noise.wrong_answer | method |" in table
    )
    # results made with the simulated verifier say so, with its rates, in the rows and in the Teacher table
    assert all(
        ("simulated verifier (accept_correct 0.9, reject_wrong 0.8)" in r.teacher)
        == (r.method == "balance-ft-cot" and r.settings["teacher.verify.samples"] == 1)
        for r in rows
    )
    verified = [line for line in table[table.index("## Teacher") :].splitlines() if "simulated verifier (" in line]
    assert len(verified) == 2 and all("| balance-ft-cot | teacher.verify.samples = 1" in line for line in verified)
    with (out / "results.csv").open() as f:
        header = next(csv.reader(f))
    assert header[header.index("method") - 1] == "teacher.synthesis_noise.wrong_answer"
    # re-running the same command runs nothing
    again = []
    compare(base, swept, out, on_cell=lambda *a: again.append(a))
    assert again == []


def test_reporting_budget_fixes_the_split_over_budgets_and_compare_draws_the_frontier(tiny_model, tmp_path):
    base = base_cfg(tiny_model, **{"data.reporting_budget": 96})
    spec = make_spec(tmp_path / "c.yaml", base, "random-ft-cot", seeds=1, budgets="16,32", stage_eval=None)
    rows = compare(base, spec, tmp_path / "c")
    # B/l at 96 is 12: every domain with fewer than 12 pool examples is tail, whatever the run's own B
    five = ["count_bits", "family_relationships", "lcm", "letter_counting", "simple_equations"]
    assert [sorted(r.tail_domains) for r in rows] == [five, five]
    unfixed = base_cfg(tiny_model)
    assert unfixed.reporting_budget == 48 and base.reporting_budget == 96
    assert (tmp_path / "c/plots/frontier.png").exists()
    assert 'alt="frontier"' in (tmp_path / "c/report.html").read_text()


def test_a_cell_claimed_by_another_process_is_skipped_then_taken_over_when_that_process_dies(tiny_model, tmp_path):
    """A cell held by another process is left to it; once that process is gone (here: it exits without finishing
    the cell, as a killed one would) the comparison waits for it, then runs the cell itself, last."""
    import subprocess
    import sys

    from baldistill.runner.claims import lock_path

    base = base_cfg(tiny_model)
    out = tmp_path / "c"
    spec = make_spec(tmp_path / "c.yaml", base, "zero-shot,random-ft,random-ft-cot", seeds=1, stage_eval=None)
    held = [c.run_id for c in spec.cells()][0]
    path = lock_path(out, held)
    path.parent.mkdir(parents=True)
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'a'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout.readline().strip() == "held"
    seen = []

    def ran(n, total, rid, resume):
        seen.append(rid)
        if len(seen) == 2:  # the other process ends while this one still has work
            other.stdin.close()
            other.wait(timeout=30)

    rows = compare(base, spec, out, on_cell=ran)
    assert seen[-1] == held and held not in seen[:-1] and len(seen) == 3
    assert len(rows) == 3 and (out / "runs" / held / "metrics.json").exists()


def test_two_processes_on_one_folder_share_the_cells(tiny_model, tmp_path):
    """The same compare command started twice: every cell runs exactly once, in one of the two processes,
    and both write the full tables."""
    import os
    import subprocess
    import sys

    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(tiny_model, budget=48, stages=2)))
    out = tmp_path / "c"
    args = ["compare", str(cfg), "--methods", "zero-shot,random-ft,random-ft-cot", "--seeds", "2", "--out", str(out)]
    env = {**os.environ, "BALDISTILL_PROGRESS": "0", "OMP_NUM_THREADS": "1", "COLUMNS": "1000"}
    code = "import sys; from baldistill.cli import app; app(sys.argv[1:])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        for _ in range(2)
    ]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    import re

    started = [set(re.findall(r"\[\d+/\d+\] (\S+)\s+elapsed", log)) for log in logs]  # a cell this process ran
    runs = {str(p.parent.relative_to(out / "runs")) for p in (out / "runs").glob("**/metrics.json")}
    assert len(runs) == 6 and not started[0] & started[1] and started[0] | started[1] == runs, logs
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert sorted((r["method"], r["seed"]) for r in rows) == sorted(
        (m, s) for m in ("zero-shot", "random-ft", "random-ft-cot") for s in (0, 1)
    )


def test_a_reporting_budget_equal_to_the_runs_own_budget_is_the_same_run_for_reuse(tiny_model):
    """A frontier comparison fixes the head/tail split with data.reporting_budget=96; its B = 96 cells are the
    runs of a comparison without that setting (both split at B = 96) and may be reused; its B = 48 cells not."""
    from baldistill.runner.reuse import reuse_key

    plain = base_cfg(tiny_model)  # B = 48
    same = base_cfg(tiny_model, **{"data.reporting_budget": 48})
    other = base_cfg(tiny_model, **{"data.reporting_budget": 96})
    assert same.data.reporting_budget == 48 and plain.data.reporting_budget is None
    assert reuse_key(same) == reuse_key(plain)
    assert reuse_key(other) != reuse_key(plain)  # reported on another split: not the same run


def test_reuse_serves_cells_from_another_folder_only_where_the_config_is_the_same(done, tiny_model):
    """Here the base learning rate is halved and the config's own is a swept value, so random-ft-cot seed 0 at
    that value has `done`'s config under another run id: it is hard-linked, not run. baldistill-n was scored
    after each stage there (stage_eval 2) and is not here: its config differs and it runs again."""
    out, base, _, rows, _ = done
    new = out.parent / "reusing"
    lr = base.student.train.lr
    halved = load_config(base.model_dump(mode="json"), [f"student.train.lr={lr / 2}"])
    spec = make_spec(
        new / "c.yaml",
        halved,
        "random-ft-cot,baldistill-n",
        seeds=1,
        stage_eval=None,
        sweeps=[f"student.train.lr={lr / 2},{lr}"],
    )
    plain, served = estimate(halved, spec, new), estimate(halved, spec, new, [out])
    assert (plain["todo"], plain["reused"]) == (4, 0) and (served["todo"], served["reused"]) == (3, 1)
    assert served["logical"]["calls"] == plain["logical"]["calls"] * 3 // 4  # one budget less: the reused cell's
    seen, told = [], []
    got = compare(
        halved,
        spec,
        new,
        on_cell=lambda n, total, rid, resume: seen.append(rid),
        reuse=[out],
        on_reuse=lambda ids, total: told.append((ids, total)),
    )
    old_rft = next(r for r in rows if r.method == "random-ft-cot" and r.seed == 0)
    assert [s.split("/", 2)[2] for s in seen] == [
        "K1/random-ft-cot/seed0",
        "K3/baldistill-n/seed0",
        f"K3/student.train.lr={lr}/baldistill-n/seed0",
    ]
    reused = next(r for r in got if r.method == "random-ft-cot" and r.settings["student.train.lr"] == lr)
    assert reused.run != old_rft.run
    assert told == [([reused.run], 4)]  # the caller is told which cell was served
    src, dst = out / "runs" / old_rft.run / "predictions.jsonl", new / "runs" / reused.run / "predictions.jsonl"
    assert dst.read_bytes() == src.read_bytes() and dst.stat().st_ino == src.stat().st_ino  # a hard link
    assert reused.macro == old_rft.macro


def test_a_rerun_may_not_change_the_base_config_but_for_its_method(tiny_model, tmp_path):
    """The finished runs were made under the folder's base config: another learning rate is refused with the
    field named; another base method is not a change (every cell sets its own method)."""
    from baldistill.config import ConfigError, dump_config
    from baldistill.runner.compare import _check_same_base

    base = base_cfg(tiny_model)
    (tmp_path / "config.yaml").write_text(dump_config(base))
    _check_same_base(base_cfg(tiny_model, method="random-ft-cot"), tmp_path)
    with pytest.raises(ConfigError, match=r"student\.train\.lr changed"):
        _check_same_base(base_cfg(tiny_model, **{"student.train.lr": base.student.train.lr / 2}), tmp_path)


def test_a_comparison_is_reported_without_its_data_files(done, tmp_path):
    """A finished comparison moved to a machine without the data: `report` rebuilds its results from the run
    folders alone (configs name data files that do not exist there)."""
    out = done[0]
    moved = tmp_path / "moved"
    shutil.copytree(out, moved, ignore=shutil.ignore_patterns("adapter", "*.safetensors"))
    for cfg in [moved / "config.yaml", *(moved / "runs").glob("**/config.yaml")]:
        text = cfg.read_text()
        for name in ("train", "test", "reserve"):
            text = text.replace(str(DEMO / f"{name}.jsonl"), f"/gone/{name}.jsonl")
        text = text.replace(str(DEMO_TEST), "/gone/test.jsonl")
        cfg.write_text(text)
    assert "/gone/train.jsonl" in (moved / "config.yaml").read_text()
    res = CliRunner().invoke(app, ["report", str(moved)])
    assert res.exit_code == 0, res.output
    again = json.loads((moved / "results.json").read_text())
    assert [r["macro"] for r in again["rows"]] == [r.macro for r in done[3]]
    assert (moved / "report.html").stat().st_size > 0
