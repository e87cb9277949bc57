"""The OpenAI-compatible teacher against a real HTTP server on 127.0.0.1 that injects faults."""

import json
import random
import time
from collections import Counter

import pytest
from teacher_kit import Client

from baldistill.budget.cache import ReplyCache
from baldistill.budget.ledger import Caps, Ledger
from baldistill.config import TeacherConfig
from baldistill.data import Example
from baldistill.teacher import TeacherError, TeacherUnavailable
from baldistill.teacher.backends.openai import OpenAICompatible
from baldistill_testing.fake_openai import FakeOpenAIServer, canonical_key

KEY = "sk-test-secret-0123456789"


def examples(n, domain="d"):
    return [Example(f"{domain}{k}", domain, f"What is {k} + {k}?", str(2 * k)) for k in range(n)]


def make_client(server, budget=100, cache=None, caps=None, **cfg):
    cfg = {
        "kind": "openai",
        "model": "fake-teacher",
        "base_url": server.base_url,
        "api_key_env": "BD_TEST_KEY",
        "timeout": 0.5,
        "backoff": 0.01,
        "backoff_max": 0.05,
        "max_tokens": 64,
        **cfg,
    }
    tc = TeacherConfig(**cfg)
    backend = OpenAICompatible(tc.model, tc.base_url, tc.api_key_env, tc.timeout, tc.concurrency)
    return Client(backend, tc, Ledger(caps or Caps(budget)), cache, "Solve.")


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("BD_TEST_KEY", KEY)


def sent_key(request) -> str:
    """The server's key for what the client sent (the payload minus the local sample index)."""
    return canonical_key({k: v for k, v in request.payload.items() if k != "sample"})


def test_annotations_over_http_with_usage():
    with FakeOpenAIServer(api_key=KEY) as s:
        c = make_client(s)
        kept = c.annotate(0, examples(5))
        assert [e.answer for e in kept] == ["0", "2", "4", "6", "8"]
        assert all(e.rationale.endswith(f"The answer is {e.answer}.") for e in kept)
        assert s.answered == 5 and c.ledger.spent == 5
        rows = c.ledger.rows()
        assert all(r["status"] == "ok" and r["prompt_tokens"] > 0 and r["physical"] == 1 for r in rows)


def test_randomized_faults_never_overspend_never_repay_and_reconcile():
    """At least 20 randomized runs; concurrency >= 8 and budgets that run out mid-flight."""
    totals = Counter()
    for run in range(24):
        rng = random.Random(run)
        budget = rng.randint(10, 30)
        with FakeOpenAIServer(fault_rate=0.35, seed=run, retry_after=0.01, slow_seconds=0.7) as s:
            c = make_client(s, budget=budget, concurrency=rng.choice([8, 12, 16]), timeout=0.3, max_retries=8)
            reqs = [c.requests.annotation(0, e) for e in examples(40, f"r{run}")]
            outcomes = c.execute(reqs)
            led = c.ledger
            rows = led.rows()
            charged = [r for r in rows if r["status"] != "released"]
            assert led.spent <= budget, "overspend"
            assert led.spent == budget  # 40 asks for fewer units: the cap binds
            # the ledger reconciles with the server: every request the server worked on is charged, and
            # a charged request the server never saw is one whose outcome the client could not know
            # (it timed out before the server read it: a busy machine) -- charged, as it must be
            time.sleep(0.8)  # let 'slow' replies the client gave up on finish on the server
            n_unknown = sum(r["status"] == "unknown" for r in charged)
            assert s.answered <= len(charged) <= s.answered + n_unknown
            # a request whose reply was received is never sent again; only unknown outcomes are re-sent
            received = Counter(sent_key(o.request) for o in outcomes if o.reply is not None)
            answered = Counter(s.answered_keys)
            unknown = Counter()
            by_key = {o.request.key: sent_key(o.request) for o in outcomes}
            for r in rows:
                if r["status"] == "unknown":
                    unknown[by_key[r["key"]]] += 1
            for k, n in answered.items():
                assert n <= received[k] + unknown[k]
                assert received[k] <= 1
            totals["runs"] += 1
            totals["repaid"] += sum(max(0, n - 1 - unknown[k]) for k, n in answered.items())
            totals["overspend"] += max(0, led.spent - budget)
            totals["faults"] += sum(v for k, v in s.fault_counts.items() if k != "none")
    print(f"fault runs: {dict(totals)}")
    assert totals["runs"] >= 20 and totals["overspend"] == 0 and totals["repaid"] == 0 and totals["faults"] > 100


