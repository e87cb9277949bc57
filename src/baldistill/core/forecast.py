"""What a run's teacher will have cost when it ends, learnt from what it has cost so far; and the lines that
show spend as it happens (a teacher bar's text, the spend line after a stage, the warning before a cap bites).

The plan is ``estimate``'s (``runner/estimate.py``): per stage s and kind k (annotate, synthesize, verify) the
planned units U[s,k] and the estimated prompt tokens E[s,k] of those units together. The ledger gives, per
stage, kind and status, the units charged S[s,k] and the tokens of the charged requests. A request is
*settled* when its status is ok, dropped or parse_error: its tokens are what the teacher reported. Reserved,
submitted and unknown rows hold their worst case: they count in what was spent, never in a rate. Then::

    n[k]  = sum over the stages s not done of max(0, U[s,k] - S[s,k])     planned units still to buy
    p[k]  = P[k] / m[k],  c[k] = C[k] / m[k]                             measured: mean prompt and completion
                                                                         tokens of the m[k] settled requests
    (m[k] = 0, nothing of kind k measured yet: the plan)
    p[k]  = sum over those stages of n[s,k] * E[s,k] / U[s,k], over n[k]  estimate's prompt tokens per unit
    c[k]  = teacher.max_tokens                                           the worst case

    tokens to come   T = sum over k of n[k] * (p[k] + c[k])
    dollars to come  D = price(sum n[k] p[k], sum n[k] c[k])
                       = f * (input_per_mtok * sum n[k] p[k] + output_per_mtok * sum n[k] c[k]) / 1e6
    projection       = what the ledger has charged so far + (T, D)

``price`` is the ledger's (``Caps.price``): f = 1 - price.batch_discount through the Batch API, else 1. A stage
is done when its teacher steps are over (a resumed run: when its ``done.json`` exists); a stage cut short keeps
its unspent units in n. Pure: no torch, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

KINDS = ("annotate", "synthesize", "verify")
SETTLED = ("ok", "dropped", "parse_error")  # the tokens of these rows are what the teacher reported
Price = Callable[[float, float], float]  # (prompt tokens, completion tokens) -> dollars


@dataclass(frozen=True)
class PlanRow:
    """One stage of the plan: units and estimated prompt tokens per kind, and ``estimate``'s worst case."""

    stage: int
    units: dict[str, int]
    prompt_tokens: dict[str, float]
    completion_tokens_max: int = 0
    dollars_max: float = 0.0

    @property
    def calls(self) -> int:
        return sum(self.units.values())


@dataclass(frozen=True)
class Charge:
    """The ledger's charged rows of one stage, kind and status, summed."""

    stage: int
    kind: str
    status: str
    requests: int = 0
    units: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    dollars: float = 0.0


@dataclass(frozen=True)
class Totals:
    """Units, tokens (reasoning tokens are part of the completion tokens) and dollars."""

    units: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    dollars: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def of(cls, charges: Iterable[Charge]) -> Totals:
        cs = list(charges)
        return cls(
            units=sum(c.units for c in cs),
            prompt_tokens=sum(c.prompt_tokens for c in cs),
            completion_tokens=sum(c.completion_tokens for c in cs),
            reasoning_tokens=sum(c.reasoning_tokens for c in cs),
            dollars=sum(c.dollars for c in cs),
        )


@dataclass(frozen=True)
class Limits:
    """What the text shows spend against: the budget B, the caps that are set, and whether tokens are priced."""

    calls: int
    tokens: int | None = None
    dollars: float | None = None
    priced: bool = False

    @property
    def shows_tokens(self) -> bool:
        """Tokens are shown when they cost money or are capped; otherwise (the reference teacher) units only."""
        return self.priced or self.tokens is not None


@dataclass(frozen=True)
class KindForecast:
    """One kind: planned and spent units, the units still to buy, tokens per request (measured from ``requests``
    settled requests, or the plan's estimate when there are none) and what the rest will cost."""

    kind: str
    planned: int
    spent: Totals
    remaining: int
    requests: int
    prompt: float
    completion: float
    more_dollars: float = 0.0

    @property
    def source(self) -> str:
        return "measured" if self.requests else "plan"

    @property
    def more_prompt(self) -> float:
        return self.remaining * self.prompt

    @property
    def more_completion(self) -> float:
        return self.remaining * self.completion


