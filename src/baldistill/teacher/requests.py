"""Teacher requests, built from the run's config and prompt files: what is sent, what decides the cached
reply, and which budget unit a request is. Pure: no network, no ledger (``estimate`` sizes prompts with it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..budget.cache import request_key
from ..config import ConfigError
from ..core import structured
from ..data import Example, synthetic_id
from ..prompts import HERE as PROMPTS
from ..prompts import Prompt, load_prompt


@dataclass(frozen=True)
class Request:
    kind: str  # annotate | synthesize | verify
    stage: int
    domain: str
    example_id: str | None
    payload: dict  # exactly what decides the reply: model, messages/prompt, generation params, sample index
    prompt_hash: str
    meta: dict = field(default_factory=dict, compare=False, hash=False)  # local context, never sent
    copy: int = 0  # the n-th paid copy of the same request (duplicate-ft-cot repeats real tail examples)
    # synthesis: the ids of the real examples its prompt shows (provenance; never sent, not in the cache key)
    shown: tuple[str, ...] = field(default=(), compare=False)

    @property
    def cache_key(self) -> str:
        """Which stored reply answers this request: the payload alone (copies and repeats share it)."""
        return request_key(self.payload)

    @property
    def key(self) -> str:
        """Which budget unit this request is: one per example it makes (a real example, a paid copy of one,
        a synthetic example), never shared, so every training example is paid by a unit of its own."""
        return f"{self.kind}/{self.example_id}" + (f"/{self.meta['sample']}" if self.kind == "verify" else "")

    @property
    def legacy_key(self) -> str:
        """The key ledgers of the earlier format used (the payload hash): read when resuming such a run."""
        return self.cache_key + (f"#copy{self.copy}" if self.copy else "")

    def prompt_text(self) -> str:
        if "messages" in self.payload:
            return "\n".join(m["content"] for m in self.payload["messages"])
        return self.payload.get("prompt", "")

    def worst_prompt_tokens(self) -> int:
        """An upper bound on prompt tokens: a token covers at least one byte, plus template overhead."""
        n_msgs = len(self.payload.get("messages", [])) or 1
        return len(self.prompt_text().encode()) + 16 * n_msgs

    def max_tokens(self) -> int:
        p = self.payload
        return int(p.get("max_completion_tokens") or p.get("max_tokens") or 0)

    def charge(self, physical: bool) -> dict:
        """What the ledger reserves for this request, one by one or in a batch: its unit, its place in the run
        and the worst case of its tokens."""
        return dict(
            key=self.key,
            stage=self.stage,
            domain=self.domain,
            kind=self.kind,
            example_id=self.example_id,
            prompt_tokens=self.worst_prompt_tokens(),
            max_tokens=self.max_tokens(),
            physical=physical,
            prompt_hash=self.prompt_hash,
        )


# the values each prompt is filled with; a placeholder outside these fails at the first call otherwise
PLACEHOLDERS = {
    "annotate_prompt": ("instruction", "input", "answer"),
    "synthesize_prompt": ("domain", "examples", "avoid", "sample", "format"),
    "verify.prompt": ("instruction", "input", "labels"),
}

# what a synthesis prompt's {format} says when no JSON object is asked for
TEXT_FORMAT = (
    "Use exactly this format:\nInput: <the new question>\nReasoning: <a short step-by-step solution>\n"
    "Answer: <the final answer>"
)


def _prompt(name: str, key: str) -> Prompt:
    """A shipped prompt by name (``annotate_v1``), or a file of the same format by path (``my/prompt.txt``),
    checked by rendering it once."""
    path = Path(name).expanduser()
    try:
        if path.suffix == ".txt" or len(path.parts) > 1:
            prompt = load_prompt(path.stem, path.parent)
        else:
            prompt = load_prompt(name)
    except FileNotFoundError:
        raise ConfigError(
            f"teacher.{key}: no prompt file named {name!r} in {PROMPTS} "
            f"(shipped: {', '.join(sorted(p.stem for p in PROMPTS.glob('*.txt')))}; "
            "or give a path ending in .txt)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"teacher.{key}: {' '.join(str(e).split())}") from None
    allowed = PLACEHOLDERS[key]
    try:
        prompt.messages(**{k: "" for k in allowed})
    except KeyError as e:
        raise ConfigError(
            f"teacher.{key}: prompt {name!r} uses the placeholder {{{e.args[0]}}}; it may use "
            f"{', '.join('{' + k + '}' for k in allowed)} (write literal braces as {{{{ and }}}})"
        ) from None
    except (ValueError, IndexError) as e:
        raise ConfigError(
            f"teacher.{key}: prompt {name!r} is not a valid template ({e}); write literal braces as {{{{ and }}}}"
        ) from None
    return prompt


def api_seed(*parts) -> int:
    """A per-sample ``seed`` for the API (OpenAI, vLLM, llama.cpp and Ollama take one): stable across runs."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:4], "big") >> 1


