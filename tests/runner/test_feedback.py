"""The methods that look at the student's answers (baldistill-f, baldistill-f-ifd, baldistill-n-err): the signal
each stage records, the feedback policy's quotas recomputed from it, error-first selection, their spend against
``estimate``, and that nothing of it reads the test or validation files. The ``replay`` training scheme."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from answering_student import answering
from conftest import DEMO, DEMO_TEST, FEEDBACK_METHODS, tiny_config

from baldistill import load_config, run
from baldistill.budget.ledger import Ledger
from baldistill.core.feedback import Signal, feedback_quota, smooth
from baldistill.core.policies import allocate
from baldistill.core.results import RunMetrics
from baldistill.data import read_jsonl
from baldistill.runner.estimate import estimate


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _runs(feedback_comparison, method: str) -> list[Path]:
    out, _, _, rows, _ = feedback_comparison
    return [out / "runs" / r.run for r in rows if r.method == method]


def test_every_new_method_finishes_in_a_comparison_with_its_rows_tables_and_signal_plot(feedback_comparison):
    from baldistill.report.html import write_report
    from baldistill.report.plots import write_plots

    out, _, _, rows, _ = feedback_comparison
    assert Counter(r.method for r in rows) == {m: 1 for m in FEEDBACK_METHODS}
    for r in rows:
        assert sorted(r.signal_by_stage) == ["2", "3"], r.method  # measured before stages 2 and 3 chose
        assert r.to_json()["signal_by_stage"] == r.signal_by_stage
    plots = {p.name for p in write_plots(out)}
    assert "signal.png" in plots and "per_domain.png" in plots
    html = write_report(out).read_text(encoding="utf-8")
    assert all(m in html for m in FEEDBACK_METHODS) and 'alt="signal"' in html


@pytest.mark.parametrize("method", ["baldistill-f", "baldistill-f-ifd"])
def test_each_feedback_stage_splits_its_share_by_the_recorded_signal(feedback_comparison, method):
    """Stage 1 takes the naive split; each later stage's quotas are the policy's function of the signal measured
    before it (the judged candidates, and the synthetic examples of the stage before answered before training),
    smoothed with the earlier stages; the share of every stage is the one B/K gives it."""
    _, base, _, _, _ = feedback_comparison
    for folder in _runs(feedback_comparison, method):
        cfg = load_config(folder / "config.yaml")
        sel = cfg.selection
        pool = {d: n for d, n in _json(folder / "metrics.json")["pool_sizes"].items()}
        naive = allocate("naive", pool, cfg.budget, cfg.stages)
        assert _json(folder / "stages/0/quota.json")["quota"] == naive[0].per_domain
        assert not (folder / "stages/0/signal.json").exists()
        smoothed: dict[str, float] = {}
        synthesized_before: set[str] = {e["domain"] for e in read_jsonl(folder / "stages/0/synthetic.jsonl")}
        sources = set()
        for i in (1, 2):
            sig = _json(folder / f"stages/{i}/signal.json")
            measured = {d: Signal(x["right"], x["checked"], x["source"]) for d, x in sig["measured"].items()}
            # the candidates each domain's student answered were judged and counted
            judged = Counter(s["domain"] for s in read_jsonl(folder / f"stages/{i}/ifd.jsonl") if "right" in s)
            for d, s in measured.items():
                sources.add(s.source)
                assert s.checked >= judged[d] and s.checked > 0
                if d in synthesized_before:  # its synthetic examples of the stage before count too
                    assert s.source in ("synthetic", "both") and s.checked > judged[d], (i, d, s)
                else:
                    assert s.source == "real" and s.checked == judged[d]
            smoothed = smooth(smoothed, measured, sel.feedback_smoothing)
            assert sig["smoothed"] == pytest.approx(smoothed)
            want = feedback_quota(naive[i].total, list(pool), smoothed, sel.feedback_floor)
            quota = _json(folder / f"stages/{i}/quota.json")["quota"]
            assert sig["quota"] == want and quota == want and sum(want.values()) == naive[i].total
            synthesized_before = {e["domain"] for e in read_jsonl(folder / f"stages/{i}/synthetic.jsonl")}
        assert {"real", "both"} <= sources or {"real", "synthetic"} <= sources  # the tail is synthesized by stage 2
        moved = [i for i in (1, 2) if _json(folder / f"stages/{i}/quota.json")["quota"] != naive[i].per_domain]
        assert moved, "the simulated answers differ by domain: the feedback split is not the naive one"
        m = RunMetrics.load(folder / "metrics.json")
        assert m.signal_by_stage["2"] == {
            d: x["score"] for d, x in _json(folder / "stages/1/signal.json")["measured"].items()
        }
        assert m.spent == base.budget


def test_error_first_selection_takes_every_wrong_candidate_before_a_right_one(feedback_comparison):
    for method in ("baldistill-f", "baldistill-n-err"):
        for folder in _runs(feedback_comparison, method):
            for i in (1, 2):
                judged = [s for s in read_jsonl(folder / f"stages/{i}/ifd.jsonl")]
                assert judged and all("right" in s for s in judged)
                ranked = _json(folder / f"stages/{i}/quota.json")["candidates"]
                chosen = {e["id"] for e in read_jsonl(folder / f"stages/{i}/selected.jsonl")}
                for d in ranked:
                    mine = [s for s in judged if s["domain"] == d]
                    if any(s["right"] == 1 and s["id"] in chosen for s in mine):
                        assert all(s["id"] in chosen for s in mine if s["right"] < 1), (method, i, d)


def test_the_naive_ablation_has_the_naive_quotas(feedback_comparison):
    """baldistill-n-err differs from baldistill-n in the selection rule only: the naive quotas every stage."""
    for folder in _runs(feedback_comparison, "baldistill-n-err"):
        cfg = load_config(folder / "config.yaml")
        naive = allocate("naive", _json(folder / "metrics.json")["pool_sizes"], cfg.budget, cfg.stages)
        assert [_json(folder / f"stages/{i}/quota.json")["quota"] for i in range(3)] == [q.per_domain for q in naive]


def test_estimate_gives_the_ledgers_stage_totals_for_the_new_methods(feedback_comparison):
    """The calls of each stage are exact for every method; for the naive ablation the kinds are too, for the
    feedback methods the split between annotation and synthesis follows the signal at run time."""
    out, _, _, rows, before = feedback_comparison
    assert before["logical"]["calls"] == sum(r.spent_units for r in rows)
    for method in FEEDBACK_METHODS:
        for folder in _runs(feedback_comparison, method):
            cfg = load_config(folder / "config.yaml")
            planned = estimate(cfg)
            by_stage, by_kind = Counter(), Counter()
            for r in Ledger(cfg.budget, folder / "ledger.sqlite").rows():
                if r["status"] != "released":
                    by_stage[r["stage"]] += r["units"]
                    by_kind[(r["stage"], r["kind"])] += r["units"]
            assert {r["stage"]: r["calls"] for r in planned} == dict(by_stage), method
            if method == "baldistill-n-err":
                got = Counter({(r["stage"], k): r[k] for r in planned for k in ("annotate", "synthesize") if r[k]})
                assert got == by_kind
            else:  # stage 1 is the naive split, exact per kind
                assert planned[0]["annotate"] == by_kind[(0, "annotate")]
                assert planned[0]["synthesize"] == by_kind[(0, "synthesize")]


def test_the_estimate_table_says_the_split_is_decided_at_run_time(tiny_model):
    from rich.console import Console

    from baldistill.report.terminal import estimate_table

    def shown(method):
        cfg = load_config(tiny_config(tiny_model, method=method, budget=96))
        console = Console(record=True, width=200)
        console.print(estimate_table(cfg, estimate(cfg)))
        return console.export_text()

    assert "decided at run time" in shown("baldistill-f")
    assert "decided at run time" not in shown("baldistill-n-err")


def test_the_signal_never_reads_the_test_or_validation_files(tiny_model, tmp_path):
    """A run whose test file is another one (the answers changed, half the items gone) and that scores a
    validation split as well picks the same quotas, candidates and examples every stage."""
    rows = read_jsonl(DEMO_TEST)
    other, val = tmp_path / "test.jsonl", tmp_path / "val.jsonl"
    other.write_text(
        "".join(json.dumps({**r, "answer": r["answer"] + "0"}) + "\n" for r in rows[::2]), encoding="utf-8"
    )
    val.write_text("".join(json.dumps(r) + "\n" for r in read_jsonl(DEMO / "val.jsonl")[::10]), encoding="utf-8")
    base = {"method": "baldistill-f", "budget": 32, "stages": 2}
    with answering():  # simulated answers, so that the signal is not flat (answering_student)
        a = run(load_config(tiny_config(tiny_model, **base)), tmp_path / "a")
        b = run(
            load_config(tiny_config(tiny_model, **base, **{"data.test": str(other), "data.val": str(val)})),
            tmp_path / "b",
        )
    assert a.macro != b.macro and b.n_val > 0  # scored on other answers, and on validation too
    for i in range(2):
        for name in ("quota.json", "selected.jsonl", "synthetic.jsonl", "ifd.jsonl", "train.jsonl"):
            pa, pb = tmp_path / f"a/stages/{i}/{name}", tmp_path / f"b/stages/{i}/{name}"
            assert pa.read_text() == pb.read_text(), (i, name)
        if i:
            assert _json(tmp_path / f"a/stages/{i}/signal.json") == _json(tmp_path / f"b/stages/{i}/signal.json")
    assert a.signal_by_stage == b.signal_by_stage
    assert len({json.dumps(_json(tmp_path / f"a/stages/{i}/quota.json")["quota"]) for i in range(2)}) > 1, (
        "the simulated answers move the quotas"
    )


def test_a_method_that_judges_the_students_answers_refuses_reference_responses(tiny_model, tmp_path):
    from baldistill.config import ConfigError

    cfg = load_config(tiny_config(tiny_model, method="baldistill-n-err", **{"selection.response": "reference"}))
    with pytest.raises(ConfigError, match="selection.response: baldistill-n-err judges the student's own answers"):
        run(cfg, tmp_path / "r")


def test_the_replay_scheme_continues_one_adapter_on_each_stages_new_examples_and_some_earlier_ones(
    tiny_model, tmp_path
):
    cfg = load_config(tiny_config(tiny_model, budget=48, **{"student.train.scheme": "replay"}))
    assert cfg.student.train.effective_replay == 0.5  # the scheme's default
    m = run(cfg, tmp_path / "r")
    done = [_json(tmp_path / f"r/stages/{i}/done.json") for i in range(3)]
    new = [d["kept_new"] for d in done]
    assert [d["training"]["examples"] for d in done] == [
        new[0],
        new[1] + round(0.5 * new[1]),
        new[2] + round(0.5 * new[2]),
    ]
    assert all(d["training"]["steps"] == -(-d["training"]["examples"] // 8) for d in done)  # the full epoch each
    assert m.n_train == sum(new)
    # unset, select-then-train replays nothing (as before this scheme)
    stt = load_config(tiny_config(tiny_model, **{"student.train.scheme": "select-then-train"}))
    assert stt.student.train.effective_replay == 0.0
