"""The cards that go out with what a run bought (``baldistill export``): the data set's ``README.md`` and the model's,
each with the Hugging Face Hub's YAML header. Pure text from the facts the runner gathers (``DatasetFacts``,
``ModelFacts``); no file is read here.

Numbers are written so that a reader (and a test) can check them against ``metrics.json`` and the ledger: counts
and tokens as integers with thousands separators, dollars with 6 decimals (as the ledger's summary rounds them),
scores ×100 with one decimal (as every other table of the project). The license is left to the user: the card says
so and the header has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import yaml

from ..core.results import RunMetrics, Summary

DASH = "–"
LICENSE = (
    "**License: not set.** Choose one that the source data's license and the teacher's terms of use allow, and add "
    "`license: <id>` to the YAML header above."
)


def _n(x: int | float) -> str:
    return f"{int(x):,}"


def _usd(x: float) -> str:
    return f"${x:.6f}"


def _pct(x: float | None) -> str:
    return DASH if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _table(header: list[str], rows: list[list[str]], right_from: int = 1) -> str:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _header(meta: dict, comment: str) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + f"# {comment}\n---\n"


def size_category(n: int) -> str:
    """The Hub's size category of a data set of ``n`` rows."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
    bounds += [(10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    return next((name for bound, name in bounds if n < bound), "n>1T")


def task_categories(task: str) -> list[str]:
    return ["text-generation", "text-classification" if task == "classification" else "question-answering"]


def _code(text: str, lang: str = "") -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


# ---- the data set's card ------------------------------------------------------------------------------------
@dataclass
class DomainCounts:
    """One domain of the data set: its training examples by source and by head/tail at the stage that chose them,
    its dropped rows, and what both cost (units, dollars charged)."""

    domain: str
    reporting: str = ""  # head or tail in the run's reporting split (metrics.json), empty without metrics
    train: int = 0
    by_source: dict[str, int] = field(default_factory=dict)  # real, synthetic, duplicate
    by_group: dict[str, int] = field(default_factory=dict)  # head, tail (at the stage that chose each)
    dropped: int = 0
    units: int = 0
    dollars: float = 0.0


@dataclass
class DatasetFacts:
    name: str
    run: str
    method: str
    method_summary: str
    budget: int
    stages: int
    last_stage: int
    finished: bool
    task: str
    teacher_kind: str
    teacher_model: str
    teacher_label: str
    prompts: dict[str, str]
    verify_samples: int
    synthesis: bool
    duplicate: bool
    rationale: bool
    synthesis_bounds: tuple[int, int]
    price: tuple[float, float] | None
    n_train: int
    n_dropped: int
    ledger: dict  # totals over the charged rows: units, calls, sent, tokens, dollars, physical_dollars
    domains: list[DomainCounts]
    reasons: dict[str, int]  # dropped rows by reason
    cap_reached: str | None
    config: str  # config.yaml
    columns: list[tuple[str, str]]  # (name, what it holds)


def _checks(f: DatasetFacts) -> list[str]:
    out = []
    if f.rationale:
        out.append(
            "**Annotation** (real examples): the teacher is given the gold answer and writes a rationale; a rationale "
            "whose final answer disagrees with the gold, or that states none, is dropped (its cost stays)."
        )
    else:
        out.append("No teacher: the targets are the gold labels (`The answer is <answer>.`); nothing was checked.")
    if f.synthesis:
        lo, hi = f.synthesis_bounds
        out.append(
            "**Synthesis** (tail domains): a synthetic example is kept when its reply parses as input, reasoning and "
            f"answer, its reasoning and answer agree, its input has {lo} to {hi} characters, and it repeats no "
            "example of the domain's pool or an earlier synthetic one (exactly or nearly)"
            + ("; its answer must be one of the domain's labels." if f.task == "classification" else ".")
        )
    if f.verify_samples:
        k = f.verify_samples
        out.append(
            f"**Verification**: each synthetic example that passed those checks was re-answered {k} time(s) by the "
            "teacher from its input alone and kept when a strict majority of the re-answers agreed with its answer "
            "(each re-answer a budget unit of its own, in the example's row)."
        )
    if f.duplicate:
        out.append("**Duplicates**: tail deficits were filled with paid copies of the domain's real examples.")
    return out


def dataset_card(f: DatasetFacts) -> str:
    meta = {
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": "train", "path": "data/train-*.parquet"},
                    {"split": "dropped", "path": "data/dropped-*.parquet"},
                ],
            }
        ],
        "task_categories": task_categories(f.task),
        "size_categories": [size_category(f.n_train + f.n_dropped)],
        "tags": ["baldistill", "distillation"] + (["synthetic"] if f.synthesis else []),
        "pretty_name": f.name,
    }
    led = f.ledger
    teacher = f"`{f.teacher_model}`, kind `{f.teacher_kind}`" + (
        f" (metrics.json: {f.teacher_label})" if f.teacher_label else ""
    )
    parts = [
        _header(meta, "license: not set; choose one (see below)"),
        f"# {f.name}",
        "",
        f"The data a BalDistill run bought from its teacher under a budget of **{_n(f.budget)} "
        f"teacher calls**: the **{_n(f.n_train)} examples** its student was trained on (split `train`) and the "
        f"**{_n(f.n_dropped)} paid requests** that did not become training data (split `dropped`). Every row is "
        "traced to the ledger rows that paid for it, with its tokens and dollars, the teacher's reply and the checks' "
        "verdict.",
        "",
        LICENSE,
        "",
        "## How it was made",
        "",
        _table(
            ["", ""],
            [
                ["method", f"`{f.method}`: {f.method_summary}"],
                ["budget", f"{_n(f.budget)} teacher calls over K = {f.stages} stage(s)"],
                ["spent", f"{_n(led.get('units', 0))} of {_n(f.budget)} units"],
                ["teacher", teacher if f.teacher_model else "none (gold labels only)"],
                ["prompts", ", ".join(f"{k}: `{v}`" for k, v in f.prompts.items()) if f.rationale else DASH],
                [
                    "price",
                    f"${f.price[0]:g} / ${f.price[1]:g} per million prompt / completion tokens"
                    if f.price and any(f.price)
                    else "not set (dollars are 0)",
                ],
                ["run", f"`{f.run}`"],
            ],
            right_from=2,
        ),
        "",
    ]
    if not f.finished:
        parts += [
            f"The run is not finished: this is the training set after stage {f.last_stage + 1} of {f.stages}.",
            "",
        ]
    if f.cap_reached:
        parts += [f"A cap ended the buying: {f.cap_reached}.", ""]
    cols = ["calls", "units", "prompt tokens", "completion tokens", "reasoning tokens", "dollars"]
    parts += [
        "## Spend",
        "",
        "As the ledger charged it (`ledger.sqlite`, `baldistill ledger`). A call whose outcome was unknown (a timeout, "
        "a 5xx) is sent again as the same unit: both calls are charged and both are in the example's `ledger_rows`. "
        "A reply served from a shared cache is charged to the run (logical) but was not paid again (physical).",
        "",
        _table(
            [""] + cols,
            [
                ["charged to this run"]
                + [_n(led.get(k, 0)) for k in ("calls", "units", "prompt_tokens", "completion_tokens")]
                + [_n(led.get("reasoning_tokens", 0)), _usd(led.get("dollars", 0.0))],
                ["sent to the server (physical)", _n(led.get("sent", 0)), DASH]
                + [_n(led.get(k, 0)) for k in ("physical_prompt_tokens", "physical_completion_tokens")]
                + [DASH, _usd(led.get("physical_dollars", 0.0))],
            ],
        ),
        "",
        "## Per domain",
        "",
        "`train`: the training examples, by source and by whether the domain was head or tail at the stage that chose "
        "each (a tail domain's quota exceeded the real examples it had left); `reporting`: the run's fixed head/tail "
        "split for its scores. Units and dollars: charged for the domain's rows of both splits.",
        "",
    ]
    header = ["domain", "reporting", "train", "real", "synthetic", "duplicate", "head", "tail", "dropped"]
    header += ["units", "dollars"]
    body = []
    for d in f.domains:
        body.append(
            [f"`{d.domain}`", d.reporting or DASH, _n(d.train)]
            + [_n(d.by_source.get(s, 0)) for s in ("real", "synthetic", "duplicate")]
            + [_n(d.by_group.get(g, 0)) for g in ("head", "tail")]
            + [_n(d.dropped), _n(d.units), _usd(d.dollars)]
        )

    def tot(get) -> str:
        return _n(sum(get(d) for d in f.domains))

    body.append(
        ["**total**", "", tot(lambda d: d.train)]
        + [tot(lambda d, s=s: d.by_source.get(s, 0)) for s in ("real", "synthetic", "duplicate")]
        + [tot(lambda d, g=g: d.by_group.get(g, 0)) for g in ("head", "tail")]
        + [tot(lambda d: d.dropped), tot(lambda d: d.units), _usd(sum(d.dollars for d in f.domains))]
    )
    parts += [_table(header, body, right_from=2), ""]
    parts += ["## The checks", ""] + [f"- {c}" for c in _checks(f)] + [""]
    if f.reasons:
        parts += [
            "Why the rows of `dropped` are no training examples:",
            "",
            _table(["reason", "rows"], [[r, _n(n)] for r, n in f.reasons.items()]),
            "",
        ]
    parts += [
        "## Columns",
        "",
        "Both splits have the same columns.",
        "",
        _table(["column", "what it holds"], [[f"`{n}`", d] for n, d in f.columns], right_from=2),
        "",
        "## How to load",
        "",
        _code(
            "import datasets\n\n"
            f'ds = datasets.load_from_disk("{f.name}")  # this folder\n'
            "ds = datasets.load_dataset(  # its Parquet files\n"
            f'    "parquet", data_files={{"train": "{f.name}/data/train-*.parquet", '
            f'"dropped": "{f.name}/data/dropped-*.parquet"}}\n'
            ")\n"
            f'# once pushed to the Hub (the header names the Parquet files): datasets.load_dataset("<you>/{f.name}")\n'
            'pairs = [(r["input"], r["target"]) for r in ds["train"]]  # what the student learned',
            "python",
        ),
        "",
        "## The run's config",
        "",
        "<details><summary>config.yaml (resolved; no secrets)</summary>",
        "",
        _code(f.config, "yaml"),
        "",
        "</details>",
        "",
    ]
    return "\n".join(parts)


