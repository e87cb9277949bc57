"""What the budget bought, exported: a run of the tiny model against the fake server with a price table (an
annotation, a synthesis, a reply dropped by the checks, a verified synthetic example, a synthetic example rejected by
verification and a request re-sent after an unknown outcome) records every judged reply with its verdict and the
few-shot ids its synthesis showed; ``export --dataset`` turns the run folder (its data files moved away) into a
``datasets`` folder whose rows trace every charged ledger key to one example and add up to the ledger, with a card
whose numbers are the run's; ``export --out`` writes a model card whose scores are metrics.json's; and any run of a
comparison folder exports the same way, a reply served from the shared cache costing 0 dollars and one unit."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import DEMO, DEMO_TEST, tiny_config
from typer.testing import CliRunner

from baldistill import load_config, run
from baldistill.budget.ledger import CHARGED, Caps, Ledger
from baldistill.cli import app
from baldistill.core.methods import METHODS
from baldistill.core.results import RunMetrics
from baldistill.data import Example, read_jsonl
from baldistill_testing.fake_openai import FakeOpenAIServer, default_reply

KEY = "sk-export-0000"
VERIFY_MARK = "Solve it in a few short steps"
PRICE = {"input_per_mtok": 1.5, "output_per_mtok": 4.0}
runner = CliRunner()


class Teacher:
    """Rationales with the gold answer, except the third annotation asked (its answer disagrees); a synthetic example
    of its own per synthesis request; re-answers that agree, except in the domain lcm (rejected by verification)."""

    def __init__(self):
        self.annotations = 0

    def __call__(self, body: dict) -> str:
        text = "\n".join(str(m.get("content")) for m in body.get("messages") or [])
        d = re.search(r'examples from the domain "([^"]+)"', text)
        if d:
            tag = hashlib.sha256(text.encode()).hexdigest()[:8]
            return f"Input: A new question {tag} for {d.group(1)}?\nReasoning: Think it through.\nAnswer: 7"
        if VERIFY_MARK in text:
            return "Working it out. The answer is 8." if "for lcm?" in text else "Working it out. The answer is 7."
        if "Gold answer:" in text:
            self.annotations += 1
            if self.annotations == 3:
                return "Reasoning about it. The answer is 123456789."
        return default_reply(body)


def teacher_cfg(server, **over) -> dict:
    return {
        "kind": "openai",
        "model": "fake-teacher",
        "base_url": server.base_url,
        "api_key_env": "BD_EXPORT_KEY",
        "concurrency": 2,
        "timeout": 5,
        "backoff": 0.01,
        "price": PRICE,
        "verify": {"samples": 1},
        **over,
    }


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("BD_EXPORT_KEY", KEY)


@pytest.fixture(scope="module")
def made(tiny_model, tmp_path_factory):
    """The run (its data files copied beside it, then moved away once it finished): (run folder, tmp folder)."""
    tmp = tmp_path_factory.mktemp("export")
    data = tmp / "data"
    data.mkdir()
    for src in (DEMO / "train.jsonl", DEMO / "reserve.jsonl", DEMO_TEST):
        shutil.copy(src, data / src.name)
    os.environ["BD_EXPORT_KEY"] = KEY
    with FakeOpenAIServer(api_key=KEY, reply=Teacher(), faults=["500"]) as s:
        cfg = tiny_config(tiny_model, method="baldistill-n", budget=28, stages=2)
        cfg["data"].update(
            train=str(data / "train.jsonl"), reserve=str(data / "reserve.jsonl"), test=str(data / DEMO_TEST.name)
        )
        cfg["teacher"] = teacher_cfg(s)
        run(load_config(cfg), tmp / "run")
    data.rename(tmp / "data-moved-away")
    return tmp / "run", tmp


def charged(run_dir: Path) -> list[dict]:
    return [r for r in Ledger(Caps(0), run_dir / "ledger.sqlite", recover=False).rows() if r["status"] in CHARGED]


def target(method: str, e: Example) -> str:
    """What the pipeline trained the student on (the rationale for a method with one, else the label)."""
    return e.rationale if METHODS[method].rationale and e.rationale else f"The answer is {e.answer}."


def test_every_judged_reply_is_kept_with_its_verdict_and_the_examples_it_showed(made):
    """The run has each case the export must trace; every judged reply is in the ledger's replies table."""
    run_dir, _ = made
    rows = charged(run_dir)
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["annotate"] and kinds["synthesize"] and kinds["verify"]
    assert any(r["kind"] == "annotate" and r["status"] == "dropped" and "!= gold" in r["note"] for r in rows)
    assert any(r["kind"] == "synthesize" and "rejected by verification" in r["note"] for r in rows)
    by_key = Counter(r["key"] for r in rows)
    resent = [k for k, n in by_key.items() if n > 1]
    assert resent and all(
        [r["status"] for r in rows if r["key"] == k][0] == "unknown"
        and [r["units"] for r in rows if r["key"] == k] == [1, 0]
        for k in resent
    )
    final = read_jsonl(run_dir / "stages/1/train.jsonl")
    assert any(e["source"] == "synthetic" and e["meta"].get("verified") == "1/1" for e in final)
    assert not (run_dir.parent / "data").exists()  # the data files are gone
    led = Ledger(Caps(0), run_dir / "ledger.sqlite", recover=False)
    replies, by_id = led.replies(), {r["id"]: r for r in rows}
    judged = [r for r in rows if r["status"] in ("ok", "dropped", "parse_error")]
    assert {r["id"] for r in judged} == set(replies)  # kept replies too, not only the dropped
    pool = {r["id"]: r for r in read_jsonl(run_dir.parent / "data-moved-away/train.jsonl")}
    for row, rep in replies.items():
        r = by_id[row]
        assert rep.key == r["key"] and rep.kind == r["kind"] and rep.text
        assert rep.verdict == r["status"] and rep.note == r["note"]
        if rep.kind == "synthesize":
            assert rep.shown and all(pool[x]["domain"] == r["domain"] for x in rep.shown)
            assert f"for {r['domain']}?" in rep.text
        else:
            assert rep.shown == ()
    assert any(rep.verdict == "dropped" and "!= gold" in rep.note for rep in replies.values())


