"""`baldistill compare`: run every cell of a comparison (``core/comparison.py``: each method under one teacher
budget, over seeds and sweeps of any setting; ``runner/sweeps.py`` reads the command line into a ``Spec``).

Each cell is one ordinary run folder under ``DIR/runs`` (``Cell.run_id``), and all cells share one teacher
reply cache (``DIR/teacher_cache.sqlite``): an example annotated for one method is not sent again for
another, yet every cell is still charged its full budget in its own ledger (logical spend) while the ledgers'
``physical`` rows count what was really sent. A cell is finished when its ``metrics.json`` exists; re-running
the same command skips finished cells and resumes a cell cut short after its last completed stage, so an
interrupted comparison loses at most one stage of work. The same command started twice on one folder splits
the cells between the two processes (``claims``); ``--reuse`` takes the finished runs of other comparison
folders whose config is a cell's. The results, tables and report are ``runner/results.py``'s.
"""

from __future__ import annotations

import gc
import json
import logging
import shutil
import time
from pathlib import Path

from ..config import ConfigError, RunConfig, changed_fields, dump_config, load_config
from ..core.comparison import ResultRow, Spec
from .claims import OUTPUTS, claim
from .results import write_outputs, write_results
from .reuse import reuse_runs
from .sweeps import cell_configs

log = logging.getLogger("baldistill")


def compare(
    base: RunConfig, spec: Spec, out: Path, on_cell=None, reuse: list[Path] | tuple = (), on_reuse=None
) -> list[ResultRow]:
    """Run every unfinished cell, then write results, tables and plots. Returns the result rows.

    Several processes may run the same comparison on one folder (e.g. two processes of one torch thread
    each on a 2-core machine): each cell is claimed by the first process to reach it (``claims``), the others
    skip it, and a process that runs out of cells waits for the cells still claimed by another before it
    writes the final tables; a cell whose process died is then resumed by a survivor.

    `reuse`: other comparison folders whose finished runs serve this comparison's cells (``reuse_runs``);
    `on_reuse(run_ids, total)` is told which cells they served."""
    from .pipeline import run  # torch and the student: only when something runs

    if (out / "config.yaml").exists():  # nothing is created in `out` before the checks pass
        with claim(out, OUTPUTS, wait=True):
            _check_same_base(base, out)
    todo = {c.run_id: c for c in spec.cells()}
    configs = cell_configs(base, spec, out, todo)  # each cell's config, built once
    check_cells(configs, out)
    out.mkdir(parents=True, exist_ok=True)
    with claim(out, OUTPUTS, wait=True):
        (out / "compare.json").write_text(json.dumps(spec.to_json(), indent=2) + "\n")
        (out / "config.yaml").write_text(dump_config(base))
    if reuse:
        got = reuse_runs(configs, out, reuse)
        if on_reuse and got:
            on_reuse(got, len(todo))
    first = True
    while True:
        busy = []  # cells another process is running now
        for n, rid in enumerate(todo, 1):
            folder = out / "runs" / rid
            if (folder / "metrics.json").exists():
                if first:
                    log.info("[%d/%d] %s: finished earlier, skipped", n, len(todo), rid)
                continue
            with claim(out, rid) as mine:
                if not mine:
                    log.info("[%d/%d] %s: running in another process, skipped", n, len(todo), rid)
                    busy.append(rid)
                    continue
                if (folder / "metrics.json").exists():  # finished by another process since the check above
                    continue
                _run_cell(run, configs[rid], out, folder, n, len(todo), on_cell)
        first = False
        if not busy:
            break
        for rid in busy:  # wait for the other process; then look again (it may have died with the cell unfinished)
            log.info("waiting for %s (another process is running it)", rid)
            with claim(out, rid, wait=True):
                pass
    with claim(out, OUTPUTS, wait=True):
        rows = write_results(out)
        write_outputs(out)
    return rows


def _run_cell(run, cfg: RunConfig, out: Path, folder: Path, n: int, total: int, on_cell) -> None:
    rid = folder.relative_to(out / "runs").as_posix()
    resume = (folder / "config.yaml").exists()
    if folder.exists() and not resume:  # cut short before it wrote anything worth keeping
        shutil.rmtree(folder)
    log.info("[%d/%d] %s%s", n, total, rid, " (resuming)" if resume else "")
    if on_cell:
        on_cell(n, total, rid, resume)
    t0 = time.time()
    try:
        run(cfg, folder, resume=resume)
    finally:  # wall time over every attempt, including one cut short and resumed
        _add_wall_time(folder, time.time() - t0)
    gc.collect()
    with claim(out, OUTPUTS, wait=True):
        write_results(out)


def check_cells(configs: dict[str, RunConfig], out: Path) -> None:
    """Pre-flight for every unfinished cell before the first starts (each teacher probed and each student
    checked once): a comparison does not stop hours in because its fifth student cannot be loaded."""
    from .preflight import preflight

    memo: dict = {}
    errors: list[str] = []
    for rid, cfg in configs.items():
        folder = out / "runs" / rid
        if (folder / "metrics.json").exists():
            continue
        resume = (folder / "config.yaml").exists()
        pf = preflight(cfg, folder if resume else None, resume, memo=memo)
        errors += [f"{rid}: {e.line()}" for e in pf.errors if f"{rid}: {e.line()}" not in errors]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"compare: cell {errors[0]}{more}; nothing was run")


def _add_wall_time(folder: Path, seconds: float) -> None:
    if not folder.exists():
        return
    path = folder / "wall_time.json"
    before = json.loads(path.read_text())["seconds"] if path.exists() else 0.0
    path.write_text(json.dumps({"seconds": round(before + seconds, 1)}) + "\n")


def _check_same_base(base: RunConfig, out: Path) -> None:
    """A re-run may add methods, seeds or sweep values; it may not change the base config under the
    finished runs (their results would silently mix two experiments). The base `method` is not part of it:
    every cell sets its own, so a folder started under another default method resumes."""
    path = out / "config.yaml"
    if not path.exists():
        return
    changed = [f for f in changed_fields(load_config(path), base) if f != "method"]
    if changed:
        raise ConfigError(
            f"{out} holds a comparison with a different base config ({', '.join(changed)} changed): "
            "run it with the same config and --set values, or use another --out"
        )
