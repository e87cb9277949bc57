"""Command line: argument parsing over the Python API (``baldistill.run`` and friends).

Commands that only read data or files (``stats``, ``estimate``, ``ledger``, ``--help``) import no torch or
transformers: the student, the pipeline and the plots are imported inside the commands that need them.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from typer.core import TyperGroup

try:  # typer >= 0.20 carries its own copy of click
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer uses the click package
    import click

from .adapters import prepare as prepare_data
from .budget.ledger import Caps, Ledger
from .config import ConfigError, load_config
from .core import hygiene, policies
from .core.answers import parse_answer
from .core.plan import check_budget
from .core.results import RunMetrics, Summary
from .data import DataError, domain_counts, load_examples, read_records
from .report.terminal import (
    batches_table,
    compare_estimate_table,
    elapsed,
    estimate_table,
    ledger_table,
    prepare_table,
    print_table,
    results_table,
    run_estimate_table,
    run_table,
    stats_table,
)
from .runner.compare import compare as run_comparison
from .runner.estimate import estimate as estimate_rows
from .runner.estimate import estimate_comparison, forecast_run
from .runner.evaluate import Evaluator
from .runner.results import write_outputs, write_results
from .runner.runfolder import RunFolderError
from .runner.sweeps import make_spec
from .runtime.dist import is_main
from .runtime.progress import console
from .teacher.errors import TeacherError

DEBUG = False  # --debug anywhere on the command line, or BALDISTILL_DEBUG=1: tracebacks for every error


class _Group(TyperGroup):
    """Every error a user can fix is one line, including the option errors click reports (exit 2);
    ``--debug`` anywhere on the command line (or BALDISTILL_DEBUG=1) adds the traceback to every error."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        global DEBUG
        args = list(sys.argv[1:] if args is None else args)
        DEBUG = "--debug" in args or os.environ.get("BALDISTILL_DEBUG", "") not in ("", "0")
        args = [a for a in args if a != "--debug"]
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help())
            rv = 0
        except click.exceptions.ClickException as e:
            where = e.ctx.command_path if getattr(e, "ctx", None) else "baldistill"
            hint = " (--help lists the options)" if isinstance(e, click.exceptions.UsageError) else ""
            console.print(
                f"[red]error:[/red] {where}: {' '.join(e.format_message().split())}{hint}",
                highlight=False,
                soft_wrap=True,
            )
            rv = e.exit_code
        except typer.Abort:
            rv = 130
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Budget-capped multi-stage balanced distillation of a teacher LLM into a small student. "
    "Add --debug to any command to see tracebacks.",
)

CONFIGS = Path(__file__).parent / "configs"
BUNDLED = ("demo", "wide")  # the bundled data sets, each with its config: configs/<name>.yaml


def _fail(msg: str, code: int = 2):
    if DEBUG:
        traceback.print_exc()
    console.print(f"[red]error:[/red] {escape(msg)}", highlight=False, soft_wrap=True)  # its brackets are text
    raise typer.Exit(code)


