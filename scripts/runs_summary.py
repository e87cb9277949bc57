"""What the runs of a comparison folder trained on and paid for, cell by cell (a range over seeds):
- training examples, synthetic ones, and how many of those have a wrong answer: the input is an item of the
  run's own data files (train, reserve, val, test: where the reference teacher draws from) and the answer
  does not match that item's (a reworded input is not found, so not counted; "?" when the files are gone);
- teacher units by kind, what was lost or left unspent and why;
- how many synthetic examples two seeds share through the comparison's one teacher cache.
It reads each run's metrics.json, config.yaml and stages/*/synthetic.jsonl; docs/results.md quotes it.

Usage: python scripts/runs_summary.py COMPARE_FOLDER"""

import collections
import itertools
import json
import sys
from pathlib import Path

from baldistill.config import ConfigError, load_config
from baldistill.core.answers import answers_match
from baldistill.data import load_examples, read_jsonl

_GOLD: dict[str, dict[str, str]] = {}


def gold(run: Path) -> dict[str, str] | None:
    """Input -> answer over the data files the run's config names (read once per set of files); None when the
    config or its files are not here (a folder copied from another machine)."""
    try:
        data = load_config(run / "config.yaml").data
    except ConfigError:
        return None
    files = [p for p in (data.train, data.reserve, data.val, data.test) if p]
    if not all(p.exists() for p in files):
        return None
    key = json.dumps([str(p) for p in files] + [data.fields])
    if key not in _GOLD:
        _GOLD[key] = {}
        for f in files:
            for e in load_examples(f, data.fields):
                _GOLD[key].setdefault(e.input, e.answer)
    return _GOLD[key]


def span(xs: list) -> str:
    if None in xs:
        return "?"
    return f"{min(xs)}" if min(xs) == max(xs) else f"{min(xs)}–{max(xs)}"


def main(folder: Path) -> None:
    cells: dict[str, dict[str, dict]] = collections.defaultdict(dict)
    for m in sorted((folder / "runs").rglob("metrics.json")):
        d = json.loads(m.read_text())
        kinds = d["ledger"]["by_kind"]
        rows = [r for f in sorted(m.parent.glob("stages/*/synthetic.jsonl")) for r in read_jsonl(f)]
        synthetic = {(r["domain"], r["input"]) for r in rows}
        truth = gold(m.parent)
        wrong = (
            None
            if truth is None
            else sum(r["input"] in truth and not answers_match(str(r["answer"]), truth[r["input"]]) for r in rows)
        )
        lost, unspent = collections.Counter(), collections.Counter()
        for v in d.get("shortfall_reasons", {}).values():
            lost.update(v)
        for v in d.get("unspent_by_domain", {}).values():
            unspent.update(v)
        cells[str(m.parent.parent.relative_to(folder / "runs"))][m.parent.name] = {
            "spent": d["spent"],
            "train": d["n_train"],
            "synthetic": d["n_train_synthetic"],
            "synthesis calls": kinds.get("synthesize", {}).get("units", 0),
            "verification calls": kinds.get("verify", {}).get("units", 0),
            "wrong answers": wrong,
            "lost": lost,
            "unspent": unspent,
            "examples": synthetic,
        }
    total = verify = 0
    for cell, seeds in cells.items():
        runs = list(seeds.values())
        total += sum(r["spent"] for r in runs)
        verify += sum(r["verification calls"] for r in runs)
        print(
            f"{cell} ({len(runs)} seeds): "
            + ", ".join(
                f"{k} {span([r[k] for r in runs])}"
                for k in ("train", "synthetic", "wrong answers", "synthesis calls", "verification calls", "spent")
            )
        )
        for what in ("lost", "unspent"):
            for reason in sorted({k for r in runs for k in r[what]}):
                print(f"    {what}: {reason}: {span([r[what].get(reason, 0) for r in runs])}")
        shared = {
            f"{a[-1]}&{b[-1]}": len(seeds[a]["examples"] & seeds[b]["examples"])
            for a, b in itertools.combinations(sorted(seeds), 2)
        }
        print(f"    synthetic examples shared by seeds: {shared}")
        by_seed = {name.removeprefix("seed"): span([r["wrong answers"]]) for name, r in sorted(seeds.items())}
        print(f"    wrong answers by seed: {by_seed}")
    print(f"units charged over {sum(map(len, cells.values()))} runs: {total:,}, of them verification calls: {verify:,}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
