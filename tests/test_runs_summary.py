"""scripts/runs_summary.py, which docs/results.md quotes: ranges over seeds, reasons, shared synthetic examples,
wrong answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "runs_summary.py"


GOLD = {"a": "6", "b": "12", "c": "15"}  # the data files' items (input -> answer); "d" is in none of them


def _run(
    folder: Path, seed: int, train: int, synthetic: list[str], verify: int, lost: dict, answers: dict | None = None
) -> None:
    run = folder / "runs" / "s" / "B96" / "K1" / "balance-ft-cot" / f"seed{seed}"
    (run / "stages" / "0").mkdir(parents=True)
    # the data under the run's own field names (data.fields), as a user's file may have them
    (folder / "reserve.jsonl").write_text(
        "".join(json.dumps({"question": k, "gold": v, "domain": "lcm"}) + "\n" for k, v in GOLD.items())
    )
    (run / "config.yaml").write_text(
        "budget: 96\ndata:\n  train: ../../../../../../reserve.jsonl\n"
        "  test: ../../../../../../reserve.jsonl\n  reserve: ../../../../../../reserve.jsonl\n"
        "  fields: {input: question, answer: gold}\n"
    )
    answers = answers or {}
    (run / "stages" / "0" / "synthetic.jsonl").write_text(
        "".join(
            json.dumps({"domain": "lcm", "input": x, "answer": answers.get(x, GOLD.get(x, "1"))}) + "\n"
            for x in synthetic
        )
    )
    (run / "metrics.json").write_text(
        json.dumps(
            {
                "spent": 96,
                "n_train": train,
                "n_train_synthetic": len(synthetic),
                "shortfall_reasons": {"lcm": lost},
                "unspent_by_domain": {},
                "ledger": {"by_kind": {"synthesize": {"units": 4}, "verify": {"units": verify}}},
            }
        )
    )


def test_ranges_reasons_shared_examples_and_total(tmp_path):
    # seed 0 trained on one wrong answer ("b": 13, not 12); seed 1 on two ("c" written "15.0" matches; "d" is
    # unknown, so not counted)
    _run(tmp_path, 0, 93, ["a", "b", "c"], 4, {"synthesize: rejected by verification": 1}, {"b": "13"})
    _run(tmp_path, 1, 95, ["b", "c", "a", "d"], 3, {}, {"b": "11", "a": "7", "c": "15.0", "d": "9"})
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    assert lines[0] == (
        "s/B96/K1/balance-ft-cot (2 seeds): train 93–95, synthetic 3–4, wrong answers 1–2, "
        "synthesis calls 4, verification calls 3–4, spent 96"
    )
    assert "    lost: synthesize: rejected by verification: 0–1" in lines
    assert "    synthetic examples shared by seeds: {'0&1': 3}" in lines
    assert "    wrong answers by seed: {'0': '1', '1': '2'}" in lines
    assert lines[-1] == "units charged over 2 runs: 192, of them verification calls: 7"


def test_wrong_answers_unknown_without_the_data_files(tmp_path):
    _run(tmp_path, 0, 93, ["a", "b"], 2, {}, {"b": "13"})
    (tmp_path / "reserve.jsonl").unlink()  # a comparison folder copied without its data
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[0] == (
        "s/B96/K1/balance-ft-cot (1 seeds): train 93, synthetic 2, wrong answers ?, "
        "synthesis calls 4, verification calls 2, spent 96"
    )
    assert "    wrong answers by seed: {'0': '?'}" in out.splitlines()