@dataclass(frozen=True)
class Forecast:
    """The spend so far, per kind what remains and at what rate, and the projected totals beside the plan's
    worst case (``estimate`` before the run; None without a plan)."""

    spent: Totals
    kinds: dict[str, KindForecast] = field(default_factory=dict)
    more_dollars: float = 0.0
    estimate_tokens: int | None = None
    estimate_dollars: float | None = None

    @property
    def remaining(self) -> int:
        return sum(k.remaining for k in self.kinds.values())

    @property
    def more_tokens(self) -> float:
        return sum(k.more_prompt + k.more_completion for k in self.kinds.values())

    @property
    def tokens(self) -> float:
        return self.spent.tokens + self.more_tokens

    @property
    def dollars(self) -> float:
        return self.spent.dollars + self.more_dollars


def project(
    plan: Sequence[PlanRow], charges: Iterable[Charge], done: Collection[int], max_tokens: int, price: Price
) -> Forecast:
    """The projection of the module's formula: ``charges`` are the ledger's so far, ``done`` the stages whose
    teacher steps are over, ``max_tokens`` the completion tokens a request may use, ``price`` the ledger's."""
    charges = list(charges)
    kinds = [k for k in KINDS if any(p.units.get(k) for p in plan) or any(c.kind == k for c in charges)]
    kinds += sorted({c.kind for c in charges} - set(kinds))
    out = {k: _kind(k, plan, charges, done, max_tokens, price) for k in kinds}
    more_prompt = sum(k.more_prompt for k in out.values())
    more_completion = sum(k.more_completion for k in out.values())
    return Forecast(
        spent=Totals.of(charges),
        kinds=out,
        more_dollars=price(more_prompt, more_completion) if more_prompt or more_completion else 0.0,
        estimate_tokens=sum(round(sum(p.prompt_tokens.values())) + p.completion_tokens_max for p in plan)
        if plan
        else None,
        estimate_dollars=sum(p.dollars_max for p in plan) if plan else None,
    )


def _kind(
    kind: str, plan: Sequence[PlanRow], charges: list[Charge], done: Collection[int], max_tokens: int, price: Price
) -> KindForecast:
    """One kind's part of the projection."""
    mine = [c for c in charges if c.kind == kind]
    left = {}  # stage -> planned units still to buy
    for p in plan:
        if p.stage not in done:
            spent = sum(c.units for c in mine if c.stage == p.stage)
            left[p.stage] = max(0, p.units.get(kind, 0) - spent)
    n = sum(left.values())
    settled = [c for c in mine if c.status in SETTLED]
    m = sum(c.requests for c in settled)
    if m:
        prompt = sum(c.prompt_tokens for c in settled) / m
        completion = sum(c.completion_tokens for c in settled) / m
    else:  # nothing measured yet: the plan's prompt estimate and the worst-case completion
        per_unit = {p.stage: p.prompt_tokens.get(kind, 0.0) / p.units[kind] for p in plan if p.units.get(kind)}
        prompt = sum(k * per_unit.get(s, 0.0) for s, k in left.items()) / n if n else 0.0
        completion = float(max_tokens)
    return KindForecast(
        kind=kind,
        planned=sum(p.units.get(kind, 0) for p in plan),
        spent=Totals.of(mine),
        remaining=n,
        requests=m,
        prompt=prompt,
        completion=completion,
        more_dollars=price(n * prompt, n * completion) if n else 0.0,
    )


# ---- the lines that show it ----------------------------------------------------------------------------
def _tokens(t: Totals) -> str:
    reasoning = f", {t.reasoning_tokens:,} reasoning" if t.reasoning_tokens else ""
    return f"{t.tokens:,} tok ({t.prompt_tokens:,} in, {t.completion_tokens:,} out{reasoning})"


