"""`baldistill compare`: every method of the paper under one teacher budget, over seeds, and sweeps of
any setting (``--sweep KEY=V1,V2``; the generalisation study's stage count K, budget and student model are
``--stages`` / ``--budgets`` / ``--students``, spellings of ``--sweep stages=``, ``budget=``, ``student.model=``).

Each (student, budget, K, other swept settings, method, seed) is one cell and one ordinary run folder under
``DIR/runs``: ``<student>/B<b>/K<k>[/<key>=<value>,...]/<method>/seed<s>``. The optional segment names the
other swept settings whose value differs from the base config and that the method uses (a setting of the
teacher's synthesis or verification does not change a method that never synthesizes, so such cells share one
run, as single-stage methods share one run over every K); a folder written before a sweep was added therefore
keeps serving the cells at the base config's values.
All cells share one teacher reply cache (``DIR/teacher_cache.sqlite``): an example annotated for one
method is not sent again for another, yet every cell is still charged its full budget in its own ledger
(logical spend) while the ledgers' ``physical`` rows count what was really sent. A cell is finished when
its ``metrics.json`` exists; re-running the same command skips finished cells and resumes a cell cut
short after its last completed stage, so an interrupted comparison loses at most one stage of work.
The same command started twice on one folder splits the cells between the two processes (``claims``).
"""

from __future__ import annotations

import csv
import gc
import itertools
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..budget.cache import ReplyCache
from ..budget.ledger import Caps, Ledger
from ..config import ConfigError, RunConfig, _set_dotted, changed_fields, dump_config, load_config
from ..core.methods import METHOD_ORDER, METHODS
from ..core.plan import check_budget
from ..core.results import ResultRow, RunMetrics, StageEval
from .claims import OUTPUTS, claim
from .estimate import estimate as estimate_cell
from .inputs import Inputs
from .runfolder import RunFolder

log = logging.getLogger("baldistill")


@dataclass(frozen=True)
class Cell:
    student: str
    budget: int
    stages: int  # the K asked for; single-stage methods run once and are reported under every K
    method: str
    seed: int
    settings: tuple[tuple[str, Any], ...] = ()  # the other swept settings of the cell, (dotted key, value)
    named: tuple[str, ...] = ()  # those of them that name the run (their value is not the base config's)

    @property
    def run_id(self) -> str:
        return run_id(self)

    @property
    def cell_id(self) -> str:
        return cell_id(self)

    def run_settings(self) -> list[tuple[str, Any]]:
        """The swept settings the cell's run applies: those the method uses (the others stay at the base
        config's value, so cells that differ only there share one run)."""
        return [(k, v) for k, v in self.settings if uses(self.method, k)]


# settings of the teacher's synthesis and its verification: they change only methods that synthesize
SYNTHESIS_KEYS = (
    "teacher.synthesis_noise",
    "teacher.verify",
    "teacher.verifier",
    "teacher.synthesis_",
    "teacher.synthesize_prompt",
)


def uses(method: str, key: str) -> bool:
    """Whether a run of the method depends on the setting (a conservative rule: True unless it cannot)."""
    m = METHODS[method]
    if key == "stages":
        return m.multi_stage
    if key == "budget":
        return m.train
    if key.startswith("teacher."):
        return m.rationale and (m.synthesize or not key.startswith(SYNTHESIS_KEYS))
    if key.startswith(("student.train.", "student.lora.")):
        return m.train
    if key.startswith("selection."):
        return m.selector == "ifd" and m.multi_stage
    return True


def run_id(cell: Cell) -> str:
    """The run folder under DIR/runs: single-stage methods do not depend on K, zero-shot not on the budget
    either, so one run serves every cell that differs only there; likewise for the other swept settings a
    method does not use, and those at the base config's value are left out of the name."""
    m = METHODS[cell.method]
    k = cell.stages if m.multi_stage else 1
    b = cell.budget if m.train else 0
    named = [(key, v) for key, v in cell.run_settings() if key in cell.named]
    extra = f"/{_slug(settings_label(named))}" if named else ""
    return f"{_slug(cell.student)}/B{b}/K{k}{extra}/{cell.method}/seed{cell.seed}"


