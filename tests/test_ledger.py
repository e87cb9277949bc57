import json
import random

import pytest

from baldistill.ledger import BudgetExceeded, Ledger, TeacherUnavailable


def test_never_exceeds_budget(tmp_path):
    led = Ledger(5, tmp_path / "ledger.jsonl")
    calls = 0
    with pytest.raises(BudgetExceeded):
        for k in range(100):
            with led.call(stage=0, domain="d", kind="annotate", example_id=str(k)):
                calls += 1
    assert calls == 5 and led.spent == 5 and led.remaining == 0
    assert len((tmp_path / "ledger.jsonl").read_text().splitlines()) == 5


def test_failed_call_keeps_its_unit_refused_call_releases_it(tmp_path):
    led = Ledger(3, tmp_path / "l.jsonl")
    with pytest.raises(TimeoutError):
        with led.call(stage=0, domain="d", kind="annotate", example_id="a"):
            raise TimeoutError("no reply")
    with pytest.raises(TeacherUnavailable):
        with led.call(stage=0, domain="d", kind="synthesize"):
            raise TeacherUnavailable("nothing left")
    assert led.spent == 1 and led.entries[0].status == "failed"


def test_random_interleavings_never_overspend():
    rng = random.Random(0)
    for trial in range(50):
        budget = rng.randint(1, 30)
        led = Ledger(budget)
        for k in range(rng.randint(0, 60)):
            try:
                with led.call(stage=k % 3, domain=rng.choice("abc"), kind=rng.choice(["annotate", "synthesize"])):
                    if rng.random() < 0.2:
                        raise TeacherUnavailable("declined")
            except (BudgetExceeded, TeacherUnavailable):
                pass
            assert led.spent <= budget


def test_mark_summary_and_reload(tmp_path):
    path = tmp_path / "l.jsonl"
    led = Ledger(10, path)
    for stage, dom in [(0, "a"), (0, "b"), (1, "a")]:
        with led.call(stage=stage, domain=dom, kind="annotate", example_id=f"{stage}{dom}") as e:
            e.prompt_tokens, e.completion_tokens = 10, 3
    led.mark("0b", "dropped", "answer mismatch")
    s = led.summary()
    assert s["spent"] == 3 and s["by_domain"]["a"]["units"] == 2 and s["by_domain"]["b"]["dropped"] == 1
    assert s["prompt_tokens"] == 30 and s["by_stage"]["1"]["units"] == 1
    again = Ledger.load(10, path)
    assert again.spent == 3 and [e.status for e in again.entries] == ["ok", "dropped", "ok"]
    cut = Ledger.load(10, path, max_stage=0)  # resume after stage 0: stage 1's calls are redone
    assert cut.spent == 2
    assert all(json.loads(l)["stage"] == 0 for l in path.read_text().splitlines())
