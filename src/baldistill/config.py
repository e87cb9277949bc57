"""Typed run configuration, validated once on load with messages a user can act on.

A config is YAML; ``--set key.sub=value`` overrides any field (values parsed as YAML). Relative data
paths are resolved against the config file's folder.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from .core.methods import METHODS
from .core.plan import check_budget

MethodName = Literal[tuple(METHODS)]  # the registry's names, in its order

DEFAULT_INSTRUCTION = "Solve the task. Reason briefly, then end with: The answer is <answer>."


class ConfigError(ValueError):
    """A config that cannot be used; one line, naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Strict):
    train: Path = Field(
        description=(
            "the training pool: JSONL, a JSON array or CSV, one record per example with input, answer and domain "
            "(optional id and rationale, the reference teacher's reply); a relative path is resolved against the "
            "config file's folder"
        )
    )
    test: Path = Field(
        description=(
            "the test file (same format), in its natural distribution: scored at the end of the run, per domain, "
            "head and tail apart; every test domain must be in the pool"
        )
    )
    val: Path | None = Field(
        None,
        description=(
            "a validation file (same format), scored beside the test file in the same run: choose settings on it, "
            "never on test; unset: none"
        ),
    )
    reserve: Path | None = Field(
        None,
        description=(
            "unseen examples per domain (same format), used only by the reference teacher: it synthesizes tail "
            "examples by drawing from them; needed by a method that synthesizes with teacher.kind reference"
        ),
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "rename fields: the record field that holds each of input, answer, domain, id, rationale, "
            "e.g. {input: question, answer: label}"
        ),
    )
    task: Literal["qa", "classification"] = Field(
        "qa",
        description=(
            "qa: the answer is read from the student's 'The answer is ...' (else its last number or line); "
            "classification: answers are matched "
            "against the pool's label set (whole words, the longest label wins), test labels must occur in the "
            "pool, a synthetic example must carry one of its domain's labels, and macro/micro F1 are reported"
        ),
    )
    metric: Literal["accuracy", "token_f1"] = Field(
        "accuracy",
        description=(
            "how a prediction is scored against the gold answer: accuracy (match after normalisation, numbers "
            "compared as numbers) or token_f1 (word-level F1, SQuAD-style, for free-form answers)"
        ),
    )
    instruction: str = Field(
        DEFAULT_INSTRUCTION,
        description=(
            "the task instruction, put before every input in the student's prompt (training, IFD, evaluation) "
            "and given to the teacher's annotation and verification prompts; keep the 'The answer is' ending "
            "that the answer parser reads"
        ),
    )
    max_test_per_domain: int | None = Field(
        None,
        ge=1,
        description=(
            "score at most this many test items per domain (a seeded random subset) to shorten evaluation; "
            "the validation file is scored whole; unset: every test item"
        ),
    )
    reporting_budget: int | None = Field(
        None,
        ge=1,
        description="report head and tail as split at this budget (tail: pool smaller than it / domains) "
        "instead of the run's own B, so runs of several budgets report on one split",
    )
    dedupe: bool = Field(
        True,
        description=(
            "drop pool rows that repeat an earlier (domain, input, answer): each would be a training "
            "example no budget unit paid for"
        ),
    )
    test_overlap: Literal["error", "drop", "allow"] = Field(
        "error",
        description=(
            "pool or reserve inputs that are also test or validation inputs: stop (error), remove them from the pool "
            "and reserve (drop), or keep them (allow)"
        ),
    )

    @model_validator(mode="after")
    def _fields(self):
        bad = set(self.fields) - {"input", "answer", "domain", "id", "rationale"}
        if bad:
            raise ValueError(f"data.fields: unknown keys {sorted(bad)}; allowed: input, answer, domain, id, rationale")
        return self


class LoraConfig(_Strict):
    r: int = Field(8, ge=1, description="LoRA rank (peft r): the adapter's size; higher learns more and costs more")
    alpha: int = Field(16, ge=1, description="LoRA scaling (peft lora_alpha): the update is scaled by alpha / r")
    dropout: float = Field(
        0.0, ge=0, lt=1, description="dropout on the adapter's input while training (peft lora_dropout)"
    )
    target_modules: list[str] | str = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj"],
        description=(
            "the modules the adapter wraps (peft target_modules): a list of module names, or one string "
            "(a regular expression over full module names, or all-linear); the default fits Llama-style "
            "attention layers: change it for a model whose projections are named otherwise"
        ),
    )


