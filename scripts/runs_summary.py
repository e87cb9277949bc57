"""What the runs of a comparison folder trained on and paid for, cell by cell (a range over seeds), and how
many synthetic examples the seeds of a cell share through the comparison's one teacher cache, and how many of
the synthetic examples it trained on have a wrong answer: an example whose input is an item of the run's own
data files (train, reserve, val, test: where the reference teacher draws from) with an answer that does not
match that item's (a reworded input is not found, and not counted; "?" where none of the files is there). It reads each run's metrics.json,
config.yaml and stages/*/synthetic.jsonl; docs/results.md quotes it.

Usage: python scripts/runs_summary.py COMPARE_FOLDER"""
import collections
import itertools
import json
import sys
from pathlib import Path

import yaml

from baldistill.core.answers import answers_match

_GOLD: dict[tuple[str, ...], dict[str, str]] = {}


def gold(run: Path) -> dict[str, str] | None:
    """Input -> answer over the data files a run's config.yaml names (read once per set of files); None when
    none of them exists here (a folder copied from another machine)."""
    data = (yaml.safe_load((run / "config.yaml").read_text()) or {}).get("data", {}) if (run / "config.yaml").exists() else {}
    files = tuple(str(data[k]) for k in ("train", "reserve", "val", "test") if data.get(k) and Path(data[k]).is_file())
    if not files:
        return None
    if files not in _GOLD:
        _GOLD[files] = {}
        for f in files:
            for r in map(json.loads, filter(str.strip, Path(f).read_text().splitlines())):
                _GOLD[files].setdefault(r["input"], str(r["answer"]))
    return _GOLD[files]


def span(xs: list) -> str:
    if None in xs:
        return "?"
    return f"{min(xs)}" if min(xs) == max(xs) else f"{min(xs)}–{max(xs)}"


def main(folder: Path) -> None:
    cells: dict[str, dict[str, dict]] = collections.defaultdict(dict)
    for m in sorted((folder / "runs").rglob("metrics.json")):
        d = json.loads(m.read_text())
        kinds = d["ledger"]["by_kind"]
        rows = [r for f in m.parent.glob("stages/*/synthetic.jsonl")
                for r in map(json.loads, filter(str.strip, f.read_text().splitlines()))]
        synthetic = {(r["domain"], r["input"]) for r in rows}
        truth = gold(m.parent)
        wrong = None if truth is None else \
            sum(r["input"] in truth and not answers_match(str(r["answer"]), truth[r["input"]]) for r in rows)
        lost, unspent = collections.Counter(), collections.Counter()
        for v in d.get("shortfall_reasons", {}).values():
            lost.update(v)
        for v in d.get("unspent_by_domain", {}).values():
            unspent.update(v)
        cells[str(m.parent.parent.relative_to(folder / "runs"))][m.parent.name] = {
            "spent": d["spent"], "train": d["n_train"], "synthetic": d["n_train_synthetic"],
            "synthesis calls": kinds.get("synthesize", {}).get("units", 0),
            "verification calls": kinds.get("verify", {}).get("units", 0),
            "wrong answers": wrong, "lost": lost, "unspent": unspent, "examples": synthetic}
    total = verify = 0
    for cell, seeds in cells.items():
        runs = list(seeds.values())
        total += sum(r["spent"] for r in runs)
        verify += sum(r["verification calls"] for r in runs)
        print(f"{cell} ({len(runs)} seeds): " + ", ".join(
            f"{k} {span([r[k] for r in runs])}" for k in ("train", "synthetic", "wrong answers", "synthesis calls", "verification calls", "spent")))
        for what in ("lost", "unspent"):
            for reason in sorted({k for r in runs for k in r[what]}):
                print(f"    {what}: {reason}: {span([r[what].get(reason, 0) for r in runs])}")
        shared = {f"{a[-1]}&{b[-1]}": len(seeds[a]["examples"] & seeds[b]["examples"])
                  for a, b in itertools.combinations(sorted(seeds), 2)}
        print(f"    synthetic examples shared by seeds: {shared}")
    print(f"units charged over {sum(map(len, cells.values()))} runs: {total:,}, of them verification calls: {verify:,}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