def _projection(f: Forecast, limits: Limits, tokens: str = "tok") -> str:
    parts = []
    if limits.shows_tokens:
        parts.append(f"{round(f.tokens):,} {tokens}")
    if limits.priced:
        parts.append(f"${f.dollars:.4f}")
    return ", ".join(parts)


def bar_text(spent: Totals, limits: Limits, forecast: Forecast | None = None) -> str:
    """A teacher bar's text: units of B; with a price or a token cap the tokens (in, out, reasoning apart when
    reported) against the token cap; with a price the dollars against the dollar cap; and the projection."""
    parts = [f"{spent.units}/{limits.calls} units"]
    if limits.shows_tokens:
        cap = f" of {limits.tokens:,}" if limits.tokens is not None else ""
        parts.append(_tokens(spent) + cap)
    if limits.priced:
        cap = f" of ${limits.dollars:.4f}" if limits.dollars is not None else ""
        parts.append(f"${spent.dollars:.4f}{cap}")
    if forecast is not None and forecast.kinds and limits.shows_tokens:
        parts.append("proj. " + _projection(forecast, limits))
    return " · ".join(parts)


def _amount(t: Totals, limits: Limits, of: int | None = None) -> str:
    parts = [f"{t.units}/{of} units" if of is not None else f"{t.units} units"]
    if limits.shows_tokens:
        parts.append(f"{t.tokens:,} tokens")
    if limits.priced:
        parts.append(f"${t.dollars:.4f}")
    return ", ".join(parts)


def stage_line(stage: int, stages: int, mine: Totals, limits: Limits, forecast: Forecast) -> str:
    """After a stage's teacher steps: what the stage spent, the run's total, what remains of each limit, and the
    projection beside the estimate made before the run (with the rate each kind still to buy was projected at)."""
    total = forecast.spent
    left = [f"{limits.calls - total.units} units"]
    if limits.tokens is not None:
        left.append(f"{limits.tokens - total.tokens:,} tokens")
    if limits.dollars is not None:
        left.append(f"${limits.dollars - total.dollars:.4f}")
    text = (
        f"spend at stage {stage + 1}/{stages}: {_amount(mine, limits)}; total {_amount(total, limits, limits.calls)}"
        f"; left {', '.join(left)}"
    )
    if limits.shows_tokens and forecast.kinds:
        notes = [_sources(forecast)]
        if forecast.estimate_tokens is not None:
            est = [f"{forecast.estimate_tokens:,} tokens"]
            if limits.priced and forecast.estimate_dollars is not None:
                est.append(f"${forecast.estimate_dollars:.4f}")
            notes.append(f"estimate before the run: at most {', '.join(est)}")
        text += f"; projected {_projection(forecast, limits, 'tokens')} ({'; '.join(notes)})"
    return text


def _sources(f: Forecast) -> str:
    """The tokens per call each kind still to buy is projected at, measured or from the plan."""
    parts = [
        f"{k.kind} at {round(k.prompt):,}+{round(k.completion):,} tokens/call {'measured' if k.requests else 'planned'}"
        for k in f.kinds.values()
        if k.remaining
    ]
    return ", ".join(parts) if parts else "nothing left to buy"


def cap_warning(forecast: Forecast, limits: Limits) -> str | None:
    """One line when the projection crosses ``teacher.max_dollars`` or ``teacher.max_total_tokens``: by how much,
    and what happens then; None when it crosses neither."""
    over = []
    if limits.dollars is not None and forecast.dollars > limits.dollars + 1e-12:
        over.append(
            f"teacher.max_dollars ${limits.dollars:.4f} by ${forecast.dollars - limits.dollars:.4f} "
            f"(projected ${forecast.dollars:.4f})"
        )
    if limits.tokens is not None and forecast.tokens > limits.tokens:
        over.append(
            f"teacher.max_total_tokens {limits.tokens:,} by {round(forecast.tokens - limits.tokens):,} "
            f"(projected {round(forecast.tokens):,})"
        )
    if not over:
        return None
    return (
        f"the projected teacher spend crosses {' and '.join(over)}: the run stops buying at the cap and trains "
        "and evaluates on what it bought, keeping everything paid"
    )