# ---- the model's card ---------------------------------------------------------------------------------------
@dataclass
class ModelFacts:
    name: str
    base_model: str  # as the config names it (an alias, a Hub id or a local path)
    hub_id: str | None  # the base model's Hub id, when known
    base_note: str  # what the student's base weights were, when they are not exactly the Hub's
    merged: bool
    method: str
    method_summary: str
    stages: int
    budget: int
    teacher_model: str
    teacher_label: str
    metrics: RunMetrics
    instruction: str
    chat: bool
    config: str
    dataset: str | None  # the data set exported beside it (its folder name), if any
    run: str


def _score_rows(m: RunMetrics) -> list[list[str]]:
    base: Summary | None = m.majority
    rows = []
    for d, s in m.per_domain.items():
        b = base.per_domain.get(d) if base is not None else None
        rows.append(
            [
                f"`{d}`",
                "tail" if s.tail else "head",
                _n(s.n),
                _n(m.n_train_by_domain.get(d, 0)),
                _pct(s.score),
                _pct(b.score if b is not None else None),
            ]
        )
    for label, get in (
        ("macro", lambda x: x.macro),
        ("micro", lambda x: x.micro),
        ("head macro", lambda x: x.head.macro),
        ("tail macro", lambda x: x.tail.macro),
    ):
        rows.append([f"**{label}**", "", "", "", _pct(get(m)), _pct(get(base) if base is not None else None)])
    return rows