class TrainConfig(_Strict):
    epochs: float = Field(
        4,
        gt=0,
        description=(
            "passes over the training set per fine-tune (HF num_train_epochs; a fraction is allowed); "
            "scheme paper trains on everything selected so far at every stage"
        ),
    )
    lr: float = Field(2e-3, gt=0, description="peak learning rate of the adapter's optimiser (HF learning_rate)")
    batch_size: int = Field(
        8,
        ge=1,
        description=(
            "examples per optimiser step, over all processes: under N processes (accelerate launch, torchrun) each "
            "takes batch_size / N (N must divide it), so the steps are those of one process"
        ),
    )
    grad_accum: int = Field(
        1,
        ge=1,
        description=(
            "steps whose gradients are summed before each optimiser update (HF gradient_accumulation_steps): "
            "the effective batch is batch_size × grad_accum"
        ),
    )
    warmup_ratio: float = Field(
        0.1, ge=0, lt=1, description="share of the training steps over which the learning rate rises linearly from 0"
    )
    scheduler: str = Field(
        "linear",
        description=(
            "the learning-rate schedule after the warm-up, an HF lr_scheduler_type name: linear, cosine, "
            "constant_with_warmup, ..."
        ),
    )
    weight_decay: float = Field(0.0, ge=0, description="weight decay of the optimiser (HF weight_decay)")
    max_length: int = Field(
        384,
        ge=16,
        description=(
            "prompt + response tokens per training example; a longer example keeps its whole response and loses "
            "the start of its prompt"
        ),
    )
    scheme: Literal["paper", "continue", "select-then-train", "replay"] = Field(
        "paper",
        description="paper: a fresh LoRA on everything selected so far, every stage; continue: the adapter "
        "continues on each stage's new examples; select-then-train: cheap selection students "
        "between stages, then one fine-tune on the whole selected set; replay: the adapter continues on each "
        "stage's new examples plus `replay` earlier ones per new one (about (1 + replay) × one fine-tune in all)",
    )
    selection_epochs: float = Field(
        1.0, gt=0, description="select-then-train: epochs of a selection student on its stage's new examples"
    )
    replay: float | None = Field(
        None,
        ge=0,
        description=(
            "select-then-train and replay: a stage's training also sees this many earlier examples per new one, "
            "drawn at random (the rest of the training set is not seen again at that stage); unset: 0 under "
            "select-then-train, 0.5 under replay"
        ),
    )
    report_to: str | list[str] = Field(
        "none",
        description="experiment trackers, as the HF Trainer names them: none, all (every installed one), or "
        "any of tensorboard (offline, in the run folder's tracker/), wandb, mlflow; one tracker run "
        "per BalDistill run, steps continuous across stages",
    )

    @field_validator("report_to", mode="before")
    @classmethod
    def _report_to(cls, v):
        names = v.split(",") if isinstance(v, str) else v
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise ValueError("give a tracker name or a list of them: none, all, tensorboard, wandb, mlflow")
        names = [n.strip().lower() for n in names if n.strip()]
        if not names or names == ["none"]:
            return "none"
        if names == ["all"]:
            return "all"
        allowed = ("tensorboard", "wandb", "mlflow")
        bad = [n for n in names if n not in allowed]
        if bad or len(names) > 1 and ("none" in names or "all" in names):
            raise ValueError(
                f"unknown tracker {', '.join(bad or names)!s}: use none, all, or any of {', '.join(allowed)}"
            )
        names = list(dict.fromkeys(names))
        return names[0] if len(names) == 1 else names

    @property
    def effective_replay(self) -> float:
        """``replay``, or its default for the scheme when unset."""
        if self.replay is not None:
            return self.replay
        return 0.5 if self.scheme == "replay" else 0.0


