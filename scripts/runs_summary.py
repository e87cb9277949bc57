"""What the runs of a comparison folder trained on and paid for, cell by cell (a range over seeds), and how
many synthetic examples the seeds of a cell share through the comparison's one teacher cache. It reads each
run's metrics.json and stages/*/synthetic.jsonl; docs/results.md quotes it.

Usage: python scripts/runs_summary.py COMPARE_FOLDER"""
import collections
import itertools
import json
import sys
from pathlib import Path


def span(xs: list[int]) -> str:
    return f"{min(xs)}" if min(xs) == max(xs) else f"{min(xs)}–{max(xs)}"


def main(folder: Path) -> None:
    cells: dict[str, dict[str, dict]] = collections.defaultdict(dict)
    for m in sorted((folder / "runs").rglob("metrics.json")):
        d = json.loads(m.read_text())
        kinds = d["ledger"]["by_kind"]
        synthetic = {(r["domain"], r["input"]) for f in m.parent.glob("stages/*/synthetic.jsonl")
                     for r in map(json.loads, filter(str.strip, f.read_text().splitlines()))}
        lost, unspent = collections.Counter(), collections.Counter()
        for v in d.get("shortfall_reasons", {}).values():
            lost.update(v)
        for v in d.get("unspent_by_domain", {}).values():
            unspent.update(v)
        cells[str(m.parent.parent.relative_to(folder / "runs"))][m.parent.name] = {
            "spent": d["spent"], "train": d["n_train"], "synthetic": d["n_train_synthetic"],
            "synthesis calls": kinds.get("synthesize", {}).get("units", 0),
            "verification calls": kinds.get("verify", {}).get("units", 0),
            "lost": lost, "unspent": unspent, "examples": synthetic}
    total = verify = 0
    for cell, seeds in cells.items():
        runs = list(seeds.values())
        total += sum(r["spent"] for r in runs)
        verify += sum(r["verification calls"] for r in runs)
        print(f"{cell} ({len(runs)} seeds): " + ", ".join(
            f"{k} {span([r[k] for r in runs])}" for k in ("train", "synthetic", "synthesis calls", "verification calls", "spent")))
        for what in ("lost", "unspent"):
            for reason in sorted({k for r in runs for k in r[what]}):
                print(f"    {what}: {reason}: {span([r[what].get(reason, 0) for r in runs])}")
        shared = {f"{a[-1]}&{b[-1]}": len(seeds[a]["examples"] & seeds[b]["examples"])
                  for a, b in itertools.combinations(sorted(seeds), 2)}
        print(f"    synthetic examples shared by seeds: {shared}")
    print(f"units charged over {sum(map(len, cells.values()))} runs: {total:,}, of them verification calls: {verify:,}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