def cell_id(cell: Cell) -> str:
    """A row of the results: the cell as asked for (its K and B even where the run does not depend on them)."""
    extra = f"/{_slug(settings_label(cell.settings))}" if cell.settings else ""
    return f"{_slug(cell.student)}/B{cell.budget}/K{cell.stages}{extra}/{cell.method}/seed{cell.seed}"


def value_text(value: Any) -> str:
    """A swept value as written on the command line: YAML scalars (0.15, true, null), strings as they are."""
    return value if isinstance(value, str) else json.dumps(value)


def settings_label(settings) -> str:
    return ",".join(f"{k}={value_text(v)}" for k, v in settings)


def _slug(name: str) -> str:
    return name.rstrip("/").replace("/", "--").replace(" ", "_") or "student"


def parse_methods(text: str) -> list[str]:
    if text.strip() == "all":
        return list(METHOD_ORDER)
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if bad:
        raise ConfigError(f"--methods: unknown {', '.join(bad)}; choose from {', '.join(METHOD_ORDER)} or 'all'")
    return sorted(set(names), key=METHOD_ORDER.index)


def parse_ints(text: str | None, what: str) -> list[int] | None:
    if not text:
        return None
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{what}: expected comma-separated whole numbers, got {text!r}") from None
    if not out or min(out) < 1:
        raise ConfigError(f"{what}: expected positive numbers, got {text!r}")
    return list(dict.fromkeys(out))


# settings that are not sweep axes, and where they are set instead
NOT_SWEPT = {"method": "--methods", "seed": "--seeds", "teacher.cache": "the comparison's shared cache"}


@dataclass
class Spec:
    """What a comparison runs; saved as DIR/compare.json so a re-run can check it continues the same one."""

    config: str
    dataset: str
    methods: list[str]
    seeds: list[int]
    stages: list[int]
    budgets: list[int]
    students: list[str]
    stage_eval: int | None
    sweep: dict[str, list] = field(default_factory=dict)  # other swept settings: dotted key -> values
    base_values: dict[str, Any] = field(default_factory=dict)  # of each swept key: the value equal to the base config's
    reference: str | None = None  # the method(s) the paired differences are taken against, comma-separated

    @classmethod
    def from_json(cls, saved: dict) -> Spec:
        """A saved compare.json, including one written before sweeps of any setting (and the reference
        method) existed: its differences are taken against the default reference."""
        spec = cls(**{k: saved[k] for k in cls.__dataclass_fields__ if k in saved})
        if spec.reference is None:
            spec.reference = default_reference(spec.methods)
        return spec

    @property
    def default(self) -> dict:
        return {
            "stages": self.stages[0],
            "budget": self.budgets[0],
            "student": self.students[0],
            "settings": {k: v[0] for k, v in self.sweep.items()},
        }

    def cells(self) -> list[Cell]:
        """Seed-major, so a complete table for the first seed exists early in a long comparison."""
        keys = list(self.sweep)
        combos = [tuple(zip(keys, vals)) for vals in itertools.product(*(self.sweep[k] for k in keys))]
        return [
            Cell(st, b, k, m, seed, combo, self._named(combo))
            for seed in self.seeds
            for st in self.students
            for b in self.budgets
            for k in self.stages
            for combo in combos
            for m in self.methods
        ]

    def _named(self, combo) -> tuple[str, ...]:
        """The keys of a combination whose value is not the base config's (they name the run)."""
        return tuple(k for k, v in combo if not (k in self.base_values and _same(self.base_values[k], v)))

    def to_json(self) -> dict:
        return {**asdict(self), "default": self.default}


def parse_sweeps(items: list[str] | None) -> dict[str, list]:
    """``KEY=V1,V2`` (repeatable) -> {key: [values]}, values parsed as YAML scalars, repeats dropped."""
    out: dict[str, list] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--sweep {item!r}: expected KEY=V1,V2, e.g. --sweep teacher.verify.samples=0,1")
        if key in NOT_SWEPT:
            raise ConfigError(f"--sweep {key}: not a sweep axis; use {NOT_SWEPT[key]}")
        if key in out:
            raise ConfigError(f"--sweep {key}: given twice; list every value once, e.g. --sweep {key}=V1,V2")
        values = []
        for part in text.split(","):
            if not part.strip():
                continue
            try:
                v = yaml.safe_load(part)
            except yaml.YAMLError:
                raise ConfigError(f"--sweep {key}: the value {part!r} is not valid YAML") from None
            if isinstance(v, (list, dict)):
                raise ConfigError(
                    f"--sweep {key}: the value {part.strip()!r} is not a single value (a number, "
                    "word, true/false or null)"
                )
            if v not in values:
                values.append(v)
        if not values:
            raise ConfigError(f"--sweep {key}: no values after '=', e.g. --sweep {key}=V1,V2")
        out[key] = values
    return out


