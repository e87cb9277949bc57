"""95 % percentile-bootstrap intervals for a comparison's scores, the pure part (numpy only).

A *group* is the runs of one cell over its seeds (the same method and settings, seed 1..n), each given as its
per-item test scores ``{item id: (domain, score)}``. One bootstrap resample draws

* the seeds with replacement (n of the group's n), and
* the test items with replacement **within each domain** (stratified: every domain keeps its item count, so
  a resample never loses a tail domain or changes the domains' weights in the micro score); the same item
  draw serves every seed (the runs are scored on one test set, which is one sample of the task),

and recomputes each statistic (macro = the mean of the per-domain means; micro; head and tail macro over the
given tail domains; every per-domain score) as the mean over the drawn seeds. The interval is the 2.5th and
97.5th percentile of ``RESAMPLES`` = 2,000 resamples (numpy's default linear interpolation); the point
estimate is the plain mean over seeds. The generator is ``numpy.random.default_rng(SEED)`` created afresh
for every call, and its draws depend only on the number of seeds and the per-domain item counts, so an
interval does not depend on which other intervals were computed before it.

A **paired difference** A − B draws once for both sides: seed i of A is paired with seed i of B (the
callers pass the runs in seed order) and item j of A with item j of B, so the variation the two share
(a hard test item, a lucky seed) cancels.

Runs whose items are not the same per domain (e.g. ``data.max_test_per_domain`` draws another subset per
seed) are paired by position within each domain: every seed must then have the same count per domain.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
SEED = 20241112
LEVEL = 0.95

RunItems = Mapping[str, tuple[str, float]]  # item id -> (domain, score)


@dataclass(frozen=True)
class Interval:
    mean: float  # the statistic on the data (mean over seeds)
    lo: float
    hi: float

    def to_json(self) -> dict:
        return {"mean": self.mean, "lo": self.lo, "hi": self.hi}


def _matrix(runs: Sequence[RunItems]) -> tuple[list[str], dict[str, np.ndarray]]:
    """(domains, {domain: scores of shape (seeds, items)}), items in id order within each domain."""
    if not runs:
        raise ValueError("no runs to bootstrap")
    per_run = []
    for run in runs:
        by: dict[str, list[tuple[str, float]]] = {}
        for item, (domain, score) in run.items():
            by.setdefault(domain, []).append((item, float(score)))
        per_run.append({d: [s for _, s in sorted(xs)] for d, xs in by.items()})
    domains = sorted(per_run[0])
    for i, r in enumerate(per_run[1:], 1):
        if sorted(r) != domains or any(len(r[d]) != len(per_run[0][d]) for d in domains):
            raise ValueError(
                f"run {i} has other domains or other item counts per domain than run 0: "
                "bootstrap needs the same test items (per domain) in every run"
            )
    return domains, {d: np.array([r[d] for r in per_run]) for d in domains}


@dataclass(frozen=True)
class Draws:
    seeds: np.ndarray  # (resamples, n_seeds): seed indices
    items: dict[str, np.ndarray]  # domain -> (resamples, n_items of the domain): item indices


def draws(n_seeds: int, counts: Mapping[str, int], resamples: int = RESAMPLES, seed: int = SEED) -> Draws:
    """The resampling indices: seeds with replacement, items with replacement within each domain (sorted
    by name). A pure function of its arguments."""
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    items = {d: rng.integers(0, counts[d], size=(resamples, counts[d])) for d in sorted(counts)}
    return Draws(seeds, items)


def _per_seed(scores: Mapping[str, np.ndarray], d: Draws) -> dict[str, np.ndarray]:
    """Per-domain mean of every seed under every item resample: {domain: (n_seeds, resamples)}."""
    return {dom: m[:, d.items[dom]].mean(axis=2) for dom, m in scores.items()}


def _stats(
    dom_means: Mapping[str, np.ndarray], counts: Mapping[str, int], tail: Collection[str]
) -> dict[str, np.ndarray]:
    """Every statistic from per-domain means of any shape (all the same): macro, micro, head/tail macro,
    and per-domain ("domain:<name>"); a block with no domain is NaN."""
    doms = sorted(dom_means)
    stack = np.stack([dom_means[x] for x in doms])
    weights = np.array([counts[x] for x in doms], dtype=float)
    head = [i for i, x in enumerate(doms) if x not in tail]
    tl = [i for i, x in enumerate(doms) if x in tail]
    nan = np.full(stack.shape[1:], np.nan)
    out = {
        "macro": stack.mean(axis=0),
        "micro": np.tensordot(weights / weights.sum(), stack, axes=1),
        "head_macro": stack[head].mean(axis=0) if head else nan,
        "tail_macro": stack[tl].mean(axis=0) if tl else nan,
    }
    out |= {f"domain:{x}": stack[i] for i, x in enumerate(doms)}
    return out


def _resampled(per_seed: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """(n_seeds, resamples) statistic -> (resamples,): the mean over each resample's drawn seeds."""
    return per_seed[seeds, np.arange(seeds.shape[0])[:, None]].mean(axis=1)


