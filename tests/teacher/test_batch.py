"""The Batch API (teacher.batch): batch files within the API's limits, results read back by custom_id, the
ledger's `submitted` status, released and resubmitted failures, batches that cannot be read back, and the
discount in dollars -- against the fake server's /v1/files and /v1/batches."""

import json

import pytest
from teacher_kit import Client

from baldistill.budget.cache import ReplyCache
from baldistill.budget.ledger import Caps, Ledger
from baldistill.config import TeacherConfig
from baldistill.data import Example
from baldistill.teacher import TeacherError, TeacherUnavailable
from baldistill.teacher.backends.openai import OpenAICompatible
from baldistill.teacher.batch import line, read_results, split
from baldistill_testing.fake_openai import FakeOpenAIServer

KEY = "sk-test-batch-0123456789"
PRICE = {"input_per_mtok": 2.0, "output_per_mtok": 8.0}


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("BD_TEST_KEY", KEY)


def examples(n, domain="d"):
    return [Example(f"{domain}{k}", domain, f"What is {k} + {k}?", str(2 * k)) for k in range(n)]


def make_client(server, tmp_path, budget=100, batch=True, caps=None, **cfg):
    cfg = {
        "kind": "openai",
        "model": "fake-teacher",
        "base_url": server.base_url,
        "api_key_env": "BD_TEST_KEY",
        "timeout": 2,
        "backoff": 0.01,
        "backoff_max": 0.05,
        "max_tokens": 64,
        "batch": batch,
        "batch_poll": 0.02,
        "batch_poll_max": 0.1,
        "price": PRICE,
        **cfg,
    }
    tc = TeacherConfig(**cfg)
    backend = OpenAICompatible(tc.model, tc.base_url, tc.api_key_env, tc.timeout, tc.concurrency, tc.structured)
    tmp_path.mkdir(parents=True, exist_ok=True)
    caps = caps or Caps(budget, input_per_mtok=2.0, output_per_mtok=8.0, factor=tc.price.factor(batch))
    return Client(
        backend, tc, Ledger(caps, tmp_path / "ledger.sqlite"), ReplyCache(tmp_path / "cache.sqlite"), "Solve."
    )


