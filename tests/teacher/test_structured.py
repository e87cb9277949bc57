"""Structured output (teacher.structured) and distinct synthesis requests: the request bodies each server
form gets, the fallback auto walks (one unit per logical call, whatever happens on the way), JSON replies
read by the same checks as text ones, and synthesis requests of a domain that differ in content."""

import hashlib
import json

import pytest
from teacher_kit import Client

from baldistill.budget.cache import ReplyCache
from baldistill.budget.ledger import Caps, Ledger
from baldistill.config import ConfigError, TeacherConfig, load_config
from baldistill.core import structured
from baldistill.core.checks import annotation_from, check_annotation, check_syntheses, check_verification
from baldistill.data import Example
from baldistill.teacher.backends.openai import OpenAICompatible
from baldistill.teacher.errors import TeacherError
from baldistill.teacher.requests import RequestBuilder
from baldistill_testing.fake_openai import FakeOpenAIServer

KEY = "sk-structured-0123456789"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("BD_TEST_KEY", KEY)


def tcfg(**kw):
    return TeacherConfig(
        **{
            "kind": "openai",
            "model": "fake-teacher",
            "base_url": "http://127.0.0.1:1/v1",
            "api_key_env": "BD_TEST_KEY",
            "timeout": 2,
            "backoff": 0.01,
            "backoff_max": 0.02,
            "max_tokens": 64,
            "concurrency": 1,
            **kw,
        }
    )


def make_client(server, budget=100, labels=None, cache=None, **kw):
    tc = tcfg(base_url=server.base_url, **kw)
    backend = OpenAICompatible(tc.model, tc.base_url, tc.api_key_env, tc.timeout, tc.concurrency, tc.structured)
    return Client(backend, tc, Ledger(Caps(budget)), cache, "Solve.", labels)


def real(domain="d", n=2):
    return [Example(f"{domain}{k}", domain, f"What is {k} plus {k + 3}?", str(2 * k + 3)) for k in range(n)]


def json_or_text(body):
    """A teacher whose reply depends only on the prompt text (like a server at temperature 0 with no seed):
    a JSON object when a response_format was sent, the text format otherwise."""
    prompt = "".join(m["content"] for m in body["messages"])
    h = int(hashlib.sha256(prompt.encode()).hexdigest()[:6], 16) % 1000
    if "Gold answer:" not in prompt and "Input:" not in prompt and "Question:" in prompt:  # a re-answer
        ans = prompt.split("What is ")[1].split("?")[0]
        a, b = (int(x) for x in ans.split(" plus "))
        answer = str(a + b)
        return (
            json.dumps({"reasoning": f"{a} + {b} = {answer}.", "answer": answer})
            if "response_format" in body
            else f"{a} + {b} = {answer}. The answer is {answer}."
        )
    if "response_format" in body:
        return json.dumps({"input": f"What is {h} plus 1?", "reasoning": f"{h} + 1 = {h + 1}.", "answer": str(h + 1)})
    return f"Input: What is {h} plus 1?\nReasoning: {h} + 1 = {h + 1}.\nAnswer: {h + 1}"


# ---- pure parts -----------------------------------------------------------------------------------
def test_schemas_forms_and_reading_json_replies():
    s = structured.synthesis_schema(["spam", "ham"])
    assert s["schema"]["properties"]["answer"] == {"type": "string", "enum": ["spam", "ham"]}
    assert s["schema"]["required"] == ["input", "reasoning", "answer"] and s["schema"]["additionalProperties"] is False
    rf = structured.response_format(s, "json_schema")
    assert (
        rf["type"] == "json_schema"
        and rf["json_schema"]["strict"] is True
        and rf["json_schema"]["schema"] == s["schema"]
    )
    assert structured.response_format(s, "json_object") == {"type": "json_object", "schema": s["schema"]}
    payload = {"model": "m", "messages": [], "response_format": rf}
    assert structured.downgrade(payload, "json_object")["response_format"] == {
        "type": "json_object",
        "schema": s["schema"],
    }
    assert "response_format" not in structured.downgrade(payload, "text")
    assert "JSON" in structured.instruction(s) and "spam, ham" in structured.instruction(s)
    assert structured.read_object('```json\n{"Answer": "4"}\n```') == {"answer": "4"}
    assert structured.read_object("Input: x") is None and structured.read_object("{not json") is None


