"""The files of a comparison folder, typed: what it runs (``Spec``, saved as ``compare.json``), its cells and
their run folders (``Cell``), and what it reports (``results.json``: one ``ResultRow`` per cell and the
bootstrap ``Intervals``). ``compare`` writes them; the tables, plots, report and intervals read them through
``load_results``. Folders written by earlier versions still load: fields they lack take the defaults below.

A cell is one (student, budget, K, other swept settings, method, seed). Its run folder is
``runs/<student>/B<b>/K<k>[/<key>=<value>,...]/<method>/seed<s>``: single-stage methods do not depend on K and
zero-shot not on B either, so one run serves every cell that differs only there; likewise for a swept setting a
method does not use (``uses``); the optional segment names only the settings whose value is not the base config's.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .methods import METHODS

NAN = math.nan


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- labels ------------------------------------------------------------------------------------------
def value_text(value: Any) -> str:
    """A swept value as written on the command line: YAML scalars (0.15, true, null), strings as they are."""
    return value if isinstance(value, str) else json.dumps(value)


def settings_label(settings) -> str:
    """``key=value,key=value`` of (dotted key, value) pairs."""
    return ",".join(f"{k}={value_text(v)}" for k, v in settings)


def slug(name: str) -> str:
    """A student's name as one path segment."""
    return name.rstrip("/").replace("/", "--").replace(" ", "_") or "student"


def same_value(a, b) -> bool:
    """Equal as swept values: the same type family and value (0 and false are not the same setting)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


# ---- cells -------------------------------------------------------------------------------------------
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
        return m.selector in ("ifd", "error") and m.multi_stage
    return True


@dataclass(frozen=True)
class Cell:
    student: str
    budget: int
    stages: int  # the K asked for; single-stage methods run once and are reported under every K
    method: str
    seed: int
    settings: tuple[tuple[str, Any], ...] = ()  # the other swept settings of the cell, (dotted key, value)
    named: tuple[str, ...] = ()  # those of them that name the run (their value is not the base config's)

    def run_settings(self) -> list[tuple[str, Any]]:
        """The swept settings the cell's run applies: those the method uses (the others stay at the base
        config's value, so cells that differ only there share one run)."""
        return [(k, v) for k, v in self.settings if uses(self.method, k)]

    @property
    def run_id(self) -> str:
        """The run folder under DIR/runs (see the module doc)."""
        m = METHODS[self.method]
        k = self.stages if m.multi_stage else 1
        b = self.budget if m.train else 0
        named = [(key, v) for key, v in self.run_settings() if key in self.named]
        extra = f"/{slug(settings_label(named))}" if named else ""
        return f"{slug(self.student)}/B{b}/K{k}{extra}/{self.method}/seed{self.seed}"

    @property
    def cell_id(self) -> str:
        """A row of the results: the cell as asked for (its K and B even where the run does not depend on them)."""
        extra = f"/{slug(settings_label(self.settings))}" if self.settings else ""
        return f"{slug(self.student)}/B{self.budget}/K{self.stages}{extra}/{self.method}/seed{self.seed}"


class Setting(_Model):
    """A point of the comparison's classic axes and swept settings (its default: each axis's first value)."""

    stages: int
    budget: int
    student: str
    settings: dict[str, Any] = Field(default_factory=dict)

    def caption(self) -> str:
        text = f"student {self.student}, budget B = {self.budget}, K = {self.stages} stages"
        return text + "".join(f", {k} = {value_text(v)}" for k, v in self.settings.items())


def default_reference(methods: list[str]) -> str | None:
    """random-ft-cot where it is compared (the paper's baseline that spends the same budget), else the first."""
    return "random-ft-cot" if "random-ft-cot" in methods else (methods[0] if methods else None)


