"""Full runs of every method on the tiny model over the demo data (the shared comparison's seed-0 runs)."""

import json
import shutil

import pytest
from conftest import tiny_config

from baldistill import load_config, run
from baldistill.budget.ledger import Ledger
from baldistill.config import ConfigError
from baldistill.data import read_jsonl


def cfg_for(model, **over):
    return load_config(tiny_config(model, **{"budget": 96, "eval_each_stage": 2, **over}))


@pytest.fixture(scope="module")
def runs(method_runs):
    return method_runs


def test_every_method_finishes_with_metrics(runs):
    for name, (folder, _) in runs.items():
        saved = json.loads((folder / "metrics.json").read_text())
        assert saved["method"] == name
        for key in ("budget", "spent", "n_train", "macro", "micro", "head", "tail", "per_domain", "majority"):
            assert key in saved, (name, key)
        assert saved["spent"] <= saved["budget"] == 96
        assert set(saved["tail"]["domains"]) == {
            "count_bits",
            "letter_counting",
            "simple_equations",
            "lcm",
            "family_relationships",
        }  # pool < B/l = 12
        assert (folder / "config.yaml").exists() and (folder / "env.json").exists()
        assert len(read_jsonl(folder / "predictions.jsonl")) == saved["n_test"]


def test_budget_is_spent_exactly_and_tail_deficits_are_synthesized(runs):
    folder, m = runs["baldistill-a"]
    assert m.spent == 96 and m.stages == 3
    ledger = Ledger(96, folder / "ledger.sqlite").rows()
    assert len(ledger) == 96 and all(r["status"] == "ok" for r in ledger)
    # reference rationales all agree with the gold: nothing dropped, training set == budget
    assert m.n_train == 96 and sum(m.shortfall_by_domain.values()) == 0
    syn = sum(1 for e in ledger if e["kind"] == "synthesize")
    assert syn == m.n_train_synthetic > 0
    for i in range(3):
        q = json.loads((folder / f"stages/{i}/quota.json").read_text())
        synthetic = read_jsonl(folder / f"stages/{i}/synthetic.jsonl")
        selected = read_jsonl(folder / f"stages/{i}/selected.jsonl")
        for d in q["tail"]:  # the deficit, and only the deficit, is synthesized
            assert sum(e["domain"] == d for e in synthetic) == q["quota"][d] - q["remaining_before"][d]
            assert sum(e["domain"] == d for e in selected) == q["remaining_before"][d]
        for d in q["head"]:
            assert sum(e["domain"] == d for e in selected) == q["quota"][d]
        assert sum(q["quota"].values()) == 32
        assert (folder / f"stages/{i}/adapter/adapter_model.safetensors").exists()
    assert any(json.loads((folder / f"stages/{i}/quota.json").read_text())["tail"] for i in range(3))
    # IFD ran from stage 1 on, with the student's own generated rationales as y
    assert read_jsonl(folder / "stages/0/ifd.jsonl") == []  # stage 0 is random: nothing scored
    scored = read_jsonl(folder / "stages/1/ifd.jsonl")
    assert scored and all(s["ifd"] > 0 for s in scored)
    assert (folder / "adapter/adapter_model.safetensors").exists()


def test_selection_takes_top_ifd_within_each_domain(runs):
    folder, _ = runs["baldistill-a"]
    for i in (1, 2):
        scored = read_jsonl(folder / f"stages/{i}/ifd.jsonl")
        picked = {e["id"] for e in read_jsonl(folder / f"stages/{i}/selected.jsonl")}
        for d in {s["domain"] for s in scored}:
            mine = sorted((s for s in scored if s["domain"] == d), key=lambda s: -s["ifd"])
            k = sum(s["id"] in picked for s in mine)
            assert {s["id"] for s in mine[:k]} <= picked


def test_baselines_behave_as_specified(runs):
    assert runs["zero-shot"][1].n_train == 0 and runs["zero-shot"][1].spent == 0
    assert not (runs["zero-shot"][0] / "adapter").exists()
    rft = runs["random-ft"][1]
    assert rft.spent == 0 and rft.n_train == 96  # gold labels only: no teacher calls
    train = read_jsonl(runs["random-ft"][0] / "stages/0/train.jsonl")
    assert all(e["rationale"] is None for e in train)
    for name in ("random-ft-cot", "active-ft-cot"):
        assert runs[name][1].n_train_synthetic == 0 and runs[name][1].spent == 96
    assert runs["random-ft-cot"][1].stages == 1 and runs["active-ft-cot"][1].stages == 3
    assert runs["baldistill-n"][1].n_train_synthetic > runs["baldistill-a"][1].n_train_synthetic


def test_out_folder_is_never_overwritten(runs, tiny_model):
    folder, _ = runs["zero-shot"]
    with pytest.raises(ConfigError, match="--resume"):
        run(cfg_for(tiny_model, method="zero-shot"), folder)