def test_retry_after_is_honoured_and_429_costs_nothing():
    with FakeOpenAIServer(faults=["429", "429"], retry_after=0.3) as s:
        c = make_client(s)
        t0 = time.time()
        kept = c.annotate(0, examples(1))
        assert time.time() - t0 >= 0.6 and len(kept) == 1
        assert c.ledger.spent == 1 and [r["status"] for r in c.ledger.rows()] == ["released", "released", "ok"]


def test_timeouts_and_dropped_connections_stay_charged_then_retry():
    with FakeOpenAIServer(faults=["slow", "drop", "500"], slow_seconds=0.6) as s:
        c = make_client(s, timeout=0.2)
        kept = c.annotate(0, examples(1))
        assert len(kept) == 1
        rows = c.ledger.rows()
        assert [r["status"] for r in rows] == ["unknown", "unknown", "unknown", "ok"]
        # one example, one call unit; the three lost attempts keep their worst-case tokens
        assert c.ledger.spent == 1 and [r["units"] for r in rows] == [1, 0, 0, 0]
        assert c.ledger.tokens == sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows)
        assert rows[0]["completion_tokens"] == 64


def test_malformed_empty_and_truncated_replies_are_charged_and_kept_not_rebought(tmp_path):
    with FakeOpenAIServer(
        faults=["malformed", "empty_choices", "truncated"],
        reply=lambda b: "Long reasoning here, step after step. The answer is 0.",
    ) as s:
        cache = ReplyCache(tmp_path / "c.sqlite")
        c = make_client(s, cache=cache)
        kept = c.annotate(0, examples(3))
        assert kept == [] and s.received == 3  # no re-buy
        rows = c.ledger.rows()
        assert [r["status"] for r in rows] == ["parse_error"] * 3 and c.ledger.spent == 3
        malformed = [r for r in rows if r["note"].startswith("malformed")]
        assert len(malformed) == 1 and malformed[0]["completion_tokens"] == 64  # no usage: the worst case stays
        assert len(cache) == 3  # the raw text is kept


@pytest.mark.parametrize(
    "fault,needle",
    [
        ("401", "rejected the API key from $BD_TEST_KEY"),
        ("404", "model 'fake-teacher' or the endpoint was not found"),
        ("400", "rejected the request (HTTP 400)"),
    ],
)
def test_no_retry_on_client_errors_one_line_message_without_the_key(fault, needle):
    with FakeOpenAIServer(faults=[fault] * 5) as s:
        c = make_client(s)
        with pytest.raises(TeacherError) as e:
            c.annotate(0, examples(1))
        assert needle in str(e.value) and KEY not in str(e.value) and "\n" not in str(e.value)
        assert s.received == 1 and c.ledger.spent == 0


def test_connection_refused_costs_nothing():
    s = FakeOpenAIServer().start()
    url = s.base_url
    s.stop()
    # one at a time: with more in flight, the others are stopped mid-send when one gives up (unknown, charged)
    tc = TeacherConfig(
        kind="openai", model="m", base_url=url, api_key_env=None, max_retries=2, backoff=0.01, concurrency=1
    )
    c = Client(OpenAICompatible("m", url, None, 0.5, concurrency=1), tc, Ledger(10), None)
    with pytest.raises(TeacherUnavailable) as e:  # an outage stops the run: it does not go on without data
        c.annotate(0, examples(2))
    assert url in str(e.value) and "gave up after 3 attempts" in str(e.value) and "\n" not in str(e.value)
    assert c.ledger.spent == 0 and {r["status"] for r in c.ledger.rows()} == {"released"}


def test_cache_rerun_sends_nothing_and_shared_cache_charges_logically(tmp_path):
    with FakeOpenAIServer() as s:
        cache = ReplyCache(tmp_path / "shared.sqlite")
        a = make_client(s, cache=cache)
        a.annotate(0, examples(6))
        assert s.received == 6
        again = a.annotate(0, examples(6))  # the same run asks again (a resumed stage): free
        assert s.received == 6 and a.ledger.spent == 6 and len(again) == 6
        b = make_client(s, cache=cache)  # another run sharing the cache
        b.annotate(0, examples(6))
        assert s.received == 6
        sb = b.ledger.summary()
        assert sb.spent == 6 and sb.physical.calls == 0 and sb.prompt_tokens > 0
        # a changed sample index (fresh samples) is a different request
        b.execute([b.requests.synthesis(0, "d", examples(2), sample=7)])
        assert s.received == 7


def test_token_and_dollar_caps_bind_under_concurrency():
    with FakeOpenAIServer(latency=0.05) as s:
        caps = Caps(1000, tokens=2000, dollars=0.05, input_per_mtok=10.0, output_per_mtok=30.0)
        c = make_client(s, caps=caps, concurrency=16, max_tokens=64)
        c.execute([c.requests.annotation(0, e) for e in examples(60)])
        assert c.ledger.tokens <= 2000 and c.ledger.dollars <= 0.05 + 1e-12
        assert 0 < s.received < 60


