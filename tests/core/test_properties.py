"""Property tests (hypothesis): the budget arithmetic, the ledger's caps and the answer parser hold for any
input, not only for the worked examples."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from baldistill.budget.ledger import BudgetExceeded, Caps, Ledger
from baldistill.core import policies
from baldistill.core.answers import normalize, parse_answer
from baldistill.core.methods import METHODS
from baldistill.core.plan import plan_run

pools = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), st.integers(1, 400), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    pool=pools,
    stages=st.integers(1, 8),
    extra=st.integers(0, 2000),
    policy=st.sampled_from(["proportional", "naive", "adaptive", "global"]),
)
def test_quotas_sum_to_each_stage_share_and_to_the_budget(pool, stages, extra, policy):
    budget = stages + extra
    quotas = policies.allocate(policy, pool, budget, stages)
    shares = policies.stage_shares(budget, stages)
    assert [q.total for q in quotas] == shares and sum(shares) == budget
    assert max(shares) - min(shares) <= 1
    for q in quotas:
        if not q.is_global:
            assert set(q.per_domain) == set(pool) and sum(q.per_domain.values()) == q.total
            assert min(q.per_domain.values()) >= 0


@settings(max_examples=200, deadline=None)
@given(
    pool=pools,
    stages=st.integers(1, 6),
    extra=st.integers(0, 600),
    method=st.sampled_from([m for m in METHODS if METHODS[m].train]),
)
def test_every_plan_spends_at_most_b_and_exactly_b_when_it_can(pool, stages, extra, method):
    m = METHODS[method]
    k = stages if m.multi_stage else 1
    budget = k + extra
    plans = plan_run(m, pool, budget, k)
    units = sum(sum(p.take.values()) + sum(p.synthesize.values()) + sum(p.duplicate.values()) for p in plans)
    if m.synthesize or m.duplicate or budget <= sum(pool.values()):
        assert units == budget  # tails are filled, or the pool is large enough
    else:
        assert units == sum(pool.values())  # a pool smaller than B (pre-flight refuses this for global methods)
    left = dict(pool)
    for p in plans:  # never takes more real examples than are left
        if p.quota.is_global:
            assert p.take["*"] <= sum(left.values())
            taken = policies.largest_remainder(left, p.take["*"])
        else:
            taken = p.take
            assert all(p.take[d] <= left[d] for d in p.take)
        left = {d: n - taken.get(d, 0) for d, n in left.items()}


# ---- the ledger --------------------------------------------------------------------------------------
op = st.one_of(
    st.tuples(st.just("reserve"), st.integers(0, 5), st.integers(0, 300), st.integers(1, 300)),
    st.tuples(st.just("settle"), st.integers(0, 40), st.floats(0, 1.6), st.floats(0, 1.6)),
    st.tuples(st.just("release"), st.integers(0, 40)),
    st.tuples(st.just("unknown"), st.integers(0, 40)),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(op, max_size=60),
    calls=st.integers(1, 12),
    tokens=st.integers(200, 3000),
    dollars=st.floats(0.001, 0.05),
)
def test_the_ledger_never_crosses_a_cap_under_any_interleaving(ops, calls, tokens, dollars):
    """Reserve, settle, release and mark unknown in any order. While every reply reports at most what was
    reserved, no cap is ever crossed. A reply that reports more is believed (its bill counts), flagged, and
    once that crosses a cap no further call can reserve."""
    caps = Caps(calls, tokens, dollars, input_per_mtok=2.0, output_per_mtok=8.0)
    led = Ledger(caps)
    open_rows: list[tuple[int, int, int]] = []  # (row, prompt reserved, completion reserved)
    over = False
    for o in ops:
        if o[0] == "reserve":
            _, key, prompt, completion = o
            try:
                row = led.reserve(
                    key=f"k/{key}", stage=0, domain="d", kind="annotate", prompt_tokens=prompt, max_tokens=completion
                )
            except BudgetExceeded as e:
                assert e.cap in ("calls", "tokens", "dollars")
                continue
            assert not (over and (led.tokens > tokens or led.dollars > dollars + 1e-12)), "reserved past a crossed cap"
            open_rows.append((row, prompt, completion))
        elif open_rows:
            row, prompt, completion = open_rows.pop(o[1] % len(open_rows))
            if o[0] == "settle":
                p, c = int(prompt * o[2]), int(completion * o[3])
                led.settle(row, p, c)
                if p + c > prompt + completion:
                    over = True
                    assert led.rows()[row - 1]["note"].startswith("usage above the reservation")
            elif o[0] == "release":
                led.release(row)
            else:
                led.unknown(row)
        assert led.spent <= calls
        if not over:
            assert led.tokens <= tokens and led.dollars <= dollars + 1e-12
    if over and (led.tokens > tokens or led.dollars > dollars + 1e-12):
        try:
            led.reserve(key="k/after", stage=0, domain="d", kind="annotate", prompt_tokens=0, max_tokens=0)
            raise AssertionError("a call reserved after a cap was crossed")
        except BudgetExceeded:
            pass


# ---- answers -----------------------------------------------------------------------------------------
words = st.text("abcde -", min_size=1, max_size=6).map(str.strip).filter(bool)


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=300), labels=st.one_of(st.none(), st.lists(st.text(max_size=12), max_size=6)))
def test_parse_answer_never_raises(text, labels):
    got = parse_answer(text, labels)
    assert got is None or isinstance(got, str)
    if labels is not None:
        assert got is None or got in labels


@settings(max_examples=400, deadline=None)
@given(
    labels=st.lists(words, min_size=1, max_size=5, unique=True),
    parts=st.lists(st.one_of(words, st.sampled_from(["The answer is", ".", "\n", "answer:", "xx"])), max_size=12),
)
def test_a_label_is_never_matched_inside_another_word(labels, parts):
    text = " ".join(parts)
    got = parse_answer(text, labels)
    if got is not None:
        assume(normalize(got))
        pattern = r"(?<![\w-])" + re.escape(normalize(got)) + r"(?![\w-])"
        assert re.search(pattern, normalize(text)), (text, got)