def test_resume_after_a_stage_equals_uninterrupted(runs, tiny_model, tmp_path):
    full, m_full = runs["baldistill-a"]
    part = tmp_path / "resumed"
    shutil.copytree(full, part)
    # simulate a crash during stage 2: its outputs are partial and metrics were never written
    shutil.rmtree(part / "stages/2")
    (part / "metrics.json").unlink()
    shutil.rmtree(part / "adapter")
    # the ledger as the crash left it: stage 2's calls were paid (they stay charged and are not re-bought)
    m = run(load_config(full / "config.yaml"), part, resume=True)
    assert m.spent == m_full.spent == 96
    assert len(Ledger(96, part / "ledger.sqlite").rows()) == 96
    for i in range(3):
        a = read_jsonl(full / f"stages/{i}/train.jsonl")
        b = read_jsonl(part / f"stages/{i}/train.jsonl")
        assert [e["id"] for e in a] == [e["id"] for e in b]
    assert m.macro == pytest.approx(m_full.macro)


def test_reproducible_with_the_same_seed(runs, tiny_model, tmp_path):
    m = run(load_config(runs["random-ft-cot"][0] / "config.yaml"), tmp_path / "again")
    a = read_jsonl(runs["random-ft-cot"][0] / "stages/0/train.jsonl")
    b = read_jsonl(tmp_path / "again/stages/0/train.jsonl")
    assert [e["id"] for e in a] == [e["id"] for e in b]
    assert m.per_domain == runs["random-ft-cot"][1].per_domain


def test_options_continued_training_reference_response_and_plain_model(tiny_model_plain, tmp_path):
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
    m = run(cfg, tmp_path / "opts")
    assert m.spent == 30 and m.stages == 2
    done = json.loads((tmp_path / "opts/stages/1/done.json").read_text())
    assert done["training"]["examples"] == done["kept_new"]  # continued: trains on the new stage only


def test_resume_refuses_a_changed_config(runs, tiny_model):
    folder, _ = runs["random-ft"]
    with pytest.raises(ConfigError, match="budget changed"):
        run(load_config(folder / "config.yaml", ["budget=50"]), folder, resume=True)


def test_select_then_train_trains_cheap_selection_students_then_one_final_fine_tune(tiny_model, tmp_path):
    """Before the last stage a selection student continues on the stage's new examples (plus replayed earlier
    ones) for selection_epochs; the last stage trains a fresh adapter on everything selected, with the seed and
    epochs a single-stage method uses."""
    from conftest import DEMO

    cfg = cfg_for(
        tiny_model,
        stages=3,
        eval_each_stage=None,
        **{
            "student.train.scheme": "select-then-train",
            "student.train.epochs": 2,
            "student.train.selection_epochs": 1,
            "student.train.replay": 0.5,
            "data.val": str(DEMO / "val.jsonl"),
        },
    )
    m = run(cfg, tmp_path / "stt")
    # the validation split is scored beside the test split, all of it
    assert m.n_val == 388 and m.val is not None and set(m.val.per_domain) == set(m.per_domain)
    assert len(read_jsonl(tmp_path / "stt/predictions_val.jsonl")) == 388
    done = [json.loads((tmp_path / f"stt/stages/{i}/done.json").read_text()) for i in range(3)]
    new = [d["kept_new"] for d in done]
    assert [d["training"]["examples"] for d in done] == [new[0], new[1] + round(0.5 * new[1]), 96]
    assert done[0]["training"]["steps"] == -(-new[0] // 8)  # one epoch of batches of 8
    assert done[2]["training"]["steps"] == 2 * -(-96 // 8)  # the final student: the full epochs on all 96
    for d in done:
        assert set(d["phase_seconds"]) >= {"train", "teacher"}
    assert set(m.phase_seconds) == {"1", "2", "3", "final"} and "generate" in m.phase_seconds["2"]
    q = json.loads((tmp_path / "stt/stages/1/quota.json").read_text())
    assert q["candidates"] and all(n > 0 for n in q["candidates"].values())
    # the final student is what a single-stage fine-tune on the same examples gives: same seed, fresh adapter
    import torch
    from safetensors.torch import load_file

    from baldistill.data import Example
    from baldistill.student import Student

    alone = Student(cfg.student, cfg.data.instruction, cfg.seed)
    alone.new_adapter(cfg.seed)
    train = [Example.from_json(r) for r in read_jsonl(tmp_path / "stt/stages/2/train.jsonl")]
    alone.fit([(e.input, e.rationale) for e in train], seed=cfg.seed)
    alone.save_adapter(tmp_path / "alone")
    got, want = (
        load_file(tmp_path / "stt/adapter/adapter_model.safetensors"),
        load_file(tmp_path / "alone/adapter_model.safetensors"),
    )
    assert sorted(got) == sorted(want) and all(torch.equal(got[k], want[k]) for k in got)


def test_the_old_adapter_setting_still_loads_with_a_note():
    cfg = load_config(tiny_config("unused", **{"student.train": {"fresh_adapter_each_stage": False}}))
    assert cfg.student.train.scheme == "continue" and "scheme: continue" in cfg._notes[0]
    assert (
        load_config(tiny_config("unused", **{"student.train": {"fresh_adapter_each_stage": True}})).student.train.scheme
        == "paper"
    )
