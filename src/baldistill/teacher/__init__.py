"""The teacher: requests (pure), the engine that pays for them (async, retries, ledger, cache), and the
backends that send them (an OpenAI-compatible server, or the offline reference simulation)."""

from .backends import Backend, Declined, Fatal, Refused, Unknown, make_backend
from .engine import Outcome, TeacherEngine
from .errors import BatchCancelled, TeacherError, TeacherUnavailable
from .replies import Reply, Usage, openai_body, parse_body
from .requests import Request, RequestBuilder

__all__ = [
    "Backend",
    "BatchCancelled",
    "Declined",
    "Fatal",
    "Outcome",
    "Refused",
    "Reply",
    "Request",
    "RequestBuilder",
    "TeacherEngine",
    "TeacherError",
    "TeacherUnavailable",
    "Unknown",
    "Usage",
    "make_backend",
    "openai_body",
    "parse_body",
]