def with_settings(base: RunConfig, settings) -> RunConfig:
    """The base config with the given (dotted key, value) settings, validated."""
    raw = base.model_dump(mode="json")
    for key, value in settings:
        _set_dotted(raw, key, value)
    return load_config(raw)


def _same(a, b) -> bool:
    """Equal as swept values: the same type family and value (0 and false are not the same setting)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def make_spec(
    config: Path,
    base: RunConfig,
    methods: str = "all",
    seeds: int = 1,
    stages: str | None = None,
    budgets: str | None = None,
    students: str | None = None,
    stage_eval: int | None = 10,
    sweeps: list[str] | None = None,
    reference: str | None = None,
) -> Spec:
    if seeds < 1:
        raise ConfigError("--seeds: at least 1")
    swept = parse_sweeps(sweeps)
    given = {
        "stages": parse_ints(stages, "--stages"),
        "budget": parse_ints(budgets, "--budgets"),
        "student.model": [s.strip() for s in students.split(",") if s.strip()] if students else None,
    }
    for key, option in (("stages", "--stages"), ("budget", "--budgets"), ("student.model", "--students")):
        if key in swept:
            if given[key]:
                raise ConfigError(f"--sweep {key}: given twice ({option} and --sweep {key}); use one of them")
            given[key] = _axis_values(key, swept.pop(key))
    ks = given["stages"] or [base.stages]
    bs = given["budget"] or [base.budget]
    sts = given["student.model"] or [base.student.model]
    for b in bs:
        for k in ks:
            try:
                check_budget(b, k)
            except ValueError as e:
                raise ConfigError(f"--budgets {b}, --stages {k}: {e}") from None
    _check_combinations(base, swept)
    base_raw = base.model_dump(mode="json")
    base_values = {}
    for key, values in swept.items():
        for v in values:
            try:
                same = with_settings(base, [(key, v)]).model_dump(mode="json") == base_raw
            except ConfigError:  # valid only beside another swept value
                same = False
            if same:  # the base config's own value (in whatever spelling)
                base_values.setdefault(key, v)
    names = parse_methods(methods)
    refs = list(dict.fromkeys(r.strip() for r in (reference or "").split(",") if r.strip()))
    if reference is not None and not refs:
        raise ConfigError(f"--reference {reference!r}: no method named; give one or more of {', '.join(names)}")
    for r in refs:
        if r not in names:
            raise ConfigError(f"--reference: {r} is not among the compared methods ({', '.join(names)})")
    ref = ",".join(refs) or default_reference(names)
    return Spec(
        str(config),
        _dataset_name(base),
        names,
        [base.seed + i for i in range(seeds)],
        ks,
        bs,
        sts,
        stage_eval,
        swept,
        base_values,
        ref,
    )


def default_reference(methods: list[str]) -> str | None:
    """random-ft-cot where it is compared (the paper's baseline that spends the same budget), else the first."""
    return "random-ft-cot" if "random-ft-cot" in methods else (methods[0] if methods else None)


def _check_combinations(base: RunConfig, swept: dict[str, list]) -> None:
    """Every combination of the swept values must make a valid config. The error names one value when every
    combination with it fails (a value the setting does not take), else the first failing combination."""
    combos = list(itertools.product(*([(k, v) for v in vs] for k, vs in swept.items())))
    errors = {}
    for combo in combos:
        try:
            with_settings(base, combo)
        except ConfigError as e:
            errors[combo] = str(e)
    if not errors:
        return
    first, msg = next(iter(errors.items()))
    for k, v in first:
        if all(c in errors for c in combos if (k, v) in c):
            raise ConfigError(f"--sweep {k}={value_text(v)}: {msg}")
    raise ConfigError(f"--sweep {settings_label(first)}: {msg}")


def _axis_values(key: str, values: list) -> list:
    """--sweep stages= / budget= (whole numbers >= 1) and student.model= (names) as the classic axes hold them."""
    if key == "student.model":
        return [str(v) for v in values]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise ConfigError(f"--sweep {key}: expected positive whole numbers, got {','.join(map(value_text, values))}")
    return values


def _dataset_name(cfg: RunConfig) -> str:
    p = Path(cfg.data.train)
    return p.parent.name or p.stem


def cell_config(base: RunConfig, cell: Cell, out: Path, stage_eval: int | None) -> RunConfig:
    raw = base.model_dump(mode="json")
    m = METHODS[cell.method]
    raw.update(
        method=cell.method,
        seed=cell.seed,
        stages=cell.stages if m.multi_stage else base.stages,
        budget=cell.budget if m.train else base.budget,
    )
    raw["student"]["model"] = cell.student
    for key, value in cell.run_settings():  # the swept settings the method uses; the others stay the base's
        _set_dotted(raw, key, value)
    raw["teacher"]["cache"] = str((out / "teacher_cache.sqlite").resolve())
    raw["eval_each_stage"] = stage_eval if (m.multi_stage and stage_eval) else None
    return load_config(raw)


# ---- running -----------------------------------------------------------------------------------------
def compare(
    base: RunConfig, spec: Spec, out: Path, on_cell=None, reuse: list[Path] | tuple = (), on_reuse=None
) -> list[dict]:
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
    check_cells(base, spec, out, todo)
    out.mkdir(parents=True, exist_ok=True)
    with claim(out, OUTPUTS, wait=True):
        (out / "compare.json").write_text(json.dumps(spec.to_json(), indent=2) + "\n")
        (out / "config.yaml").write_text(dump_config(base))
    if reuse:
        got = reuse_runs(base, spec, out, reuse, todo)
        if on_reuse and got:
            on_reuse(got, len(todo))
    first = True
    while True:
        busy = []  # cells another process is running now
        for n, (rid, cell) in enumerate(todo.items(), 1):
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
                _run_cell(run, base, spec, out, cell, folder, n, len(todo), on_cell)
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


def reuse_runs(base: RunConfig, spec: Spec, out: Path, sources, todo: dict[str, Cell]) -> list[str]:
    """Hard-link (or copy) into `out` the finished runs of other comparison folders whose config is a cell's
    config but for the path of the teacher cache (``_reuse_key``; the run id may differ: a setting swept there
    may be a base setting here). A run whose config differs in anything else is not reused, and the cell runs here.
    Returns the run ids reused."""
    finished = finished_runs(sources)
    done = []
    for rid, cell in todo.items():
        dst = out / "runs" / rid
        src = finished.get(_reuse_key(cell_config(base, cell, out, spec.stage_eval)))
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
    """The finished runs of other comparison folders, by ``_reuse_key`` (the first folder's run wins)."""
    finished: dict[str, Path] = {}
    for root in sources:
        for m in sorted((Path(root) / "runs").glob("**/metrics.json")):
            finished.setdefault(_reuse_key(load_config(m.parent / "config.yaml")), m.parent)
    return finished


def _reuse_key(cfg: RunConfig) -> str:
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


def _run_cell(
    run, base: RunConfig, spec: Spec, out: Path, cell: Cell, folder: Path, n: int, total: int, on_cell
) -> None:
    resume = (folder / "config.yaml").exists()
    if folder.exists() and not resume:  # cut short before it wrote anything worth keeping
        shutil.rmtree(folder)
    log.info("[%d/%d] %s%s", n, total, cell.run_id, " (resuming)" if resume else "")
    if on_cell:
        on_cell(n, total, cell.run_id, resume)
    cfg = cell_config(base, cell, out, spec.stage_eval)
    t0 = time.time()
    try:
        run(cfg, folder, resume=resume)
    finally:  # wall time over every attempt, including one cut short and resumed
        _add_wall_time(folder, time.time() - t0)
    gc.collect()
    with claim(out, OUTPUTS, wait=True):
        write_results(out)


def check_cells(base: RunConfig, spec: Spec, out: Path, todo: dict[str, Cell]) -> None:
    """Pre-flight for every unfinished cell before the first starts (each teacher probed and each student
    checked once): a comparison does not stop hours in because its fifth student cannot be loaded."""
    from .preflight import preflight

    memo: dict = {}
    errors: list[str] = []
    for rid, cell in todo.items():
        folder = out / "runs" / rid
        if (folder / "metrics.json").exists():
            continue
        resume = (folder / "config.yaml").exists()
        pf = preflight(cell_config(base, cell, out, spec.stage_eval), folder if resume else None, resume, memo=memo)
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


def write_outputs(out: Path) -> None:
    """Tables, plots and the HTML report from results.json."""
    from ..report.html import write_report  # matplotlib: only when there is something to draw
    from ..report.plots import write_plots
    from ..report.tables import write_tables

    write_tables(out)
    write_plots(out)
    write_report(out)


# ---- results -------------------------------------------------------------------------------------------
def row_from_run(folder: Path, cell: Cell, dataset: str) -> ResultRow:
    m = RunMetrics.load(folder / "metrics.json")
    led = m.ledger
    stage_scores = []
    for p in sorted((folder / "stages").glob("*/eval.json"), key=lambda p: int(p.parent.name)):
        e = StageEval.model_validate(json.loads(p.read_text()))
        stage_scores.append(e.scores() | {"stage": e.stage + 1, "n_test": e.n_test})
    if METHODS[cell.method].multi_stage:
        stage_scores.append(m.scores() | {"stage": m.stages, "n_test": m.n_test})
    return ResultRow(
        cell=cell.cell_id,
        run=cell.run_id,
        dataset=dataset,
        student=cell.student,
        budget=cell.budget,
        stages=cell.stages,
        effective_stages=m.stages,
        method=cell.method,
        seed=cell.seed,
        metric=_metric(folder),
        settings=dict(cell.settings),
        teacher=m.teacher or "",
        **m.scores(),
        per_domain={d: v.score for d, v in m.per_domain.items()},
        pool_sizes=m.pool_sizes,
        tail_domains=m.tail.domains,
        spent_units=m.spent,
        physical_calls=(led.get("physical") or {}).get("calls", 0),
        prompt_tokens=led.get("prompt_tokens", 0),
        completion_tokens=led.get("completion_tokens", 0),
        dollars=led.get("dollars", 0.0),
        physical_dollars=(led.get("physical") or {}).get("dollars", 0.0),
        spend_by_stage_domain=m.spend_by_stage_domain,
        stage_scores=stage_scores,
        n_train=m.n_train,
        n_train_synthetic=m.n_train_synthetic,
        n_train_duplicate=m.n_train_duplicate,
        n_test=m.n_test,
        wall_seconds=_wall_time(folder, m),
        **(
            {
                "val_macro": m.val.macro,
                "val_micro": m.val.micro,
                "val_head_macro": m.val.head.macro,
                "val_tail_macro": m.val.tail.macro,
                "n_val": m.n_val,
            }
            if m.val
            else {}
        ),
    )


def _wall_time(folder: Path, metrics: RunMetrics) -> float:
    """Seconds the run took in total (model loading, every stage, evaluation, across resumptions)."""
    path = folder / "wall_time.json"
    return json.loads(path.read_text())["seconds"] if path.exists() else metrics.wall_seconds


def _metric(folder: Path) -> str:
    cfg = load_config(folder / "config.yaml")
    return cfg.data.metric


CSV_COLUMNS = [
    "cell",
    "dataset",
    "student",
    "budget",
    "stages",
    "effective_stages",
    "method",
    "seed",
    "metric",
    "macro",
    "micro",
    "head_macro",
    "head_micro",
    "tail_macro",
    "tail_micro",
    "macro_f1",
    "micro_f1",
    "spent_units",
    "physical_calls",
    "prompt_tokens",
    "completion_tokens",
    "dollars",
    "physical_dollars",
    "n_train",
    "n_train_synthetic",
    "n_train_duplicate",
    "n_test",
    "wall_seconds",
    "val_macro",
    "val_micro",
    "val_head_macro",
    "val_tail_macro",
    "n_val",
]


def write_results(out: Path) -> list[dict]:
    """results.json and results.csv from every finished cell (one row per method × seed × K × budget ×
    student; single-stage methods appear under every K of the sweep, from one run)."""
    from .intervals import compute_intervals

    saved = json.loads((out / "compare.json").read_text())
    spec = Spec.from_json(saved)
    rows = [
        row_from_run(out / "runs" / c.run_id, c, spec.dataset).model_dump()
        for c in spec.cells()
        if (out / "runs" / c.run_id / "metrics.json").exists()
    ]
    RunFolder(out).write_json(
        "results.json",
        {
            "spec": saved,
            "rows": rows,
            "spend": {
                "logical_units": sum(r["spent_units"] for r in _unique_runs(rows)),
                "logical_dollars": round(sum(r["dollars"] for r in _unique_runs(rows)), 6),
                **physical_spend(out),
            },
            "intervals": compute_intervals(out / "runs", rows, spec.to_json()),
        },
    )
    keys = list(spec.sweep)  # one column per swept setting, after the classic axes
    columns = CSV_COLUMNS[: CSV_COLUMNS.index("method")] + keys + CSV_COLUMNS[CSV_COLUMNS.index("method") :]
    with (out / "results.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns + ["per_domain"], extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(
                {
                    **{k: r[k] for k in CSV_COLUMNS},
                    **{k: value_text(r["settings"].get(k)) for k in keys},
                    "per_domain": json.dumps(r["per_domain"]),
                }
            )
    return rows


def _unique_runs(rows: list[dict]) -> list[dict]:
    seen, out = set(), []
    for r in rows:
        if r["run"] not in seen:
            seen.add(r["run"])
            out.append(r)
    return out


def physical_spend(out: Path) -> dict:
    """What the teacher server really answered over the whole comparison: the shared cache's replies.
    (A finished cell's ledger says which of its calls were sent; the cache holds each reply once.)"""
    calls = prompt = completion = 0
    dollars = 0.0
    for p in sorted((out / "runs").glob("**/ledger.sqlite")):
        led = Ledger(Caps(0), p)
        s = led.summary()["physical"]
        led.close()
        calls += s["calls"]
        prompt += s["prompt_tokens"]
        completion += s["completion_tokens"]
        dollars += s["dollars"]
    return {
        "physical_calls": calls,
        "physical_prompt_tokens": prompt,
        "physical_completion_tokens": completion,
        "physical_dollars": round(dollars, 6),
    }


# ---- estimate ------------------------------------------------------------------------------------------
def estimate(base: RunConfig, spec: Spec, out: Path, reuse=()) -> dict:
    """Teacher spend before anything is sent. Logical: every cell's full budget that is neither finished in
    `out` nor served by a finished run of a `reuse` folder (``reuse_runs``). Physical: an upper bound, since
    annotations are shared: at most one request per distinct real example (no sharing across seeds and copies
    with ``fresh_samples``), plus every synthesis call."""
    pool = Inputs.load(base).pool
    logical = {
        "calls": 0,
        "annotate": 0,
        "synthesize": 0,
        "verify": 0,
        "prompt_tokens": 0,
        "completion_tokens_max": 0,
        "dollars_max": 0.0,
    }
    cells = {c.run_id: c for c in spec.cells()}
    unfinished = [c for rid, c in cells.items() if not (out / "runs" / rid / "metrics.json").exists()]
    finished = finished_runs(reuse) if reuse else {}
    todo = [c for c in unfinished if _reuse_key(cell_config(base, c, out, spec.stage_eval)) not in finished]
    for cell in todo:
        for r in estimate_cell(cell_config(base, cell, out, None)):
            for k in logical:
                logical[k] += r[k]
    cached = 0
    if (out / "teacher_cache.sqlite").exists():
        cache = ReplyCache(out / "teacher_cache.sqlite")
        cached = len(cache)
        cache.close()
    distinct = logical["annotate"] if base.teacher.fresh_samples else len({e.input for e in pool})
    ann = min(logical["annotate"], distinct)
    calls = ann + logical["synthesize"] + logical["verify"]
    share = calls / logical["calls"] if logical["calls"] else 0.0
    physical = {
        "calls": calls,
        "annotate": ann,
        "synthesize": logical["synthesize"],
        "verify": logical["verify"],
        "prompt_tokens": round(logical["prompt_tokens"] * share),
        "completion_tokens_max": round(logical["completion_tokens_max"] * share),
        "dollars_max": round(logical["dollars_max"] * share, 4),
    }
    return {
        "cells": len(cells),
        "todo": len(todo),
        "reused": len(unfinished) - len(todo),
        "logical": logical,
        "physical_max": physical,
        "cached_replies": cached,
    }


def elapsed(t0: float) -> str:
    s = int(time.time() - t0)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"
