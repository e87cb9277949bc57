"""The results a run writes (``metrics.json``, ``stages/<i>/eval.json``), as typed, versioned models: the
pipeline writes them, ``compare`` reads them into its result rows (``core/comparison.py``). Files written before
the schema version existed (version 0) still load: fields they lack take the defaults below.

Scores are fractions; a score with nothing to average (e.g. the tail macro of a split with no tail
domain) is NaN in memory and null in the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .spend import RunSpend

SCHEMA_VERSION = 1
NAN = math.nan


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _score(x) -> float:
    return NAN if x is None else float(x)


class DomainScore(_Model):
    n: int
    score: float | None
    tail: bool


class Block(_Model):
    """The head or the tail: its domains, the mean of their scores (macro) and the mean over items (micro)."""

    domains: list[str]
    macro: float | None
    micro: float | None


class Summary(_Model):
    """Per-domain scores and their averages (``metrics.summarize``); F1 for classification only."""

    macro: float | None
    micro: float | None
    head: Block
    tail: Block
    per_domain: dict[str, DomainScore]
    macro_f1: float | None = None
    micro_f1: float | None = None

    def scores(self) -> dict[str, float | None]:
        """The flat scores a results row carries."""
        return {
            "macro": self.macro,
            "micro": self.micro,
            "head_macro": self.head.macro,
            "head_micro": self.head.micro,
            "tail_macro": self.tail.macro,
            "tail_micro": self.tail.micro,
            "macro_f1": self.macro_f1,
            "micro_f1": self.micro_f1,
        }

    def to_json(self) -> dict:
        d = self.model_dump()
        for k in ("macro_f1", "micro_f1"):  # present only where the task has a label set
            if d.get(k) is None:
                d.pop(k, None)
        return d


class StageEval(Summary):
    """``stages/<i>/eval.json``: the student after stage i (0-based) on a subset of the test set."""

    stage: int
    n_test: int | None = None

    def to_json(self) -> dict:
        d = super().to_json()
        return {"stage": d.pop("stage"), "n_test": d.pop("n_test"), **d}


class RunMetrics(Summary):
    """``metrics.json``: what one run did and how its final student scored."""

    schema_version: int = 0  # absent in files written before it existed
    method: str
    teacher: str | None = None  # "<backend> (<label>)" when the method called a teacher
    budget: int
    stages: int
    spent: int
    n_train: int
    n_train_synthetic: int = 0
    n_train_duplicate: int = 0
    n_train_by_domain: dict[str, int] = Field(default_factory=dict)
    shortfall_by_domain: dict[str, int] = Field(default_factory=dict)  # paid units that did not become training data
    shortfall_reasons: dict[str, dict[str, int]] = Field(default_factory=dict)  # the same units per domain, by reason
    unspent_by_domain: dict[str, dict[str, int]] = Field(
        default_factory=dict
    )  # units left unspent (verification), by reason
    n_test: int
    majority: Summary | None = None  # the per-domain majority-answer baseline on the same test items
    pool_sizes: dict[str, int] = Field(default_factory=dict)
    wall_seconds: float = 0.0  # this process: the stages it ran and the evaluation
    spend_by_stage_domain: dict[str, dict[str, int]] = Field(default_factory=dict)
    ledger: RunSpend = Field(default_factory=RunSpend)  # the ledger's summary: spent, tokens, dollars, physical, ...
    cap_reached: str | None = None  # a token or dollar cap ended the buying: "cap reached at stage i: ..."
    data: dict = Field(default_factory=dict)  # data hygiene: pool rows read and used, repeats, test overlap
    val: Summary | None = None  # the final student on the validation split (data.val)
    n_val: int = 0
    phase_seconds: dict[str, dict[str, float]] = Field(default_factory=dict)  # per stage ("final") and phase
    # methods that look at the student's answers: per stage (1-based, as reported) and domain, the score measured
    # on the candidates (and synthetic examples) it answered before the stage chose (stages/<i>/signal.json)
    signal_by_stage: dict[str, dict[str, float | None]] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> RunMetrics:
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_json(self) -> dict:
        d = super().to_json()
        if self.majority is not None:
            d["majority"] = self.majority.to_json()
        if self.val is not None:
            d["val"] = self.val.to_json()
        for k in (
            "cap_reached",
            "data",
            "val",
            "n_val",
            "shortfall_reasons",
            "unspent_by_domain",
            "signal_by_stage",
        ):  # only when there is something to say
            if not d.get(k):
                d.pop(k, None)
        first = [k for k in _FIRST if k in d]  # what the run was, then how it scored
        return {**{k: d[k] for k in first}, **{k: v for k, v in d.items() if k not in first}}


_FIRST = [
    "schema_version",
    "method",
    "teacher",
    "budget",
    "stages",
    "spent",
    "n_train",
    "n_train_synthetic",
    "n_train_duplicate",
    "n_train_by_domain",
    "shortfall_by_domain",
    "n_test",
]