class Spec(_Model):
    """What a comparison runs; saved as DIR/compare.json so a re-run can check it continues the same one."""

    config: str = ""
    dataset: str = "data"
    methods: list[str]
    seeds: list[int]
    stages: list[int]
    budgets: list[int]
    students: list[str]
    stage_eval: int | None = None
    sweep: dict[str, list] = Field(default_factory=dict)  # other swept settings: dotted key -> values
    base_values: dict[str, Any] = Field(default_factory=dict)  # of each swept key: the value equal to the base's
    reference: str | None = None  # the method(s) the paired differences are taken against, comma-separated

    @classmethod
    def from_json(cls, saved: dict) -> Spec:
        """A saved compare.json (or results.json ``spec``), including one written before sweeps of any setting
        and the reference method existed: its differences are then taken against the default reference."""
        spec = cls.model_validate(saved)
        if spec.reference is None:
            spec.reference = default_reference(spec.methods)
        return spec

    @property
    def default(self) -> Setting:
        return Setting(
            stages=self.stages[0],
            budget=self.budgets[0],
            student=self.students[0],
            settings={k: v[0] for k, v in self.sweep.items()},
        )

    @property
    def references(self) -> list[str]:
        """The reference methods, in the order given."""
        return [r for r in (self.reference or "").split(",") if r]

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
        return tuple(k for k, v in combo if not (k in self.base_values and same_value(self.base_values[k], v)))

    def to_json(self) -> dict:
        return {**self.model_dump(), "default": self.default.model_dump()}


# ---- results ----------------------------------------------------------------------------------------
SCORES = ("macro", "micro", "head_macro", "head_micro", "tail_macro", "tail_micro", "macro_f1", "micro_f1")


class StageScore(_Model):
    """A multi-stage run's scores after one stage (1-based), on the per-stage test subset (the last: the full test)."""

    stage: int
    n_test: int | None = None
    macro: float | None = None
    micro: float | None = None
    head_macro: float | None = None
    head_micro: float | None = None
    tail_macro: float | None = None
    tail_micro: float | None = None
    macro_f1: float | None = None
    micro_f1: float | None = None


class ResultRow(_Model):
    """One row of a comparison's ``results.json``: a cell (student, budget, K, method, seed) and its run."""

    cell: str
    run: str
    dataset: str
    student: str
    budget: int
    stages: int
    effective_stages: int
    method: str
    seed: int
    metric: str
    settings: dict[str, Any] = Field(default_factory=dict)  # the cell's other swept settings (compare --sweep)
    teacher: str = ""  # the run's teacher label, e.g. "reference (oracle synthesis; simulated verifier (...))"
    macro: float | None
    micro: float | None
    head_macro: float | None
    head_micro: float | None
    tail_macro: float | None
    tail_micro: float | None
    macro_f1: float | None = None
    micro_f1: float | None = None
    per_domain: dict[str, float | None]
    pool_sizes: dict[str, int]
    tail_domains: list[str]
    spent_units: int
    physical_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dollars: float = 0.0
    physical_dollars: float = 0.0
    spend_by_stage_domain: dict[str, dict[str, int]] = Field(default_factory=dict)
    stage_scores: list[StageScore] = Field(default_factory=list)
    n_train: int
    n_train_synthetic: int = 0
    n_train_duplicate: int = 0
    n_test: int
    wall_seconds: float = 0.0
    val_macro: float | None = None  # the validation split (data.val), where the run scored one
    val_micro: float | None = None
    val_head_macro: float | None = None
    val_tail_macro: float | None = None
    n_val: int = 0
    signal_by_stage: dict[str, dict[str, float | None]] = Field(default_factory=dict)  # RunMetrics.signal_by_stage

    def score(self, key: str, split: str = "test") -> float | None:
        """A score of the row: ``key`` one of ``SCORES`` on the test split, or ``val_<key>`` for "val"."""
        return getattr(self, key if split == "test" else f"{split}_{key}", None)

    @property
    def group(self) -> GroupKey:
        """Everything that names the row's group but its seed."""
        return GroupKey(
            dataset=self.dataset,
            student=self.student,
            budget=self.budget,
            stages=self.stages,
            method=self.method,
            settings=dict(self.settings),
        )

    def to_json(self) -> dict:
        d = self.model_dump()
        if not d["signal_by_stage"]:  # only methods that measure one
            del d["signal_by_stage"]
        return d


