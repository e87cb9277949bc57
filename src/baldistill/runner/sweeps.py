"""What a comparison's command line asks for, as a ``Spec`` (``core/comparison.py``): the methods, seeds and the
sweeps of any setting (``--sweep KEY=V1,V2``; ``--stages``, ``--budgets`` and ``--students`` are spellings of
``--sweep stages=``, ``budget=`` and ``student.model=``), each value checked through the config model first; and
the config of each cell's run."""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from ..config import ConfigError, RunConfig, load_config, set_dotted
from ..core.comparison import Cell, Spec, default_reference, settings_label, value_text
from ..core.methods import METHOD_ORDER, METHODS
from ..core.plan import check_budget


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
        set_dotted(raw, key, value)
    return load_config(raw)


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
        config=str(config),
        dataset=_dataset_name(base),
        methods=names,
        seeds=[base.seed + i for i in range(seeds)],
        stages=ks,
        budgets=bs,
        students=sts,
        stage_eval=stage_eval,
        sweep=swept,
        base_values=base_values,
        reference=ref,
    )


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
    """The config of a cell's run: the base config with the cell's method, seed, K, B, student and the swept
    settings the method uses, the comparison's shared teacher cache, and (multi-stage methods) ``stage_eval``."""
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
        set_dotted(raw, key, value)
    raw["teacher"]["cache"] = str((out / "teacher_cache.sqlite").resolve())
    raw["eval_each_stage"] = stage_eval if (m.multi_stage and stage_eval) else None
    return load_config(raw)


def cell_configs(base: RunConfig, spec: Spec, out: Path, cells: dict[str, Cell]) -> dict[str, RunConfig]:
    """The config of each cell's run (run id -> config), each built once."""
    return {rid: cell_config(base, cell, out, spec.stage_eval) for rid, cell in cells.items()}
