"""The fault-injecting fake OpenAI server, driven by the official openai client."""

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from baldistill_testing.fake_openai import FakeOpenAIServer, canonical_key

MSG = [{"role": "user", "content": "Question: 6*7?\nGold answer: 42"}]


def client(server, timeout=5.0, api_key="x"):
    return openai.OpenAI(base_url=server.base_url, api_key=api_key, max_retries=0, timeout=timeout)


def chat(c, content="hi", **kw):
    return c.chat.completions.create(model="m", messages=[{"role": "user", "content": content}], **kw)


def test_normal_chat_reply_with_usage():
    with FakeOpenAIServer() as s:
        r = client(s).chat.completions.create(model="fake-teacher", messages=MSG, max_tokens=100)
        assert r.object == "chat.completion" and len(r.choices) == 1
        assert r.choices[0].message.content == "Reasoning about it. The answer is 42."
        assert r.choices[0].finish_reason == "stop"
        prompt_bytes = len(MSG[0]["content"].encode())
        assert r.usage.prompt_tokens == prompt_bytes // 4
        assert r.usage.completion_tokens == len(r.choices[0].message.content.encode()) // 4
        assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
        assert r.usage.completion_tokens_details.reasoning_tokens == 0
        assert chat(client(s)).choices[0].message.content == "The answer is 42."
        assert s.received == s.answered == 2 and s.status_counts == {"200": 2}


def test_max_tokens_cap_custom_reply_and_models():
    with FakeOpenAIServer(reply=lambda body: "x" * 100, model="teach") as s:
        c = client(s)
        r = chat(c, max_completion_tokens=5)
        assert r.choices[0].message.content == "x" * 20 and r.choices[0].finish_reason == "length"
        assert r.usage.completion_tokens == 5
        r = chat(c, max_tokens=1000)
        assert r.choices[0].finish_reason == "stop" and r.usage.completion_tokens == 25
        assert [m.id for m in c.models.list()] == ["teach"]


def test_completions_endpoint():
    with FakeOpenAIServer() as s:
        r = client(s).completions.create(model="m", prompt="abcdefgh" * 4, max_tokens=50)
        assert r.object == "text_completion"
        assert r.choices[0].text == "The answer is 42." and r.choices[0].finish_reason == "stop"
        assert r.usage.prompt_tokens == 8 and r.usage.completion_tokens == 4
        assert s.received == s.answered == 1


def test_429_rate_limit_with_retry_after():
    with FakeOpenAIServer(faults=["429"], retry_after=0.05) as s:
        with pytest.raises(openai.RateLimitError) as ei:
            chat(client(s))
        assert float(ei.value.response.headers["retry-after"]) == 0.05
        assert ei.value.body["type"] == "rate_limit_error"
        assert s.answered == 0 and s.status_counts == {"429": 1}
        assert chat(client(s)).choices[0].message.content  # the list is used up: normal again


def test_401_injected_and_api_key_check():
    with FakeOpenAIServer(faults=["401"]) as s:
        with pytest.raises(openai.AuthenticationError):
            chat(client(s))
    with FakeOpenAIServer(api_key="sk-right") as s:
        with pytest.raises(openai.AuthenticationError) as ei:
            chat(client(s, api_key="sk-wrong"))
        assert ei.value.code == "invalid_api_key"
        assert chat(client(s, api_key="sk-right")).choices
        assert s.answered == 1 and s.status_counts == {"401": 1, "200": 1}


def test_400_404_500():
    with FakeOpenAIServer(faults=["400", "404", "500"]) as s:
        c = client(s)
        with pytest.raises(openai.BadRequestError):
            chat(c)
        with pytest.raises(openai.NotFoundError):
            chat(c)
        with pytest.raises(openai.InternalServerError):
            chat(c)
        assert s.answered == 1 and s.status_counts == {"400": 1, "404": 1, "500": 1}


def test_slow_times_out_but_is_billed():
    with FakeOpenAIServer(faults=["slow"], slow_seconds=0.6) as s:
        t = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            chat(client(s, timeout=0.3))
        assert time.monotonic() - t < 0.55
        assert s.answered == 0
        deadline = time.monotonic() + 2
        while s.answered == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert s.answered == 1 and s.status_counts == {"200": 1}  # the work finished after the client left