def model_card(f: ModelFacts) -> str:
    m = f.metrics
    meta: dict = {}
    if f.hub_id:
        meta["base_model"] = f.hub_id
    meta["library_name"] = "transformers" if f.merged else "peft"
    meta["pipeline_tag"] = "text-generation"
    meta["tags"] = ["baldistill", "distillation"] + ([] if f.merged else ["lora"])
    base = f"`{f.hub_id}`" if f.hub_id else f"`{f.base_model}`"
    what = "with its LoRA adapter merged into the weights" if f.merged else "as a LoRA adapter"
    teacher = f"`{f.teacher_model}`" + (f" (metrics.json: {f.teacher_label})" if f.teacher_label else "")
    spend = m.ledger
    loader = (
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f'model = AutoModelForCausalLM.from_pretrained("{f.name}")'
        if f.merged
        else "from peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer\n\n"
        f'model = AutoPeftModelForCausalLM.from_pretrained("{f.name}")  # loads the base model, then the adapter'
    )
    instruction = f.instruction.replace("{", "{{").replace("}", "}}")
    user = "f" + repr((instruction + "\n\n" if instruction else "") + "{question}")
    tok = f'tok = AutoTokenizer.from_pretrained("{f.name}")\nquestion = "..."  # an input like the training data\'s\n'
    if f.chat:
        use = (
            tok + f'messages = [{{"role": "user", "content": {user}}}]\n'
            "ids = tok.apply_chat_template(\n"
            '    messages, add_generation_prompt=True, return_tensors="pt", return_dict=True\n'
            ")\n"
        )
    else:  # a base model: the prompt the student was trained with (Student.prompt_text)
        use = (
            tok + f'prompt = (tok.bos_token or "") + {user} + "\\nAnswer: Let\'s think step by step.\\n"\n'
            'ids = tok(prompt, add_special_tokens=False, return_tensors="pt")\n'
        )
    use += (
        "out = model.generate(**ids, max_new_tokens=256)\n"
        'print(tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))  # ... The answer is X.'
    )
    data = (
        f"the data set exported beside it, `{f.dataset}` (every example with what it cost and the checks' verdicts)"
        if f.dataset
        else f"`baldistill export --run {f.run} --dataset DIR` exports it with every example's cost and verdicts"
    )
    parts = [
        _header(meta, "license: not set; choose one (see below)"),
        f"# {f.name}",
        "",
        f"{base} distilled from the teacher {teacher} with BalDistill's `{f.method}` under a budget of "
        f"**{_n(f.budget)} teacher calls** over K = {f.stages} stage(s), {what}.",
        "",
        LICENSE.replace("the source data's license", "the base model's and the training data's licenses"),
        "",
    ]
    if f.base_note:
        parts += [f.base_note, ""]
    parts += [
        "## How it was made",
        "",
        _table(
            ["", ""],
            [
                [
                    "base model",
                    base + (f" (config: `{f.base_model}`)" if f.hub_id and f.hub_id != f.base_model else ""),
                ],
                ["method", f"`{f.method}`: {f.method_summary}"],
                ["stages", f"K = {f.stages}"],
                ["budget", f"B = {_n(f.budget)} teacher calls"],
                [
                    "spent",
                    f"{_n(m.spent)} of {_n(f.budget)} units; {_n(spend.prompt_tokens)} prompt and "
                    f"{_n(spend.completion_tokens)} completion tokens; {_usd(spend.dollars)} charged, "
                    f"{_usd(spend.physical.dollars)} paid",
                ],
                ["teacher", teacher],
                [
                    "training data",
                    f"{_n(m.n_train)} examples ({_n(m.n_train - m.n_train_synthetic - m.n_train_duplicate)} real, "
                    f"{_n(m.n_train_synthetic)} synthetic, {_n(m.n_train_duplicate)} paid copies): {data}",
                ],
                ["run", f"`{f.run}`"],
            ],
            right_from=2,
        ),
        "",
        "## Test scores",
        "",
        f"On {_n(m.n_test)} test items ({'accuracy' if not m.macro_f1 else 'accuracy; F1 in metrics.json'}, ×100), "
        "per domain, head and tail apart, beside the majority baseline (the most common answer of the domain's "
        "training pool; for classification the most common label overall). "
        "Tail: domains whose training pool held fewer than B/l examples.",
        "",
        _table(
            ["domain", "split", "test items", "training examples", "student", "majority baseline"], _score_rows(m), 2
        ),
        "",
    ]
    if m.cap_reached:
        parts += [f"A cap ended the buying: {m.cap_reached}.", ""]
    parts += [
        "## Use",
        "",
        "The student was trained to answer the instruction and input below with a short rationale ending "
        "`The answer is <answer>.`" + (" (chat template)." if f.chat else " (no chat template)."),
        "",
        _code(loader + "\n" + use, "python"),
        "",
        "## Reproduce",
        "",
        "`baldistill run config.yaml --out DIR` with this config (the resolved one the run wrote; the data files at "
        "the paths it names, and the teacher's key in the environment variable it names):",
        "",
        _code(f.config, "yaml"),
        "",
    ]
    return "\n".join(parts)
