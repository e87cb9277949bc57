"""What the budget bought, as a data set people share: every example of a run's final training set and every other
paid teacher request, each traced to the ledger rows that paid for it (``baldistill export --dataset``).

Read from the run folder alone (the data files may be gone): ``config.yaml``, ``metrics.json``, ``stages/<i>/``
(``train.jsonl`` of the last completed stage is the final training set; the first ``selected.jsonl`` or
``synthetic.jsonl`` holding an id is the stage that chose it; ``quota.json`` whether its domain was head or tail
there) and ``ledger.sqlite`` (the charged rows, and the ``replies`` table: each judged reply's text, the checks'
verdict and, for a synthesis, the ids of the real examples its prompt showed). ``rows`` builds the two splits as
plain dicts (no ``datasets``, no torch); ``export_dataset`` writes them with ``datasets`` (``save_to_disk`` and
Parquet) and the card (``report/cards.py``).

Every charged ledger key is in exactly one row: a training example's row holds its own key (``annotate/<id>`` or
``synthesize/<id>``) and, for a verified synthetic example, its re-answers (``verify/<id>/<n>``); every other
charged key is in a row of the ``dropped`` split with the reason (the ledger's shortfall reason). A re-send after an
unknown outcome is a second ledger row of the same key: both are in the row (``ledger_rows``), and their tokens and
dollars count (units: one).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..budget.ledger import CHARGED, Caps, Ledger, ReplyRecord, shortfall_reason
from ..config import RunConfig, dump_config, load_config
from ..core.checks import synthesis_from
from ..core.methods import METHODS, Method
from ..core.results import RunMetrics
from ..data import Example, read_jsonl
from ..report.cards import DatasetFacts, DomainCounts, dataset_card
from .runfolder import RunFolder, RunFolderError

SPLITS = ("train", "dropped")
INSTALL = "pip install 'baldistill[data]'"

# one entry of a row's ``ledger_rows``: a charged ledger row as the ledger holds it
LEDGER_ROW = (
    ("row", "int64"),
    ("key", "string"),
    ("kind", "string"),
    ("stage", "int32"),
    ("status", "string"),
    ("units", "int32"),
    ("prompt_tokens", "int64"),
    ("completion_tokens", "int64"),
    ("reasoning_tokens", "int64"),
    ("dollars", "float64"),
    ("physical", "bool"),
    ("prompt", "string"),
    ("prompt_hash", "string"),
    ("note", "string"),
)

# the columns of both splits, in order, with their Arrow types ("[string]": a list of strings; "[ledger_row]": a list
# of LEDGER_ROW structs) and what each holds (docs/export.md is the same table)
COLUMNS = (
    ("id", "string", "the example's id (real: the data's id; synthetic: syn-<domain>-<n>; a paid copy: <id>#copy<c>)"),
    ("domain", "string", "its domain"),
    ("stage", "int32", "the stage (0-based, as stages/<i>) that chose it (dropped: that bought it)"),
    ("group", "string", "head or tail: its domain at that stage (quota.json); empty for a stage-wide quota"),
    ("source", "string", "real, synthetic, or duplicate (a paid copy of a real example)"),
    ("input", "string", "the input"),
    ("answer", "string", "the gold answer (synthetic: the teacher's answer)"),
    ("target", "string", "what the student learned to write (empty in dropped)"),
    ("reply", "string", "the text of the teacher's reply to the example's own request, as paid"),
    ("teacher", "string", "the teacher model (the reference simulation: reference)"),
    ("prompt", "string", "the prompt file of the example's own request (annotate_v1, synthesize_v2, ...)"),
    ("prompt_hash", "string", "that prompt's hash, as the ledger recorded it"),
    ("ledger_keys", "[string]", "the ledger keys that paid for it"),
    ("units", "int32", "budget units charged (a re-send after an unknown outcome takes none)"),
    ("calls", "int32", "ledger rows charged (re-sends included)"),
    ("sent", "int32", "of them sent to a server (physical); a reply served from a shared cache is not"),
    ("prompt_tokens", "int64", "prompt tokens charged, re-sends included"),
    ("completion_tokens", "int64", "completion tokens charged (reasoning tokens included)"),
    ("reasoning_tokens", "int64", "hidden reasoning tokens charged"),
    ("dollars", "float64", "dollars charged to this run (logical: a cached reply costs as if paid)"),
    ("physical_dollars", "float64", "dollars actually paid (0 for a reply served from a shared cache)"),
    ("check", "string", "the checks' verdict on the reply: ok, dropped, parse_error, unknown; empty without a teacher"),
    ("check_note", "string", "why, when not ok"),
    ("verification", "string", "verified synthesis: ok or dropped (the re-answers' majority); empty otherwise"),
    ("verification_note", "string", "e.g. 1/1 re-answers agree, or the rejection"),
    ("shown", "[string]", "synthetic: the ids of the real examples its synthesis request showed"),
    ("reason", "string", "dropped: why it is no training example (the ledger's shortfall reason); empty in train"),
    ("ledger_rows", "[ledger_row]", "every charged ledger row of its keys: " + ", ".join(n for n, _ in LEDGER_ROW)),
)


@dataclass
class RunData:
    """A run's final training set and every other paid request, as the rows of the two splits, with what the card
    says of them."""

    run: Path
    cfg: RunConfig
    metrics: RunMetrics | None
    last_stage: int  # the last completed stage (0-based)
    train: list[dict] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)
    ledger: dict = field(default_factory=dict)  # the ledger's totals over its charged rows

    def split(self, name: str) -> list[dict]:
        return self.train if name == "train" else self.dropped


def _prompt_names(cfg: RunConfig) -> dict[str, str]:
    t = cfg.teacher
    return {"annotate": t.annotate_prompt, "synthesize": t.synthesize_prompt, "verify": t.verify.prompt}


def _stage_files(folder: RunFolder) -> tuple[dict[str, int], dict[str, Example], dict[int, dict]]:
    """(id -> the first stage that chose it, id -> the example as chosen, stage -> quota.json), over every stage
    folder that holds them (a stage cut short included: its choice is written before its teacher replies)."""
    first: dict[str, int] = {}
    chosen: dict[str, Example] = {}
    quotas: dict[int, dict] = {}
    stages = sorted((int(p.name) for p in (folder.path / "stages").glob("*") if p.name.isdigit()), key=int)
    for i in stages:
        sp = folder.stage_path(i)
        if (sp / "quota.json").exists():
            quotas[i] = json.loads((sp / "quota.json").read_text(encoding="utf-8"))
        for name in ("selected.jsonl", "synthetic.jsonl"):
            if (sp / name).exists():
                for r in read_jsonl(sp / name):
                    first.setdefault(r["id"], i)
                    chosen.setdefault(r["id"], Example.from_json(r))
    return first, chosen, quotas


def _group(quota: dict | None, domain: str) -> str:
    """Head or tail of ``domain`` at a stage (its quota.json); empty for a stage-wide quota or no plan."""
    if not quota or "*" in quota.get("quota", {}):
        return ""
    if domain in quota.get("tail", []):
        return "tail"
    if domain in quota.get("head", []):
        return "head"
    return ""


def _led_row(r: dict, prompts: dict[str, str]) -> dict:
    return {
        "row": r["id"],
        "key": r["key"] or "",
        "kind": r["kind"],
        "stage": r["stage"],
        "status": r["status"],
        "units": r["units"],
        "prompt_tokens": r["prompt_tokens"],
        "completion_tokens": r["completion_tokens"],
        "reasoning_tokens": r["reasoning_tokens"] or 0,
        "dollars": r["dollars"],
        "physical": bool(r["physical"]),
        "prompt": prompts.get(r["kind"], ""),
        "prompt_hash": r["prompt_hash"] or "",
        "note": r["note"] or "",
    }


def _verdict(reply: ReplyRecord | None, last: dict | None) -> tuple[str, str]:
    """The checks' verdict on an example's own reply: as recorded with the reply; for a ledger written before
    replies were kept, from the ledger row's status (an unknown outcome, or a batch not read back, was never
    judged)."""
    if reply is not None:
        return reply.verdict, reply.note
    if last is None:
        return "", ""
    return last["status"], last["note"] or ""


class _Builder:
    def __init__(self, cfg: RunConfig, method: Method, led: Ledger | None, folder: RunFolder):
        self.cfg, self.method = cfg, method
        self.prompts = _prompt_names(cfg)
        self.teacher = (
            ""
            if not method.rationale
            else ("reference" if cfg.teacher.kind == "reference" else cfg.teacher.model or "")
        )
        self.first, self.chosen, self.quotas = _stage_files(folder)
        rows = [r for r in led.rows() if r["status"] in CHARGED] if led is not None else []
        self.by_example: dict[str, list[dict]] = {}
        for r in rows:
            self.by_example.setdefault(r["example_id"] or r["key"] or "", []).append(r)
        self.replies = led.replies() if led is not None else {}
        self.rows = rows
        self.prime = "Input: " if cfg.teacher.api == "completions" else ""  # RequestBuilder.synthesis_prime

    def row(self, ex_id: str, rows: list[dict], example: Example | None, train: bool, last_stage: int) -> dict:
        own = [r for r in rows if r["kind"] != "verify"]
        verify = [r for r in rows if r["kind"] == "verify"]
        last = own[-1] if own else None
        reply = next((self.replies[r["id"]] for r in reversed(own) if r["id"] in self.replies), None)
        kind = last["kind"] if last is not None else ("synthesize" if example and example.source == "synthetic" else "")
        if example is None and kind == "synthesize" and reply is not None and reply.text is not None:
            parsed = synthesis_from(self.prime + reply.text)
            if parsed is not None:
                example = Example(ex_id, last["domain"] if last else "", parsed[0], parsed[2], parsed[1], "synthetic")
        domain = example.domain if example is not None else (last or rows[0])["domain"]
        stage = self.first.get(ex_id)
        if stage is None or not train:
            stage = min((r["stage"] for r in (own or rows)), default=stage if stage is not None else 0)
        status, note = _verdict(reply, last)
        check, check_note, verification, verification_note = status, note, "", ""
        if verify:  # re-answers are asked only of a synthetic example that passed the checks: the verdict is theirs
            check, check_note, verification, verification_note = "ok", "", status, note
            if status == "ok" and example is not None and example.meta.get("verified"):
                verification_note = f"{example.meta['verified']} re-answers agree"
        if not rows and not self.method.rationale:
            check = ""  # labels only: no teacher, no check
        reason = ""
        if not train:
            why = shortfall_reason(kind, last["status"], last["note"] or "") if last is not None else None
            if why is not None:  # the checks' verdict, or an unknown outcome
                reason = why
            elif stage > last_stage:  # its reply was kept, but its stage never finished
                reason = f"{kind}: bought in stage {stage + 1}, which did not complete (--resume continues it)"
            elif last is not None and last["status"] == "submitted":
                reason = f"{kind}: in a teacher batch not yet read back"
            else:
                reason = f"{kind}: not in the final training set"
        source = example.source if example is not None else ("synthetic" if kind == "synthesize" else "real")
        keys = list(dict.fromkeys(r["key"] or "" for r in rows))
        return {
            "id": ex_id,
            "domain": domain,
            "stage": stage,
            "group": _group(self.quotas.get(stage), domain),
            "source": source,
            "input": example.input if example is not None else "",
            "answer": example.answer if example is not None else "",
            "target": self.method.target(example.rationale, example.answer) if train and example is not None else "",
            "reply": (reply.text or "") if reply is not None else "",
            "teacher": self.teacher if rows or train else "",
            "prompt": self.prompts.get(kind, "") if last is not None else "",
            "prompt_hash": (last["prompt_hash"] or "") if last is not None else "",
            "ledger_keys": keys,
            "units": sum(r["units"] for r in rows),
            "calls": len(rows),
            "sent": sum(bool(r["physical"]) for r in rows),
            "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
            "completion_tokens": sum(r["completion_tokens"] for r in rows),
            "reasoning_tokens": sum(r["reasoning_tokens"] or 0 for r in rows),
            "dollars": sum(r["dollars"] for r in rows),
            "physical_dollars": sum(r["dollars"] for r in rows if r["physical"]),
            "check": check,
            "check_note": check_note,
            "verification": verification,
            "verification_note": verification_note,
            "shown": list(reply.shown) if reply is not None else [],
            "reason": reason,
            "ledger_rows": [_led_row(r, self.prompts) for r in rows],
        }


def read_run(run: Path | str) -> RunData:
    """The two splits of a run folder (finished, or cut short: its last completed stage's training set). Raises
    RunFolderError when the folder holds no run or no completed stage."""
    run = Path(run)
    if not (run / "config.yaml").exists():
        raise RunFolderError(f"{run}: not a run folder (no config.yaml)")
    cfg = load_config(run / "config.yaml")
    method = METHODS.get(cfg.method)
    if method is None:
        raise RunFolderError(f"{run}: unknown method {cfg.method!r} in config.yaml")
    if not method.train:
        raise RunFolderError(f"{run}: method {cfg.method} trains on nothing: there is no data set to export")
    folder = RunFolder(run)
    last = folder.last_completed_stage()
    if last is None:
        raise RunFolderError(f"{run}: no completed stage (stages/<i>/done.json): nothing was trained yet")
    metrics = RunMetrics.load(run / "metrics.json") if (run / "metrics.json").exists() else None
    led = Ledger(Caps(0), run / "ledger.sqlite", recover=False) if (run / "ledger.sqlite").exists() else None
    try:
        b = _Builder(cfg, method, led, folder)
        data = RunData(run, cfg, metrics, last)
        train = [Example.from_json(r) for r in read_jsonl(folder.stage_path(last) / "train.jsonl")]
        left = dict(b.by_example)
        for e in train:
            data.train.append(b.row(e.id, left.pop(e.id, []), e, True, last))
        for ex_id, rows in left.items():  # in the ledger's order: the first row of each
            data.dropped.append(b.row(ex_id, rows, b.chosen.get(ex_id), False, last))
        data.ledger = {
            "units": sum(r["units"] for r in b.rows),
            "calls": len(b.rows),
            "sent": sum(bool(r["physical"]) for r in b.rows),
            "prompt_tokens": sum(r["prompt_tokens"] for r in b.rows),
            "completion_tokens": sum(r["completion_tokens"] for r in b.rows),
            "reasoning_tokens": sum(r["reasoning_tokens"] or 0 for r in b.rows),
            "dollars": sum(r["dollars"] for r in b.rows),
            "physical_dollars": sum(r["dollars"] for r in b.rows if r["physical"]),
            "physical_prompt_tokens": sum(r["prompt_tokens"] for r in b.rows if r["physical"]),
            "physical_completion_tokens": sum(r["completion_tokens"] for r in b.rows if r["physical"]),
        }
    finally:
        if led is not None:
            led.close()
    return data


def facts(data: RunData, name: str) -> DatasetFacts:
    """What the data set's card says, from the rows and the run's files."""
    cfg, m = data.cfg, data.metrics
    method = METHODS[cfg.method]
    scored = m.per_domain if m else {}
    domains: dict[str, DomainCounts] = {}
    order = list(m.n_train_by_domain) if m else []
    for r in data.train + data.dropped:
        if r["domain"] not in order:
            order.append(r["domain"])
    for d in order:
        reporting = ("tail" if scored[d].tail else "head") if d in scored else ""
        domains[d] = DomainCounts(domain=d, reporting=reporting)
    for r in data.train:
        c = domains[r["domain"]]
        c.train += 1
        c.by_source[r["source"]] = c.by_source.get(r["source"], 0) + 1
        if r["group"]:
            c.by_group[r["group"]] = c.by_group.get(r["group"], 0) + 1
    for r in data.dropped:
        domains[r["domain"]].dropped += 1
    for r in data.train + data.dropped:
        c = domains[r["domain"]]
        c.units += r["units"]
        c.dollars += r["dollars"]
    reasons = Counter(r["reason"] for r in data.dropped)
    t = cfg.teacher
    finished = m is not None and data.last_stage == cfg.effective_stages - 1
    return DatasetFacts(
        name=name,
        run=str(data.run),
        method=cfg.method,
        method_summary=method.summary,
        budget=cfg.budget,
        stages=cfg.effective_stages,
        last_stage=data.last_stage,
        finished=finished,
        task=cfg.data.task,
        teacher_kind=t.kind if method.rationale else "",
        teacher_model=("reference" if t.kind == "reference" else t.model or "") if method.rationale else "",
        teacher_label=(m.teacher or "") if m else "",
        prompts={k: v for k, v in _prompt_names(cfg).items() if k != "verify" or t.verify.samples},
        verify_samples=t.verify.samples if method.synthesize else 0,
        synthesis=method.synthesize,
        duplicate=method.duplicate,
        rationale=method.rationale,
        synthesis_bounds=(t.synthesis_min_chars, t.synthesis_max_chars),
        price=(t.price.input_per_mtok, t.price.output_per_mtok) if t.price else None,
        n_train=len(data.train),
        n_dropped=len(data.dropped),
        ledger=data.ledger,
        domains=list(domains.values()),
        reasons=dict(reasons.most_common()),
        cap_reached=m.cap_reached if m else None,
        config=dump_config(cfg),
        columns=[(n, desc) for n, _, desc in COLUMNS],
    )


def features():
    """The ``datasets`` Features of both splits."""
    from datasets import Features, Value

    def typ(t: str):
        if t == "[string]":
            return [Value("string")]
        if t == "[ledger_row]":
            return [{n: Value(x) for n, x in LEDGER_ROW}]
        return Value(t)

    return Features({n: typ(t) for n, t, _ in COLUMNS})


def _need_datasets():
    try:
        import datasets  # noqa: F401  (pulls pyarrow)
    except ImportError:
        raise RunFolderError(f"export --dataset needs the package 'datasets': {INSTALL}") from None


def check_destination(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunFolderError(f"{out} exists and is not empty")


def export_dataset(run: Path | str, out: Path | str) -> RunData:
    """Write the run's data set to ``out``: ``datasets.load_from_disk(out)`` loads it (``save_to_disk``), and
    ``data/<split>-00000-of-00001.parquet`` holds the same rows for the Hub, which ``README.md`` (the card) names in
    its YAML header. Loads no torch and no student."""
    run, out = Path(run), Path(out)
    check_destination(out)
    _need_datasets()
    data = read_run(run)
    import datasets
    from datasets import Dataset, DatasetDict

    feats = features()
    names = [n for n, _, _ in COLUMNS]
    dd = DatasetDict(
        {s: Dataset.from_dict({n: [r[n] for r in data.split(s)] for n in names}, features=feats) for s in SPLITS}
    )
    out.mkdir(parents=True, exist_ok=True)
    shown = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # its bars would print per split; the command prints one line
    try:
        # an empty split gets one (empty) shard: with none, load_from_disk cannot read it back
        dd.save_to_disk(str(out), num_shards={s: 1 for s in SPLITS if not len(dd[s])})
        (out / "data").mkdir(exist_ok=True)
        for s in SPLITS:
            dd[s].to_parquet(str(out / "data" / f"{s}-00000-of-00001.parquet"))
    finally:
        if shown:
            datasets.enable_progress_bars()
    (out / "README.md").write_text(dataset_card(facts(data, out.name)), encoding="utf-8")
    return data
