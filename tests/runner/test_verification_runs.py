"""Verified synthesis in whole runs on the tiny model: every re-answer is a unit of the budget, paid out of the
tail deficit (no domain spends more than its quota; the remainder carries, and after the last stage is
reported unspent); ``estimate`` is an upper bound, equal to the run when every synthetic example is usable;
a run killed during verification and resumed sends only the requests in flight again."""

import os
import re
import signal
import subprocess
import sys
from collections import Counter

import pytest
import yaml
from conftest import tiny_config

from baldistill import load_config, run
from baldistill.budget.ledger import Ledger
from baldistill.core import policies
from baldistill.data import read_jsonl
from baldistill.runner.estimate import estimate
from baldistill_testing.fake_openai import FakeOpenAIServer, default_reply

NAIVE = {"method": "baldistill-n", "budget": 48, "stages": 3}


def ledger_units(folder, budget):
    out = Counter()
    for r in Ledger(budget, folder / "ledger.sqlite").rows():
        if r["status"] != "released":
            out[(r["stage"], r["kind"])] += r["units"]
    return out


def estimated_units(cfg):
    return Counter({(r["stage"], k): r[k] for r in estimate(cfg) for k in ("annotate", "synthesize", "verify") if r[k]})


@pytest.mark.parametrize("k", [1, 3])
def test_a_verified_run_spends_within_each_domains_quota_and_equals_its_estimate(tiny_model, tmp_path, k):
    over = [
        f"teacher.verify.samples={k:d}",
        "teacher.verify.temperature=0.5",
        "teacher.verifier.accept_correct=1",
        "teacher.verifier.reject_wrong=1",
    ]
    cfg = load_config(tiny_config(tiny_model, **NAIVE), over)
    m = run(cfg, tmp_path / "run")
    rows = Ledger(48, tmp_path / "run/ledger.sqlite").rows()
    assert ledger_units(tmp_path / "run", 48) == estimated_units(cfg)  # every synthetic example usable: equal
    quotas = policies.allocate("naive", m.pool_sizes, 48, 3)
    for d in m.pool_sizes:
        units = sum(r["units"] for r in rows if r["domain"] == d and r["status"] != "released")
        assert units + sum(m.unspent_by_domain.get(d, {}).values()) == sum(q.per_domain[d] for q in quotas), d
    by_kind = m.ledger.by_kind
    assert by_kind["verify"].units == k * by_kind["synthesize"].units > 0
    assert m.spent + sum(sum(v.values()) for v in m.unspent_by_domain.values()) == 48
    assert "simulated verifier" in m.teacher
    for d, n in m.shortfall_by_domain.items():  # every unit that is no training example has its reason
        assert sum(m.shortfall_reasons.get(d, {}).values()) == n, d
    assert all(
        e.get("meta", {}).get("verified") == f"{k}/{k}"
        for i in range(3)
        for e in read_jsonl(tmp_path / f"run/stages/{i}/synthetic.jsonl")
    )
    if k == 3:  # 2 units a tail domain per stage: carried to the next, and what the last stage left is unspent
        assert m.unspent_by_domain and all(set(v) == {"verification remainder"} for v in m.unspent_by_domain.values())


def test_the_estimate_is_an_upper_bound_when_synthetic_examples_are_rejected_before_verification(tiny_model, tmp_path):
    cfg = load_config(
        tiny_config(tiny_model, **NAIVE), ["teacher.verify.samples=1", "teacher.synthesis_noise.malformed=0.6"]
    )
    m = run(cfg, tmp_path / "run")
    got, est = ledger_units(tmp_path / "run", 48), estimated_units(cfg)
    assert all(got[key] <= est[key] for key in set(got) | set(est)) and sum(got.values()) < sum(est.values())
    assert got[(1, "verify")] + got[(2, "verify")] < est[(1, "verify")] + est[(2, "verify")]
    reasons = {why for v in m.unspent_by_domain.values() for why in v}
    assert "not verified (synthesis not usable)" in reasons
    assert any("synthesize: reply not usable" in v for v in m.shortfall_reasons.values())


# ---- over HTTP: a kill during verification -------------------------------------------------------------
KEY = "sk-verify-0000"
VERIFY_MARK = "Solve it in a few short steps"


def teacher_reply(body):
    """Rationales with the gold answer; one synthetic example per domain; re-answers that agree."""
    text = "\n".join(str(m.get("content")) for m in body.get("messages") or [])
    d = re.search(r'examples from the domain "([^"]+)"', text)
    if d:
        return f"Input: A new question for {d.group(1)}?\nReasoning: Think it through.\nAnswer: 7"
    if VERIFY_MARK in text:
        return "Working it out. The answer is 7."
    return default_reply(body)