class GenerationConfig(_Strict):
    max_new_tokens: int = Field(
        64,
        ge=1,
        description=(
            "most tokens the student writes per greedy rationale: in evaluation, predict, and the rationales IFD "
            "scores unless selection.max_new_tokens is set"
        ),
    )
    batch_size: int = Field(
        64,
        ge=1,
        description=(
            "prompts per generation batch, sorted by length (rows that end leave it); lower it when memory is short"
        ),
    )


class StudentConfig(_Strict):
    model: str = Field(
        "smollm2-135m-instruct",
        description=(
            "a Hugging Face causal LM: a hub name, a local folder, or an offline alias (smollm2-135m-instruct, "
            "installed by scripts/setup.sh; gemma3-270m, a base model)"
        ),
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="the weights' dtype; auto: bfloat16 on a CUDA GPU that supports it, else float32",
    )
    device: str = Field(
        "auto",
        description=(
            "a torch device (cpu, cuda, cuda:1, mps); auto: the process's CUDA GPU (one per process under a "
            "launcher), else Apple MPS, else the CPU"
        ),
    )
    threads: int | None = Field(
        None,
        ge=1,
        description=(
            "torch CPU threads (torch.set_num_threads); unset: torch's default, the cores; 1 for each of two "
            "processes sharing a small machine"
        ),
    )
    lora: LoraConfig = Field(LoraConfig(), description="the LoRA adapter (peft) trained on the frozen student")
    train: TrainConfig = Field(
        TrainConfig(), description="fine-tuning the adapter with the HF Trainer (loss on the response tokens only)"
    )
    generation: GenerationConfig = Field(
        GenerationConfig(),
        description="the student's greedy generation: the rationales IFD scores, evaluation and predict",
    )
    score_batch_size: int = Field(
        16, ge=1, description="sequences per IFD forward pass (length-bucketed); lower it when memory is short"
    )
    trust_remote_code: bool = Field(
        False, description="run Python code shipped with a hub model (only for models you trust)"
    )
    allow_pickle_weights: bool = Field(
        False,
        description=(
            "load pickle-based weight files (pytorch_model.bin) when a model has no safetensors; pickle can run code"
        ),
    )


class PriceConfig(_Strict):
    input_per_mtok: float = Field(0.0, ge=0, description="dollars per million prompt tokens")
    output_per_mtok: float = Field(
        0.0, ge=0, description="dollars per million completion tokens (hidden reasoning tokens included)"
    )
    batch_discount: float = Field(
        0.5,
        ge=0,
        lt=1,
        description="with teacher.batch: the fraction taken off both prices "
        "for requests sent through the Batch API (0.5: half price)",
    )

    def factor(self, batch: bool) -> float:
        """What a request costs relative to the listed prices: 1, or 1 - batch_discount through the Batch API."""
        return 1.0 - self.batch_discount if batch else 1.0


NOISE_KINDS = ("wrong_answer", "other_domain", "near_copy", "malformed")


class SynthesisNoise(_Strict):
    """Reference teacher: the rate of each kind of bad synthetic example (one categorical draw per example).
    A single number r means r split evenly over the four kinds."""

    wrong_answer: float = Field(0.0, ge=0, le=1, description="a wrong answer, with a rationale that argues for it")
    other_domain: float = Field(
        0.0, ge=0, le=1, description="a correct example of another domain, passed off as this one"
    )
    near_copy: float = Field(0.0, ge=0, le=1, description="a seed example with its wording changed, same content")
    malformed: float = Field(
        0.0, ge=0, le=1, description="a reply that does not follow the Input/Reasoning/Answer format"
    )

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if not 0 <= v <= 1:
                raise ValueError(f"must be between 0 and 1, got {v}")
            return {k: v / len(NOISE_KINDS) for k in NOISE_KINDS}
        return v

    @model_validator(mode="after")
    def _total(self):
        if self.total > 1 + 1e-9:
            raise ValueError(f"the rates add up to {self.total:g}; at most 1")
        return self

    @property
    def total(self) -> float:
        return sum(getattr(self, k) for k in NOISE_KINDS)

    def rates(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in NOISE_KINDS}