def test_completions_api_for_base_models():
    with FakeOpenAIServer(reply=lambda b: "Reasoning: 1+1=2.\nThe answer is 2.") as s:
        c = make_client(s, api="completions")
        kept = c.annotate(0, [Example("x", "d", "What is 1+1?", "2")])
        assert len(kept) == 1 and "prompt" in s.requests[0] and "messages" not in s.requests[0]


def test_completions_api_synthesis_continues_the_primed_input():
    with FakeOpenAIServer(reply=lambda b: "What is 4 + 4?\nReasoning: 4 + 4 = 8.\nAnswer: 8") as s:
        c = make_client(s, api="completions")
        got = c.synthesize(0, "d", examples(2), 1, 0, existing=[])
        assert [(e.input, e.answer) for e in got] == [("What is 4 + 4?", "8")]
        assert s.requests[0]["prompt"].endswith("Input: ")


def test_reasoning_models_use_max_completion_tokens():
    with FakeOpenAIServer() as s:
        c = make_client(s, token_param="max_completion_tokens")
        c.annotate(0, examples(1))
        assert "max_completion_tokens" in s.requests[0] and "max_tokens" not in s.requests[0]


def test_synthesis_over_http_with_hygiene():
    replies = iter(
        [
            "Input: What is 9 + 9?\nReasoning: 9 + 9 = 18.\nAnswer: 18",
            "Input: What is 0 + 0?\nReasoning: zero.\nAnswer: 0",  # duplicate of a seed
            "Sorry, I cannot help.",  # not in the format
            "Input: What is 5 + 6?\nReasoning: so the answer is 12.\nAnswer: 11",
        ]
    )  # disagrees
    with FakeOpenAIServer(reply=lambda b: next(replies)) as s:
        c = make_client(s, concurrency=1, max_retries=0)
        seeds = examples(2)
        got = c.synthesize(0, "d", seeds, 4, 0, existing=[e.input for e in seeds])
        assert [(e.input, e.answer) for e in got] == [("What is 9 + 9?", "18")]
        assert [r["status"] for r in c.ledger.rows()] == ["ok", "dropped", "parse_error", "dropped"]
        assert "Gold answer" not in json.dumps(s.requests[0])  # synthesis shows seeds, not a gold


def test_identical_requests_of_one_batch_are_one_call_but_a_unit_each(tmp_path):
    """Eight examples whose requests are byte-identical (the same input and answer: repeats, or one input in
    several domains): the server is asked once, the other seven wait for that reply; each is its own unit."""
    same = [Example(f"x{k}", f"dom{k % 3}", "What is 2 + 2?", "4") for k in range(8)]
    with FakeOpenAIServer(api_key=KEY, latency=0.2) as s:
        c = make_client(s, budget=8, cache=ReplyCache(tmp_path / "cache.sqlite"), concurrency=8)
        kept = c.annotate(0, same)
        assert s.answered == 1 and len(kept) == 8
        rows = c.ledger.rows()
        assert c.ledger.spent == 8 and sorted(r["key"] for r in rows) == sorted(f"annotate/x{k}" for k in range(8))
        assert sum(r["physical"] for r in rows) == 1


def test_a_ledger_of_the_earlier_format_is_adopted_not_bought_again(tmp_path):
    """Ledgers written before units were keyed per example keyed a call by its payload hash: a resumed run
    of that format finds its paid calls under the new keys and sends nothing again."""
    with FakeOpenAIServer(api_key=KEY) as s:
        cache = ReplyCache(tmp_path / "cache.sqlite")
        c = make_client(s, budget=4, cache=cache)
        exs = examples(3)
        c.annotate(0, exs)
        c.ledger.db.execute("UPDATE calls SET key = ?", ("placeholder",))  # rewrite as the earlier format had it
        for r, e in zip(c.ledger.rows(), exs):
            c.ledger.db.execute("UPDATE calls SET key=? WHERE id=?", (c.requests.annotation(0, e).legacy_key, r["id"]))
        old = Ledger(Caps(4), None)
        old.db = c.ledger.db
        old._legacy = True
        again = make_client(s, budget=4, cache=cache)
        again.ledger = again.engine.ledger = old
        kept = again.annotate(0, exs + examples(4)[3:])
        assert len(kept) == 4 and s.answered == 4 and old.spent == 4  # only the new example was bought
        assert sorted(r["key"] for r in old.rows()) == [f"annotate/d{k}" for k in range(4)]
