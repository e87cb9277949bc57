"""Spend while it happens, against the fake OpenAI-compatible server with a price table: the teacher bars' text
holds what the ledger holds (one by one and through the Batch API), the end-of-stage spend line and the warning
before a cap bites, and ``estimate --run`` on a run cut short in its second stage."""

from __future__ import annotations

import io
import re

import pytest
from conftest import tiny_config
from rich.console import Console
from typer.testing import CliRunner

from baldistill import load_config, run
from baldistill.budget.cache import ReplyCache
from baldistill.budget.ledger import CHARGED, Caps, Ledger
from baldistill.cli import app
from baldistill.config import TeacherConfig
from baldistill.core.forecast import SETTLED, project
from baldistill.data import Example
from baldistill.runner import pipeline
from baldistill.runner.estimate import caps_of, estimate, forecast_run, plan_spend
from baldistill.runtime import progress
from baldistill.teacher import RequestBuilder, TeacherEngine, TeacherError
from baldistill.teacher import engine as engine_mod
from baldistill.teacher.backends.openai import OpenAICompatible
from baldistill_testing.fake_openai import FakeOpenAIServer

KEY = "sk-live-spend"
PRICE = {"input_per_mtok": 10.0, "output_per_mtok": 40.0}


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("BD_SPEND_KEY", KEY)


def teacher(server, **over) -> dict:
    return {
        "kind": "openai",
        "model": "fake-teacher",
        "base_url": server.base_url,
        "api_key_env": "BD_SPEND_KEY",
        "concurrency": 4,
        "timeout": 5,
        "backoff": 0.01,
        "max_tokens": 64,
        "price": PRICE,
        **over,
    }


def engine(server, tmp_path, budget=40, **over) -> tuple[TeacherEngine, RequestBuilder]:
    tc = TeacherConfig(**teacher(server, batch_poll=0.02, batch_poll_max=0.1, **over))
    caps = Caps(budget, 20_000, 0.5, 10.0, 40.0, tc.price.factor(tc.batch))
    backend = OpenAICompatible(tc.model, tc.base_url, tc.api_key_env, tc.timeout, tc.concurrency)
    cache = ReplyCache(tmp_path / "cache.sqlite")
    return TeacherEngine(backend, tc, Ledger(caps, tmp_path / "ledger.sqlite"), cache), RequestBuilder(tc, "Solve.", 0)


def asks(build: RequestBuilder, n: int) -> list:
    return [build.annotation(0, Example(f"e{k}", "d", f"What is {k} + {k}?", str(2 * k))) for k in range(n)]


def ledger_text(led: Ledger) -> list[str]:
    """What the bar must show of the ledger now: units of B, tokens of the cap, dollars of the cap."""
    s = led.summary()
    return [
        f"{s.spent}/{led.caps.calls} units",
        f"{s.prompt_tokens + s.completion_tokens:,} tok ({s.prompt_tokens:,} in, {s.completion_tokens:,} out)"
        f" of {led.caps.tokens:,}",
        f"${s.dollars:.4f} of ${led.caps.dollars:.4f}",
    ]


class Recorder:
    """A shown bar: counts its advance and keeps each text it is given, beside the ledger's spend at that moment."""

    live = True

    def __init__(self, led: Ledger):
        self.led, self.n, self.seen = led, 0, []

    def __call__(self, n: int = 1) -> None:
        self.n += n

    def info(self, text: str) -> None:
        self.seen.append((text, ledger_text(self.led)))


def recording_console(monkeypatch) -> Console:
    """Every bar and console line of this process into one wide, recorded console (bars shown)."""
    monkeypatch.setenv("BALDISTILL_PROGRESS", "1")
    con = Console(record=True, file=io.StringIO(), width=400)
    monkeypatch.setattr(progress, "console", con)
    monkeypatch.setattr(pipeline, "console", con)
    return con


def test_the_bar_text_holds_what_the_ledger_holds_as_each_reply_settles(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_mod.SpendView, "every", 0.0)  # refreshed as soon as a reply settles
    with FakeOpenAIServer(api_key=KEY, latency=0.05) as s:  # 4 at a time: replies settle in 3 waves
        eng, build = engine(s, tmp_path)
        bar = Recorder(eng.ledger)
        eng.execute(asks(build, 12), bar)
        eng.close()
    for text, want in bar.seen:
        assert all(w in text for w in want), (text, want)
    units = {int(text.split("/")[0]) for text, _ in bar.seen}
    assert bar.n == 12 and {0, 12} < units  # before, while and after the replies settle
    assert "12/40 units" in bar.seen[-1][0] and eng.ledger.spent == 12 and eng.ledger.dollars > 0


