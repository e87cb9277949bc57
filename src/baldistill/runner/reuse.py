"""``compare --reuse``: which finished runs of other comparison folders are a cell of this one, and bringing
them in by hard link (or copy), so a run is never paid or trained twice."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from ..config import RunConfig, load_config
from .claims import claim

log = logging.getLogger("baldistill")


def reuse_runs(configs: dict[str, RunConfig], out: Path, sources) -> list[str]:
    """Hard-link (or copy) into `out` the finished runs of other comparison folders whose config is a cell's
    config (``configs``: run id -> config) but for the path of the teacher cache (``reuse_key``; the run id may
    differ: a setting swept there may be a base setting here). A run whose config differs in anything else is not
    reused, and the cell runs here. Returns the run ids reused."""
    finished = finished_runs(sources)
    done = []
    for rid, cfg in configs.items():
        dst = out / "runs" / rid
        src = finished.get(reuse_key(cfg))
        if dst.exists() or src is None:
            continue
        with claim(out, rid) as mine:
            if mine and not dst.exists():
                tmp = dst.with_name(dst.name + ".reusing")
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.copytree(src, tmp, copy_function=_link_or_copy)
                tmp.rename(dst)
                done.append(rid)
                log.info("%s: reused the finished run %s", rid, src)
    return done


def finished_runs(sources) -> dict[str, Path]:
    """The finished runs of other comparison folders, by ``reuse_key`` (the first folder's run wins)."""
    finished: dict[str, Path] = {}
    for root in sources:
        for m in sorted((Path(root) / "runs").glob("**/metrics.json")):
            finished.setdefault(reuse_key(load_config(m.parent / "config.yaml")), m.parent)
    return finished


def reuse_key(cfg: RunConfig) -> str:
    """What makes two runs the same run: the config, less the cache path, with data.reporting_budget equal to
    the run's own B spelled as unset (both report on the split at B)."""
    raw = cfg.model_dump(mode="json")
    raw["teacher"].pop("cache", None)
    if cfg.data.reporting_budget == cfg.budget:
        raw["data"]["reporting_budget"] = None
    return json.dumps(raw, sort_keys=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)
