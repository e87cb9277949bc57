"""A comparison's bootstrap intervals (``core/bootstrap.py``) from its runs' per-item predictions.

Each group of result rows that differ only in the seed (one method at one setting) gets intervals of its
macro, micro, head and tail macro and every per-domain score, on the test split (``predictions.jsonl``) and,
where every run scored one, the validation split (``predictions_val.jsonl``). Paired differences (seed by
seed, item by item):

* every method against the reference method (``Spec.reference``, random-ft-cot by default) at the same
  setting; with several reference methods (``--reference random-ft-cot,baldistill-n``) against each, a
  pair of two references once (the later minus the earlier);
* for each swept setting with two or more values (``--sweep``), every other value against the first, for the
  same method and the other settings equal (e.g. verification on against off);
* likewise for the classic axes when they have two or more values (``--budgets``, ``--stages``,
  ``--students``): every other value against the comparison's default (its first), for the same method and
  the rest equal (e.g. B = 192 against B = 96). A single-stage method's one run serves every K, so it
  gets no K difference.

Only seeds present on both sides are paired. A group whose runs lack predictions (a folder written before
they were kept) or were scored on different items per domain gets no interval; the tables then show the
mean ± sample std as before.

What this writes under ``intervals`` in results.json::

    {"resamples": 2000, "level": 0.95, "seed": ..., "groups": [{"dataset", "student", "budget", "stages",
     "method", "settings", "seeds", "test": {"macro": {"mean", "lo", "hi"}, "micro", "head_macro",
     "tail_macro", "per_domain": {domain: {...}}}, "val": {...}}, ...],
     "differences": [{"kind": "method" | "<swept key>" | "budget" | "stages" | "student", "a": {group fields}, "
     ""b": {group fields}, "seeds",
     "test": {...}, "val": {...}}, ...]}
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.bootstrap import LEVEL, RESAMPLES, SEED, Interval, bootstrap, paired_difference
from ..core.results import references

GROUP_FIELDS = ("dataset", "student", "budget", "stages", "method")
SPLITS = (("test", "predictions.jsonl"), ("val", "predictions_val.jsonl"))
AXES = (("budget", "budgets"), ("stages", "stages"), ("student", "students"))  # group field, compare.json list


def group_of(row: dict) -> dict:
    """The fields that name a row's group (everything but the seed)."""
    return {**{k: row.get(k) for k in GROUP_FIELDS}, "settings": dict(row.get("settings") or {})}


def group_key(group: dict) -> str:
    return json.dumps([group.get(k) for k in GROUP_FIELDS] + [sorted((group.get("settings") or {}).items())])


def read_items(path: Path) -> dict[str, tuple[str, float]] | None:
    """{item id: (domain, score)} of a predictions file; None when the run has none."""
    if not path.exists():
        return None
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[str(r["id"])] = (r["domain"], float(r["score"]))
    return out


def _json(ivs: dict[str, Interval | None]) -> dict:
    out: dict = {"per_domain": {}}
    for k, iv in ivs.items():
        value = iv.to_json() if iv is not None else None
        if k.startswith("domain:"):
            out["per_domain"][k.removeprefix("domain:")] = value
        else:
            out[k] = value
    return out


class _Runs:
    """Per-item scores of the runs, read once."""

    def __init__(self, runs_dir: Path):
        self.dir, self.cache = runs_dir, {}

    def items(self, run: str, file: str):
        if (run, file) not in self.cache:
            self.cache[(run, file)] = read_items(self.dir / run / file)
        return self.cache[(run, file)]


def compute_intervals(runs_dir: Path, rows: list[dict], spec: dict) -> dict:
    """Intervals of every group and the paired differences (see the module doc)."""
    runs = _Runs(Path(runs_dir))
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(group_key(group_of(r)), []).append(r)
    for g in groups.values():
        g.sort(key=lambda r: r["seed"])
    out_groups = []
    for g in groups.values():
        entry = {**group_of(g[0]), "seeds": [r["seed"] for r in g]}
        for split, file in SPLITS:
            scores = [runs.items(r["run"], file) for r in g]
            if all(s is not None for s in scores):
                try:
                    entry[split] = _json(bootstrap(scores, g[0].get("tail_domains") or []))
                except ValueError:
                    pass
        out_groups.append(entry)
    diffs = []
    for kind, a, b in _pairs(groups, spec):
        seeds = sorted({r["seed"] for r in a} & {r["seed"] for r in b})
        if not seeds:
            continue
        ra = [r for r in a if r["seed"] in seeds]
        rb = [r for r in b if r["seed"] in seeds]
        if [r["run"] for r in ra] == [r["run"] for r in rb]:  # one run serves both cells: nothing to compare
            continue
        entry = {"kind": kind, "a": group_of(a[0]), "b": group_of(b[0]), "seeds": seeds}
        for split, file in SPLITS:
            sa = [runs.items(r["run"], file) for r in ra]
            sb = [runs.items(r["run"], file) for r in rb]
            if all(s is not None for s in sa + sb):
                try:
                    entry[split] = _json(
                        paired_difference(sa, sb, ra[0].get("tail_domains") or [], rb[0].get("tail_domains") or [])
                    )
                except ValueError:
                    pass
        if "test" in entry or "val" in entry:
            diffs.append(entry)
    return {"resamples": RESAMPLES, "level": LEVEL, "seed": SEED, "groups": out_groups, "differences": diffs}


def _pairs(groups: dict[str, list[dict]], spec: dict):
    """(kind, rows of A, rows of B) for every paired difference the comparison reports."""
    refs = references(spec)
    for rows in groups.values():
        g = group_of(rows[0])
        for n, ref in enumerate(refs):
            if g["method"] == ref or g["method"] in refs[:n]:  # itself, or a pair already taken the other way
                continue
            other = groups.get(group_key({**g, "method": ref}))
            if other:
                yield "method", rows, other
    default = spec.get("default") or {}
    for axis, listed in AXES:
        first = default.get(axis)
        if len(spec.get(listed) or []) < 2 or first is None:
            continue
        for rows in groups.values():
            g = group_of(rows[0])
            if g[axis] != first:
                other = groups.get(group_key({**g, axis: first}))
                if other:
                    yield axis, rows, other
    for skey, values in (spec.get("sweep") or {}).items():
        if len(values) < 2:
            continue
        for rows in groups.values():
            g = group_of(rows[0])
            if skey in g["settings"] and g["settings"][skey] != values[0]:
                other = groups.get(group_key({**g, "settings": {**g["settings"], skey: values[0]}}))
                if other:
                    yield skey, rows, other