def test_the_bar_is_throttled_and_computes_nothing_when_progress_is_off(tmp_path, monkeypatch):
    calls = []
    real = Ledger.charges
    monkeypatch.setattr(Ledger, "charges", lambda led: calls.append(1) or real(led))
    with FakeOpenAIServer(api_key=KEY) as s:
        eng, build = engine(s, tmp_path)
        bar = Recorder(eng.ledger)
        eng.execute(asks(build, 30), bar)  # a fast server: the text is refreshed far less than once a reply
        assert bar.n == 30 and 2 <= len(bar.seen) < 30 and all(w in bar.seen[-1][0] for w in bar.seen[-1][1])
        calls.clear()
        monkeypatch.setenv("BALDISTILL_PROGRESS", "0")
        with progress.bar("stage 1: teacher annotation", 5) as advance:
            assert advance.live is False
            eng.execute(asks(build, 35)[30:], advance)
        eng.close()
    assert calls == []  # no bar shown: the ledger is not read for it


def test_the_teacher_bar_through_richs_console_and_a_batch_bar_with_its_state(tmp_path, monkeypatch):
    con = recording_console(monkeypatch)
    with FakeOpenAIServer(api_key=KEY) as s:
        eng, build = engine(s, tmp_path / "one")
        with progress.bar("stage 1: teacher annotation", 6) as advance:
            eng.execute(asks(build, 6), advance)
        one = ledger_text(eng.ledger)
        eng.close()
        beng, bbuild = engine(s, tmp_path / "batch", batch=True)
        beng.prefetch(asks(bbuild, 5), "stage 1: teacher batch")
        batch = ledger_text(beng.ledger)
        beng.close()
    out = con.export_text()
    line = next(x for x in out.splitlines() if "stage 1: teacher annotation" in x)
    assert all(w in line for w in one), (line, one)
    bline = next(x for x in out.splitlines() if "stage 1: teacher batch" in x)
    assert re.search(r"batch completed 5/5 · ", bline) and all(w in bline for w in batch), (bline, batch)
    assert "$0.0" in batch[2] and beng.ledger.caps.factor == 0.5  # the discounted dollars


def stage_warnings(led: Ledger, cfg, stages: int) -> list[int]:
    """Of the first ``stages`` stages, those at whose start the projection crossed max_dollars, worked from the
    ledger: at stage j's start the ledger held the rows of the stages before j."""
    plan, cs = plan_spend(cfg), led.charges()
    out = []
    for j in range(stages):
        f = project(plan, [c for c in cs if c.stage < j], range(j), cfg.teacher.max_tokens, caps_of(cfg).price)
        if f.dollars > cfg.teacher.max_dollars:
            out.append(j)
    return out


def test_a_projection_over_max_dollars_warns_at_its_stage_and_the_run_still_stops_exactly_at_the_cap(
    tiny_model, tmp_path, monkeypatch
):
    con = recording_console(monkeypatch)
    with FakeOpenAIServer(api_key=KEY) as s:  # stage 1 costs about $0.017, so stage 2 would cross $0.03
        cfg = load_config(tiny_config(tiny_model, budget=24, stages=2, teacher=teacher(s, max_dollars=0.03)))
        m = run(cfg, tmp_path / "run")
    out, log = con.export_text(), (tmp_path / "run/run.log").read_text()
    led = Ledger(Caps(24), tmp_path / "run/ledger.sqlite", recover=False)
    # the cap is enforced as before: reached where the next call's worst case would cross it, never crossed
    assert m.cap_reached and "dollar cap" in m.cap_reached
    had, worst = map(float, re.search(r"\$([\d.]+) \+ up to \$([\d.]+) >", m.cap_reached).groups())
    assert led.dollars <= 0.03 and had == pytest.approx(led.dollars, abs=5e-5) and had + worst > 0.03
    stage = int(m.cap_reached.split("stage ")[1].split(":")[0])
    assert stage == 2
    # warned at the start of each stage whose projection crossed the cap: stage 2's from stage 1's measured spend
    warned = [int(x) - 1 for x in re.findall(r"warning: stage (\d)/2: the projected teacher spend crosses", out)]
    assert warned == stage_warnings(led, cfg, stage) == [0, 1]
    assert all(f"stage {j + 1}/2: the projected teacher spend crosses teacher.max_dollars" in log for j in warned)
    assert out.index("warning: stage 2/2") < out.index("cap reached at stage 2")
    # a spend line after each stage's teacher steps, in the terminal and in run.log; the stage's bar as the ledger
    for j in range(stage):
        mine = sum(r["units"] for r in led.rows() if r["stage"] == j and r["status"] in CHARGED)
        line = f"spend at stage {j + 1}/2: {mine} units, "
        assert line in out and line in log
    first = [c for c in led.charges() if c.stage == 0]
    bar = next(x for x in out.splitlines() if "stage 1: teacher annotation" in x)
    units, tokens = sum(c.units for c in first), sum(c.prompt_tokens + c.completion_tokens for c in first)
    assert f"{units}/24 units · {tokens:,} tok" in bar and f"${sum(c.dollars for c in first):.4f} of $0.0300" in bar