class VerifyConfig(_Strict):
    samples: int = Field(
        0,
        ge=0,
        description="re-answers per synthetic example from its input alone (0 = off); "
        "kept when they agree with its answer (a strict majority for k > 1)",
    )
    temperature: float = Field(
        0.0, ge=0, le=2, description="sampling temperature of the re-answers; must be above 0 when samples > 1"
    )
    prompt: str = Field(
        "verify_v1",
        description=(
            "the re-answer prompt: a shipped name or a path ending in .txt (### system / ### user sections; "
            "relative to the working folder); placeholders {instruction}, {input}, {labels}"
        ),
    )

    @model_validator(mode="after")
    def _check(self):
        if self.samples > 1 and self.temperature <= 0:
            raise ValueError(
                f"teacher.verify.samples: {self.samples} re-answers need teacher.verify.temperature > 0 "
                "(greedy re-answers would all be the same), e.g. 0.7"
            )
        return self


class VerifierConfig(_Strict):
    """The reference teacher's simulated verifier (it knows which of its synthetic examples are right)."""

    accept_correct: float = Field(
        0.9,
        ge=0,
        le=1,
        description="probability a simulated re-answer agrees with a correct synthetic example (assumed, not measured)",
    )
    reject_wrong: float = Field(
        0.8,
        ge=0,
        le=1,
        description=(
            "probability a simulated re-answer disagrees with a wrong synthetic example (assumed, not measured)"
        ),
    )