class RequestBuilder:
    """Annotation, synthesis and verification requests for one run (its teacher config, instruction and seed)."""

    def __init__(self, cfg, instruction: str = "", seed: int = 0):
        self.cfg, self.instruction, self.seed = cfg, instruction, seed
        self.model = cfg.model or cfg.kind  # the reference teacher answers to its kind
        self.annotate_prompt = _prompt(cfg.annotate_prompt, "annotate_prompt")
        self.synth_prompt = _prompt(cfg.synthesize_prompt, "synthesize_prompt")
        self.verify_prompt = _prompt(cfg.verify.prompt, "verify.prompt")

    def form(self, kind: str) -> str | None:
        """The response_format form a request of ``kind`` is built with (None: none). Only a chat server is
        asked; ``auto`` builds json_schema (the backend falls back when the server rejects it) and leaves
        annotation free text; an explicit form applies to every kind."""
        c = self.cfg
        if c.kind != "openai" or c.api != "chat" or c.structured == "off":
            return None
        if c.structured == "auto":
            return None if kind == "annotate" else "json_schema"
        return c.structured

    def _payload(
        self,
        prompt: Prompt,
        values: dict,
        temperature: float,
        sample: int | str,
        prime: str = "",
        schema: dict | None = None,
        form: str | None = None,
        api_seed: int | None = None,
    ) -> dict:
        """What decides the reply. For a base model (completions) the prompt ends with ``prime``, the
        start of the expected answer, and a blank-lines stop ends the continuation. With a structured
        ``form`` the request carries ``response_format`` and the prompt says what the JSON object holds
        (through a ``{format}`` placeholder, or as a last line)."""
        c = self.cfg
        p = {"model": self.model, "temperature": temperature, c.token_param: c.max_tokens, "sample": sample}
        wants_format = "{format}" in prompt.user or "{format}" in prompt.system
        if form is not None:
            values = {**values, "format": structured.instruction(schema)}
        if c.api == "chat":
            msgs = prompt.messages(**values)
            if form is not None and not wants_format:
                msgs[-1] = {**msgs[-1], "content": msgs[-1]["content"] + "\n\n" + structured.instruction(schema)}
            p["messages"] = msgs
            if form is not None:
                p["response_format"] = structured.response_format(schema, form)
        else:
            p["prompt"] = prompt.text(**values) + "\n\n" + prime
            if prime:
                p["stop"] = ["\n\n\n"]
        if api_seed is not None and c.kind == "openai":
            p["seed"] = api_seed
        return p

    def annotation(self, stage: int, ex: Example, labels: list[str] | None = None) -> Request:
        """``ex.meta['copy']``: the n-th annotated copy of a real example (duplicate-ft-cot; 0 for the
        example itself). Each copy is a budget unit. Copies, and runs with another seed, reuse the cached
        reply unless ``fresh_samples`` asks for a new sample per seed and copy (the sample index enters
        the request, hence the cache key)."""
        values = {"instruction": self.instruction, "input": ex.input, "answer": ex.answer}
        copy = ex.meta.get("copy", 0)
        sample = f"seed{self.seed}/copy{copy}" if self.cfg.fresh_samples else 0
        form = self.form("annotate")
        payload = self._payload(
            self.annotate_prompt,
            values,
            self.cfg.temperature,
            sample,
            schema=structured.answer_schema(labels),
            form=form,
        )
        return Request("annotate", stage, ex.domain, ex.id, payload, self.annotate_prompt.hash, {"example": ex}, copy)

    def synthesis(
        self,
        stage: int,
        domain: str,
        real: list[Example],
        sample: int,
        avoid: list[str] = (),
        domain_labels: list[str] | None = None,
    ) -> Request:
        """The ``sample``-th synthetic example of ``domain``: few-shot on real examples of the domain in the
        Input/Reasoning/Answer format (or as a JSON object). Requests of a domain differ in content, so a
        deterministic server still makes different examples: each shows another window of ``real`` (a
        seeded order of the domain's real examples), carries its own number and, where the API takes one,
        its own seed; ``avoid`` lists synthetic inputs made before this stage."""
        m = min(self.cfg.synthesis_seeds, len(real))
        start = (sample * m if len(real) > m else sample) % len(real) if real else 0
        seeds = [real[(start + i) % len(real)] for i in range(m)]
        shots = "\n\n".join(
            f"Input: {s.input}\n" + (f"Reasoning: {s.rationale}\n" if s.rationale else "") + f"Answer: {s.answer}"
            for s in seeds
        )
        shown = (
            [a if len(a) <= 300 else a[:297] + "..." for a in list(avoid)[-self.cfg.synthesis_avoid :]]
            if self.cfg.synthesis_avoid
            else []
        )
        avoid_text = (
            (
                "\nExamples already written for this domain (do not repeat them):\n"
                + "\n".join(f"- {a}" for a in shown)
                + "\n"
            )
            if shown
            else ""
        )
        form = self.form("synthesize")
        values = {"domain": domain, "examples": shots, "avoid": avoid_text, "sample": sample + 1, "format": TEXT_FORMAT}
        payload = self._payload(
            self.synth_prompt,
            values,
            self.cfg.synthesis_temperature,
            sample,
            prime=self.synthesis_prime,
            schema=structured.synthesis_schema(domain_labels),
            form=form,
            api_seed=api_seed(domain, sample),
        )
        payload.update(self._simulated("synthesize"))
        return Request(
            "synthesize",
            stage,
            domain,
            synthetic_id(domain, sample),
            payload,
            self.synth_prompt.hash,
            {"seeds": seeds, "sample": sample},
            shown=tuple(s.id for s in seeds),
        )

    def verification(self, stage: int, ex: Example, sample: int, labels: list[str] | None = None) -> Request:
        """The ``sample``-th re-answer of a synthetic example from its input alone: the proposed answer is not
        shown. For classification the whole label set is (the re-answer may be any label of the task)."""
        shown = f"\nChoose the answer from: {', '.join(labels)}\n" if labels else ""
        values = {"instruction": self.instruction, "input": ex.input, "labels": shown}
        payload = self._payload(
            self.verify_prompt,
            values,
            self.cfg.verify.temperature,
            f"{ex.id}/{sample}",
            schema=structured.answer_schema(labels),
            form=self.form("verify"),
            api_seed=api_seed(ex.id, sample),
        )
        payload.update(self._simulated("verify"))
        return Request(
            "verify", stage, ex.domain, ex.id, payload, self.verify_prompt.hash, {"example": ex, "sample": sample}
        )

    def _simulated(self, kind: str) -> dict:
        """The reference teacher's simulation settings that decide a reply of this kind, so that they key the
        cache like everything else that decides a reply (runs with other noise or verifier rates sharing one
        cache, e.g. a ``compare --sweep`` of them, must not be served each other's replies). A synthetic
        example depends on the noise rates; a re-answer on them (the example's hidden answer) and on the
        verifier's rates. Oracle synthesis (no noise) adds nothing, so its cache keys are what they were.
        Never part of a request to a server."""
        c = self.cfg
        if c.kind != "reference":
            return {}
        out = {}
        rates = {k: v for k, v in c.synthesis_noise.rates().items() if v}
        if rates:
            out["simulated_noise"] = rates
        if kind == "verify":
            out["simulated_verifier"] = {
                "accept_correct": c.verifier.accept_correct,
                "reject_wrong": c.verifier.reject_wrong,
            }
        return out

    @property
    def synthesis_prime(self) -> str:
        """What a base model's synthesis prompt already ends with (its reply continues it)."""
        return "Input: " if self.cfg.api == "completions" else ""
