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

What this writes under ``intervals`` in results.json is ``core.comparison.Intervals``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.bootstrap import LEVEL, RESAMPLES, SEED, Interval, bootstrap, paired_difference
from ..core.comparison import CI, Difference, GroupCIs, GroupKey, Intervals, ResultRow, Spec, SplitCIs

SPLITS = (("test", "predictions.jsonl"), ("val", "predictions_val.jsonl"))
AXES = ("budget", "stages", "student")  # the classic axes, as group fields


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


def _split(ivs: dict[str, Interval | None]) -> SplitCIs:
    """``bootstrap``'s statistics ({"macro", ..., "domain:<name>"}) as a split's intervals."""
    out = SplitCIs()
    for k, iv in ivs.items():
        value = CI(mean=iv.mean, lo=iv.lo, hi=iv.hi) if iv is not None else None
        if k.startswith("domain:"):
            out.per_domain[k.removeprefix("domain:")] = value
        else:
            setattr(out, k, value)
    return out


class _Runs:
    """Per-item scores of the runs, read once."""

    def __init__(self, runs_dir: Path):
        self.dir: Path = runs_dir
        self.cache: dict[tuple[str, str], dict | None] = {}

    def items(self, run: str, file: str):
        if (run, file) not in self.cache:
            self.cache[(run, file)] = read_items(self.dir / run / file)
        return self.cache[(run, file)]


def compute_intervals(runs_dir: Path, rows: list[ResultRow], spec: Spec) -> Intervals:
    """Intervals of every group and the paired differences (see the module doc)."""
    runs = _Runs(Path(runs_dir))
    groups: dict[str, list[ResultRow]] = {}
    for r in rows:
        groups.setdefault(r.group.key(), []).append(r)
    for g in groups.values():
        g.sort(key=lambda r: r.seed)
    out_groups = []
    for g in groups.values():
        entry = GroupCIs(**g[0].group.model_dump(), seeds=[r.seed for r in g])
        for split, file in SPLITS:
            scores = [runs.items(r.run, file) for r in g]
            if all(s is not None for s in scores):
                try:
                    setattr(entry, split, _split(bootstrap(scores, g[0].tail_domains)))
                except ValueError:
                    pass
        out_groups.append(entry)
    diffs = []
    for kind, a, b in _pairs(groups, spec):
        seeds = sorted({r.seed for r in a} & {r.seed for r in b})
        if not seeds:
            continue
        ra = [r for r in a if r.seed in seeds]
        rb = [r for r in b if r.seed in seeds]
        if [r.run for r in ra] == [r.run for r in rb]:  # one run serves both cells: nothing to compare
            continue
        diff = Difference(kind=kind, a=a[0].group, b=b[0].group, seeds=seeds)
        for split, file in SPLITS:
            sa = [runs.items(r.run, file) for r in ra]
            sb = [runs.items(r.run, file) for r in rb]
            if all(s is not None for s in sa + sb):
                try:
                    setattr(diff, split, _split(paired_difference(sa, sb, ra[0].tail_domains, rb[0].tail_domains)))
                except ValueError:
                    pass
        if diff.test is not None or diff.val is not None:
            diffs.append(diff)
    return Intervals(resamples=RESAMPLES, level=LEVEL, seed=SEED, groups=out_groups, differences=diffs)


def _other(groups: dict[str, list[ResultRow]], g: GroupKey, **change) -> list[ResultRow] | None:
    return groups.get(g.model_copy(update=change).key())


def _pairs(groups: dict[str, list[ResultRow]], spec: Spec):
    """(kind, rows of A, rows of B) for every paired difference the comparison reports."""
    refs = spec.references
    for rows in groups.values():
        g = rows[0].group
        for n, ref in enumerate(refs):
            if g.method == ref or g.method in refs[:n]:  # itself, or a pair already taken the other way
                continue
            other = _other(groups, g, method=ref)
            if other:
                yield "method", rows, other
    default = spec.default
    listed = {"budget": spec.budgets, "stages": spec.stages, "student": spec.students}
    for axis in AXES:
        first = default.model_dump()[axis]
        if len(listed[axis]) < 2:
            continue
        for rows in groups.values():
            g = rows[0].group
            if g.axis(axis) != first:
                other = _other(groups, g, **{axis: first})
                if other:
                    yield axis, rows, other
    for skey, values in spec.sweep.items():
        if len(values) < 2:
            continue
        for rows in groups.values():
            g = rows[0].group
            if skey in g.settings and g.settings[skey] != values[0]:
                other = _other(groups, g, settings={**g.settings, skey: values[0]})
                if other:
                    yield skey, rows, other
