"""A teacher behind any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama, SGLang) through the
official ``openai`` client. Retries are ours (the client's are off), because the budget needs to know,
for every failure, whether the server may have done the work."""

from __future__ import annotations

import logging
import os

import openai

from ...config import ConfigError
from ...core.structured import FORMS, downgrade, rejects_form
from ..requests import Request
from . import Fatal, Refused, Unknown

log = logging.getLogger("baldistill")


class OpenAICompatible:
    name = "openai"
    concurrency = 8
    free = False

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 60.0,
        concurrency: int = 8,
        structured: str = "auto",
    ):
        self.model, self.base_url, self.key_env = model, base_url, api_key_env
        self.structured = structured
        self.form = "json_schema"  # with structured: auto, the form this server takes (learned, kept for the run)
        self.where = base_url or "the OpenAI API"
        key = os.environ.get(api_key_env) if api_key_env else None
        if api_key_env and not key:
            raise ConfigError(
                f"teacher.api_key_env: the environment variable {api_key_env} is not set "
                "(set it, or use api_key_env: null for a local server without a key)"
            )
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=key or "EMPTY", max_retries=0, timeout=timeout)
        self.concurrency = concurrency
        self.label = f"teacher {model}"

    async def send(self, request: Request) -> str:
        """One logical call. With ``structured: auto`` a server that rejects the response_format form (HTTP 400
        or 422 naming it: no work was done) is asked again at once in the next form (json_schema, json_object,
        text); the form it takes is kept for the rest of the run. The retries are part of the same call: the
        ledger reserved one unit for it, and the cache stores the reply under the request as built."""
        base = {k: v for k, v in request.payload.items() if k != "sample"}
        while True:
            auto, form = self.structured == "auto" and "response_format" in base, self.form
            params = downgrade(base, form) if auto else base
            try:
                return await self._create(params)
            except _FormatRejected as e:
                if not auto or form == FORMS[-1]:
                    what = params.get("response_format", {}).get("type", "response_format")
                    raise Fatal(
                        f"{self.where} rejected the structured-output form {what} (HTTP {e.status}): {e.message}; "
                        "set teacher.structured to auto (falls back by itself) or off"
                    ) from None
                if self.form == form:  # several requests may learn it at once: move on (and say so) once
                    self.form = FORMS[FORMS.index(form) + 1]
                    log.info(
                        "teacher: %s rejected response_format %s (HTTP %s: %s); using %s for this run",
                        self.where,
                        form,
                        e.status,
                        e.message,
                        self.form if self.form != "text" else "plain text",
                    )

    async def _create(self, params: dict) -> str:
        try:
            api = self.client.chat.completions if "messages" in params else self.client.completions
            resp = await api.with_raw_response.create(**params)
            return resp.text
        except openai.OpenAIError as e:
            if "response_format" in params and _format_rejection(e):
                raise _FormatRejected(e.status_code, _short(e)) from None
            raise self.classify(e) from None

    def classify(self, e: Exception, what: str = "") -> Exception:
        """The error a failed call raises: Refused (no work done), Unknown (work maybe done) or Fatal."""
        where = self.where
        if isinstance(e, openai.RateLimitError):
            after = e.response.headers.get("retry-after")
            try:
                after = float(after) if after is not None else None
            except ValueError:
                after = None
            return Refused("429 rate limited", after)
        if isinstance(e, openai.APITimeoutError):
            return Unknown("timed out waiting for the reply")
        if isinstance(e, openai.APIConnectionError):
            if type(e.__cause__).__name__ == "ConnectError":  # nothing was sent
                return Refused(f"cannot connect to {where}")
            return Unknown("connection cut after the request was sent")
        if isinstance(e, openai.AuthenticationError):
            return Fatal(f"{where} rejected the API key from ${self.key_env} (HTTP 401); check that variable")
        if isinstance(e, openai.PermissionDeniedError):
            return Fatal(f"{where} refused access (HTTP 403) for model '{self.model}'")
        if isinstance(e, openai.NotFoundError):
            if what:
                return Fatal(f"{where}: {what} answered HTTP 404: {_short(e)}")
            return Fatal(f"{where}: model '{self.model}' or the endpoint was not found (HTTP 404)")
        if isinstance(e, (openai.BadRequestError, openai.UnprocessableEntityError)):
            return Fatal(f"{where} rejected the request (HTTP {e.status_code}): {_short(e)}")
        if isinstance(e, openai.APIStatusError):
            if e.status_code >= 500 or e.status_code in (408, 409):
                return Unknown(f"HTTP {e.status_code}")
            return Fatal(f"{where} answered HTTP {e.status_code}: {_short(e)}")
        raise e  # not an error of the API: a bug, shown as one

    async def aclose(self) -> None:
        await self.client.close()

    def probe(self, timeout: float = 10.0) -> tuple[str, str] | None:
        """Pre-flight: one cheap ``GET /models`` before anything is paid. Returns (level, message) for a
        problem (level "error" stops the run before it starts, "warning" is shown), None when all is well."""
        key = os.environ.get(self.key_env) if self.key_env else None
        client = openai.OpenAI(base_url=self.base_url, api_key=key or "EMPTY", max_retries=0, timeout=timeout)
        where = self.where
        try:
            models = [m.id for m in client.models.list().data]
        except openai.APITimeoutError:
            return "error", f"teacher.base_url: no answer from {where} within {timeout:g} s (GET /models)"
        except openai.APIConnectionError as e:
            cause = type(e.__cause__).__name__ if e.__cause__ else "connection error"
            return "error", (
                f"teacher.base_url: cannot reach {where} "
                f"({'connection refused' if cause == 'ConnectError' else cause}); "
                "start the server or fix the URL"
            )
        except openai.AuthenticationError:
            what = f"the key in ${self.key_env}" if self.key_env else "requests without a key (api_key_env: null)"
            return "error", f"teacher.api_key_env: {where} rejected {what} (HTTP 401)"
        except openai.PermissionDeniedError:
            return "error", f"teacher.api_key_env: {where} refused access (HTTP 403)"
        except openai.NotFoundError:
            return "error", (
                f"teacher.base_url: {where} has no /models endpoint (HTTP 404): not the root of an "
                "OpenAI-compatible API (does the URL end with /v1?)"
            )
        except openai.APIStatusError as e:
            return "warning", f"teacher.base_url: {where} answered HTTP {e.status_code} to GET /models; not checked"
        finally:
            client.close()
        if models and self.model not in models:
            shown = ", ".join(models[:5]) + (" ..." if len(models) > 5 else "")
            return "warning", f"teacher.model: '{self.model}' is not among the models {where} lists ({shown})"
        return None

    def probe_batch(self, timeout: float = 10.0) -> tuple[str, str] | None:
        """Pre-flight with ``teacher.batch``: the server offers the Batch API's files (``GET /files``, not a 404)."""
        key = os.environ.get(self.key_env) if self.key_env else None
        client = openai.OpenAI(base_url=self.base_url, api_key=key or "EMPTY", max_retries=0, timeout=timeout)
        try:
            client.files.list(purpose="batch", limit=1)
        except openai.NotFoundError:
            return "error", (
                f"teacher.batch: {self.where} has no /files endpoint (HTTP 404), so no Batch API; "
                "set teacher.batch: false to send requests one by one"
            )
        except openai.APIStatusError as e:
            return "warning", f"teacher.batch: {self.where} answered HTTP {e.status_code} to GET /files; not checked"
        except openai.OpenAIError as e:
            return "warning", f"teacher.batch: GET /files at {self.where} failed ({type(e).__name__}); not checked"
        finally:
            client.close()
        return None


class _FormatRejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _detail(e) -> str:
    """Everything an error body says (message, param, pydantic's loc), for recognising what it rejected."""
    try:
        return e.response.text
    except Exception:
        return str(e)


def _format_rejection(e) -> bool:
    """The server refused the response_format field, having done no work (``core.structured.rejects_form``)."""
    if isinstance(e, (openai.BadRequestError, openai.UnprocessableEntityError, openai.InternalServerError)):
        return rejects_form(e.status_code, _detail(e))
    return False


def _short(e) -> str:
    body = getattr(e, "body", None)
    msg = body.get("message") if isinstance(body, dict) else None
    return (msg or str(e)).splitlines()[0][:200]