def test_json_replies_pass_the_same_checks_as_text():
    good = json.dumps({"input": "What is 2 plus 9?", "reasoning": "2 + 9 = 11.", "answer": "11"})
    broken = json.dumps({"input": "What is 2 plus 9?", "answer": ["11"]})
    liar = json.dumps({"input": "What is 2 plus 8?", "reasoning": "So the answer is 12.", "answer": "10"})
    v = check_syntheses([(0, good, None), (1, broken, None), (2, liar, None)], "d", 0, [], 1, 2000)
    assert v[0].ok and v[0].example.rationale == "2 + 9 = 11. The answer is 11." and v[0].example.answer == "11"
    assert v[1].status == "parse_error" and "JSON schema" in v[1].note
    assert v[2].status == "dropped" and "disagree" in v[2].note
    ex = Example("e", "d", "What is 1 plus 1?", "2")
    assert annotation_from(json.dumps({"reasoning": "1 + 1 = 2.", "answer": "2"}), "2") == (
        "1 + 1 = 2. The answer is 2.",
        "2",
        True,
    )
    assert check_annotation(ex, json.dumps({"reasoning": "1 + 1 = 3.", "answer": "3"})).status == "dropped"
    assert check_annotation(ex, json.dumps({"reasoning": "x"})).status == "parse_error"
    syn = Example("s", "d", "What is 1 plus 1?", "2", "1 + 1 = 2. The answer is 2.", "synthetic")
    verdict, per = check_verification(
        syn, [(json.dumps({"reasoning": "1 + 1 = 2", "answer": "2"}), None), (json.dumps({"answer": 3}), None)]
    )
    assert verdict.status == "dropped" and [p.status for p in per] == ["ok", "parse_error"]  # 1 of 2: no majority


# ---- request bodies -------------------------------------------------------------------------------
def test_request_bodies_per_setting():
    ex = Example("e", "d", "What is 1 plus 1?", "2")
    auto = RequestBuilder(tcfg())
    syn = auto.synthesis(0, "d", real(n=3), 0, [], ["2", "5"])
    assert syn.payload["response_format"]["type"] == "json_schema"
    assert syn.payload["response_format"]["json_schema"]["schema"]["properties"]["answer"]["enum"] == ["2", "5"]
    assert (
        "JSON object" in syn.payload["messages"][-1]["content"]
        and "Reasoning: <" not in syn.payload["messages"][-1]["content"]
    )
    assert "response_format" not in auto.annotation(0, ex).payload  # annotation stays free text under auto
    ver = auto.verification(0, ex, 0, ["2", "5", "7"])
    assert ver.payload["response_format"]["json_schema"]["schema"]["properties"]["answer"]["enum"] == ["2", "5", "7"]
    obj = RequestBuilder(tcfg(structured="json_object"))
    assert obj.annotation(0, ex).payload["response_format"]["type"] == "json_object"  # explicit: annotation too
    assert "JSON object" in obj.annotation(0, ex).payload["messages"][-1]["content"]
    off = RequestBuilder(tcfg(structured="off"))
    body = off.synthesis(0, "d", real(n=3), 0)
    assert "response_format" not in body.payload and "Reasoning: <" in body.payload["messages"][-1]["content"]
    assert "response_format" not in RequestBuilder(TeacherConfig()).synthesis(0, "d", real(n=3), 0).payload
    assert "response_format" not in RequestBuilder(tcfg(api="completions")).synthesis(0, "d", real(n=3), 0).payload
    # the schema is part of what decides the reply, hence of the cache key
    assert (
        auto.synthesis(0, "d", real(n=3), 0, [], ["2"]).cache_key
        != auto.synthesis(0, "d", real(n=3), 0, [], ["5"]).cache_key
    )
    assert syn.cache_key != off.synthesis(0, "d", real(n=3), 0).cache_key


def test_structured_forms_need_a_chat_server(tmp_path):
    with pytest.raises(Exception, match="needs api: chat"):
        TeacherConfig(kind="openai", model="m", api="completions", structured="json_schema")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("budget: 10\ndata: {train: t.jsonl, test: t.jsonl}\nteacher: {structured: xml}\n")
    with pytest.raises(ConfigError, match="teacher.structured"):
        load_config(cfg)