class TeacherConfig(_Strict):
    kind: Literal["reference", "openai"] = Field(
        "reference",
        description=(
            "reference: the offline simulation (replies with the data's own rationales, synthesizes by drawing "
            "from data.reserve, costs nothing); openai: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, "
            "Ollama, SGLang), needs teacher.model"
        ),
    )
    model: str | None = Field(None, description="model name on the server; required for kind: openai")
    base_url: str | None = Field(
        None, description="kind: openai: the server's API root, e.g. http://127.0.0.1:8000/v1; null: the OpenAI API"
    )
    api_key_env: str | None = Field(
        "OPENAI_API_KEY",
        description=(
            "kind: openai: the environment variable holding the API key (never stored); null for a server without one"
        ),
    )
    api: Literal["chat", "completions"] = Field(
        "chat",
        description=(
            "kind: openai: chat sends the prompt's messages to /v1/chat/completions; completions sends one plain "
            "prompt to /v1/completions, for base models"
        ),
    )
    token_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens",
        description="the request field that carries max_tokens; max_completion_tokens for reasoning models",
    )
    max_tokens: int = Field(
        256, ge=1, description="completion tokens per call at most (reserved in the ledger as its worst case)"
    )
    temperature: float = Field(
        0.0,
        ge=0,
        le=2,
        description="sampling temperature of annotation requests (kind: openai); 0: greedy; above 0 with fresh_samples",
    )
    synthesis_temperature: float = Field(
        0.7,
        ge=0,
        le=2,
        description=(
            "sampling temperature of synthesis requests (kind: openai); each request differs in content, so 0 "
            "still makes different examples"
        ),
    )
    fresh_samples: bool = Field(
        False,
        description=(
            "a repeated example (duplicate-ft-cot) or another seed gets a new teacher sample instead of "
            "the cached rationale (use a temperature > 0)"
        ),
    )
    concurrency: int = Field(
        8,
        ge=1,
        description=(
            "requests in flight at once (kind: openai; the reference teacher answers one at a time); may change "
            "on --resume"
        ),
    )
    timeout: float = Field(60.0, gt=0, description="seconds per request before its outcome counts as unknown")
    max_retries: int = Field(
        5,
        ge=0,
        description=(
            "retries of a request the server refused (429, connection refused) or whose outcome is unknown "
            "(timeout, 5xx); then the teacher counts as gone and the run stops with exit 3 (--resume goes on); "
            "with teacher.batch also how often a failed or expired request is submitted again"
        ),
    )
    backoff: float = Field(1.0, ge=0, description="first retry delay in seconds (doubles, with jitter)")
    backoff_max: float = Field(
        30.0, ge=0, description="longest retry delay in seconds (a server's Retry-After is waited as given)"
    )
    batch: bool = Field(
        False,
        description="kind: openai: send each stage's requests through the Batch API (/v1/files, "
        "/v1/batches): results within 24 h at price.batch_discount off",
    )
    batch_poll: float = Field(10.0, gt=0, description="first wait between two looks at a batch, in seconds (doubles)")
    batch_poll_max: float = Field(300.0, gt=0, description="the longest wait between two looks at a batch, in seconds")
    cache: Path | None = Field(
        None,
        description=(
            "the reply cache file, shareable across runs (a relative path: against the config file's folder); "
            "unset: <out>/teacher_cache.sqlite, and no cache for the reference teacher; compare points every run "
            "at its one shared cache"
        ),
    )
    price: PriceConfig = Field(
        PriceConfig(), description="what the teacher's tokens cost: for the ledger, estimate and teacher.max_dollars"
    )
    max_total_tokens: int | None = Field(
        None, ge=1, description="hard cap on prompt + completion tokens over the run, never crossed; unset: none"
    )
    max_dollars: float | None = Field(
        None, gt=0, description="hard cap on dollars over the run, never crossed (needs teacher.price); unset: none"
    )
    annotate_prompt: str = Field(
        "annotate_v1",
        description=(
            "the annotation prompt: a shipped name or a path ending in .txt (### system / ### user sections; "
            "relative to the working folder); placeholders {instruction}, {input}, {answer}"
        ),
    )
    synthesize_prompt: str = Field(
        "synthesize_v2",
        description=(
            "the synthesis prompt: a shipped name (synthesize_v1 of earlier versions still loads) or a path "
            "ending in .txt (relative to the working folder); placeholders {domain}, {examples}, {avoid}, "
            "{sample}, {format}"
        ),
    )
    structured: Literal["auto", "json_schema", "json_object", "off"] = Field(
        "auto",
        description="structured output (kind: openai, api: chat): synthesis and verification ask for a JSON object; "
        "auto tries json_schema, then json_object, then text, as the server accepts; an explicit form also "
        "applies to annotation",
    )
    synthesis_avoid: int = Field(
        20,
        ge=0,
        description=(
            "synthetic inputs of earlier stages listed in a synthesis prompt for the teacher to avoid (the most recent)"
        ),
    )
    synthesis_noise: SynthesisNoise = Field(
        default_factory=SynthesisNoise,
        description=(
            "reference teacher: rates of bad synthetic examples per kind, or one number split evenly "
            "over the four kinds"
        ),
    )
    verify: VerifyConfig = Field(
        VerifyConfig(),
        description=(
            "verified synthesis, for any method that synthesizes: the teacher re-answers each synthetic example "
            "that passed the checks; every re-answer is a budget unit"
        ),
    )
    verifier: VerifierConfig = Field(
        VerifierConfig(),
        description="the reference teacher's simulated verifier: its rates, used when teacher.verify.samples > 0",
    )
    synthesis_seeds: int = Field(
        3,
        ge=0,
        description="real examples of the domain shown in each synthesis request (another window of them per request)",
    )
    synthesis_min_chars: int = Field(
        1, ge=1, description="shortest synthetic input kept, in characters; a shorter one is dropped (still paid)"
    )
    synthesis_max_chars: int = Field(
        2000, ge=1, description="longest synthetic input kept, in characters; a longer one is dropped (still paid)"
    )

    @model_validator(mode="after")
    def _check(self):
        if self.kind == "openai" and not self.model:
            raise ValueError("teacher.model is required for kind: openai")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"teacher.base_url: {self.base_url!r} must start with http:// or https://, "
                "e.g. http://127.0.0.1:8000/v1"
            )
        if self.structured in ("json_schema", "json_object") and self.api == "completions":
            raise ValueError(
                f"teacher.structured: {self.structured} needs api: chat (the completions endpoint "
                "takes no response_format); use auto or off"
            )
        if self.batch and self.kind != "openai":
            raise ValueError(
                f"teacher.batch: the Batch API needs kind: openai (kind is {self.kind!r}, which answers "
                "at once); set teacher.batch: false"
            )
        if self.max_dollars is not None and not (self.price.input_per_mtok or self.price.output_per_mtok):
            raise ValueError("teacher.max_dollars needs teacher.price (input_per_mtok / output_per_mtok)")
        return self


