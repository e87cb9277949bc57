"""The compared methods, as configurations of one pipeline (paper section 4, "baselines")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Method:
    name: str
    policy: Literal["adaptive", "naive", "global"] | None  # global: one stage-wide quota, no per-domain split
    selector: Literal["ifd", "random"] | None  # after stage 0 (stage 0 is always random)
    synthesize: bool  # fill tail deficits with teacher-synthesized examples
    rationale: bool  # teacher chain-of-thought (False: gold labels only, no teacher calls)
    train: bool
    multi_stage: bool
    summary: str
    duplicate: bool = False  # fill tail deficits by repeating the domain's real examples (no synthesis)


METHODS = {
    m.name: m
    for m in [
        Method("baldistill-a", "adaptive", "ifd", True, True, True, True,
               "adaptive balance, per-domain IFD selection on head domains, teacher synthesis for tail deficits"),
        Method("baldistill-n", "naive", "ifd", True, True, True, True,
               "naive (equal) balance, per-domain IFD selection, teacher synthesis for tail deficits"),
        Method("active-ft-cot", "global", "ifd", False, True, True, True,
               "stage-wise IFD selection ranked across all domains, no balancing or synthesis"),
        Method("duplicate-ft-cot", "naive", "random", False, True, True, False,
               "one stage of naive balance; tail deficits filled by repeating the domain's real examples",
               duplicate=True),
        Method("balance-ft-cot", "naive", "random", True, True, True, False,
               "one stage of naive balance with synthesis, random (not IFD) selection"),
        Method("random-ft-cot", "global", "random", False, True, True, False,
               "B random examples, teacher rationales, one fine-tune"),
        Method("random-ft", "global", "random", False, False, True, False,
               "B random examples, gold labels only (no rationale, no teacher calls), one fine-tune"),
        Method("zero-shot", None, None, False, False, False, False,
               "the untrained student with the same prompt and answer parser"),
    ]
}
