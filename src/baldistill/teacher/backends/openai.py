"""A teacher behind any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama, SGLang) through the
official ``openai`` client. Retries are ours (the client's are off), because the budget needs to know,
for every failure, whether the server may have done the work."""

from __future__ import annotations

import os

import openai

from ...config import ConfigError
from ..requests import Request
from . import Fatal, Refused, Unknown


class OpenAICompatible:
    name = "openai"
    concurrency = 8
    free = False

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str | None = "OPENAI_API_KEY",
                 timeout: float = 60.0, concurrency: int = 8):
        self.model, self.base_url, self.key_env = model, base_url, api_key_env
        self.where = base_url or "the OpenAI API"
        key = os.environ.get(api_key_env) if api_key_env else None
        if api_key_env and not key:
            raise ConfigError(f"teacher.api_key_env: the environment variable {api_key_env} is not set "
                              "(set it, or use api_key_env: null for a local server without a key)")
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=key or "EMPTY", max_retries=0, timeout=timeout)
        self.concurrency = concurrency
        self.label = f"teacher {model}"

    async def send(self, request: Request) -> str:
        params = {k: v for k, v in request.payload.items() if k != "sample"}
        try:
            api = self.client.chat.completions if "messages" in params else self.client.completions
            resp = await api.with_raw_response.create(**params)
            return resp.text
        except openai.OpenAIError as e:
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
        if isinstance(e, openai.BadRequestError):
            return Fatal(f"{where} rejected the request (HTTP 400): {_short(e)}")
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
            return "error", (f"teacher.base_url: cannot reach {where} ({'connection refused' if cause == 'ConnectError' else cause}); "
                             "start the server or fix the URL")
        except openai.AuthenticationError:
            what = f"the key in ${self.key_env}" if self.key_env else "requests without a key (api_key_env: null)"
            return "error", f"teacher.api_key_env: {where} rejected {what} (HTTP 401)"
        except openai.PermissionDeniedError:
            return "error", f"teacher.api_key_env: {where} refused access (HTTP 403)"
        except openai.NotFoundError:
            return "error", (f"teacher.base_url: {where} has no /models endpoint (HTTP 404): not the root of an "
                             "OpenAI-compatible API (does the URL end with /v1?)")
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
            return "error", (f"teacher.batch: {self.where} has no /files endpoint (HTTP 404), so no Batch API; "
                             "set teacher.batch: false to send requests one by one")
        except openai.APIStatusError as e:
            return "warning", f"teacher.batch: {self.where} answered HTTP {e.status_code} to GET /files; not checked"
        except openai.OpenAIError as e:
            return "warning", f"teacher.batch: GET /files at {self.where} failed ({type(e).__name__}); not checked"
        finally:
            client.close()
        return None


def _short(e) -> str:
    body = getattr(e, "body", None)
    msg = body.get("message") if isinstance(body, dict) else None
    return (msg or str(e)).splitlines()[0][:200]