def _interval(point: float, boot: np.ndarray, level: float) -> Interval | None:
    if np.isnan(point) or np.isnan(boot).any():
        return None
    lo, hi = np.percentile(boot, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return Interval(float(point), float(lo), float(hi))


def _distributions(
    groups: Sequence[Sequence[RunItems]], tails: Sequence[Collection[str]], resamples: int, seed: int
) -> tuple[list[dict[str, float]], list[dict[str, np.ndarray]], Draws]:
    """For each group (all drawn with the same indices): its point statistics and (n_seeds, resamples) arrays."""
    mats = [_matrix(g) for g in groups]
    domains, first = mats[0]
    counts = {d: first[d].shape[1] for d in domains}
    n_seeds = first[domains[0]].shape[0]
    for dm, m in mats[1:]:
        if dm != domains or any(m[d].shape != first[d].shape for d in domains):
            raise ValueError("paired groups need the same seeds and the same test items per domain")
    d = draws(n_seeds, counts, resamples, seed)
    points, dists = [], []
    for (_, m), tail in zip(mats, tails):
        observed = _stats({x: v.mean(axis=1) for x, v in m.items()}, counts, tail)  # per seed
        points.append({k: float(np.mean(v)) for k, v in observed.items()})
        dists.append(_stats(_per_seed(m, d), counts, tail))
    return points, dists, d


def bootstrap(
    runs: Sequence[RunItems],
    tail: Collection[str] = (),
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> dict[str, Interval | None]:
    """Intervals of every statistic of one group: {"macro", "micro", "head_macro", "tail_macro",
    "domain:<name>"} -> Interval (None where the statistic is undefined, e.g. the tail macro with no tail)."""
    (point,), (dist,), d = _distributions([runs], [tail], resamples, seed)
    return {k: _interval(point[k], _resampled(v, d.seeds), level) for k, v in dist.items()}


def paired_difference(
    a: Sequence[RunItems],
    b: Sequence[RunItems],
    tail_a: Collection[str] = (),
    tail_b: Collection[str] | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> dict[str, Interval | None]:
    """Intervals of A − B for every statistic, paired by seed (a[i] with b[i]) and by test item."""
    points, dists, d = _distributions([a, b], [tail_a, tail_a if tail_b is None else tail_b], resamples, seed)
    return {
        k: _interval(points[0][k] - points[1][k], _resampled(dists[0][k] - dists[1][k], d.seeds), level)
        for k in dists[0]
    }


def distribution(
    runs: Sequence[RunItems],
    statistic: str = "macro",
    tail: Collection[str] = (),
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> np.ndarray:
    """The bootstrap distribution of one statistic (resamples,): what ``bootstrap`` takes percentiles of."""
    _, (dist,), d = _distributions([runs], [tail], resamples, seed)
    return _resampled(dist[statistic], d.seeds)
