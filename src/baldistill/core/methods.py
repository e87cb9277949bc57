"""The compared methods, as configurations of one pipeline (paper section 4, "baselines").

``METHODS`` is the one registry: the config's method names, ``compare --methods all``, the row order of
every table and plot are all read from it. It is in the paper's row order (Table 2), baselines first, then
the feedback method and its two ablations.
To add a method, add a row here; the pipeline and the budget plan read only these fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from .policies import Policy


@dataclass(frozen=True, kw_only=True)
class Method:
    name: str
    summary: str
    policy: Policy | None  # per-stage quotas; "global": one stage-wide quota; "feedback": from the student's errors
    # how head examples are chosen after stage 0 (always random): "random", "ifd" (top IFD), or "error" (the
    # candidates the student answers wrongly first, each group by IFD)
    selector: str | None = None
    synthesize: bool = False  # fill tail deficits with teacher-synthesized examples
    duplicate: bool = False  # fill tail deficits with paid copies of the domain's real examples
    rationale: bool = True  # teacher chain-of-thought (False: gold labels only, no teacher calls)
    train: bool = True
    multi_stage: bool = False

    def target(self, rationale: str | None, answer: str) -> str:
        """What the student learns to write: the teacher rationale, or the label alone (random-ft, or no
        rationale)."""
        return rationale if self.rationale and rationale else f"The answer is {answer}."


METHODS: dict[str, Method] = {
    m.name: m
    for m in [
        Method(
            name="zero-shot",
            policy=None,
            rationale=False,
            train=False,
            summary="the untrained student with the same prompt and answer parser",
        ),
        Method(
            name="random-ft",
            policy="global",
            selector="random",
            rationale=False,
            summary="B random examples, gold labels only (no rationale, no teacher calls), one fine-tune",
        ),
        Method(
            name="random-ft-cot",
            policy="global",
            selector="random",
            summary="B random examples, teacher rationales, one fine-tune",
        ),
        Method(
            name="duplicate-ft-cot",
            policy="naive",
            selector="random",
            duplicate=True,
            summary="one stage of naive balance; tail deficits filled by repeating the domain's real examples",
        ),
        Method(
            name="balance-ft-cot",
            policy="naive",
            selector="random",
            synthesize=True,
            summary="one stage of naive balance with synthesis, random (not IFD) selection",
        ),
        Method(
            name="active-ft-cot",
            policy="global",
            selector="ifd",
            multi_stage=True,
            summary="stage-wise IFD selection ranked across all domains, no balancing or synthesis",
        ),
        Method(
            name="baldistill-n",
            policy="naive",
            selector="ifd",
            synthesize=True,
            multi_stage=True,
            summary="naive (equal) balance, per-domain IFD selection, teacher synthesis for tail deficits",
        ),
        Method(
            name="baldistill-a",
            policy="adaptive",
            selector="ifd",
            synthesize=True,
            multi_stage=True,
            summary="adaptive balance, per-domain IFD selection on head domains, teacher synthesis for tail deficits",
        ),
        Method(
            name="baldistill-f",
            policy="feedback",
            selector="error",
            synthesize=True,
            multi_stage=True,
            summary="feedback balance (each stage's share by the student's errors per domain), the candidates it "
            "answers wrongly first (by IFD), teacher synthesis for tail deficits",
        ),
        Method(
            name="baldistill-f-ifd",
            policy="feedback",
            selector="ifd",
            synthesize=True,
            multi_stage=True,
            summary="ablation of baldistill-f: feedback balance, top-IFD selection",
        ),
        Method(
            name="baldistill-n-err",
            policy="naive",
            selector="error",
            synthesize=True,
            multi_stage=True,
            summary="ablation of baldistill-f: naive balance, the candidates the student answers wrongly first "
            "(by IFD)",
        ),
    ]
}

METHOD_ORDER: list[str] = list(METHODS)


def method_rank(name: str) -> tuple[int, str]:
    """Sort key in the paper's row order; unknown names come after, alphabetically."""
    return (METHOD_ORDER.index(name), "") if name in METHODS else (len(METHOD_ORDER), name)
