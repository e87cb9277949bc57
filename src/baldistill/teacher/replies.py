"""What a teacher server sends back, in OpenAI's response shape: the reply text, its token usage, and
why a body could not be used. Pure; every backend returns a raw body, ``parse_body`` reads it."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0  # hidden reasoning of reasoning models; part of completion_tokens, billed
    estimated: bool = False  # counted by a rule of thumb rather than reported by a server


@dataclass
class Reply:
    text: str | None  # None when the body holds no usable completion
    usage: Usage
    finish_reason: str | None = None
    error: str | None = None  # why the body could not be used (malformed JSON, empty choices)


def openai_body(text: str, usage: Usage, kind: str = "chat") -> str:
    """A response body in OpenAI's shape (used by backends that do not speak HTTP)."""
    choice = {"index": 0, "finish_reason": "stop"}
    choice.update({"message": {"role": "assistant", "content": text}} if kind == "chat" else {"text": text})
    return json.dumps(
        {
            "object": "chat.completion" if kind == "chat" else "text_completion",
            "choices": [choice],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
                "estimated": usage.estimated,
            },
        }
    )


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
    usage = Usage(
        int(u.get("prompt_tokens") or 0),
        int(u.get("completion_tokens") or 0),
        int(details.get("reasoning_tokens") or 0),
        bool(u.get("estimated", False)),
    )
    choices = body.get("choices") or []
    if not choices:
        return Reply(None, usage, error="no choices in the response")
    c = choices[0]
    text = (c.get("message") or {}).get("content") if "message" in c else c.get("text")
    if text is None:
        return Reply(None, usage, c.get("finish_reason"), error="no content in the first choice")
    return Reply(text, usage, c.get("finish_reason"))