def export_without_torch(run_dir: Path, out: Path) -> str:
    code = (
        "import sys\nfrom baldistill.cli import app\n"
        f"code = app(['export', '--run', {str(run_dir)!r}, '--dataset', {str(out)!r}], standalone_mode=False)\n"
        "assert not code, code\n"
        "print('HEAVY', sorted(m for m in ('torch', 'transformers', 'peft', 'matplotlib') if m in sys.modules))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BALDISTILL_PROGRESS": "0"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.fixture(scope="module")
def exported(made):
    run_dir, tmp = made
    out = tmp / "dataset"
    stdout = export_without_torch(run_dir, out)
    assert "HEAVY []" in stdout, stdout[-1000:]
    return out


def test_the_dataset_traces_every_charged_key_to_one_example_and_adds_up_to_the_ledger(made, exported):
    import datasets

    run_dir, _ = made
    ds = datasets.load_from_disk(str(exported))
    assert set(ds) == {"train", "dropped"}
    train, dropped = ds["train"].to_list(), ds["dropped"].to_list()
    final = [Example.from_json(r) for r in read_jsonl(run_dir / "stages/1/train.jsonl")]
    assert [r["id"] for r in train] == [e.id for e in final]
    assert [r["target"] for r in train] == [target("baldistill-n", e) for e in final]
    m = RunMetrics.load(run_dir / "metrics.json")
    assert Counter(r["domain"] for r in train) == Counter(m.n_train_by_domain)
    rows = charged(run_dir)
    seen = Counter(k for r in train + dropped for k in r["ledger_keys"])
    assert set(seen) == {r["key"] for r in rows} and set(seen.values()) == {1}
    for r in train + dropped:
        for k in r["ledger_keys"]:
            assert {x["example_id"] for x in rows if x["key"] == k} == {r["id"]}
        mine = sorted(x["id"] for x in rows if x["key"] in r["ledger_keys"])
        assert sorted(x["row"] for x in r["ledger_rows"]) == mine
    both = train + dropped
    for col in ("units", "prompt_tokens", "completion_tokens", "reasoning_tokens"):
        assert sum(r[col] for r in both) == sum(x[col] for x in rows), col
    assert sum(r["units"] for r in both) == m.spent == 28
    assert sum(r["calls"] for r in both) == len(rows) == m.ledger.physical.calls
    assert sum(r["dollars"] for r in both) == pytest.approx(sum(x["dollars"] for x in rows), abs=1e-12)
    assert sum(r["dollars"] for r in both) == pytest.approx(m.ledger.dollars, abs=1e-6) and m.ledger.dollars > 0
    assert sum(r["physical_dollars"] for r in both) == pytest.approx(m.ledger.physical.dollars, abs=1e-6)
    resent = next(r for r in both if r["calls"] > 1)
    assert resent["units"] == 1 and [x["status"] for x in resent["ledger_rows"]][0] == "unknown"
    # what each row says of its example
    pool = {r["id"]: r for r in read_jsonl(run_dir.parent / "data-moved-away/train.jsonl")}
    for r in train:
        assert r["teacher"] == "fake-teacher" and r["check"] == "ok" and r["reason"] == ""
        assert r["stage"] in (0, 1) and r["group"] in ("head", "tail") and r["reply"]
        quota = json.loads((run_dir / f"stages/{r['stage']}/quota.json").read_text())
        assert r["domain"] in quota[r["group"]]
        if r["source"] == "real":
            assert r["prompt"] == "annotate_v1" and r["ledger_keys"] == [f"annotate/{r['id']}"]
            assert (r["input"], r["answer"]) == (pool[r["id"]]["input"], pool[r["id"]]["answer"])
        else:
            assert r["source"] == "synthetic" and r["prompt"] == "synthesize_v2" and r["group"] == "tail"
            assert r["ledger_keys"] == [f"synthesize/{r['id']}", f"verify/{r['id']}/0"]
            assert r["verification"] == "ok" and r["verification_note"] == "1/1 re-answers agree"
            assert r["shown"] and all(pool[x]["domain"] == r["domain"] for x in r["shown"])
        assert r["prompt_hash"] == r["ledger_rows"][0]["prompt_hash"] != ""
    reasons = {r["reason"] for r in dropped}
    assert "annotate: answer disagrees with gold" in reasons and "synthesize: rejected by verification" in reasons
    bad = next(r for r in dropped if r["reason"] == "annotate: answer disagrees with gold")
    assert bad["check"] == "dropped" and "123456789" in bad["reply"] and bad["input"] == pool[bad["id"]]["input"]
    rejected = next(r for r in dropped if r["reason"] == "synthesize: rejected by verification")
    assert rejected["domain"] == "lcm" and rejected["check"] == "ok" and rejected["verification"] == "dropped"
    assert rejected["input"].startswith("A new question") and rejected["target"] == "" and rejected["shown"]
    # the Parquet files hold the same rows
    pq = datasets.load_dataset("parquet", data_files={s: str(exported / f"data/{s}-*.parquet") for s in ds})
    assert pq["train"].to_list() == train and pq["dropped"].to_list() == dropped


def card_tables(text: str) -> dict[str, list[list[str]]]:
    """The markdown tables of a card, by the heading above them: rows of cells (header and separator left out)."""
    out: dict[str, list[list[str]]] = {}
    heading = ""
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:]
        elif line.startswith("| ") and not line.startswith("| ---"):
            out.setdefault(heading, []).append([c.strip() for c in line.strip()[1:-1].split("|")])
    return {h: rows[1:] for h, rows in out.items()}