class SelectionConfig(_Strict):
    ifd_variant: Literal["ppl_ratio", "loss_ratio"] = Field(
        "ppl_ratio",
        description=(
            "how IFD is computed: ppl_ratio, PPL(y | x) / PPL(y) (the paper's); loss_ratio, the ratio of mean "
            "losses (Cherry-LLM's); the same IFD < 1 cut, but they may rank differently"
        ),
    )
    response: Literal["generated", "reference"] = Field(
        "generated",
        description=(
            "y in IFD: the student's own rationale (paper). 'reference' reads unpaid teacher text; never "
            "use it in comparisons"
        ),
    )
    drop_ifd_ge_1: bool = Field(
        False,
        description=(
            "rank candidates with IFD >= 1 last (Cherry-LLM's rule); they are taken only when too few remain below 1"
        ),
    )
    candidate_factor: float = Field(
        4.0,
        ge=1,
        description="at stages >= 1 score this many random candidates per example taken (all that are left when fewer)",
    )
    candidates_per_domain: int | None = Field(
        None,
        ge=1,
        description="an absolute cap on the candidates a domain scores per stage (never fewer than it takes)",
    )
    max_new_tokens: int | None = Field(
        None,
        ge=1,
        description="length of the student's rationale that IFD scores; unset: student.generation.max_new_tokens",
    )
    feedback_floor: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "methods with the feedback policy: the part of each stage's share spread equally over the domains; "
            "the rest follows each domain's error (1 − the student's smoothed score; docs/methods.md)"
        ),
    )
    feedback_smoothing: float = Field(
        0.5,
        gt=0,
        le=1,
        description=(
            "methods with the feedback policy: the weight of a stage's new score in a domain's smoothed score "
            "(1: the newest measurement alone)"
        ),
    )


class RunConfig(_Strict):
    _notes: list[str] = PrivateAttr(default_factory=list)  # settings of earlier versions that were translated
    method: MethodName = Field(
        "baldistill-n",
        description=(
            "how the budget is spent: one of the method registry's names (listed below; docs/methods.md); "
            "the default was the best on the demo's validation split (docs/results.md)"
        ),
    )
    budget: int = Field(
        ...,
        ge=1,
        description=(
            "the teacher budget B in teacher calls (one call, annotation, synthesis or re-answer, is one unit); "
            "at least stages"
        ),
    )
    stages: int = Field(
        5, ge=1, description="K, the stages the budget is spread over (B/K each); single-stage methods ignore it"
    )
    seed: int = Field(
        0,
        description=(
            "the seed every random draw derives from (candidates, adapter init, the reference teacher, test "
            "subsets), so --resume repeats an uninterrupted run; compare --seeds N runs seed, seed + 1, ..."
        ),
    )
    data: DataConfig = Field(description="the data files, and how answers are parsed and scored")
    student: StudentConfig = Field(
        StudentConfig(), description="the student: the model, its LoRA adapter, training and generation"
    )
    teacher: TeacherConfig = Field(
        TeacherConfig(),
        description=(
            "the teacher that annotates, synthesizes and verifies: the offline reference simulation or an "
            "OpenAI-compatible server; its prompts, retries and spend caps"
        ),
    )
    selection: SelectionConfig = Field(
        SelectionConfig(),
        description=(
            "IFD selection of head-domain examples at stages >= 1 (the staged IFD methods: active-ft-cot, "
            "baldistill-n, baldistill-a)"
        ),
    )
    eval_each_stage: int | None = Field(
        None,
        ge=1,
        description=(
            "also evaluate after every earlier stage on at most N test items per domain (score-against-stage plots)"
        ),
    )

    @model_validator(mode="after")
    def _check(self):
        check_budget(self.budget, self.effective_stages)
        return self

    @property
    def effective_stages(self) -> int:
        return self.stages if METHODS[self.method].multi_stage else 1

    @property
    def reporting_budget(self) -> int:
        """The B whose head/tail split the scores are reported on: data.reporting_budget, else the run's own."""
        return self.data.reporting_budget or self.budget