# ---- pure parts --------------------------------------------------------------------------------------
def test_split_keeps_each_file_within_the_request_and_byte_limits():
    sizes = [10] * 7
    assert [list(r) for r in split(sizes, max_requests=3, max_bytes=1000)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [list(r) for r in split(sizes, max_requests=100, max_bytes=25)] == [[0, 1], [2, 3], [4, 5], [6]]
    assert [list(r) for r in split([50, 5, 5], max_requests=100, max_bytes=20)] == [[0], [1, 2]]  # a big line alone
    assert split([]) == []


def test_read_results_tells_answered_failed_and_expired_apart():
    out = json.dumps({"custom_id": "a", "response": {"status_code": 200, "body": {"choices": []}}, "error": None})
    bad = json.dumps({"custom_id": "b", "response": {"status_code": 400, "body": {"error": {"message": "no"}}}})
    err = "\n".join(
        [
            json.dumps({"custom_id": "c", "response": None, "error": {"code": "batch_expired", "message": "late"}}),
            "not json",
        ]
    )
    got = read_results(out + "\n" + bad, err)
    assert got["a"].raw == json.dumps({"choices": []}) and got["b"].raw is None and "HTTP 400" in got["b"].why
    assert got["c"].expired and got["c"].raw is None and set(got) == {"a", "b", "c"}


# ---- against the fake server -------------------------------------------------------------------------
def test_a_batch_gives_the_same_replies_as_one_by_one_at_the_discounted_price(tmp_path):
    with FakeOpenAIServer(api_key=KEY) as s:
        one = make_client(s, tmp_path / "one", batch=False)
        direct = one.annotate(0, examples(6))
        assert s.received == 6 and not s.batch_creates
        c = make_client(s, tmp_path / "batch")
        kept = c.annotate(0, examples(6))
        assert s.received == 6  # nothing went one by one
        assert len(s.batch_creates) == 1 and sorted(s.batch_submitted) == sorted(set(s.batch_submitted))
        assert [(e.id, e.rationale) for e in kept] == [(e.id, e.rationale) for e in direct]
        a, b = one.ledger.rows(), c.ledger.rows()
        assert [r["status"] for r in b] == ["ok"] * 6 and all(r["physical"] for r in b)
        assert [(r["prompt_tokens"], r["completion_tokens"]) for r in a] == [
            (r["prompt_tokens"], r["completion_tokens"]) for r in b
        ]
        assert c.ledger.dollars == pytest.approx(one.ledger.dollars * 0.5) and c.ledger.dollars > 0
        assert [x["state"] for x in c.ledger.batches()] == ["settled"]
        again = c.annotate(0, examples(6))  # read from the cache: no second batch
        assert len(s.batch_creates) == 1 and [e.rationale for e in again] == [e.rationale for e in kept]


def test_the_same_request_for_two_examples_goes_once_and_is_charged_twice(tmp_path):
    with FakeOpenAIServer(api_key=KEY) as s:
        c = make_client(s, tmp_path)
        twins = [Example("x1", "d", "What is 2 + 2?", "4"), Example("x2", "d", "What is 2 + 2?", "4")]
        kept = c.annotate(0, twins)
        assert len(kept) == 2 and len(s.batch_submitted) == 1
        rows = c.ledger.rows()
        assert c.ledger.spent == 2 and [r["physical"] for r in rows] == [1, 0]


def test_submitted_rows_survive_a_restart_and_reserved_ones_do_not(tmp_path):
    led = Ledger(Caps(10, input_per_mtok=1.0), tmp_path / "l.sqlite")
    led.reserve(key="annotate/a", stage=0, domain="d", kind="annotate", prompt_tokens=10, max_tokens=5)
    ref, rows, refused = led.submit(
        [
            dict(
                key="annotate/b",
                stage=0,
                domain="d",
                kind="annotate",
                prompt_tokens=10,
                max_tokens=5,
                custom_id="cb",
                request={"x": 1},
            )
        ],
        stage=0,
        kind="annotate",
        endpoint="/v1/chat/completions",
    )
    assert refused is None and led.batch_rows(ref) == {"cb": (rows[0], {"x": 1}, "submitted")}
    led.close()
    again = Ledger(Caps(10), tmp_path / "l.sqlite")
    assert [r["status"] for r in again.rows()] == ["unknown", "submitted"]
    assert again.spent == 2 and again.tokens == 30  # both stay charged
    assert [b["state"] for b in again.batches(open_only=True)] == ["preparing"]


def test_submit_stops_at_the_cap_and_charges_nothing_past_it(tmp_path):
    led = Ledger(Caps(2), tmp_path / "l.sqlite")
    asks = [
        dict(key=f"annotate/{k}", stage=0, domain="d", kind="annotate", custom_id=f"c{k}", request={}) for k in range(3)
    ]
    ref, rows, refused = led.submit(asks, stage=0, kind="annotate", endpoint="/v1/chat/completions")
    assert len(rows) == 2 and "budget exhausted" in refused and led.spent == 2
    assert led.batches()[0]["custom_ids"] == ["c0", "c1"]


def test_failed_and_expired_requests_are_released_and_resubmitted_in_a_new_batch(tmp_path):
    with FakeOpenAIServer(api_key=KEY, batch_faults=["partial", "expired"]) as s:
        c = make_client(s, tmp_path)
        kept = c.annotate(0, examples(8))
        assert len(kept) == 8
        # batch 1: 4 of 8 failed; batch 2 (those 4): 2 expired; batch 3: the last 2
        assert [len(x) for x in _per_batch(s)] == [8, 4, 2]
        assert sorted(s.batch_billed) == sorted(set(s.batch_billed)) and len(s.batch_billed) == 8  # none billed twice
        rows = c.ledger.rows()
        assert sum(r["status"] == "released" for r in rows) == 6 and sum(r["status"] == "ok" for r in rows) == 8
        assert c.ledger.spent == 8
        assert any("batch_expired" in r["note"] for r in rows) and any("server_error" in r["note"] for r in rows)


def _per_batch(s):
    out, at = [], 0
    for bid in s.batch_creates:
        n = s.batches[bid]["request_counts"]["total"]
        out.append(s.batch_submitted[at : at + n])
        at += n
    return out


def test_a_batch_that_always_fails_gives_up_after_the_retries(tmp_path):
    with FakeOpenAIServer(api_key=KEY, batch_faults=lambda n, ids: "failed") as s:
        c = make_client(s, tmp_path, max_retries=2)
        with pytest.raises(TeacherUnavailable, match="failed 3 times"):
            c.annotate(0, examples(3))
        assert len(s.batch_creates) == 3 and not s.batch_billed
        assert c.ledger.spent == 0 and {r["status"] for r in c.ledger.rows()} == {"released"}


def test_a_batch_that_cannot_be_read_back_keeps_the_worst_case_and_is_resubmitted(tmp_path):
    """The server forgets the batch (404 on retrieve): its requests follow the unknown-outcome rule."""
    with FakeOpenAIServer(api_key=KEY) as s:

        def forget(event, info):
            if event == "retrieve" and len(s.batch_creates) == 1:
                s.batches.pop(info["id"], None)

        s.on_batch = forget
        c = make_client(s, tmp_path)
        kept = c.annotate(0, examples(3))
        assert len(kept) == 3 and len(s.batch_creates) == 2
        rows = c.ledger.rows()
        assert [r["status"] for r in rows] == ["unknown"] * 3 + ["ok"] * 3
        assert c.ledger.spent == 3  # the resubmission is the same unit; its tokens count again
        assert all("cannot be read back" in r["note"] for r in rows[:3])


def test_a_cap_in_dollars_holds_across_batches(tmp_path):
    with FakeOpenAIServer(api_key=KEY) as s:
        caps = Caps(100, dollars=0.0008, input_per_mtok=2.0, output_per_mtok=8.0, factor=0.5)
        c = make_client(s, tmp_path, caps=caps)
        kept = c.annotate(0, examples(12))
        assert c.ledger.dollars <= 0.0008 + 1e-12 and 0 < len(kept) < 12
        assert c.engine.cap_reached and "dollar cap" in c.engine.cap_reached
        assert len(s.batch_creates) >= 2  # room freed by the settled first batch bought a second
        assert s.received == 0


def test_a_cancelled_batch_stops_the_run_and_keeps_what_it_answered(tmp_path):
    with FakeOpenAIServer(api_key=KEY, batch_faults=["never"]) as s:

        def cancel(event, info):
            if event == "retrieve" and info["status"] == "in_progress":
                s._advance(s.batches[info["id"]], cancel=True)

        s.on_batch = cancel
        c = make_client(s, tmp_path)
        with pytest.raises(TeacherError, match="cancelled"):
            c.annotate(0, examples(3))
        assert {r["status"] for r in c.ledger.rows()} == {"released"} and c.ledger.spent == 0


def test_fake_server_keeps_batches_in_its_state_file(tmp_path):
    state = tmp_path / "state.json"
    with FakeOpenAIServer(api_key=KEY, state_file=state) as s:
        c = make_client(s, tmp_path)
        c.annotate(0, examples(2))
        bid = s.batch_creates[0]
    with FakeOpenAIServer(api_key=KEY, state_file=state) as again:
        assert again.batch_creates == [bid] and again.batches[bid]["status"] == "completed"
        assert len(again.batch_billed) == 2


def test_lines_carry_the_cache_key_and_leave_the_sample_index_out(tmp_path):
    with FakeOpenAIServer(api_key=KEY) as s:
        c = make_client(s, tmp_path)
        req = c.requests.annotation(0, examples(1)[0])
        obj = json.loads(line(req))
        assert obj["custom_id"] == req.cache_key and obj["url"] == "/v1/chat/completions"
        assert "sample" not in obj["body"] and obj["body"]["messages"] == req.payload["messages"]


def test_a_slow_batch_is_polled_with_a_doubling_wait_and_shows_its_state(tmp_path):
    looks, shown = [], []

    class Bar:
        def __call__(self, n=1):
            pass

        def info(self, text):
            shown.append(text)

    with FakeOpenAIServer(
        api_key=KEY,
        batch_faults=["slow"],
        batch_slow_seconds=0.8,
        on_batch=lambda ev, info: looks.append(info["status"]) if ev == "retrieve" else None,
    ) as s:
        c = make_client(s, tmp_path, batch_poll=0.02, batch_poll_max=0.4)
        outs = c.engine.execute([c.requests.annotation(0, e) for e in examples(3)], Bar())
        assert all(o.reply is not None for o in outs) and looks[-1] == "completed"
        # waits of 0.02, 0.04, 0.08, 0.16, 0.32, 0.4, ...: 0.8 s takes about 6 looks (a fixed 0.02 s would take 40)
        assert 4 <= len(looks) <= 9 and looks.count("in_progress") == len(looks) - 1
        assert any("in_progress 0/3" in x for x in shown) and any("completed 3/3" in x for x in shown)


def test_requests_past_the_file_limits_go_in_several_batches_at_once(tmp_path, monkeypatch):
    import baldistill.teacher.batch as batch

    monkeypatch.setattr(batch, "MAX_REQUESTS", 2)
    with FakeOpenAIServer(api_key=KEY) as s:
        c = make_client(s, tmp_path)
        kept = c.annotate(0, examples(5))
        assert len(kept) == 5 and [len(x) for x in _per_batch(s)] == [2, 2, 1]
        assert s.uploads == 3 and len(set(s.batch_submitted)) == 5
        assert [b["state"] for b in c.ledger.batches()] == ["settled"] * 3


# ---- structured output through batches (teacher.structured) ---------------------------------------------
FORM_TAKEN = {"openai": "json_schema", "vllm": "json_schema", "llamacpp": "json_object", "fastapi": "json_object",
              "plain": "text"}  # fmt: skip


@pytest.mark.parametrize("kind", list(FORM_TAKEN))
def test_a_batch_with_structured_auto_falls_back_to_the_form_each_server_takes(tmp_path, kind):
    """Synthesis requests ask for json_schema; a server that refuses a line's response_format answers it with an
    error (no work, not billed): the run releases it and submits it again in the next form, one unit per request
    at the batch price, and keeps the form it learned (a new engine on the same ledger starts with it)."""
    with FakeOpenAIServer(api_key=KEY, response_formats=kind) as s:
        c = make_client(s, tmp_path)
        c.synthesize(0, "d", examples(4), 3, 0, [])
        refused = ["json_schema", "json_object"][: ["json_schema", "json_object", "text"].index(FORM_TAKEN[kind])]
        assert c.engine.backend.form == FORM_TAKEN[kind] and c.ledger.setting("structured_form") == FORM_TAKEN[kind]
        assert s.received == 0 and len(s.batch_creates) == 1 + len(refused)  # a batch per form tried
        assert sorted(set(s.format_rejections)) == sorted(refused) and len(s.format_rejections) == 3 * len(refused)
        rows = c.ledger.rows()
        charged = [r for r in rows if r["status"] != "released"]
        assert c.ledger.spent == 3 and len(charged) == 3 and all(r["units"] == 1 for r in charged)
        assert len([r for r in rows if r["status"] == "released"]) == 3 * len(refused)  # the refused: not billed
        for r in charged:  # the batch price: half the listed one
            assert r["dollars"] == pytest.approx(0.5 * (2.0 * r["prompt_tokens"] + 8.0 * r["completion_tokens"]) / 1e6)
        assert len(s.batch_billed) == len(set(s.batch_billed)) == 3
        again = make_client(s, tmp_path)  # the same ledger: a resumed run
        assert again.engine.backend.form == FORM_TAKEN[kind]
        creates = len(s.batch_creates)
        again.synthesize(0, "d", examples(4), 2, 3, [])  # two new requests: straight in the learned form
        assert len(s.batch_creates) == creates + 1 and len(s.format_rejections) == 3 * len(refused)


def test_a_batch_server_refusing_an_explicit_form_stops_the_run_in_one_line(tmp_path):
    with FakeOpenAIServer(api_key=KEY, response_formats="plain") as s:
        c = make_client(s, tmp_path, structured="json_schema")
        with pytest.raises(TeacherError, match="rejected the structured-output form json_schema in batch"):
            c.synthesize(0, "d", examples(4), 2, 0, [])
        assert c.ledger.spent == 0 and not s.batch_billed  # refused lines are not billed


def test_a_batch_is_found_by_its_file_across_pages_of_the_servers_batches(tmp_path):
    import asyncio

    from baldistill.teacher.batch import BatchAPI

    with FakeOpenAIServer(api_key=KEY, list_page=2) as s:
        c = make_client(s, tmp_path)
        api = BatchAPI(c.engine.backend)

        async def make(n):
            files = []
            for i in range(n):
                fid = await api.upload(b'{"custom_id": "x"}\n', f"f{i}.jsonl")
                await api.create(fid, "/v1/chat/completions", i)
                files.append(fid)
            oldest = await api.find(files[0], since=0)
            newest = await api.find(files[-1], since=0)
            missing = await api.find("file-nope", since=0)
            await c.engine.backend.aclose()
            return files, oldest, newest, missing

        s.batch_lists = 0
        files, oldest, newest, missing = asyncio.run(make(5))
        assert oldest is not None and oldest.input_file_id == files[0]
        assert newest is not None and newest.input_file_id == files[-1]
        assert missing is None
        assert s.batch_lists >= 3 + 1 + 3  # the oldest is on the third page of two; so is the end of the list