def _guard(fn):
    """Exit codes: 0 done; 2 bad input found before the run starts (one line, nothing written); 3 a run that
    stopped because it cannot buy from its teacher (everything paid is kept: resume it); 130 Ctrl-C; 1 an
    internal error, i.e. a bug: the one case that prints a traceback without --debug."""

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except (ConfigError, DataError, RunFolderError) as e:
            _fail(str(e))
        except TeacherError as e:
            out = kw.get("out")
            _fail(
                f"{e}. The run stopped; nothing paid is lost. When the teacher answers again, continue it with "
                f"the same command plus --resume (--out {out}); base_url, timeout, retries, backoff, concurrency "
                "and api_key_env may change."
                if out
                else str(e),
                code=3,
            )
        except KeyboardInterrupt:
            out = kw.get("out")
            if DEBUG:
                traceback.print_exc()
            n = _open_batches(out) if out else 0
            running = (
                f" {n} teacher batch(es) keep running on the server and are picked up by id on resume "
                f"(baldistill batch status {out}; baldistill batch cancel {out} stops them)."
                if n
                else ""
            )
            console.print(
                "\n[yellow]interrupted.[/yellow]"
                + (
                    f" Completed stages are kept;{running} continue with the same command plus --resume (--out {out})."
                    if out
                    else ""
                ),
                soft_wrap=True,
                highlight=False,
            )
            raise typer.Exit(130) from None
        except (typer.Exit, click.exceptions.ClickException, typer.Abort):
            raise
        except Exception as e:  # a bug: say so, with the traceback, and a distinct exit code
            traceback.print_exc()
            console.print(
                f"[red]internal error[/red] (a bug in baldistill; please report it with the traceback "
                f"above): {type(e).__name__}: {e}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper


def _open_batches(out) -> int:
    """Batches of the run in ``out`` still open on the server (read without touching the ledger)."""
    return Ledger.open_batches(Path(out) / "ledger.sqlite")


def _run(cfg, out: Path, resume: bool):
    from .runner.pipeline import run  # torch, transformers and the student

    metrics = run(cfg, out, resume=resume)
    if not is_main():
        return metrics
    print_table(run_table(metrics))
    if metrics.cap_reached:
        console.print(f"[yellow]{escape(metrics.cap_reached)}[/yellow]", highlight=False, soft_wrap=True)
    console.print(f"run folder: {out}  (metrics.json, predictions.jsonl, stages/, ledger.sqlite, adapter/)")
    return metrics


@app.command()
@_guard
def demo(
    out: Annotated[Path, typer.Option(help="run folder (must not exist or be empty)")] = Path("runs/demo"),
    method: Annotated[str | None, typer.Option(help="override the method, e.g. random-ft-cot")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config field: key=value")] = None,
    resume: bool = False,
    data: Annotated[
        str, typer.Option(help="the bundled data set: demo (8 families, configs/demo.yaml) or wide (configs/wide.yaml)")
    ] = "demo",
):
    """Distil a bundled long-tailed data set (--data demo or wide) into SmolLM2-135M-Instruct with the reference
    teacher."""
    if data not in BUNDLED:
        _fail(f"--data {data!r}: use {' or '.join(BUNDLED)}")
    overrides = list(set_ or []) + ([f"method={method}"] if method else [])
    _run(load_config(_config_arg(Path(data)), overrides), out, resume)


@app.command("run")
@_guard
def run_cmd(
    config: Annotated[Path, typer.Argument(help="YAML config ('demo' or 'wide': a bundled one)")],
    out: Annotated[Path, typer.Option(help="run folder")] = Path("runs/run"),
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config field: key=value")] = None,
    resume: Annotated[bool, typer.Option(help="continue the run in --out after its last completed stage")] = False,
):
    """Run any distillation described by a config file."""
    _run(load_config(_config_arg(config), set_ or []), out, resume)


@app.command()
@_guard
def stats(
    data: Annotated[Path, typer.Argument(help="JSONL/CSV file with a domain field")],
    budget: Annotated[
        int | None, typer.Option(min=1, help="teacher budget B: marks head/tail and shows quotas")
    ] = None,
    stages: Annotated[int, typer.Option(min=1, help="K, stages the budget is spent over")] = 5,
    policy: Annotated[str, typer.Option(help="adaptive | naive | proportional")] = "adaptive",
    domain_field: str = "domain",
    test: Annotated[Path | None, typer.Option(help="a test file: report inputs it shares with DATA")] = None,
    reserve: Annotated[
        Path | None, typer.Option(help="a reserve file: report inputs it shares with DATA and --test")
    ] = None,
):
    """The long-tail profile of a dataset: per-domain counts, head/tail under a budget, a histogram; repeated
    examples, and inputs shared with a test or reserve file."""
    if policy not in ("adaptive", "naive", "proportional"):
        _fail(f"--policy {policy!r}: use adaptive, naive or proportional")
    if budget is not None:
        try:
            check_budget(budget, stages)
        except ValueError as e:
            _fail(f"--budget {budget}, --stages {stages}: {e}")
    fields = {"domain": domain_field}
    exs = load_examples(data, fields)
    others = {name: load_examples(path, fields, name) for name, path in (("test", test), ("reserve", reserve)) if path}
    print_table(stats_table(domain_counts(exs), budget, stages, policy))
    rep = hygiene.inspect(exs, others.get("test"), others.get("reserve"))
    if rep.n_repeats:
        per = ", ".join(f"{d} {n}" for d, n in sorted(rep.repeats.items(), key=lambda kv: -kv[1]))
        console.print(
            f"repeats: {rep.n_repeats} row(s) repeat an earlier (domain, input, answer): {per}; a run drops "
            "them (data.dedupe)",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print("repeats: none", highlight=False)
    if rep.overlap:
        console.print(
            "inputs shared between files: "
            + ", ".join(f"{k.replace('pool', 'data')} {n}" for k, n in rep.overlap.items()),
            highlight=False,
            soft_wrap=True,
        )


@app.command()
@_guard
def check(
    config: Annotated[Path, typer.Argument(help="YAML config ('demo' or 'wide': a bundled one)")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config field: key=value")] = None,
    out: Annotated[Path | None, typer.Option(help="also check this run folder (as run --out would)")] = None,
    resume: Annotated[bool, typer.Option(help="check --out as a run to resume")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the findings as JSON")] = False,
):
    """Pre-flight alone: the data, config, prompts, teacher (one GET /models) and student, as `run` checks them
    before it writes or pays anything. Exit 0 when a run would start, 2 when it would not."""
    from .runner.preflight import Finding, preflight

    findings, report = [], None
    try:
        cfg = load_config(_config_arg(config), set_ or [])
    except ConfigError as e:
        findings.append(Finding("error", "config", str(e)))
    else:
        pf = preflight(cfg, out, resume)
        findings, report = pf.findings, (pf.inputs.report.to_json() if pf.inputs else None)
    ok = not any(f.level == "error" for f in findings)
    if as_json:
        sys.stdout.write(
            json.dumps(
                {"ok": ok, "config": str(config), "findings": [f.to_json() for f in findings], "data": report}, indent=2
            )
            + "\n"
        )
    else:
        for f in findings:
            color = "red" if f.level == "error" else "yellow"
            console.print(f"[{color}]{f.level}:[/{color}] {escape(f.line())}", highlight=False, soft_wrap=True)
        if report:
            console.print(
                f"data: {report['pool_used']} of {report['pool_rows']} pool rows used; repeats "
                f"{sum(report['repeats'].values())}; shared inputs "
                + (", ".join(f"{k} {n}" for k, n in report["overlap"].items()) or "none"),
                highlight=False,
            )
        n_err = sum(f.level == "error" for f in findings)
        console.print(
            f"[green]ready:[/green] a run would start ({len(findings)} warning(s))"
            if ok
            else f"[red]not ready:[/red] {n_err} problem(s)",
            highlight=False,
        )
    if not ok:
        raise typer.Exit(2)


def _load_run(run: Path):
    from .runner.pipeline import load_student  # torch and transformers

    if not (run / "config.yaml").exists():
        _fail(f"{run}: not a run folder (no config.yaml)")
    cfg = load_config(run / "config.yaml")
    student = load_student(cfg)
    if (run / "adapter").exists():
        student.load_adapter(run / "adapter")
    return cfg, student


@app.command()
@_guard
def evaluate(
    run: Annotated[Path, typer.Option(help="run folder")],
    data: Annotated[Path, typer.Option(help="test file (JSONL/CSV)")],
    out: Annotated[Path | None, typer.Option(help="write scores here (JSON)")] = None,
):
    """Score a trained student on a test file, per domain, head and tail apart."""
    from .runner.inputs import Inputs

    cfg, student = _load_run(run)
    pool = Inputs.load(cfg).pool  # the pool the run used (repeats dropped as it dropped them)
    test = load_examples(data, cfg.data.fields, "test")
    sizes = domain_counts(pool)
    ev = Evaluator(
        pool, cfg.data.metric, cfg.data.task == "classification", policies.reporting_tail(sizes, cfg.reporting_budget)
    )
    summary, rows = ev.evaluate(student, test)
    done = RunMetrics.load(run / "metrics.json") if (run / "metrics.json").exists() else None
    title = f"{cfg.method} on {data}: B={cfg.budget}, K={cfg.effective_stages}" + (
        f", spent {done.spent}" if done else ""
    )
    print_table(
        results_table(
            Summary.model_validate(summary),
            title=title,
            pool_sizes=sizes,
            majority=Summary.model_validate(ev.majority(test)),
            n_test=len(test),
            n_train_by_domain=done.n_train_by_domain if done else None,
            caption=f"teacher: {done.teacher}" if done and done.teacher else "",
        )
    )
    if out:
        out.write_text(json.dumps({"summary": summary, "predictions": rows}, indent=2, default=str))


@app.command()
@_guard
def predict(
    run: Annotated[Path, typer.Option(help="run folder")],
    text: Annotated[str | None, typer.Argument(help="one input")] = None,
    data: Annotated[Path | None, typer.Option(help="JSONL/CSV file of inputs")] = None,
):
    """Use the distilled student: prints its rationale and the parsed answer (JSONL with --data)."""
    if (text is None) == (data is None):
        _fail("give either one TEXT or --data FILE")
    if not (run / "config.yaml").exists():
        _fail(f"{run}: not a run folder (no config.yaml)")
    rows = []
    if data is not None:  # read and check the inputs before the model is loaded
        key = load_config(run / "config.yaml").data.fields.get("input", "input")
        records = read_records(data)
        rows = [rec for _, _, rec in records]
        missing = [where for where, _, rec in records if not str(rec.get(key) or "").strip()]
        if missing:
            _fail(f"{missing[0]}: missing or empty field '{key}' (input)")
    cfg, student = _load_run(run)
    labels = None
    if cfg.data.task == "classification":
        labels = sorted({e.answer for e in load_examples(cfg.data.train, cfg.data.fields)})
    if text is not None:
        g = student.generate([text])[0]
        answer = str(parse_answer(g.text, labels))
        console.print(f"[bold]rationale:[/bold] {escape(g.text)}\n[bold]answer:[/bold] {escape(answer)}")
        return
    for r, g in zip(rows, student.generate([str(r[key]) for r in rows])):
        sys.stdout.write(json.dumps({**r, "rationale": g.text, "prediction": parse_answer(g.text, labels)}) + "\n")


@app.command()
@_guard
def export(
    run: Annotated[Path, typer.Option(help="run folder")],
    out: Annotated[Path | None, typer.Option(help="destination folder of the student, with its model card")] = None,
    merge: Annotated[bool, typer.Option(help="merge LoRA into the weights (a plain HF model in safetensors)")] = False,
    dataset: Annotated[
        Path | None,
        typer.Option(help="destination folder of the data it was trained on (a datasets folder, Parquet, a card)"),
    ] = None,
):
    """The student as a Hugging Face folder that transformers, vLLM and the HF tooling load directly (--out), and the
    data the budget bought as a Hugging Face data set, every example traced to what it cost (--dataset)."""
    from .runner.dataset import check_destination

    if out is None and dataset is None:
        _fail("export: give --out DIR (the student), --dataset DIR (its data), or both")
    if merge and out is None:
        _fail("export --merge: merges the student's weights; give --out DIR")
    if out is not None and dataset is not None and out.resolve() == dataset.resolve():
        _fail("export: --out and --dataset need two folders")
    for dest in (out, dataset):
        if dest is not None:
            check_destination(dest)
    if out is not None and not (run / "adapter" / "adapter_config.json").exists():
        _fail(f"{run}: no trained adapter (adapter/adapter_config.json); was the run finished?")
    if dataset is not None:
        from .runner.dataset import export_dataset  # datasets and pyarrow; no torch

        try:
            data = export_dataset(run, dataset)
        except RunFolderError as e:
            _fail(str(e))
        console.print(
            f"wrote the data set ({len(data.train)} training examples, {len(data.dropped)} dropped) to {dataset}",
            highlight=False,
        )
    if out is not None:
        from .runner.export import export_student  # torch and transformers

        export_student(run, out, merge, dataset=dataset.name if dataset is not None else None)
        console.print(f"wrote {'merged model' if merge else 'LoRA adapter'} to {out}", highlight=False)


@app.command()
@_guard
def estimate(
    config: Annotated[Path | None, typer.Argument(help="YAML config ('demo' or 'wide': a bundled one)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config field: key=value")] = None,
    run: Annotated[
        Path | None, typer.Option("--run", help="a run folder: what it spent and what the rest will cost")
    ] = None,
):
    """Expected teacher calls, tokens and dollars per stage, before anything is spent (no network); with --run DIR,
    what a run spent and the forecast of what remains, at the tokens per call measured so far."""
    if run is None:
        if config is None:
            _fail("estimate: give a CONFIG, or --run DIR for a run folder")
        cfg = load_config(_config_arg(config), set_ or [])
        print_table(estimate_table(cfg, estimate_rows(cfg)))
        return
    if config is not None or set_:
        _fail("estimate --run: takes the run's own config.yaml; give no CONFIG or --set")
    if not (run / "config.yaml").exists() or not (run / "ledger.sqlite").exists():
        _fail(f"{run}: not a run folder with a ledger (no config.yaml or ledger.sqlite)")
    r = forecast_run(run)
    print_table(run_estimate_table(run, r.cfg, r.forecast, r.done, r.finished, r.cap_reached))


@app.command()
@_guard
def ledger(
    run: Annotated[Path, typer.Argument(help="run folder")],
    csv_out: Annotated[Path | None, typer.Option("--csv", help="export every call as CSV")] = None,
    jsonl_out: Annotated[Path | None, typer.Option("--jsonl", help="export every call as JSONL")] = None,
):
    """The teacher spend of a run: per stage, domain and kind; logical (charged) and physical (sent)."""
    path = run / "ledger.sqlite"
    if not path.exists():
        _fail(f"{run}: no ledger.sqlite (not a run folder, or a run without teacher calls)")
    led = Ledger(Caps(0), path, recover=False)  # a reader: a run may be live beside it
    s = led.summary()
    print_table(ledger_table(run, s))
    if s.unknown_outcome:
        console.print(
            f"{s.unknown_outcome} call(s) had an unknown outcome (timeout, cut connection, 5xx) "
            "and stay charged at their worst case"
        )
    if s.submitted:
        console.print(
            f"{s.submitted} call(s) are in a teacher batch not yet read back: charged at their worst case "
            f"until it is (baldistill batch status {run}; --resume reads it)",
            soft_wrap=True,
            highlight=False,
        )
    for out in (csv_out, jsonl_out):
        if out:
            led.export(out)
            console.print(f"wrote {out}")


batch_app = typer.Typer(
    no_args_is_help=True, help="The teacher batches of a run with teacher.batch: true (the Batch API)."
)
app.add_typer(batch_app, name="batch")


def _batch_run(run: Path):
    """The run's ledger and a client for its teacher (from its saved config)."""
    import openai

    if not (run / "config.yaml").exists() or not (run / "ledger.sqlite").exists():
        _fail(f"{run}: not a run folder with a ledger (no config.yaml or ledger.sqlite)")
    t = load_config(run / "config.yaml").teacher
    if t.kind != "openai":
        _fail(f"{run}: its teacher is kind {t.kind!r}; batches are made only by kind: openai with teacher.batch: true")
    key = os.environ.get(t.api_key_env) if t.api_key_env else None
    if t.api_key_env and not key:
        _fail(f"teacher.api_key_env: the environment variable {t.api_key_env} is not set")
    return Ledger(Caps(0), run / "ledger.sqlite", recover=False), openai.OpenAI(
        base_url=t.base_url, api_key=key or "EMPTY", max_retries=2, timeout=min(t.timeout, 30.0)
    )


@batch_app.command("status")
@_guard
def batch_status(
    run: Annotated[Path, typer.Argument(help="run folder")],
    all_: Annotated[bool, typer.Option("--all", help="also the batches already finished")] = False,
):
    """The run's batches: what the ledger recorded and what the server says now."""
    import openai

    led, client = _batch_run(run)
    rows = led.batches(open_only=not all_)
    shown = []
    for b in rows:
        server, counts = "", ""
        if b["batch_id"] and b["state"] not in ("settled", "lost", "abandoned"):
            try:
                info = client.batches.retrieve(b["batch_id"])
                c = info.request_counts
                server, counts = info.status, (f"{c.completed}/{c.failed}/{c.total}" if c else "")
            except openai.OpenAIError as e:
                server = f"unreachable ({type(e).__name__})"
        shown.append((b, server, counts))
    print_table(batches_table(run, shown, all_))
    client.close()


@batch_app.command("cancel")
@_guard
def batch_cancel(run: Annotated[Path, typer.Argument(help="run folder")]):
    """Cancel the run's open batches on the server. What they answered is kept; --resume submits the rest again."""
    led, client = _batch_run(run)
    n = 0
    for b in led.batches(open_only=True):
        if not b["batch_id"]:
            console.print(f"batch {b['ref']}: never created on the server (resume settles it)", highlight=False)
            continue
        info = client.batches.cancel(b["batch_id"])
        led.update_batch(b["ref"], state=info.status)
        console.print(f"{b['batch_id']}: {info.status}", highlight=False)
        n += 1
    console.print(
        f"{n} batch(es) cancelled"
        + (
            f"; continue the run with --resume (--out {run}): the requests they did not run are submitted again"
            if n
            else ""
        ),
        highlight=False,
        soft_wrap=True,
    )
    client.close()


def _config_arg(config: Path) -> Path:
    """'demo' and 'wide' name the bundled configs of the two bundled data sets."""
    return CONFIGS / f"{config}.yaml" if str(config) in BUNDLED else config


@app.command()
@_guard
def compare(
    config: Annotated[Path, typer.Argument(help="YAML config of the base run ('demo' or 'wide': a bundled one)")],
    methods: Annotated[str, typer.Option(help="comma-separated methods, or 'all'")] = "all",
    seeds: Annotated[int, typer.Option(help="seeds per cell: seed, seed+1, ...")] = 1,
    stages: Annotated[str | None, typer.Option(help="stage counts K to sweep, e.g. 3,5,8 (first = default)")] = None,
    budgets: Annotated[str | None, typer.Option(help="teacher budgets B to sweep, e.g. 96,192")] = None,
    students: Annotated[str | None, typer.Option(help="student models to sweep, comma-separated")] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            help=(
                "sweep any setting, KEY=V1,V2 (repeatable; values as YAML, e.g. teacher.verify.samples=0,1); "
                "--stages/--budgets/--students are --sweep stages=/budget=/student.model="
            )
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            help=(
                "the method paired differences are taken against, or several, comma-separated (default "
                "random-ft-cot when compared, else the first method)"
            )
        ),
    ] = None,
    stage_eval: Annotated[
        int,
        typer.Option(
            help="multi-stage methods: also evaluate after each earlier stage on up to N test items per domain (0: off)"
        ),
    ] = 10,
    out: Annotated[Path, typer.Option(help="comparison folder; re-running the same command resumes it")] = Path(
        "runs/compare"
    ),
    estimate_only: Annotated[bool, typer.Option("--estimate", help="print the teacher spend, send nothing")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a base config field: key=value")] = None,
    reuse: Annotated[
        list[Path] | None,
        typer.Option(
            help=(
                "another comparison folder: its finished runs whose config is a cell's here serve that cell "
                "(hard links; repeatable)"
            )
        ),
    ] = None,
):
    """Every method under the same teacher budget, over seeds and sweeps: results.csv/json, paper-style tables, "
    "plots, report.html."""
    path = _config_arg(config)
    for r in reuse or []:
        if not (r / "compare.json").exists():
            _fail(f"--reuse {r}: not a comparison folder (no compare.json)")
    base = load_config(path, set_ or [])
    spec = make_spec(path, base, methods, seeds, stages, budgets, students, stage_eval or None, sweep or [], reference)
    if estimate_only:
        print_table(compare_estimate_table(estimate_comparison(base, spec, out, reuse or []), base))
        return
    logging.getLogger("baldistill").setLevel(logging.INFO)
    t0 = time.time()

    def on_cell(n, total, rid, resume):
        console.print(
            f"[bold][{n}/{total}][/bold] {rid}{' (resuming)' if resume else ''}  elapsed {elapsed(t0)}",
            highlight=False,
        )

    def on_reuse(got, total):
        console.print(
            f"{len(got)} of {total} cells served by finished runs of --reuse (hard-linked, not run)", highlight=False
        )

    try:
        run_comparison(base, spec, out, on_cell, reuse=reuse or [], on_reuse=on_reuse)
    except KeyboardInterrupt:
        console.print(
            f"\n[yellow]interrupted.[/yellow] Finished runs are kept; run the same command again to "
            f"continue (--out {out}).",
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    console.print((out / "table.md").read_text(), highlight=False, markup=False)
    console.print(
        f"comparison folder: {out} (results.csv, results.json, table.md, table_generalization.md, "
        f"plots/, report.html); wall time {elapsed(t0)}"
    )


@app.command()
@_guard
def report(folder: Annotated[Path, typer.Argument(help="comparison folder written by `baldistill compare`")]):
    """Rebuild the tables, plots and the self-contained report.html of a comparison folder."""
    if not (folder / "compare.json").exists():
        _fail(f"{folder}: no compare.json (not a comparison folder written by `baldistill compare`)")
    write_results(folder)
    write_outputs(folder)
    console.print(f"wrote {folder / 'report.html'}")


@app.command()
@_guard
def prepare(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="reuters | r52 | unifiedqa | math | hf")],
    source: Annotated[str, typer.Argument(help="the dataset's folder (hf: a hub name, folder or data file)")],
    out: Annotated[Path, typer.Option(help="writes train.jsonl, test.jsonl and config.yaml here")],
    budget: Annotated[
        int | None, typer.Option(help="B in config.yaml; default: the paper's per-domain budget x domains")
    ] = None,
    stages: int = 5,
    seed: int = 0,
    zipf_alpha: Annotated[float | None, typer.Option(help="Zipf-resample train (math default 1.1; 0: off)")] = None,
    max_per_domain: Annotated[int | None, typer.Option(help="Zipf: size of the largest domain")] = None,
    max_train: Annotated[int | None, typer.Option(help="seeded sample of at most N training examples")] = None,
    max_test: Annotated[int | None, typer.Option(help="seeded sample of at most N test examples")] = None,
    multi_label: Annotated[str | None, typer.Option(help="reuters: first | pairs")] = None,
    qa_kind: Annotated[str | None, typer.Option(help="unifiedqa: auto | mcqa | absqa")] = None,
    domains: Annotated[str | None, typer.Option(help="unifiedqa: comma-separated dataset folders")] = None,
    test_split: Annotated[str | None, typer.Option(help="unifiedqa: dev (default) | test")] = None,
    hf_config: Annotated[str | None, typer.Option(help="hf: dataset config name")] = None,
    hf_split: Annotated[str | None, typer.Option(help="hf: TRAIN,TEST split names (default train,test)")] = None,
    input_field: Annotated[str | None, typer.Option(help="hf: input column")] = None,
    answer_field: Annotated[str | None, typer.Option(help="hf: answer column")] = None,
    domain_field: Annotated[str | None, typer.Option(help="hf: domain column")] = None,
    task: Annotated[str | None, typer.Option(help="hf: qa | classification")] = None,
    metric: Annotated[str | None, typer.Option(help="hf: accuracy | token_f1")] = None,
    force: Annotated[bool, typer.Option(help="overwrite train/test/config in --out")] = False,
):
    """Convert a dataset of the paper from its original files into train/test JSONL and a config."""
    given = {
        "multi_label": multi_label,
        "kind": qa_kind,
        "domains": domains,
        "test_split": test_split,
        "config": hf_config,
        "splits": hf_split,
        "input_field": input_field,
        "answer_field": answer_field,
        "domain_field": domain_field,
        "task": task,
        "metric": metric,
    }
    s = prepare_data(
        fmt,
        source,
        out,
        budget=budget,
        stages=stages,
        seed=seed,
        zipf_alpha=zipf_alpha,
        max_per_domain=max_per_domain,
        max_train=max_train,
        max_test=max_test,
        overwrite=force,
        **{k: v for k, v in given.items() if v is not None},
    )
    doms = s["domains"]
    print_table(prepare_table(fmt, doms, s["budget"]))
    dropped = f"; {s['dropped_test']} test examples dropped (domain not in train)" if s["dropped_test"] else ""
    console.print(
        f"{s['train']} train / {s['test']} test examples; task {s['task']}, metric {s['metric']}; "
        f"B={s['budget']}, K={s['stages']} (tail: pool < B/l){dropped}" + (f"\n{s['note']}" if s["note"] else ""),
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    console.print(
        f"config: {s['config']}  (set the teacher, then: baldistill run {s['config']} --out runs/NAME)",
        soft_wrap=True,
        highlight=False,
    )


def main():  # pragma: no cover
    app()


if __name__ == "__main__":  # python -m baldistill.cli (e.g. under accelerate launch -m)
    app()