def test_estimate_run_on_a_run_cut_short_in_stage_2_is_the_ledger_plus_the_rest_of_the_plan_at_measured_rates(
    tiny_model, tmp_path
):
    first = 12  # stage 1: 12 annotations; stage 2: 4 syntheses, then 8 annotations; cut after 3 syntheses
    with FakeOpenAIServer(api_key=KEY, faults=lambda n, body: "401" if n > first + 3 else None) as s:
        over = {"method": "baldistill-n", "budget": 24, "stages": 2, "teacher": teacher(s, concurrency=1)}
        cfg = load_config(tiny_config(tiny_model, **over))
        assert [(r["annotate"], r["synthesize"]) for r in estimate(cfg)] == [(first, 0), (8, 4)]
        with pytest.raises(TeacherError):
            run(cfg, tmp_path / "run")
    folder = tmp_path / "run"
    assert (folder / "stages/0/done.json").exists() and not (folder / "stages/1/done.json").exists()
    r = forecast_run(folder)
    rows = [x for x in Ledger(Caps(24), folder / "ledger.sqlite", recover=False).rows() if x["status"] in CHARGED]
    plan = estimate(cfg)
    assert r.done == [0] and not r.finished
    assert r.forecast.spent.units == sum(x["units"] for x in rows) == first + 3
    assert r.forecast.spent.tokens == sum(x["prompt_tokens"] + x["completion_tokens"] for x in rows)
    assert r.forecast.spent.dollars == pytest.approx(sum(x["dollars"] for x in rows))
    more_p = more_c = 0.0
    for kind in ("annotate", "synthesize"):
        left = plan[1][kind] - sum(x["units"] for x in rows if x["stage"] == 1 and x["kind"] == kind)
        settled = [x for x in rows if x["kind"] == kind and x["status"] in SETTLED]
        assert settled, kind  # both kinds were measured in stage 1
        p = sum(x["prompt_tokens"] for x in settled) / len(settled)
        c = sum(x["completion_tokens"] for x in settled) / len(settled)
        assert r.forecast.kinds[kind].remaining == left and r.forecast.kinds[kind].prompt == pytest.approx(p)
        more_p, more_c = more_p + left * p, more_c + left * c
    assert r.forecast.more_tokens == pytest.approx(more_p + more_c)
    assert r.forecast.more_dollars == pytest.approx((more_p * 10.0 + more_c * 40.0) / 1e6)
    assert r.forecast.dollars == pytest.approx(sum(x["dollars"] for x in rows) + (more_p * 10 + more_c * 40) / 1e6)
    res = CliRunner().invoke(app, ["estimate", "--run", str(folder)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert f"1 of 2 stage(s) done; spent {first + 3}/24 units" in text
    assert f"projected {round(r.forecast.tokens):,} tokens, ${r.forecast.dollars:.4f}" in text


def test_the_reference_teacher_shows_units_only(tiny_model, tmp_path, monkeypatch):
    con = recording_console(monkeypatch)
    run(load_config(tiny_config(tiny_model, budget=16, stages=2)), tmp_path / "run")
    out = con.export_text()
    lines = [x for x in out.splitlines() if ": teacher " in x or x.startswith("spend at stage")]
    assert any("teacher annotation" in x for x in lines) and any(x.startswith("spend at stage 2/2") for x in lines)
    for x in lines:
        assert re.search(r"\d+/16 units", x) and "$" not in x and " tok" not in x, x
