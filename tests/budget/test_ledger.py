import random

import pytest

from baldistill.budget.ledger import BudgetExceeded, Caps, Ledger


def reserve(led, k=0, **kw):
    return led.reserve(key=f"k{k}", stage=0, domain="d", kind="annotate", **kw)


def test_call_cap_never_exceeded(tmp_path):
    led = Ledger(5, tmp_path / "l.sqlite")
    rows = []
    with pytest.raises(BudgetExceeded):
        for k in range(100):
            rows.append(reserve(led, k))
    assert len(rows) == 5 and led.spent == 5 == led.caps.calls


def test_release_refund_unknown_kept_settle_replaces_worst_case(tmp_path):
    led = Ledger(Caps(10, tokens=1000, dollars=1.0, input_per_mtok=1000, output_per_mtok=2000), tmp_path / "l.sqlite")
    a = reserve(led, 1, prompt_tokens=100, max_tokens=200)
    assert led.tokens == 300 and led.dollars == pytest.approx(0.1 + 0.4)
    led.settle(a, 50, 20)  # the reported usage replaces the reservation
    assert led.tokens == 70 and led.dollars == pytest.approx((50 * 1000 + 20 * 2000) / 1e6)
    b = reserve(led, 2, prompt_tokens=100, max_tokens=200)
    led.release(b, "429")  # refused before any work: nothing charged
    c = reserve(led, 3, prompt_tokens=100, max_tokens=200)
    led.unknown(c, "timeout")  # outcome unknown: the worst case stays
    assert led.spent == 2 and led.tokens == 70 + 300
    with pytest.raises(BudgetExceeded, match="token cap"):
        reserve(led, 4, prompt_tokens=400, max_tokens=300)
    with pytest.raises(BudgetExceeded, match="dollar cap"):
        Ledger(Caps(10, dollars=0.001, input_per_mtok=10.0), None).reserve(
            key="x", stage=0, domain="d", kind="annotate", prompt_tokens=1000, max_tokens=0
        )


def test_random_interleavings_never_cross_any_cap():
    rng = random.Random(0)
    for _ in range(200):
        caps = Caps(
            rng.randint(1, 20),
            tokens=rng.randint(100, 3000),
            dollars=rng.uniform(0.01, 0.5),
            input_per_mtok=50,
            output_per_mtok=150,
        )
        led = Ledger(caps)
        for k in range(rng.randint(0, 60)):
            try:
                p, m = rng.randint(1, 100), rng.randint(1, 200)
                row = reserve(led, k, prompt_tokens=p, max_tokens=m)
            except BudgetExceeded:
                continue
            r = rng.random()
            if r < 0.2:
                led.release(row)
            elif r < 0.3:
                led.unknown(row)
            else:  # servers report at most what was reserved
                led.settle(row, rng.randint(1, p), rng.randint(0, m))
            assert led.spent <= caps.calls and led.tokens <= caps.tokens and led.dollars <= caps.dollars + 1e-9


def test_a_resent_request_takes_no_second_call_unit_but_pays_tokens():
    led = Ledger(Caps(2, tokens=1000))
    a = reserve(led, 1, prompt_tokens=10, max_tokens=100)
    led.unknown(a, "timeout")
    b = reserve(led, 1, prompt_tokens=10, max_tokens=100)  # the same request again
    led.settle(b, 10, 20)
    assert led.spent == 1 and led.tokens == 110 + 30
    reserve(led, 2)
    with pytest.raises(BudgetExceeded):
        reserve(led, 3)


def test_survives_a_killed_process_in_flight_rows_become_unknown(tmp_path):
    path = tmp_path / "l.sqlite"
    led = Ledger(10, path)
    a = reserve(led, 1, prompt_tokens=10, max_tokens=10)
    led.settle(a, 5, 5)
    reserve(led, 2, prompt_tokens=10, max_tokens=10)  # in flight when the process "dies"
    again = Ledger(10, path)  # a new process opens the same file
    assert [r["status"] for r in again.rows()] == ["ok", "unknown"] and again.spent == 2
    assert again.completed("k1") == a and again.completed("k2") is None


def test_summary_logical_vs_physical_and_export(tmp_path):
    led = Ledger(Caps(10, input_per_mtok=1.0), tmp_path / "l.sqlite")
    for k, (dom, phys) in enumerate([("a", True), ("b", True), ("a", False)]):
        row = led.reserve(
            key=f"k{k}", stage=k % 2, domain=dom, kind="annotate", physical=phys, prompt_tokens=9, max_tokens=9
        )
        led.settle(row, 1000, 10)
    led.mark(2, "dropped", "answer mismatch")  # the call for domain b
    s = led.summary()
    assert s.spent == 3 and s.physical.calls == 2
    assert s.by_domain["a"].units == 2 and s.by_domain["b"].dropped == 1
    assert s.by_stage["0"].units == 2 and s.dollars == pytest.approx(3 * 1000 / 1e6)
    led.export(tmp_path / "l.csv")
    led.export(tmp_path / "l.jsonl")
    assert len((tmp_path / "l.csv").read_text().splitlines()) == 4
    assert len((tmp_path / "l.jsonl").read_text().splitlines()) == 3