def test_synthesis_requests_of_a_domain_differ_in_content():
    b = RequestBuilder(tcfg(synthesis_seeds=2))
    reqs = [b.synthesis(0, "d", real(n=2), s) for s in range(6)]
    texts = [r.prompt_text() for r in reqs]
    assert len(set(texts)) == 6 and len({r.payload["seed"] for r in reqs}) == 6
    assert [r.meta["seeds"][0].id for r in reqs[:2]] == ["d0", "d1"]  # another window of the real examples
    later = b.synthesis(1, "d", real(n=2), 6, ["What is 500 plus 1?"])
    assert "What is 500 plus 1?" in later.prompt_text() and "do not repeat" in later.prompt_text()
    assert b.synthesis(0, "d", real(n=2), 3).payload == reqs[3].payload  # stable: a resumed run asks the same


# ---- against servers that take different forms ---------------------------------------------------
@pytest.mark.parametrize(
    "profile, sent, rejected",
    [
        ("openai", ["json_schema"] * 3, []),
        ("vllm", ["json_schema"] * 3, []),
        ("llamacpp", ["json_object"] * 3, ["json_schema"]),
        ("fastapi", ["json_object"] * 3, ["json_schema"]),
        ("plain", [None] * 3, ["json_schema", "json_object"]),
        (None, ["json_schema"] * 3, []),  # a server that ignores the field: parsing catches whatever comes
    ],
)
def test_auto_finds_the_form_each_server_takes_at_one_unit_per_call(profile, sent, rejected):
    reply = (
        json_or_text
        if profile is not None
        else (lambda body: json_or_text({k: v for k, v in body.items() if k != "response_format"}))
    )
    with FakeOpenAIServer(api_key=KEY, reply=reply, response_formats=profile) as s:
        c = make_client(s)
        got = c.synthesize(0, "d", real(n=2), 3, 0, existing=[e.input for e in real(n=2)])
        assert [(b.get("response_format") or {}).get("type") for b in s.requests] == sent
        assert s.format_rejections == rejected  # learned once, kept for the run
        assert len(got) == 3 and c.ledger.spent == 3 and all(r["units"] == 1 for r in c.ledger.rows())
        assert c.engine.backend.form == {None: "json_schema", "openai": "json_schema", "vllm": "json_schema"}.get(
            profile, "json_object" if profile in ("llamacpp", "fastapi") else "text"
        )


def test_unknown_outcome_in_the_middle_of_a_fallback_costs_one_unit(tmp_path):
    """json_schema rejected (no work), json_object sent and its outcome unknown (HTTP 500), json_object again:
    one logical call, one unit; the reply is cached under the request as built, so a resume reads it."""
    cache = ReplyCache(tmp_path / "cache.sqlite")
    with FakeOpenAIServer(api_key=KEY, reply=json_or_text, response_formats="llamacpp", faults=["500"]) as s:
        c = make_client(s, cache=cache)
        got = c.synthesize(0, "d", real(n=2), 1, 0, existing=[])
        assert len(got) == 1 and c.ledger.spent == 1
        assert [(r["status"], r["units"]) for r in c.ledger.rows()] == [("unknown", 1), ("ok", 0)]
        assert s.format_rejections == ["json_schema"] and s.status_counts["500"] == 1 and s.answered == 2
        req = c.requests.synthesis(0, "d", real(n=2), 0)
        assert json.loads(json.loads(cache.get(req.cache_key))["choices"][0]["message"]["content"])["input"]


def test_an_explicit_form_the_server_rejects_stops_with_one_line():
    with FakeOpenAIServer(api_key=KEY, reply=json_or_text, response_formats="llamacpp") as s:
        c = make_client(s, structured="json_schema")
        with pytest.raises(
            TeacherError, match="rejected the structured-output form json_schema.*set teacher.structured"
        ):
            c.synthesize(0, "d", real(n=2), 1, 0, existing=[])
        assert c.ledger.spent == 0 and s.answered == 0


def test_a_deterministic_teacher_still_gives_n_distinct_examples():
    """Before: the n calls of a domain sent byte-identical bodies, so a teacher whose reply depends only on the
    prompt made one example n times and n - 1 were rejected as duplicates (each still charged)."""
    with FakeOpenAIServer(api_key=KEY, reply=json_or_text, response_formats="openai") as s:
        c = make_client(s, synthesis_temperature=0.0)
        got = c.synthesize(0, "d", real(n=2), 8, 0, existing=[e.input for e in real(n=2)])
        dups = [r for r in c.ledger.rows() if "duplicate" in (r["note"] or "")]
        assert len(got) == 8 and not dups
        assert len({s_.get("seed") for s_ in s.requests}) == 8
