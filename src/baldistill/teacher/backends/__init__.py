"""Teacher backends: each sends one request and returns the raw response body in OpenAI's shape, or raises
one of the errors below, which say whether the server did any work. Caching, budgeting, retries and
parsing happen once, for every backend, in ``teacher/engine.py``. To add a provider, write a class that
satisfies ``Backend`` and name it in ``make_backend``."""

from __future__ import annotations

from typing import Protocol

from ..requests import Request


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
    where: str  # where it answers, for messages (a URL, never a key)
    concurrency: int  # at most this many requests in flight
    free: bool  # costs nothing and answers deterministically: a paid request can simply be asked again

    async def send(self, request: Request) -> str:
        """Send one request; return the raw response body, or raise Refused/Unknown/Fatal/Declined."""

    async def aclose(self) -> None:
        """Release connections (on the event loop the requests ran on)."""

    def probe(self, timeout: float) -> tuple[str, str] | None:
        """Pre-flight, before anything is paid: one cheap request that shows the teacher answers (and takes
        the key). (level, message) for a problem, None when all is well."""


def make_backend(cfg, reserve=None, seed: int = 0) -> Backend:
    """The backend a TeacherConfig names."""
    if cfg.kind == "reference":
        from .reference import ReferenceTeacher

        return ReferenceTeacher(
            reserve,
            cfg.synthesis_noise,
            seed,
            cfg.verifier.accept_correct,
            cfg.verifier.reject_wrong,
            verifies=cfg.verify.samples > 0,
        )
    from .openai import OpenAICompatible

    return OpenAICompatible(cfg.model, cfg.base_url, cfg.api_key_env, cfg.timeout, cfg.concurrency, cfg.structured)


__all__ = ["Backend", "Declined", "Fatal", "Refused", "Unknown", "make_backend"]