def http_config(tiny_model, server, tmp_path):
    cfg = tiny_config(tiny_model, **NAIVE)
    cfg["teacher"] = {
        "kind": "openai",
        "model": "fake-teacher",
        "base_url": server.base_url,
        "api_key_env": "BD_VERIFY_KEY",
        "concurrency": 2,
        "timeout": 5,
        "backoff": 0.01,
        "verify": {"samples": 3, "temperature": 0.7},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def start(cfg, out, resume=False):
    cmd = [sys.executable, "-m", "baldistill.cli", "run", str(cfg), "--out", str(out)] + (
        ["--resume"] if resume else []
    )
    env = {**os.environ, "BD_VERIFY_KEY": KEY, "BALDISTILL_PROGRESS": "0"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def train_ids(out):
    return [[e["id"] for e in read_jsonl(out / f"stages/{i}/train.jsonl")] for i in range(3)]


def test_kill_during_verification_then_resume_sends_only_the_requests_in_flight(tiny_model, tmp_path):
    (tmp_path / "a").mkdir()
    with FakeOpenAIServer(api_key=KEY, reply=teacher_reply) as s:
        p = start(http_config(tiny_model, s, tmp_path / "a"), tmp_path / "a/run")
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        # a domain's synthesis requests of a stage have the same body: the server counts them as repeats
        answered, repeats = s.answered, s.duplicates()
    holder, seen = {}, []

    def on_request(n, body):
        text = "\n".join(str(m.get("content")) for m in body.get("messages") or [])
        if VERIFY_MARK in text:
            seen.append(n)
            if len(seen) == 2:  # the second re-answer of the run: verification is under way
                os.kill(holder["proc"].pid, signal.SIGKILL)

    with FakeOpenAIServer(api_key=KEY, reply=teacher_reply, on_request=on_request, latency=0.05) as s:
        (tmp_path / "b").mkdir()
        cfg, out = http_config(tiny_model, s, tmp_path / "b"), tmp_path / "b/run"
        holder["proc"] = start(cfg, out)
        holder["proc"].communicate(timeout=600)
        assert holder["proc"].returncode == -signal.SIGKILL
        before = Ledger(48, out / "ledger.sqlite").rows()
        assert any(r["kind"] == "verify" for r in before)
        p = start(cfg, out, resume=True)
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        in_flight = sum(r["status"] == "unknown" for r in Ledger(48, out / "ledger.sqlite").rows())
        assert s.duplicates() - repeats <= in_flight <= 2  # at most the requests in flight at the kill went again
        assert s.answered - s.duplicates() == answered - repeats
    assert train_ids(out) == train_ids(tmp_path / "a/run")
    rows = Ledger(48, out / "ledger.sqlite").rows()
    assert sum(r["units"] for r in rows if r["kind"] == "verify" and r["status"] != "released") > 0


def test_faults_during_verification_are_retried_or_charged_and_never_cross_the_budget(
    tiny_model, tmp_path, monkeypatch
):
    """429 and 500 on re-answers, malformed bodies, empty choices and cut replies: the run finishes, a refused
    re-answer is retried without a second unit, an unusable one counts as disagreeing (its example is rejected),
    and the units charged plus those left unspent are exactly B."""
    kinds = iter(["429", "500", "malformed", None, "empty_choices", "truncated"] + [None] * 100)

    def faults(n, body):
        text = "\n".join(str(m.get("content")) for m in body.get("messages") or [])
        return next(kinds) if VERIFY_MARK in text else None

    with FakeOpenAIServer(api_key=KEY, reply=teacher_reply, faults=faults, retry_after=0.01) as s:
        monkeypatch.setenv("BD_VERIFY_KEY", KEY)
        m = run(load_config(http_config(tiny_model, s, tmp_path), ["teacher.max_retries=3"]), tmp_path / "run")
        assert s.fault_counts["429"] == 1 and s.fault_counts["500"] == 1
    rows = Ledger(48, tmp_path / "run/ledger.sqlite").rows()
    ver = [r for r in rows if r["kind"] == "verify"]
    assert any(r["status"] == "released" for r in ver)  # the 429: the server did no work
    assert any(r["status"] == "parse_error" for r in ver)  # a body that held no usable re-answer
    assert m.spent + sum(sum(v.values()) for v in m.unspent_by_domain.values()) == 48
    rejected = [r for r in rows if r["kind"] == "synthesize" and r["note"].startswith("rejected by verification")]
    assert rejected and all("/3 re-answers agree" in r["note"] for r in rejected)