# ---- intervals ---------------------------------------------------------------------------------------
class CI(_Model):
    """A statistic's mean and its bootstrap interval [lo, hi] (fractions; a difference for ``Difference``)."""

    mean: float
    lo: float
    hi: float


class SplitCIs(_Model):
    """The intervals of a group (or a paired difference) on one split: macro, micro, head, tail, per domain.
    None where the statistic is undefined (e.g. the tail macro of a split with no tail)."""

    per_domain: dict[str, CI | None] = Field(default_factory=dict)
    macro: CI | None = None
    micro: CI | None = None
    head_macro: CI | None = None
    tail_macro: CI | None = None

    def stat(self, key: str) -> CI | None:
        return getattr(self, key, None)


class GroupKey(_Model):
    """A group of result rows: one method at one setting (every seed)."""

    dataset: str | None = None
    student: str | None = None
    budget: int | None = None
    stages: int | None = None
    method: str
    settings: dict[str, Any] = Field(default_factory=dict)

    def key(self) -> str:
        return json.dumps(
            [self.dataset, self.student, self.budget, self.stages, self.method, sorted(self.settings.items())]
        )

    def axis(self, name: str):
        """The value of a classic axis: ``student``, ``budget`` or ``stages``."""
        return getattr(self, name)


class GroupCIs(GroupKey):
    seeds: list[int] = Field(default_factory=list)
    test: SplitCIs | None = None
    val: SplitCIs | None = None

    def to_json(self) -> dict:
        return self.model_dump(exclude={k for k in ("test", "val") if getattr(self, k) is None})


class Difference(_Model):
    """A paired difference A − B: ``kind`` is "method", a swept key, or a classic axis (budget, stages, student)."""

    kind: str
    a: GroupKey
    b: GroupKey
    seeds: list[int] = Field(default_factory=list)
    test: SplitCIs | None = None
    val: SplitCIs | None = None

    def split(self, name: str) -> SplitCIs:
        return getattr(self, name) or SplitCIs()

    def to_json(self) -> dict:
        return self.model_dump(exclude={k for k in ("test", "val") if getattr(self, k) is None})


class Intervals(_Model):
    """``results.json``'s ``intervals`` (empty for folders written before them, or runs without predictions)."""

    resamples: int = 0
    level: float = 0.95
    seed: int | None = None
    groups: list[GroupCIs] = Field(default_factory=list)
    differences: list[Difference] = Field(default_factory=list)
    _by_key: dict[str, GroupCIs] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _context) -> None:
        self._by_key = {g.key(): g for g in self.groups}

    def group(self, row: ResultRow) -> GroupCIs | None:
        return self._by_key.get(row.group.key())

    def get(self, row: ResultRow, stat: str, split: str = "test", domain: str | None = None) -> CI | None:
        """The interval of a statistic for the group of ``row`` (any of its seeds), or None."""
        g = self.group(row)
        block = getattr(g, split, None) if g is not None else None
        if block is None:
            return None
        return block.per_domain.get(domain) if domain is not None else block.stat(stat)

    def to_json(self) -> dict:
        return {
            "resamples": self.resamples,
            "level": self.level,
            "seed": self.seed,
            "groups": [g.to_json() for g in self.groups],
            "differences": [d.to_json() for d in self.differences],
        }


# ---- results.json ------------------------------------------------------------------------------------
class Results(_Model):
    """A comparison's ``results.json``."""

    spec: Spec
    rows: list[ResultRow]
    spend: dict[str, Any] = Field(default_factory=dict)
    intervals: Intervals = Field(default_factory=Intervals)

    @classmethod
    def from_json(cls, data: dict) -> Results:
        return cls(
            spec=Spec.from_json(data.get("spec") or {}),
            rows=[ResultRow.model_validate(r) for r in data["rows"]],
            spend=data.get("spend") or {},
            intervals=Intervals.model_validate(data.get("intervals") or {}),
        )

    @property
    def default(self) -> Setting:
        return self.spec.default


def load_results(folder: str | Path) -> Results:
    """A comparison's ``results.json``, every row validated (and completed with defaults)."""
    return Results.from_json(json.loads((Path(folder) / "results.json").read_text(encoding="utf-8")))
