"""A fault-injecting, OpenAI-compatible HTTP server for tests and benchmarks.

Stdlib only. Serves ``POST /v1/chat/completions``, ``POST /v1/completions`` and
``GET /v1/models`` on 127.0.0.1 (a free port) from a daemon thread.

Fault kinds (chosen per received request, see :class:`FakeOpenAIServer`):

=================  ==========================================================  ========
kind               what the server does                                        answered
=================  ==========================================================  ========
``None``           normal 200 reply                                            yes
``"429"``          429 + ``Retry-After: <retry_after>``, rate_limit_error      no
``"500"``          500 + error JSON (the work may have been done)              yes
``"slow"``         sleep ``slow_seconds`` then a normal 200 reply              yes
``"drop"``         read the request, close the socket, send nothing            yes
``"malformed"``    200 whose body is not valid JSON                            yes
``"empty_choices"`` 200 with ``"choices": []``                                 yes
``"truncated"``    200 with the content cut in the middle, finish "length"    yes
``"401"``          401 invalid_api_key                                         no
``"400"``          400 invalid_request_error                                   no
``"404"``          404 not_found_error                                         no
=================  ==========================================================  ========

Structured output (``response_formats``): which ``response_format`` types the server takes, as the real ones
do — ``SERVER_FORMATS["openai"]`` and ``["vllm"]`` take ``json_schema`` and ``json_object``,
``["llamacpp"]`` only ``json_object`` (with a ``schema``; a ``json_schema`` gets llama-cpp-python 0.3's answer:
HTTP 500 carrying its request-validation error), ``["fastapi"]`` only ``json_object`` with a 422 validation
error, ``["plain"]`` none (400 naming ``response_format``). ``None`` (the default) accepts any and
ignores it, like a server that does not know the field. A rejection does no work and is not billed.

"answered" means the server did (or may have done) the work and would bill it;
such requests are counted in ``answered`` and their canonical body key is
appended to ``answered_keys``.

The Batch API (unless ``batch_api=False``, which makes those paths 404):
``POST /v1/files`` (multipart upload), ``GET /v1/files``, ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches``,
``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``. A batch finishes
``batch_seconds`` after it was created (looked at lazily, when it is retrieved
or listed); its lines are answered like ``/v1/chat/completions`` would answer
them. With ``state_file`` every file and batch is kept in that JSON file, so a
server started again on the same file knows them. Batch faults (entry i of
``batch_faults`` applies to the i-th created batch, or a callable
``batch_faults(n, custom_ids) -> kind``). A line whose ``response_format`` the server does not take (see above)
is answered in the error file with the status and body the endpoint would give (not billed).
``GET /v1/batches`` and ``GET /v1/files`` page as the API does (``limit``, ``after``, ``has_more``), at most
``list_page`` items a page; ``batch_lists`` counts the batch pages answered. Batch faults:

============  ===================================================================
``"slow"``    finishes after ``batch_slow_seconds`` instead of ``batch_seconds``
``"expired"`` ends ``expired``: the first half of its lines answered, the rest
              in the error file with code ``batch_expired`` (not billed)
``"partial"`` every second line fails (error file, ``server_error``, not billed)
``"failed"``  ends ``failed`` (validation): no line is run
``"never"``   stays ``in_progress`` until cancelled
============  ===================================================================

``on_batch(event, info)`` is called at ``"upload"`` (before the file is stored;
returning ``"drop"`` closes the connection and stores nothing), ``"uploaded"``
(stored, before the reply), ``"create"`` (the batch stored, before the reply),
``"retrieve"`` (the batch as it will be answered) and ``"content"`` (a file id,
before its content is sent). Batch counters: ``batch_creates`` (batch ids),
``batch_submitted`` (every custom_id of every created batch), ``batch_billed``
(every custom_id answered), ``uploads``.
"""

from __future__ import annotations

import collections
import email.parser
import hashlib
import json
import os
import random
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAIServer", "FAULT_KINDS", "ALL_FAULT_KINDS", "canonical_key", "default_reply"]

FAULT_KINDS = ("429", "500", "slow", "drop", "malformed", "empty_choices", "truncated")
BATCH_FAULT_KINDS = ("slow", "expired", "partial", "failed", "never")
_BATCH_FINAL = ("completed", "expired", "cancelled", "failed")
ALL_FAULT_KINDS = FAULT_KINDS + ("401", "400", "404")

