"""The budget rules a whole run keeps, against the fake OpenAI-compatible server: every training example is
paid by a budget unit of its own (identical requests are one call, never one unit for several examples),
and a dollar cap reached mid-run ends the buying while the run still trains and evaluates on what it bought."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import DEMO, tiny_config

from baldistill import load_config, run
from baldistill.budget.ledger import CHARGED, Ledger
from baldistill.data import read_jsonl
from baldistill_testing.fake_openai import FakeOpenAIServer

KEY = "sk-budget-rules"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("BD_RULES_KEY", KEY)


def teacher(server, **over) -> dict:
    return {
        "kind": "openai",
        "model": "fake-teacher",
        "base_url": server.base_url,
        "api_key_env": "BD_RULES_KEY",
        "concurrency": 4,
        "timeout": 5,
        "backoff": 0.01,
        **over,
    }


def repeated_pool(path):
    """20 real rows, 6 rows that repeat one of them (new ids: scraped and merged data), and 4 rows with the same
    input and answer as a real row but another domain."""
    real = [json.loads(x) for x in (DEMO / "train.jsonl").read_text().splitlines()][:20]
    rep = [dict(r, id=f"{r['id']}-again") for r in real[:6]]
    twin = [dict(r, id=f"{r['id']}-twin", domain="twins") for r in real[6:10]]
    path.write_text("".join(json.dumps(r) + "\n" for r in real + rep + twin))
    return path


@pytest.mark.parametrize("dedupe", [False, True], ids=["repeats-kept", "repeats-dropped"])
def test_every_training_example_is_paid_by_a_unit_of_its_own(tiny_model, tmp_path, dedupe):
    budget = 30 if not dedupe else 24  # the whole pool: every repeat and twin is selected
    with FakeOpenAIServer(api_key=KEY) as s:
        cfg = tiny_config(tiny_model, method="random-ft-cot", budget=budget, stages=1, **{"data.dedupe": dedupe})
        cfg["data"]["train"] = str(repeated_pool(tmp_path / "pool.jsonl"))
        test = [json.loads(x) for x in (DEMO / "test.jsonl").read_text().splitlines() if '"products"' in x][:6]
        test = test[:3] + [dict(r, domain="twins") for r in test[3:]]
        (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test))
        cfg["data"]["test"] = str(tmp_path / "test.jsonl")
        cfg["teacher"] = teacher(s)
        m = run(load_config(cfg), tmp_path / "run")
        sent = s.answered
    train = read_jsonl(tmp_path / "run/stages/0/train.jsonl")
    rows = [r for r in Ledger(budget, tmp_path / "run/ledger.sqlite").rows() if r["status"] in CHARGED]
    units = Counter(r["example_id"] for r in rows for _ in range(r["units"]))
    assert m.spent == budget == len(train) and all(units[e["id"]] == 1 for e in train)
    assert set(units) == {e["id"] for e in train} and min(m.shortfall_by_domain.values()) == 0
    assert sent == 20  # the 20 distinct requests were sent once; repeats and twins were served from the cache
    assert sum(r["physical"] for r in rows) == 20 and m.ledger.physical.calls == 20
    assert m.n_train_by_domain["twins"] == 4  # the same input in another domain is another example
    assert m.data["repeats"] == {"products": 6} and m.data["dedupe"] == dedupe
    assert m.data["pool_used"] == (30 if not dedupe else 24)


def test_a_dollar_cap_reached_mid_run_ends_the_buying_and_the_run_still_finishes(tiny_model, tmp_path, capsys):
    price = {"input_per_mtok": 10.0, "output_per_mtok": 40.0}
    with FakeOpenAIServer(api_key=KEY) as s:
        cfg = tiny_config(tiny_model, budget=24, stages=3)
        cfg["teacher"] = teacher(s, price=price, max_dollars=0.02, max_tokens=64)
        m = run(load_config(cfg), tmp_path / "run")
    led = Ledger(24, tmp_path / "run/ledger.sqlite")
    assert m.cap_reached and m.cap_reached.startswith("cap reached at stage ") and "dollar cap" in m.cap_reached
    stage = int(m.cap_reached.split("stage ")[1].split(":")[0])
    assert 1 <= stage < 3 and m.spent < 24 and led.dollars <= 0.02
    assert m.spent == s.answered and m.n_train <= m.spent and m.n_test > 0  # trained and evaluated on what it bought
    assert (tmp_path / f"run/stages/{stage - 1}/done.json").exists()
    assert not (tmp_path / f"run/stages/{stage}/quota.json").exists()  # later stages bought and selected nothing
    assert "cap reached at stage" in capsys.readouterr().err
    assert json.loads((tmp_path / "run/metrics.json").read_text())["cap_reached"] == m.cap_reached
