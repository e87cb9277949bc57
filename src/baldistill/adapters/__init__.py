"""Dataset adapters: the paper's datasets, in their original file formats, to BalDistill's JSONL.

``prepare("reuters", "path/to/reuters21578", "data/reuters")`` writes ``train.jsonl``, ``test.jsonl`` and
a ready-to-edit ``config.yaml`` (see docs/datasets.md). One module per format: :mod:`.reuters`,
:mod:`.r52`, :mod:`.unifiedqa`, :mod:`.math`, :mod:`.hf`.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

from ..core.plan import check_budget
from ..data import DataError, write_jsonl
from .common import Adapted, counts_by_domain, sample, zipf_counts, zipf_resample

FORMATS = ("reuters", "r52", "unifiedqa", "math", "hf")

__all__ = ["FORMATS", "Adapted", "load", "prepare", "zipf_counts", "zipf_resample"]


def load(fmt: str, source: str | Path, **options) -> Adapted:
    """Convert ``source`` with the adapter for ``fmt``; ``options`` are that adapter's keyword arguments."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    fn = importlib.import_module(f".{fmt}", __name__).load
    allowed = [p for p in inspect.signature(fn).parameters if p != "source"]
    bad = sorted(set(options) - set(allowed))
    if bad:
        raise DataError(
            f"option {', '.join(bad)} does not apply to format {fmt} (its options: {', '.join(allowed) or 'none'})"
        )
    return fn(source, **options)


def _config_text(fmt: str, source, a: Adapted, budget: int, stages: int, seed: int, stats: dict) -> str:
    cfg = {
        "method": "baldistill-n",
        "budget": budget,
        "stages": stages,
        "seed": seed,
        "data": {
            "train": "train.jsonl",
            "test": "test.jsonl",
            "task": a.task,
            "metric": a.metric,
            **({"instruction": a.instruction} if a.instruction else {}),
        },
        "teacher": {"kind": "openai", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"},
    }
    head = (
        f"# Written by `baldistill prepare {fmt} {source}`: {len(stats['domains'])} domains, "
        f"{stats['train']} train / {stats['test']} test examples.\n"
        f"# budget = {a.budget_per_domain} per domain x {len(stats['domains'])} domains (the paper's setting 1). "
        "Set the teacher (model, base_url, price) before\n# `baldistill estimate config.yaml` and "
        "`baldistill run config.yaml --out runs/NAME`.\n"
    )
    return head + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=120)


def prepare(
    fmt: str,
    source: str | Path,
    out_dir: str | Path,
    *,
    budget: int | None = None,
    stages: int = 5,
    seed: int = 0,
    zipf_alpha: float | None = None,
    max_per_domain: int | None = None,
    max_train: int | None = None,
    max_test: int | None = None,
    overwrite: bool = False,
    **options,
) -> dict:
    """Convert, shape and write ``out_dir/{train,test}.jsonl`` and ``out_dir/config.yaml``.

    Order: convert; Zipf-resample train when ``zipf_alpha`` (default: the format's, 1.1 for MATH;
    0 turns it off); a seeded sample of at most ``max_train``/``max_test`` examples (pooled, so domain
    shares stay natural); drop test examples of domains with no training example. ``budget`` defaults
    to the paper's per-domain budget times the number of domains. Returns the per-domain counts."""
    out = Path(out_dir)
    files = [out / n for n in ("train.jsonl", "test.jsonl", "config.yaml")]
    if not overwrite and any(f.exists() for f in files):
        raise DataError(
            f"{out}: already holds train.jsonl/test.jsonl/config.yaml; choose another --out or pass --force"
        )
    a = load(fmt, source, **options)
    alpha = a.zipf_alpha if zipf_alpha is None else zipf_alpha
    train = zipf_resample(a.train, alpha, seed, max_per_domain) if alpha else a.train
    train, test = sample(train, max_train, seed), sample(a.test, max_test, seed)
    domains = {e.domain for e in train}
    dropped = sum(e.domain not in domains for e in test)
    test = [e for e in test if e.domain in domains]
    if not test:
        raise DataError(f"{source}: no test example left in a domain that has training examples")
    stats = {
        "format": fmt,
        "task": a.task,
        "metric": a.metric,
        "train": len(train),
        "test": len(test),
        "dropped_test": dropped,
        "zipf_alpha": alpha or None,
        "domains": counts_by_domain(train, test),
    }
    budget = budget or a.budget_per_domain * len(stats["domains"])
    try:
        check_budget(budget, stages)
    except ValueError as e:
        raise DataError(str(e)) from None
    write_jsonl(files[0], train)
    write_jsonl(files[1], test)
    files[2].write_text(_config_text(fmt, source, a, budget, stages, seed, stats), encoding="utf-8")
    return {**stats, "budget": budget, "stages": stages, "config": str(files[2]), "note": a.note}