_GOLD_RE = re.compile(r"^\s*Gold answer:\s*(.+?)\s*$", re.MULTILINE)

_ERRORS: dict[str, dict[str, Any]] = {
    "429": {"message": "rate limited", "type": "rate_limit_error", "code": "rate_limit_exceeded"},
    "500": {"message": "The server had an error while processing your request.", "type": "server_error", "code": None},
    "401": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"},
    "400": {"message": "Bad request", "type": "invalid_request_error", "code": None},
    "404": {"message": "The model does not exist", "type": "invalid_request_error", "code": "model_not_found"},
}

_ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}

SERVER_FORMATS: dict[str, tuple[str, ...]] = {
    "openai": ("json_schema", "json_object"),
    "vllm": ("json_schema", "json_object"),
    "llamacpp": ("json_object",),
    "fastapi": ("json_object",),
    "plain": (),
}


def canonical_key(body: Any) -> str:
    """sha256 of ``json.dumps(body, sort_keys=True)``."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        out = []
        for part in content:
            if isinstance(part, dict):
                out.append(str(part.get("text") or ""))
            elif isinstance(part, str):
                out.append(part)
        return "".join(out)
    return str(content)


def _prompt_text(body: dict) -> str:
    if "messages" in body:
        msgs = body.get("messages") or []
        return "".join(_content_text(m.get("content")) for m in msgs if isinstance(m, dict))
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        return "".join(p if isinstance(p, str) else "" for p in prompt)
    return prompt if isinstance(prompt, str) else ""


def default_reply(body: dict) -> str:
    """``"Reasoning about it. The answer is X."`` if a message has a line ``Gold answer: X``."""
    texts = [_content_text(m.get("content")) for m in (body.get("messages") or []) if isinstance(m, dict)]
    if not texts and isinstance(body.get("prompt"), str):
        texts = [body["prompt"]]
    for text in texts:
        m = _GOLD_RE.search(text)
        if m:
            return f"Reasoning about it. The answer is {m.group(1)}."
    return "The answer is 42."


def _ntok(n_bytes: int) -> int:
    return max(1, n_bytes // 4)


def _cut_utf8(text: str, n_bytes: int) -> str:
    return text.encode("utf-8")[: max(0, n_bytes)].decode("utf-8", errors="ignore")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that vanished is part of the tests
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    """Fault-injecting OpenAI-compatible server. Use as a context manager or start()/stop().

    ``faults``: None, a list of kinds (entry i applies to the i-th received request, None = normal;
    normal after the list ends), or a callable ``faults(n, body) -> kind | None`` (n is 1-based).
    Otherwise with ``fault_rate > 0`` each request gets a fault with that probability, kind uniform
    over ``fault_kinds``, drawn from ``random.Random(seed)`` under the lock.

    Counters (read them freely; updated under ``lock``): ``received`` (completion requests), ``gets``
    (GET requests such as ``/v1/models``), ``answered``,
    ``answered_keys``, ``status_counts`` (``"200"``, ``"429"``, ``"500"``, ``"401"``, ... and
    ``"drop"``), ``fault_counts`` (by kind, ``"none"`` for normal), ``dropped``, ``requests``
    (every received body, in arrival order).
    """

    def __init__(
        self,
        *,
        reply: Callable[[dict], str] | None = None,
        latency: float = 0.0,
        faults: list | Callable[[int, dict], str | None] | None = None,
        fault_rate: float = 0.0,
        fault_kinds=FAULT_KINDS,
        seed: int = 0,
        retry_after: float = 0.05,
        slow_seconds: float = 2.0,
        on_request: Callable[[int, dict], Any] | None = None,
        model: str = "fake-teacher",
        api_key: str | None = None,
        response_formats: tuple[str, ...] | str | None = None,
        batch_api: bool = True,
        batch_seconds: float = 0.2,
        list_page: int = 100,
        batch_slow_seconds: float = 3.0,
        batch_faults: list | Callable[[int, list], str | None] | None = None,
        on_batch: Callable[[str, Any], Any] | None = None,
        state_file: str | os.PathLike | None = None,
    ):
        for k in (list(faults) if isinstance(faults, (list, tuple)) else []) + list(fault_kinds):
            if k is not None and k not in ALL_FAULT_KINDS:
                raise ValueError(f"unknown fault kind {k!r}; known: {ALL_FAULT_KINDS}")
        if fault_rate > 0 and not fault_kinds:
            raise ValueError("fault_rate > 0 needs at least one fault kind")
        self.reply = reply or default_reply
        self.latency = float(latency)
        self.faults = list(faults) if isinstance(faults, (list, tuple)) else faults
        self.fault_rate = float(fault_rate)
        self.fault_kinds = tuple(fault_kinds)
        self.seed = seed
        self.retry_after = retry_after
        self.slow_seconds = float(slow_seconds)
        self.on_request = on_request
        self.model = model
        self.api_key = api_key
        self.format_profile = response_formats if isinstance(response_formats, str) else None
        self.response_formats = (
            SERVER_FORMATS[response_formats] if isinstance(response_formats, str) else response_formats
        )
        self.format_rejections: list[str] = []  # the response_format types refused, in order
        for k in batch_faults if isinstance(batch_faults, (list, tuple)) else []:
            if k is not None and k not in BATCH_FAULT_KINDS:
                raise ValueError(f"unknown batch fault {k!r}; known: {BATCH_FAULT_KINDS}")
        self.batch_api = batch_api
        self.batch_seconds = float(batch_seconds)
        self.list_page = int(list_page)  # the most items a listing answers per page (it honours limit and after)
        self.batch_slow_seconds = float(batch_slow_seconds)
        self.batch_faults = batch_faults
        self.on_batch = on_batch
        self.state_file = state_file
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self.batch_creates: list[str] = []
        self.batch_submitted: list[str] = []
        self.batch_billed: list[str] = []
        self.uploads = 0
        self.batch_lists = 0  # pages of GET /v1/batches answered
        if state_file is not None and os.path.exists(state_file):
            with open(state_file, encoding="utf-8") as f:
                st = json.load(f)
            self.files, self.batches = st["files"], st["batches"]
            self.batch_creates, self.batch_submitted = st["batch_creates"], st["batch_submitted"]
            self.batch_billed, self.uploads = st["batch_billed"], st["uploads"]

        self.lock = threading.Lock()
        self._rng = random.Random(seed)
        self.received = 0
        self.answered = 0
        self.dropped = 0
        self.gets = 0  # GET requests (e.g. a client's GET /v1/models probe); not counted in ``received``
        self.answered_keys: list[str] = []
        self.requests: list[dict] = []
        self.status_counts: collections.Counter = collections.Counter()
        self.fault_counts: collections.Counter = collections.Counter()

        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self.base_url = ""
        self.port = 0

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeOpenAIServer:
        if self._httpd is not None:
            return self
        self._httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self.lock:
            conns = list(self._conns)
            self._conns.clear()
        for c in conns:  # close idle keep-alive connections so clients see the server is gone
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- counters
    def duplicates(self) -> int:
        """How many answered requests repeat an earlier answered key."""
        with self.lock:
            return len(self.answered_keys) - len(set(self.answered_keys))

    def reset_counters(self) -> None:
        with self.lock:
            self.received = self.answered = self.dropped = self.gets = 0
            self.answered_keys.clear()
            self.requests.clear()
            self.status_counts.clear()
            self.fault_counts.clear()

    def stats(self) -> dict:
        with self.lock:
            return {
                "received": self.received,
                "answered": self.answered,
                "dropped": self.dropped,
                "duplicates": len(self.answered_keys) - len(set(self.answered_keys)),
                "status_counts": dict(self.status_counts),
                "fault_counts": dict(self.fault_counts),
            }

    # ---------------------------------------------------------------- internals
    def _admit(self, body: dict, authorized: bool) -> tuple[int, str | None]:
        """Count a received completion request and pick its fault (under the lock)."""
        with self.lock:
            self.received += 1
            n = self.received
            self.requests.append(body)
            kind: str | None = None
            if isinstance(self.faults, list):
                kind = self.faults[n - 1] if n <= len(self.faults) else None
            elif self.fault_rate > 0 and self.faults is None:
                if self._rng.random() < self.fault_rate:
                    kind = self._rng.choice(self.fault_kinds)
        if callable(self.faults):
            kind = self.faults(n, body)
            if kind is not None and kind not in ALL_FAULT_KINDS:
                raise ValueError(f"faults callable returned unknown kind {kind!r}")
        if not authorized:
            kind = "401"
        with self.lock:
            self.fault_counts[kind or "none"] += 1
        return n, kind

    def _count(self, status: str, key: str | None) -> None:
        with self.lock:
            self.status_counts[status] += 1
            if key is not None:
                self.answered += 1
                self.answered_keys.append(key)
                if status == "drop":
                    self.dropped += 1

    def _completion(self, endpoint: str, body: dict, truncate: bool = False) -> dict:
        text = str(self.reply(body))
        finish = "stop"
        if truncate:
            raw = text.encode("utf-8")
            text = _cut_utf8(text, max(1, len(raw) // 2))
            finish = "length"
        cap = body.get("max_completion_tokens", body.get("max_tokens"))
        n_bytes = len(text.encode("utf-8"))
        completion_tokens = _ntok(n_bytes)
        if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0:
            if n_bytes > cap * 4:
                text = _cut_utf8(text, cap * 4)
                finish = "length"
            completion_tokens = min(completion_tokens, cap)
        n = body.get("n") or 1
        n = n if isinstance(n, int) and n > 0 else 1
        prompt_tokens = _ntok(len(_prompt_text(body).encode("utf-8")))
        if endpoint == "chat":
            obj, choices = (
                "chat.completion",
                [
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                    for i in range(n)
                ],
            )
            rid = "chatcmpl-" + uuid.uuid4().hex[:24]
        else:
            obj, choices = (
                "text_completion",
                [{"index": i, "text": text, "logprobs": None, "finish_reason": finish} for i in range(n)],
            )
            rid = "cmpl-" + uuid.uuid4().hex[:24]
        completion_tokens *= n
        return {
            "id": rid,
            "object": obj,
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }

    # ---------------------------------------------------------------- the Batch API
    def _save(self) -> None:
        """Write every file and batch to ``state_file`` (under the lock), atomically."""
        if self.state_file is None:
            return
        tmp = f"{self.state_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "files": self.files,
                    "batches": self.batches,
                    "batch_creates": self.batch_creates,
                    "batch_submitted": self.batch_submitted,
                    "batch_billed": self.batch_billed,
                    "uploads": self.uploads,
                },
                f,
            )
        os.replace(tmp, self.state_file)

    def format_rejection(self, body: dict) -> tuple[int, dict] | None:
        """(HTTP status, error body) of a request whose response_format type this server does not take, as the
        real server answers it (counted in ``format_rejections``); None when it takes the request. Call under
        ``lock``."""
        rf = body.get("response_format")
        if self.response_formats is None or not isinstance(rf, dict):
            return None
        kind = rf.get("type")
        if kind in self.response_formats:
            return None
        self.format_rejections.append(str(kind))
        self.status_counts["format_rejected"] += 1
        if self.format_profile == "llamacpp":  # llama-cpp-python 0.3.x: validation error as a 500
            msg = (
                "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                f"'msg': \"Input should be 'text' or 'json_object'\", 'input': '{kind}'}}"
            )
            return 500, {"error": {"message": msg, "type": "internal_server_error", "param": None, "code": None}}
        if "json_object" in self.response_formats:  # a FastAPI server: pydantic validation of the body
            return 422, {
                "detail": [
                    {
                        "type": "literal_error",
                        "loc": ["body", "response_format", "type"],
                        "msg": "Input should be 'text' or 'json_object'",
                        "input": kind,
                    }
                ]
            }
        return 400, {
            "error": {
                "message": f"Invalid parameter: 'response_format' of type '{kind}' is not supported with this model.",
                "type": "invalid_request_error",
                "param": "response_format",
                "code": None,
            }
        }

    def _new_file(self, name: str, content: str, purpose: str) -> dict:
        fid = "file-" + uuid.uuid4().hex[:24]
        self.files[fid] = {
            "id": fid,
            "object": "file",
            "bytes": len(content.encode("utf-8")),
            "created_at": int(time.time()),
            "filename": name,
            "purpose": purpose,
            "status": "processed",
            "_content": content,
        }
        return self.files[fid]

    def _create_batch(self, body: dict) -> tuple[int, dict]:
        f = self.files.get(body.get("input_file_id") or "")
        if f is None:
            return 400, {"error": dict(_ERRORS["400"], message="input_file_id not found", param="input_file_id")}
        if body.get("endpoint") not in _ENDPOINTS or body.get("completion_window") != "24h":
            return 400, {"error": dict(_ERRORS["400"], message="bad endpoint or completion_window", param=None)}
        lines = [json.loads(x) for x in f["_content"].splitlines() if x.strip()]
        ids = [x.get("custom_id") for x in lines]
        n = len(self.batch_creates) + 1
        fault = None
        if isinstance(self.batch_faults, (list, tuple)):
            fault = self.batch_faults[n - 1] if n <= len(self.batch_faults) else None
        elif callable(self.batch_faults):
            fault = self.batch_faults(n, ids)
        bid = "batch_" + uuid.uuid4().hex[:24]
        now = time.time()
        b = {
            "id": bid,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": f["id"],
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(now),
            "in_progress_at": None,
            "expires_at": int(now) + 86400,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelled_at": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
            "_t0": now,
            "_fault": fault,
        }
        self.batches[bid] = b
        self.batch_creates.append(bid)
        self.batch_submitted.extend(ids)
        return 200, b

    def _advance(self, b: dict, cancel: bool = False) -> dict:
        """Bring a batch up to date (it runs while nobody looks); ``cancel`` stops one that is not finished."""
        if b["status"] in _BATCH_FINAL:
            return b
        now = time.time()
        fault = b.get("_fault")
        if cancel:
            return self._finish(b, "cancelled", now)
        wait = self.batch_slow_seconds if fault == "slow" else self.batch_seconds
        if fault == "never" or now - b["_t0"] < wait:
            b["status"], b["in_progress_at"] = "in_progress", b["in_progress_at"] or int(now)
            return b
        return self._finish(b, {"expired": "expired", "failed": "failed"}.get(fault, "completed"), now)

    def _finish(self, b: dict, status: str, now: float) -> dict:
        b["status"] = status
        b[
            {"completed": "completed_at", "expired": "expired_at", "failed": "failed_at", "cancelled": "cancelled_at"}[
                status
            ]
        ] = int(now)
        if status == "failed":
            b["errors"] = {
                "object": "list",
                "data": [
                    {"code": "invalid_request", "message": "simulated validation failure", "param": None, "line": None}
                ],
            }
            return b
        lines = [json.loads(x) for x in self.files[b["input_file_id"]]["_content"].splitlines() if x.strip()]
        out, err = [], []
        fault = b.get("_fault")
        for i, ln in enumerate(lines):
            cid = ln.get("custom_id")
            rid = "batch_req_" + uuid.uuid4().hex[:24]
            code = None
            if status == "cancelled":
                code = "batch_cancelled"
            elif fault == "expired" and i >= len(lines) // 2:
                code = "batch_expired"
            elif fault == "partial" and i % 2 == 1:
                code = "server_error"
            if code:
                err.append(
                    {
                        "id": rid,
                        "custom_id": cid,
                        "response": None,
                        "error": {"code": code, "message": f"simulated {code}"},
                    }
                )
                continue
            refused = self.format_rejection(ln.get("body") or {})
            if refused is not None:  # the line's own answer, as the endpoint gives it: an error, not billed
                status_code, obj = refused
                err.append(
                    {
                        "id": rid,
                        "custom_id": cid,
                        "response": {"status_code": status_code, "request_id": rid, "body": obj},
                        "error": None,
                    }
                )
                continue
            body = self._completion(_ENDPOINTS[ln.get("url")], ln.get("body") or {})
            out.append(
                {
                    "id": rid,
                    "custom_id": cid,
                    "response": {"status_code": 200, "request_id": rid, "body": body},
                    "error": None,
                }
            )
            self.batch_billed.append(cid)
        if out:
            b["output_file_id"] = self._new_file(
                f"{b['id']}_output.jsonl", "".join(json.dumps(x) + "\n" for x in out), "batch_output"
            )["id"]
        if err:
            b["error_file_id"] = self._new_file(
                f"{b['id']}_error.jsonl", "".join(json.dumps(x) + "\n" for x in err), "batch_output"
            )["id"]
        b["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}
        return b


def _public(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body: name -> (filename, bytes)."""
    msg = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    out = {}
    for part in msg.get_payload() if msg.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        out[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out


def _make_handler(server: FakeOpenAIServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeOpenAI/1.0"
        sys_version = ""
        disable_nagle_algorithm = True  # avoid 40 ms Nagle + delayed-ACK stalls on keep-alive

        def log_message(self, format, *args):  # noqa: A002 - silence request logging
            pass

        def setup(self):
            super().setup()
            with server.lock:
                server._conns.add(self.connection)

        def finish(self):
            try:
                super().finish()
            except OSError:
                pass
            finally:
                with server.lock:
                    server._conns.discard(self.connection)

        # ------------------------------------------------------------ writing
        def _send(
            self, status: int, payload: bytes, headers: dict | None = None, content_type: str = "application/json"
        ) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                self.close_connection = True

        def _send_json(self, status: int, obj: Any, headers: dict | None = None) -> None:
            self._send(status, json.dumps(obj).encode("utf-8"), headers)

        def _error(self, status: str, headers: dict | None = None) -> None:
            self._send_json(int(status), {"error": dict(_ERRORS[status], param=None)}, headers)

        def _read_body(self) -> bytes | None:
            length = self.headers.get("Content-Length")
            if length is None:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    return self._read_chunked()
                return b""
            try:
                n = int(length)
            except ValueError:
                return None
            data = b""
            while len(data) < n:
                chunk = self.rfile.read(n - len(data))
                if not chunk:
                    return None
                data += chunk
            return data

        def _read_chunked(self) -> bytes | None:
            data = b""
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    return None
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline(65537)

        def _authorized(self) -> bool:
            if server.api_key is None:
                return True
            return self.headers.get("Authorization", "") == f"Bearer {server.api_key}"

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                self.connection.close()
            except OSError:
                pass

        # ------------------------------------------------------------ verbs
        def do_GET(self):
            with server.lock:
                server.gets += 1
            path, _, query = self.path.partition("?")
            path = path.rstrip("/")
            if path == "/v1/models":
                if not self._authorized():
                    return self._error("401")
                return self._send_json(
                    200,
                    {
                        "object": "list",
                        "data": [{"id": server.model, "object": "model", "created": 0, "owned_by": "fake"}],
                    },
                )
            if path.startswith("/v1/models/"):
                return self._send_json(
                    200, {"id": path[len("/v1/models/") :], "object": "model", "created": 0, "owned_by": "fake"}
                )
            if server.batch_api and path.startswith(("/v1/files", "/v1/batches")):
                if not self._authorized():
                    return self._error("401")
                return self._batch_get(path, urllib.parse.parse_qs(query))
            self._error("404")

        def _listing(self, items: list[dict], query: dict) -> None:
            """One page: after the item ``after`` names, at most ``limit`` (and the server's ``list_page``)."""
            ids = [x["id"] for x in items]
            start = ids.index(query["after"][0]) + 1 if query.get("after", [None])[0] in ids else 0
            limit = min(int(query.get("limit", ["20"])[0]), server.list_page)
            data = [_public(x) for x in items[start : start + limit]]
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": data,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                    "has_more": start + limit < len(items),
                },
            )

        def _batch_get(self, path: str, query: dict | None = None):
            query = query or {}
            parts = path.split("/")[2:]  # files | files/ID | files/ID/content | batches | batches/ID
            with server.lock:
                if parts == ["files"]:
                    return self._listing(sorted(server.files.values(), key=lambda f: -f["created_at"]), query)
                if parts == ["batches"]:
                    items = [server._advance(b) for b in server.batches.values()]
                    server._save()
                    server.batch_lists += 1
                    return self._listing(sorted(items, key=lambda b: -b["_t0"]), query)
                if parts[0] == "files" and parts[1] in server.files:
                    f = server.files[parts[1]]
                    if len(parts) == 2:
                        return self._send_json(200, _public(f))
                    content = f["_content"].encode("utf-8")
                    hook = True
                elif parts[0] == "batches" and len(parts) == 2 and parts[1] in server.batches:
                    b = _public(server._advance(server.batches[parts[1]]))
                    server._save()
                    hook = False
                else:
                    return self._send_json(
                        404, {"error": dict(_ERRORS["404"], message=f"no such object: {path}", param=None)}
                    )
            if server.on_batch is not None:
                server.on_batch("content" if hook else "retrieve", parts[1] if hook else b)
            if hook:
                return self._send(200, content, content_type="application/octet-stream")
            return self._send_json(200, b)

        def _batch_post(self, path: str, raw: bytes):
            if not self._authorized():
                return self._error("401")
            parts = path.split("/")[2:]
            if parts == ["files"]:
                fields = _multipart(self.headers.get("Content-Type", ""), raw)
                name, data = fields.get("file", (None, b""))
                purpose = (fields.get("purpose") or (None, b""))[1].decode()
                if server.on_batch is not None and server.on_batch("upload", name) == "drop":
                    return self._drop()
                with server.lock:
                    server.uploads += 1
                    f = server._new_file(name or "upload.jsonl", data.decode("utf-8"), purpose)
                    server._save()
                if server.on_batch is not None:
                    server.on_batch("uploaded", f["id"])
                return self._send_json(200, _public(f))
            try:
                body = json.loads(raw.decode("utf-8")) if raw else {}
            except ValueError:
                body = {}
            with server.lock:
                if parts == ["batches"]:
                    status, obj = server._create_batch(body)
                    event = "create" if status == 200 else None
                elif len(parts) == 3 and parts[0] == "batches" and parts[2] == "cancel" and parts[1] in server.batches:
                    status, obj, event = 200, server._advance(server.batches[parts[1]], cancel=True), None
                else:
                    status, obj, event = (
                        404,
                        {"error": dict(_ERRORS["404"], message=f"no such object: {path}", param=None)},
                        None,
                    )
                obj = _public(obj)
                server._save()
            if event and server.on_batch is not None:
                server.on_batch(event, obj)
            return self._send_json(status, obj)

        def do_POST(self):
            raw = self._read_body()
            if raw is None:
                self.close_connection = True
                return self._send_json(400, {"error": dict(_ERRORS["400"], message="bad Content-Length", param=None)})
            path = self.path.split("?", 1)[0].rstrip("/")
            if server.batch_api and path.startswith(("/v1/files", "/v1/batches")):
                return self._batch_post(path, raw)
            endpoint = _ENDPOINTS.get(path)
            if endpoint is None:
                return self._error("404")
            try:
                body = json.loads(raw.decode("utf-8")) if raw else {}
                if not isinstance(body, dict):
                    raise ValueError("body is not an object")
            except ValueError:
                return self._send_json(
                    400, {"error": dict(_ERRORS["400"], message="body is not valid JSON", param=None)}
                )
            if self._format_rejected(body):
                return
            n, kind = server._admit(body, self._authorized())
            if server.on_request is not None:
                server.on_request(n, body)
            key = canonical_key(body)

            if kind == "429":
                self._count("429", None)
                return self._error("429", {"Retry-After": f"{server.retry_after:g}"})
            if kind == "drop":
                self._count("drop", key)
                return self._drop()
            if server.latency > 0:
                time.sleep(server.latency)
            if kind in ("401", "400", "404"):
                self._count(kind, None)
                return self._error(kind)
            if kind == "500":
                self._count("500", key)
                return self._error("500")
            if kind == "slow":
                time.sleep(server.slow_seconds)
            if kind == "malformed":
                self._count("200", key)
                return self._send(200, b'{"choices": [')
            try:
                obj = server._completion(endpoint, body, truncate=(kind == "truncated"))
            except Exception as e:  # a faulty reply() callable: report it instead of hanging the client
                self._count("500", key)
                return self._send_json(
                    500,
                    {
                        "error": {
                            "message": f"reply() failed: {e!r}",
                            "type": "server_error",
                            "param": None,
                            "code": None,
                        }
                    },
                )
            if kind == "empty_choices":
                obj["choices"] = []
            self._count("200", key)
            self._send_json(200, obj)

        def _count(self, status: str, key: str | None) -> None:
            server._count(status, key)

        def _format_rejected(self, body: dict) -> bool:
            """Refuse a response_format type this server does not take, the way the real server says it."""
            with server.lock:
                got = server.format_rejection(body)
            if got is None:
                return False
            self._send_json(*got)
            return True

    return Handler
