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
"""

from __future__ import annotations

import collections
import hashlib
import json
import random
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

__all__ = ["FakeOpenAIServer", "FAULT_KINDS", "ALL_FAULT_KINDS", "canonical_key", "default_reply"]

FAULT_KINDS = ("429", "500", "slow", "drop", "malformed", "empty_choices", "truncated")
ALL_FAULT_KINDS = FAULT_KINDS + ("401", "400", "404")

_GOLD_RE = re.compile(r"^\s*Gold answer:\s*(.+?)\s*$", re.MULTILINE)

_ERRORS: dict[str, dict[str, Any]] = {
    "429": {"message": "rate limited", "type": "rate_limit_error", "code": "rate_limit_exceeded"},
    "500": {"message": "The server had an error while processing your request.", "type": "server_error",
            "code": None},
    "401": {"message": "Incorrect API key provided", "type": "invalid_request_error",
            "code": "invalid_api_key"},
    "400": {"message": "Bad request", "type": "invalid_request_error", "code": None},
    "404": {"message": "The model does not exist", "type": "invalid_request_error",
            "code": "model_not_found"},
}

_ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}

SERVER_FORMATS: dict[str, tuple[str, ...]] = {"openai": ("json_schema", "json_object"), "vllm": ("json_schema", "json_object"),
                                              "llamacpp": ("json_object",), "fastapi": ("json_object",), "plain": ()}


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

    def __init__(self, *, reply: Callable[[dict], str] | None = None, latency: float = 0.0,
                 faults: list | Callable[[int, dict], str | None] | None = None, fault_rate: float = 0.0,
                 fault_kinds=FAULT_KINDS, seed: int = 0, retry_after: float = 0.05,
                 slow_seconds: float = 2.0, on_request: Callable[[int, dict], Any] | None = None,
                 model: str = "fake-teacher", api_key: str | None = None,
                 response_formats: tuple[str, ...] | str | None = None):
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
        self.response_formats = SERVER_FORMATS[response_formats] if isinstance(response_formats, str) else response_formats
        self.format_rejections: list[str] = []  # the response_format types refused, in order

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
    def start(self) -> "FakeOpenAIServer":
        if self._httpd is not None:
            return self
        self._httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-openai-{self.port}", daemon=True)
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

    def __enter__(self) -> "FakeOpenAIServer":
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
            return {"received": self.received, "answered": self.answered, "dropped": self.dropped,
                    "duplicates": len(self.answered_keys) - len(set(self.answered_keys)),
                    "status_counts": dict(self.status_counts), "fault_counts": dict(self.fault_counts)}

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
            obj, choices = "chat.completion", [
                {"index": i, "message": {"role": "assistant", "content": text, "refusal": None},
                 "logprobs": None, "finish_reason": finish} for i in range(n)]
            rid = "chatcmpl-" + uuid.uuid4().hex[:24]
        else:
            obj, choices = "text_completion", [
                {"index": i, "text": text, "logprobs": None, "finish_reason": finish} for i in range(n)]
            rid = "cmpl-" + uuid.uuid4().hex[:24]
        completion_tokens *= n
        return {"id": rid, "object": obj, "created": int(time.time()), "model": body.get("model") or self.model,
                "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens,
                          "completion_tokens_details": {"reasoning_tokens": 0}}}


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
        def _send(self, status: int, payload: bytes, headers: dict | None = None,
                  content_type: str = "application/json") -> None:
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
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/v1/models":
                if not self._authorized():
                    return self._error("401")
                return self._send_json(200, {"object": "list", "data": [
                    {"id": server.model, "object": "model", "created": 0, "owned_by": "fake"}]})
            if path.startswith("/v1/models/"):
                return self._send_json(200, {"id": path[len("/v1/models/"):], "object": "model",
                                             "created": 0, "owned_by": "fake"})
            self._error("404")

        def do_POST(self):
            raw = self._read_body()
            if raw is None:
                self.close_connection = True
                return self._send_json(400, {"error": dict(_ERRORS["400"], message="bad Content-Length",
                                                           param=None)})
            path = self.path.split("?", 1)[0].rstrip("/")
            endpoint = _ENDPOINTS.get(path)
            if endpoint is None:
                return self._error("404")
            try:
                body = json.loads(raw.decode("utf-8")) if raw else {}
                if not isinstance(body, dict):
                    raise ValueError("body is not an object")
            except ValueError:
                return self._send_json(400, {"error": dict(_ERRORS["400"], message="body is not valid JSON",
                                                           param=None)})
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
                return self._send_json(500, {"error": {"message": f"reply() failed: {e!r}",
                                                       "type": "server_error", "param": None, "code": None}})
            if kind == "empty_choices":
                obj["choices"] = []
            self._count("200", key)
            self._send_json(200, obj)

        def _count(self, status: str, key: str | None) -> None:
            server._count(status, key)

        def _format_rejected(self, body: dict) -> bool:
            """Refuse a response_format type this server does not take, the way the real server says it."""
            rf = body.get("response_format")
            if server.response_formats is None or not isinstance(rf, dict):
                return False
            kind = rf.get("type")
            if kind in server.response_formats:
                return False
            with server.lock:
                server.format_rejections.append(str(kind))
                server.status_counts["format_rejected"] += 1
            if server.format_profile == "llamacpp":  # llama-cpp-python 0.3.x: validation error as a 500
                msg = ("1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                       f"'msg': \"Input should be 'text' or 'json_object'\", 'input': '{kind}'}}")
                self._send_json(500, {"error": {"message": msg, "type": "internal_server_error", "param": None,
                                                "code": None}})
            elif "json_object" in server.response_formats:  # a FastAPI server: pydantic validation of the body
                self._send_json(422, {"detail": [{"type": "literal_error", "loc": ["body", "response_format", "type"],
                                                  "msg": "Input should be 'text' or 'json_object'", "input": kind}]})
            else:
                self._send_json(400, {"error": {"message": f"Invalid parameter: 'response_format' of type '{kind}' is "
                                                           "not supported with this model.",
                                                "type": "invalid_request_error", "param": "response_format", "code": None}})
            return True

    return Handler
