"""Structured teacher output: the JSON schemas BalDistill asks a server to follow, the three forms a server
may take them in, and reading a reply that is (or merely contains) such an object. Pure.

Forms, from most to least constrained (``teacher.structured: auto`` walks down them when a server rejects one):
``json_schema``  OpenAI's ``{"type": "json_schema", "json_schema": {"name", "strict", "schema"}}`` (OpenAI, vLLM)
``json_object``  ``{"type": "json_object", "schema": ...}`` (llama-cpp-python turns the schema into a grammar)
``text``         no ``response_format``; the prompt still asks for JSON and the parser reads text as well
"""

from __future__ import annotations

import json
import re

FORMS = ("json_schema", "json_object", "text")


def _answer(labels: list[str] | None) -> dict:
    return {"type": "string", "enum": list(labels)} if labels else {"type": "string"}


def _object(name: str, props: dict) -> dict:
    return {
        "name": name,
        "schema": {"type": "object", "properties": props, "required": list(props), "additionalProperties": False},
    }


def synthesis_schema(domain_labels: list[str] | None = None) -> dict:
    """A synthetic example; for classification its answer is one of the domain's own labels."""
    return _object(
        "synthetic_example",
        {"input": {"type": "string"}, "reasoning": {"type": "string"}, "answer": _answer(domain_labels)},
    )


def answer_schema(labels: list[str] | None = None) -> dict:
    """A worked answer (annotation, verification); for classification the answer is a label of the task."""
    return _object("worked_answer", {"reasoning": {"type": "string"}, "answer": _answer(labels)})


def response_format(schema: dict, form: str) -> dict | None:
    """The ``response_format`` field of a request in ``form`` (None: send none)."""
    if form == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": schema["name"], "strict": True, "schema": schema["schema"]},
        }
    if form == "json_object":
        return {"type": "json_object", "schema": schema["schema"]}
    if form == "text":
        return None
    raise ValueError(f"unknown structured form {form!r}; known: {', '.join(FORMS)}")


# a 400/422 that names one of these refused the structured-output field, not the request as a whole
_VALIDATION = re.compile(r"validation error|literal_error", re.IGNORECASE)
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|schema|grammar|structured", re.IGNORECASE)


def rejects_form(status: int | None, detail: str) -> bool:
    """Whether an error answer (HTTP ``status``, its body as text) refused the ``response_format`` field, having
    done no work: a 400 or 422 naming it, or llama-cpp-python's request-validation error, answered with HTTP 500."""
    if status in (400, 422):
        return bool(_FORMAT_WORDS.search(detail))
    if status == 500:
        return bool(_VALIDATION.search(detail)) and "response_format" in detail
    return False


def next_form(form: str) -> str | None:
    """The form ``teacher.structured: auto`` tries after ``form`` is refused (None after the last)."""
    i = FORMS.index(form)
    return FORMS[i + 1] if i + 1 < len(FORMS) else None


def downgrade(payload: dict, form: str) -> dict:
    """``payload`` (built with a ``json_schema`` response_format) as sent in ``form``."""
    rf = payload.get("response_format")
    if not rf or rf.get("type") != "json_schema" or form == "json_schema":
        return payload
    out = {k: v for k, v in payload.items() if k != "response_format"}
    new = response_format({"name": rf["json_schema"]["name"], "schema": rf["json_schema"]["schema"]}, form)
    if new is not None:
        out["response_format"] = new
    return out


def instruction(schema: dict) -> str:
    """One line for the prompt: what the JSON object holds (OpenAI's json_object mode needs the word JSON)."""
    props = schema["schema"]["properties"]
    fields = ", ".join(
        f'"{k}"' + (f" (one of: {', '.join(v['enum'])})" if "enum" in v else "") for k, v in props.items()
    )
    return f"Reply with one JSON object with the fields {fields}, and nothing else."


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)


def read_object(text: str) -> dict | None:
    """The JSON object a reply consists of (optionally inside a ``` fence), or None when the reply is not one
    (then it is read as text). Keys are matched case-insensitively."""
    s = text.strip()
    m = _FENCE.match(s)
    if m:
        s = m.group(1)
    if not s.startswith("{"):
        return None
    try:
        obj = json.loads(s)
    except json.JSONDecodeError:
        return None
    return {str(k).lower(): v for k, v in obj.items()} if isinstance(obj, dict) else None


def fields(obj: dict, names: tuple[str, ...]) -> dict[str, str] | None:
    """The named fields as stripped strings (numbers are accepted and written as text), or None when one is
    missing or of another type: a reply that breaks the schema."""
    out = {}
    for n in names:
        v = obj.get(n)
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            return None
        out[n] = str(v).strip()
    return out


def rationale_from(reasoning: str, answer: str) -> str:
    """The rationale the student learns, written from a worked answer's fields the way a text reply reads:
    the reasoning, ending by stating the answer."""
    reasoning = reasoning.strip()
    if re.search(r"the answer is\s*:?\s*" + re.escape(answer) + r"\W*$", reasoning, flags=re.IGNORECASE):
        return reasoning
    return f"{reasoning} The answer is {answer}." if reasoning else f"The answer is {answer}."