def test_drop_is_connection_error_and_sends_nothing():
    with FakeOpenAIServer(faults=["drop", "drop"]) as s:
        with pytest.raises(openai.APIConnectionError) as ei:
            chat(client(s))
        assert not isinstance(ei.value, openai.APITimeoutError)
        # raw socket: the server reads the request and closes without a single byte
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
        with socket.create_connection(("127.0.0.1", s.port), timeout=2) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body
            )
            assert sock.recv(100) == b""
        assert s.answered == 2 and s.dropped == 2 and s.status_counts == {"drop": 2}


def test_malformed_json_raises_jsondecodeerror():
    # openai 3.x does not wrap it: the 200 body goes straight to response.json()
    with FakeOpenAIServer(faults=["malformed"]) as s:
        with pytest.raises(json.JSONDecodeError):
            chat(client(s))
        assert s.answered == 1 and s.status_counts == {"200": 1}


def test_empty_choices_and_truncated():
    with FakeOpenAIServer(faults=["empty_choices", "truncated"]) as s:
        c = client(s)
        assert chat(c).choices == []
        r = chat(c)
        assert r.choices[0].finish_reason == "length"
        assert 0 < len(r.choices[0].message.content) < len("The answer is 42.")
        assert s.answered == 2


def test_keep_alive_reads_exact_content_length():
    with FakeOpenAIServer() as s:
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=2)  # one connection, several requests
        try:
            for i in range(3):
                body = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"q{i} é"}]})
                conn.request(
                    "POST", "/v1/chat/completions", body=body.encode(), headers={"Content-Type": "application/json"}
                )
                r = conn.getresponse()
                assert r.status == 200 and json.loads(r.read())["choices"][0]["message"]["content"]
            conn.request("GET", "/v1/models")
            assert json.loads(conn.getresponse().read())["data"][0]["id"] == "fake-teacher"
        finally:
            conn.close()
        assert s.received == 3 and s.duplicates() == 0


def test_scripted_sequence_counts_and_duplicates():
    seen = []
    faults = ["429", None, "500", "drop", None, "malformed", "401", "empty_choices"]
    with FakeOpenAIServer(faults=faults, on_request=lambda n, body: seen.append(n)) as s:
        c = client(s)
        outcomes = []
        for i in range(len(faults) + 1):
            content = "same" if i < 6 else f"other{i}"
            try:
                chat(c, content)
                outcomes.append("ok")
            except Exception as e:
                outcomes.append(type(e).__name__)
        assert outcomes == [
            "RateLimitError",
            "ok",
            "InternalServerError",
            "APIConnectionError",
            "ok",
            "JSONDecodeError",
            "AuthenticationError",
            "ok",
            "ok",
        ]
        assert seen == list(range(1, 10)) and s.received == 9
        # answered: None, 500, drop, None, malformed ("same" x5), empty_choices, normal
        assert s.answered == 7 and len(s.answered_keys) == 7
        assert s.status_counts == {"429": 1, "200": 5, "500": 1, "drop": 1, "401": 1}
        assert s.duplicates() == 4
        assert s.answered_keys[0] == canonical_key(s.requests[1])


def test_callable_faults_and_seeded_fault_rate():
    with FakeOpenAIServer(faults=lambda n, body: "429" if n % 2 else None) as s:
        c = client(s)
        with pytest.raises(openai.RateLimitError):
            chat(c)
        assert chat(c).choices

    def run(seed):
        with FakeOpenAIServer(fault_rate=0.5, fault_kinds=("429", "500"), seed=seed) as s:
            c = client(s)
            for _ in range(20):
                try:
                    chat(c)
                except openai.APIStatusError:
                    pass
            return dict(s.status_counts)

    a = run(3)
    assert a == run(3) and a.get("200", 0) < 20 and sum(a.values()) == 20


def test_16_concurrent_requests_overlap():
    with FakeOpenAIServer(latency=0.2) as s:
        c = client(s)
        chat(c, "warm-up")
        t = time.monotonic()
        with ThreadPoolExecutor(16) as ex:
            results = list(ex.map(lambda i: chat(c, f"q{i}"), range(16)))
        elapsed = time.monotonic() - t
        assert all(r.choices[0].message.content for r in results)
        assert elapsed < 1.5, elapsed
        assert s.answered == 17 and s.duplicates() == 0


def test_stop_is_prompt_with_a_slow_request_in_flight():
    s = FakeOpenAIServer(faults=["slow"], slow_seconds=5).start()
    errors = []

    def call():
        try:
            chat(client(s, timeout=0.2))
        except openai.APITimeoutError as e:
            errors.append(e)

    th = threading.Thread(target=call, daemon=True)
    th.start()
    th.join(2)
    assert len(errors) == 1
    t = time.monotonic()
    s.stop()
    assert time.monotonic() - t < 1.0
