"""scripts/runs_summary.py, which docs/results.md quotes: ranges over seeds, reasons, shared synthetic examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "runs_summary.py"


def _run(folder: Path, seed: int, train: int, synthetic: list[str], verify: int, lost: dict) -> None:
    run = folder / "runs" / "s" / "B96" / "K1" / "balance-ft-cot" / f"seed{seed}"
    (run / "stages" / "0").mkdir(parents=True)
    (run / "stages" / "0" / "synthetic.jsonl").write_text(
        "".join(json.dumps({"domain": "lcm", "input": x}) + "\n" for x in synthetic))
    (run / "metrics.json").write_text(json.dumps({
        "spent": 96, "n_train": train, "n_train_synthetic": len(synthetic), "shortfall_reasons": {"lcm": lost},
        "unspent_by_domain": {}, "ledger": {"by_kind": {"synthesize": {"units": 4}, "verify": {"units": verify}}}}))


def test_ranges_reasons_shared_examples_and_total(tmp_path):
    _run(tmp_path, 0, 93, ["a", "b", "c"], 4, {"synthesize: rejected by verification": 1})
    _run(tmp_path, 1, 95, ["b", "c"], 3, {})
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == ("s/B96/K1/balance-ft-cot (2 seeds): train 93–95, synthetic 2–3, synthesis calls 4, "
                        "verification calls 3–4, spent 96")
    assert "    lost: synthesize: rejected by verification: 0–1" in lines
    assert "    synthetic examples shared by seeds: {'0&1': 2}" in lines
    assert lines[-1] == "units charged over 2 runs: 192, of them verification calls: 7"
