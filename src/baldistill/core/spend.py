"""What a run spent on its teacher, as the ledger sums it (``Ledger.summary()``): units, tokens and dollars,
logical (charged to the run) and physical (sent to a server), per stage, kind and domain. ``metrics.json``
keeps the part under ``ledger`` that ``RunSpend`` names; files written before it was typed still load (absent
fields take the defaults below)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SpendGroup(_Model):
    """The charged calls of one stage, kind or domain."""

    units: int = 0  # budget units (one per paid example; a re-send after an unknown outcome takes none)
    dropped: int = 0  # paid replies the checks dropped (answer disagrees, not usable)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dollars: float = 0.0


class PhysicalSpend(_Model):
    """What was really sent to a server (replies served from a shared cache are not)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dollars: float = 0.0


class RunSpend(_Model):
    """The spend a run's ``metrics.json`` records under ``ledger``."""

    spent: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dollars: float = 0.0
    unknown_outcome: int = 0  # calls whose outcome is unknown: charged at their worst case
    physical: PhysicalSpend = Field(default_factory=PhysicalSpend)
    by_stage: dict[str, SpendGroup] = Field(default_factory=dict)  # keyed by the 0-based stage, as text
    by_kind: dict[str, SpendGroup] = Field(default_factory=dict)  # annotate, synthesize, verify


class Spend(RunSpend):
    """Everything ``Ledger.summary()`` reports."""

    budget: int = 0
    submitted: int = 0  # calls in a teacher batch not yet read back
    over_reservation: int = 0  # calls whose reported usage exceeded their reservation
    by_domain: dict[str, SpendGroup] = Field(default_factory=dict)

    def run_spend(self) -> RunSpend:
        """The part ``metrics.json`` keeps."""
        return RunSpend.model_validate(self.model_dump(include=set(RunSpend.model_fields)))
