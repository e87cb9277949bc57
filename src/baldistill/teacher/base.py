"""What every teacher backend shares: the request, the reply (with token usage), the errors that say
whether the server did any work, and the pure parsers that turn a reply into training data.

A backend only sends a request and returns the raw body (OpenAI's JSON shape). Caching, budgeting,
retries and parsing happen once, for all backends, in ``client.py``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Protocol

from ..answers import answers_match, parse_answer
from ..cache import request_key


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0  # hidden reasoning of reasoning models; part of completion_tokens, billed
    estimated: bool = False  # counted by a rule of thumb rather than reported by a server


@dataclass(frozen=True)
class Request:
    kind: str  # annotate | synthesize
    stage: int
    domain: str
    example_id: str | None
    payload: dict  # exactly what decides the reply: model, messages/prompt, generation params, sample index
    prompt_hash: str
    meta: dict = field(default_factory=dict, compare=False, hash=False)  # local context, never sent
    copy: int = 0  # the n-th paid copy of the same request (duplicate-ft-cot repeats real tail examples)

    @property
    def cache_key(self) -> str:
        """Which stored reply answers this request: the payload alone (copies share it)."""
        return request_key(self.payload)

    @property
    def key(self) -> str:
        """Which budget unit this request is: every copy is a unit of its own."""
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


@dataclass
class Reply:
    text: str | None  # None when the body holds no usable completion
    usage: Usage
    finish_reason: str | None = None
    error: str | None = None  # why the body could not be used (malformed JSON, empty choices)


class Refused(Exception):
    """The server did no work (HTTP 429, connection refused): retry later, nothing was billed."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unknown(Exception):
    """The request may have been processed (timeout, cut connection, 5xx): it stays charged."""


class Fatal(Exception):
    """Retrying cannot help (400/401/403/404): stop with this one-line message."""


class Declined(Exception):
    """This request cannot be served (e.g. the simulated teacher has no unseen example left); no work."""


class Backend(Protocol):
    name: str
    label: str  # how results made with it are labelled
    concurrency: int

    async def send(self, request: Request) -> str:
        """Send one request; return the raw response body, or raise Refused/Unknown/Fatal/Declined."""


def openai_body(text: str, usage: Usage, kind: str = "chat") -> str:
    """A response body in OpenAI's shape (used by backends that do not speak HTTP)."""
    choice = {"index": 0, "finish_reason": "stop"}
    choice.update({"message": {"role": "assistant", "content": text}} if kind == "chat" else {"text": text})
    return json.dumps({"object": "chat.completion" if kind == "chat" else "text_completion", "choices": [choice],
                       "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                                 "total_tokens": usage.prompt_tokens + usage.completion_tokens, "estimated": usage.estimated}})


def parse_body(raw: str) -> Reply:
    """Read an OpenAI-style response body (chat or completions). Never raises."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, TypeError) as e:
        return Reply(None, Usage(), error=f"malformed JSON: {e}")
    if not isinstance(body, dict):
        return Reply(None, Usage(), error="response is not a JSON object")
    u = body.get("usage") or {}
    details = u.get("completion_tokens_details") or {}
    usage = Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0),
                  int(details.get("reasoning_tokens") or 0), bool(u.get("estimated", False)))
    choices = body.get("choices") or []
    if not choices:
        return Reply(None, usage, error="no choices in the response")
    c = choices[0]
    text = (c.get("message") or {}).get("content") if "message" in c else c.get("text")
    if text is None:
        return Reply(None, usage, c.get("finish_reason"), error="no content in the first choice")
    return Reply(text, usage, c.get("finish_reason"))


# ---- parsers: pure functions from reply text to training data ----------------------------------------

def annotation_from(text: str, gold: str, labels: list[str] | None = None) -> tuple[str, str | None, bool]:
    """(rationale, parsed answer, agrees with gold). The rationale always ends by stating its answer."""
    rationale = text.strip()
    answer = parse_answer(rationale, labels)
    return rationale, answer, answer is not None and answers_match(answer, gold)


_FIELD = re.compile(r"^\s*(input|question|reasoning|rationale|answer)\s*:\s*", re.IGNORECASE | re.MULTILINE)


def synthesis_from(text: str) -> tuple[str, str, str, bool] | None:
    """(input, rationale, answer, consistent) from a reply in the Input/Reasoning/Answer format, or None.
    ``consistent`` is False when the reasoning states a different final answer than the Answer line."""
    parts: dict[str, str] = {}
    marks = list(_FIELD.finditer(text))
    for m, nxt in zip(marks, marks[1:] + [None]):
        name = {"question": "input", "rationale": "reasoning"}.get(m.group(1).lower(), m.group(1).lower())
        parts.setdefault(name, text[m.end(): nxt.start() if nxt else len(text)].strip())
    if not all(parts.get(k) for k in ("input", "answer")):
        return None
    answer = parts["answer"].splitlines()[0].strip().rstrip(".").strip()
    reasoning = parts.get("reasoning", "").strip()
    if not answer:
        return None
    stated = parse_answer(reasoning) if "answer" in reasoning.lower() else None
    consistent = stated is None or answers_match(stated, answer)
    rationale = reasoning if stated is not None else \
        (f"{reasoning} The answer is {answer}." if reasoning else f"The answer is {answer}.")
    return parts["input"], rationale.strip(), answer, consistent