def changed_fields(old: RunConfig, new: RunConfig) -> list[str]:
    """Dotted names of the fields whose values differ, e.g. ['budget', 'student.train.lr']."""

    def diff(a: dict, b: dict, prefix: str = ""):
        for k in sorted(set(a) | set(b)):
            x, y = a.get(k), b.get(k)
            if isinstance(x, dict) and isinstance(y, dict):
                yield from diff(x, y, f"{prefix}{k}.")
            elif x != y:
                yield f"{prefix}{k}"

    return list(diff(old.model_dump(mode="json"), new.model_dump(mode="json")))


def set_dotted(d: dict, key: str, value) -> None:
    parts = key.split(".")
    cur = d
    for p in parts[:-1]:
        nxt = cur.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {key}: '{p}' is not a section")
        cur = nxt
    cur[parts[-1]] = value


def _format(e: ValidationError) -> str:
    errs = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; docs/config.md lists every field)"
        # a check of the whole config or a section names its fields itself
        errs.append(msg if loc == "config" or msg.startswith(f"{loc}.") else f"{loc}: {msg}")
    return "; ".join(errs)


def _renamed(raw: dict) -> list[str]:
    """Settings of earlier versions, translated in place; one note each (shown by pre-flight)."""
    notes = []
    train = (raw.get("student") or {}).get("train") if isinstance(raw.get("student"), dict) else None
    if isinstance(train, dict) and "fresh_adapter_each_stage" in train:
        old = train.pop("fresh_adapter_each_stage")
        scheme = "paper" if old in (True, "true", "True") else "continue"
        train.setdefault("scheme", scheme)
        notes.append(
            f"student.train.fresh_adapter_each_stage: {old} is now student.train.scheme: {train['scheme']} "
            "(the old field still loads)"
        )
    return notes


def _expand_noise(raw: dict) -> None:
    """``teacher.synthesis_noise: r`` (one number) is r split evenly over the four kinds: written out in place."""
    t = raw.get("teacher")
    if isinstance(t, dict):
        r = t.get("synthesis_noise")
        if isinstance(r, (int, float)) and not isinstance(r, bool) and 0 <= r <= 1:
            t["synthesis_noise"] = {k: r / len(NOISE_KINDS) for k in NOISE_KINDS}


def _yaml_error(path: Path, e: yaml.YAMLError) -> str:
    """One line: file:line:column and what the parser found."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    what = " ".join(str(getattr(e, "problem", None) or e).split())
    ctx = getattr(e, "context", None)
    return f"{where}: not valid YAML: {what}" + (f" ({' '.join(ctx.split())})" if ctx else "")


def load_config(source: str | Path | dict, overrides: list[str] | None = None) -> RunConfig:
    """Load and validate a config (a YAML path or a dict) with ``key=value`` overrides."""
    base = Path.cwd()
    if isinstance(source, dict):
        raw = source
    else:
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"{path}: config file not found")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
        except yaml.YAMLError as e:
            raise ConfigError(_yaml_error(path, e)) from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        base = path.resolve().parent
    raw = copy.deepcopy(raw)
    _expand_noise(raw)  # so that --set teacher.synthesis_noise.wrong_answer=... works on a scalar in the file
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set budget=200")
        k, v = item.split("=", 1)
        if not k.strip():
            raise ConfigError(f"--set {item!r}: no key before '='")
        try:
            value = yaml.safe_load(v) if v.strip() else ""
        except yaml.YAMLError:
            raise ConfigError(f"--set {k.strip()}: the value {v!r} is not valid YAML (quote it)") from None
        set_dotted(raw, k.strip(), value)
    data = raw.get("data")
    if isinstance(data, dict):
        for key in ("train", "test", "val", "reserve"):
            if data.get(key):
                p = Path(str(data[key])).expanduser()
                data[key] = p if p.is_absolute() else (base / p).resolve()
    notes = _renamed(raw)
    _expand_noise(raw)
    teacher = raw.get("teacher")
    if isinstance(teacher, dict) and teacher.get("cache"):
        p = Path(str(teacher["cache"])).expanduser()
        teacher["cache"] = p if p.is_absolute() else (base / p).resolve()
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format(e)) from None
    cfg._notes = notes
    return cfg  # the data files are read (and their absence reported) by the pre-flight, not here


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