def header(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def num(cell: str) -> float:
    return float(cell.replace(",", "").replace("$", ""))


def test_the_dataset_card_says_what_the_run_and_the_ledger_say(made, exported):
    run_dir, _ = made
    text = (exported / "README.md").read_text()
    meta = header(text)
    assert meta["size_categories"] == ["n<1K"] and "question-answering" in meta["task_categories"]
    assert {f["split"] for f in meta["configs"][0]["data_files"]} == {"train", "dropped"}
    assert "license" not in meta and "License: not set" in text
    m = RunMetrics.load(run_dir / "metrics.json")
    rows = charged(run_dir)
    tables = card_tables(text)
    spend = {r[0]: r[1:] for r in tables["Spend"]}
    logical = spend["charged to this run"]
    assert [num(x) for x in logical[:5]] == [
        len(rows),
        m.spent,
        m.ledger.prompt_tokens,
        m.ledger.completion_tokens,
        sum(r["reasoning_tokens"] for r in rows),
    ]
    assert num(logical[5]) == pytest.approx(m.ledger.dollars, abs=1e-6)
    assert num(spend["sent to the server (physical)"][0]) == m.ledger.physical.calls
    assert num(spend["sent to the server (physical)"][-1]) == pytest.approx(m.ledger.physical.dollars, abs=1e-6)
    final = read_jsonl(run_dir / "stages/1/train.jsonl")
    quotas = [json.loads((run_dir / f"stages/{i}/quota.json").read_text()) for i in range(2)]
    chosen = {}
    for i in range(2):
        for name in ("selected.jsonl", "synthetic.jsonl"):
            for e in read_jsonl(run_dir / f"stages/{i}/{name}"):
                chosen.setdefault(e["id"], i)
    per = {r[0].strip("`"): r[1:] for r in tables["Per domain"]}
    assert set(per) - {"**total**"} == set(m.n_train_by_domain)
    for d, n in m.n_train_by_domain.items():
        reporting, train, real, syn, dup, head, tail, dropped, units, dollars = per[d]
        mine = [e for e in final if e["domain"] == d]
        assert reporting == ("tail" if m.per_domain[d].tail else "head")
        assert num(train) == n
        assert (num(real), num(syn), num(dup)) == tuple(
            sum(e["source"] == s for e in mine) for s in ("real", "synthetic", "duplicate")
        )
        groups = Counter("tail" if d in quotas[chosen[e["id"]]]["tail"] else "head" for e in mine)
        assert (num(head), num(tail)) == (groups["head"], groups["tail"])
        assert num(units) == sum(r["units"] for r in rows if r["domain"] == d)
        assert num(dollars) == pytest.approx(sum(r["dollars"] for r in rows if r["domain"] == d), abs=1e-6)
    total = per["**total**"]
    assert num(total[1]) == m.n_train and num(total[3]) == m.n_train_synthetic and num(total[8]) == m.spent
    assert "baldistill-n" in text and "fake-teacher" in text and "28 teacher calls" in text
    assert "verify: `verify_v1`" in text and "re-answered 1 time(s)" in text


def test_export_out_writes_a_model_card_with_the_runs_scores(made, tmp_path):
    run_dir, _ = made
    r = runner.invoke(
        app, ["export", "--run", str(run_dir), "--out", str(tmp_path / "adapter"), "--dataset", str(tmp_path / "ds")]
    )
    assert r.exit_code == 0, r.output
    text = (tmp_path / "adapter/README.md").read_text()
    meta = header(text)
    assert meta["library_name"] == "peft" and "base_model" not in meta  # a local tiny model has no Hub id
    assert "License: not set" in text and "Model Card for Model ID" not in text  # peft's boilerplate is gone
    assert "Model Card for Model ID" in (run_dir / "adapter/README.md").read_text()
    m = RunMetrics.load(run_dir / "metrics.json")
    scores = {r[0].strip("`*"): r for r in card_tables(text)["Test scores"]}

    def pct(x):
        return "–" if x is None else f"{100 * x:.1f}"

    for d, s in m.per_domain.items():
        _, split, n, n_train, student, base = scores[d]
        assert split == ("tail" if s.tail else "head") and int(n) == s.n and int(n_train) == m.n_train_by_domain[d]
        assert (student, base) == (pct(s.score), pct(m.majority.per_domain[d].score))
    for label, get in (("macro", lambda x: x.macro), ("tail macro", lambda x: x.tail.macro)):
        assert scores[label][4:] == [pct(get(m)), pct(get(m.majority))]
    assert "`baldistill-n`" in text and "K = 2" in text and "B = 28" in text and "`fake-teacher`" in text
    assert "`ds`" in text  # the data set exported beside it
    config = text.split("```yaml\n")[-1].split("```")[0]
    assert yaml.safe_load(config) == yaml.safe_load((run_dir / "config.yaml").read_text())
    r = runner.invoke(app, ["export", "--run", str(run_dir), "--out", str(tmp_path / "merged"), "--merge"])
    assert r.exit_code == 0, r.output
    merged = header((tmp_path / "merged/README.md").read_text())
    assert merged["library_name"] == "transformers" and "lora" not in merged["tags"]


def test_a_known_student_alias_is_named_by_its_hub_id(made, tmp_path):
    from baldistill.report.cards import model_card
    from baldistill.runner.export import model_facts
    from baldistill.student.assets import hub_id

    assert hub_id("smollm2-135m-instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert hub_id("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert hub_id(str(tmp_path)) is None
    run_dir, _ = made
    fake = tmp_path / "run"
    shutil.copytree(run_dir, fake, ignore=shutil.ignore_patterns("stages", "adapter"))
    cfg = yaml.safe_load((fake / "config.yaml").read_text())
    cfg["student"]["model"] = "smollm2-135m-instruct"
    (fake / "config.yaml").write_text(yaml.safe_dump(cfg))
    text = model_card(model_facts(fake, tmp_path / "out", merged=False, dataset=None, chat=True))
    assert header(text)["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "dequantised" in text and f"--run {fake} --dataset" in text


def test_export_needs_a_destination_and_names_the_extra_when_datasets_is_missing(made, tmp_path, monkeypatch):
    run_dir, _ = made
    r = runner.invoke(app, ["export", "--run", str(run_dir)])
    assert r.exit_code == 2 and "--dataset" in r.output
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets fails
    r = runner.invoke(app, ["export", "--run", str(run_dir), "--dataset", str(tmp_path / "ds")])
    assert r.exit_code == 2 and "pip install 'baldistill[data]'" in r.output, r.output
    assert not (tmp_path / "ds").exists()


def test_any_run_of_a_comparison_exports_and_a_cached_reply_costs_no_dollars(tiny_model, tmp_path):
    import datasets

    from baldistill.runner.compare import compare
    from baldistill.runner.sweeps import make_spec

    with FakeOpenAIServer(api_key=KEY, reply=Teacher()) as s:
        cfg = tiny_config(tiny_model, method="baldistill-n", budget=24, stages=2)
        cfg["teacher"] = teacher_cfg(s, verify={"samples": 0})
        base = load_config(cfg)
        out = tmp_path / "cmp"
        rows = compare(base, make_spec(out / "config.yaml", base, "baldistill-n", seeds=2, stage_eval=None), out)
    assert len(rows) == 2
    cached = 0
    for row in rows:
        run_dir = out / "runs" / row.run
        r = runner.invoke(app, ["export", "--run", str(run_dir), "--dataset", str(tmp_path / f"ds-{row.seed}")])
        assert r.exit_code == 0, r.output
        ds = datasets.load_from_disk(str(tmp_path / f"ds-{row.seed}"))
        both = ds["train"].to_list() + ds["dropped"].to_list()
        m = RunMetrics.load(run_dir / "metrics.json")
        assert [x["id"] for x in ds["train"]] == [e["id"] for e in read_jsonl(run_dir / "stages/1/train.jsonl")]
        assert sum(x["units"] for x in both) == m.spent
        assert sum(x["dollars"] for x in both) == pytest.approx(m.ledger.dollars, abs=1e-6)
        assert sum(x["physical_dollars"] for x in both) == pytest.approx(m.ledger.physical.dollars, abs=1e-6)
        for x in both:
            if x["sent"] == 0:  # served from the comparison's shared cache: one unit, no dollars paid
                cached += 1
                assert x["units"] == 1 and x["physical_dollars"] == 0 and x["dollars"] > 0 and x["reply"]
    assert cached > 0


def test_a_run_cut_short_exports_its_last_completed_stage_and_says_why_the_rest_is_no_training_data(tmp_path):
    """Built by hand (no model): active-ft-cot (a stage-wide quota: no head or tail), stage 0 done, stage 1 cut short
    after its annotations were paid; one request whose outcome stayed unknown; a ledger row without a recorded reply
    (a ledger written before replies were kept)."""
    from baldistill.budget.ledger import ReplyRecord
    from baldistill.config import dump_config
    from baldistill.runner.dataset import read_run

    run_dir = tmp_path / "run"
    cfg = load_config(tiny_config(Path("no-model"), method="active-ft-cot", budget=6, stages=2))
    (run_dir / "stages/0").mkdir(parents=True)
    (run_dir / "stages/1").mkdir(parents=True)
    (run_dir / "config.yaml").write_text(dump_config(cfg))
    pool = read_jsonl(DEMO / "train.jsonl")
    first, second = pool[:3], pool[3:6]

    def jsonl(path, rows):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    for i, rows in ((0, first), (1, second)):
        (run_dir / f"stages/{i}/quota.json").write_text(
            json.dumps({"stage": i, "quota": {"*": 3}, "head": [], "tail": []})
        )
        jsonl(run_dir / f"stages/{i}/selected.jsonl", rows)
        jsonl(run_dir / f"stages/{i}/synthetic.jsonl", [])
    kept = [dict(r, rationale=f"Because. The answer is {r['answer']}.") for r in first[:2]]
    jsonl(run_dir / "stages/0/train.jsonl", kept)
    (run_dir / "stages/0/done.json").write_text("{}")
    led = Ledger(Caps(6, input_per_mtok=1.0, output_per_mtok=2.0), run_dir / "ledger.sqlite")
    records = []
    for i, rows in ((0, first), (1, second)):
        for j, r in enumerate(rows):
            key = f"annotate/{r['id']}"
            row = led.reserve(key=key, stage=i, domain=r["domain"], kind="annotate", example_id=r["id"], max_tokens=9)
            if i == 1 and j == 2:
                led.unknown(row, "HTTP 500")  # the run stopped before it was sent again
                continue
            led.settle(row, 10, 5)
            verdict, note = ("dropped", "answer '0' != gold") if (i, j) == (0, 2) else ("ok", "")
            if verdict != "ok":
                led.mark(row, verdict, note)
            if (i, j) != (0, 1):  # its reply was not recorded (an older ledger)
                records.append(ReplyRecord(row, key, "annotate", r["id"], f"reply {r['id']}", None, verdict, note))
    led.record_replies(records)
    led.close()
    data = read_run(run_dir)
    assert [r["id"] for r in data.train] == [r["id"] for r in kept]
    assert [r["target"] for r in data.train] == [r["rationale"] for r in kept]
    assert all(r["group"] == "" and r["stage"] == 0 and r["check"] == "ok" for r in data.train)
    assert [r["reply"] for r in data.train] == [f"reply {first[0]['id']}", ""]
    why = {r["id"]: (r["reason"], r["check"], r["stage"]) for r in data.dropped}
    assert why[first[2]["id"]] == ("annotate: answer disagrees with gold", "dropped", 0)
    for r in second[:2]:
        assert why[r["id"]] == ("annotate: bought in stage 2, which did not complete (--resume continues it)", "ok", 1)
    assert why[second[2]["id"]] == ("annotate: outcome unknown", "unknown", 1)
    both = data.train + data.dropped
    assert sum(r["units"] for r in both) == 6 and sum(r["calls"] for r in both) == 6
    assert sum(r["dollars"] for r in both) == pytest.approx(data.ledger["dollars"])
