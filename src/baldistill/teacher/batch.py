"""The OpenAI Batch API (``teacher.batch: true``): the same requests, the same cache and budget, at
``price.batch_discount`` off, answered within 24 hours instead of at once.

A stage's requests that are not in the reply cache are written as JSONL (one line per distinct request,
``custom_id`` = the request's cache key), split into files of at most 50,000 requests and 200 MB (the
API's limits), uploaded to ``/v1/files`` (purpose ``batch``) and submitted to ``/v1/batches`` (completion
window 24 h). Each request's worst case is charged at submission with the status ``submitted``, in the
same transaction that records the batch (``budget/ledger.py``); then the file id, then the batch id are
recorded as they arrive. The batches are polled with a doubling wait (``teacher.batch_poll`` up to
``batch_poll_max``); a finished batch's output and error files settle the ledger request by request and
every reply goes to the cache, so everything downstream (parsing, checks, training data) is the same as
without batches.

The rules, in the ledger's terms:
- a reply in the output file: settled with its reported usage (at the discounted price), cached;
- a request the API reports failed, expired or cancelled was not billed: released, and submitted again
  in a new batch (at most ``teacher.max_retries`` times);
- a batch that cannot be read back (unknown to the server, its files unreadable after the retries):
  its requests follow the unknown-outcome rule (the worst case stays charged) and are submitted again;
- after a crash, a batch recorded with its id is polled again, never re-submitted; one recorded with only
  its file id is looked up among the server's batches by that file (the kill may have come between the
  create and the record); one recorded before its upload, or whose file no batch uses, was never sent:
  its rows are released and its requests submitted anew;
- with ``teacher.structured: auto`` the lines carry the structured-output form the server is known to take
  (``backend.form``, learned one by one or here, and kept in the ledger for a resumed run); a request the
  server refused for its ``response_format`` did no work: it is released and submitted again in the next form
  (json_schema, json_object, text), which the run then keeps; this does not count as a failed attempt. With an
  explicit form a refusal stops the run, as it does one by one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass

from ..budget.ledger import BudgetExceeded
from ..core.structured import downgrade, next_form, rejects_form
from .backends import Fatal, Refused, Unknown
from .errors import BatchCancelled, TeacherError, TeacherUnavailable
from .replies import parse_body
from .requests import Request

log = logging.getLogger("baldistill")

MAX_REQUESTS = 50_000  # requests per batch file (the API's limit)
MAX_BYTES = 200 * 1024 * 1024  # bytes per batch file (the API's limit)
FINAL = ("completed", "expired", "cancelled", "failed")  # the server's states of a finished batch


# ---- pure: lines, files, results ------------------------------------------------------------------------
def endpoint(req: Request) -> str:
    return "/v1/chat/completions" if "messages" in req.payload else "/v1/completions"


def line(req: Request, form: str | None = None) -> bytes:
    """One request of a batch file: custom_id is the request's cache key, body what ``send`` would post (with
    ``form``: its ``json_schema`` response_format as sent in that structured-output form)."""
    body = {k: v for k, v in req.payload.items() if k != "sample"}
    if form is not None:
        body = downgrade(body, form)
    return (
        json.dumps(
            {"custom_id": req.cache_key, "method": "POST", "url": endpoint(req), "body": body}, ensure_ascii=False
        )
        + "\n"
    ).encode()


def split(sizes: list[int], max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES) -> list[range]:
    """Consecutive runs of lines (given by their sizes in bytes), each a file within the API's limits: at most
    ``max_requests`` lines and ``max_bytes`` bytes (a single line larger than that is a file of its own)."""
    out, start, size = [], 0, 0
    for i, n in enumerate(sizes):
        if i > start and (i - start >= max_requests or size + n > max_bytes):
            out.append(range(start, i))
            start, size = i, 0
        size += n
    if start < len(sizes):
        out.append(range(start, len(sizes)))
    return out


@dataclass(frozen=True)
class Result:
    custom_id: str
    raw: str | None  # the response body (a chat.completion) when the request was answered
    why: str = ""  # otherwise: what the API said (failed, expired, cancelled)
    expired: bool = False
    status: int | None = None  # the HTTP status of an answer that was an error
    detail: str = ""  # its body, as text

    @property
    def refused_form(self) -> bool:
        """The server refused the request's response_format (no work done)."""
        return self.raw is None and rejects_form(self.status, self.detail)


def read_results(output: str | None, errors: str | None) -> dict[str, Result]:
    """The output and error files of a finished batch, by custom_id. Never raises on a bad line."""
    out: dict[str, Result] = {}
    for text in (output, errors):
        for ln in (text or "").splitlines():
            try:
                obj = json.loads(ln)
            except json.JSONDecodeError:
                continue
            cid = obj.get("custom_id") if isinstance(obj, dict) else None
            if not cid or (cid in out and out[cid].raw is not None):
                continue
            resp, err = obj.get("response") or {}, obj.get("error") or {}
            if resp.get("status_code") == 200 and resp.get("body") is not None:
                out[cid] = Result(cid, json.dumps(resp["body"]))
                continue
            code = err.get("code") or (f"HTTP {resp.get('status_code')}" if resp.get("status_code") else "error")
            body = resp.get("body")
            msg = err.get("message") or ((body if isinstance(body, dict) else {}).get("error") or {}).get("message")
            detail = json.dumps(body) if body is not None else json.dumps(err)
            status = resp.get("status_code") if isinstance(resp.get("status_code"), int) else None
            out[cid] = Result(cid, None, f"{code}: {msg or ''}".strip(": "), code == "batch_expired", status, detail)
    return out


# ---- the API --------------------------------------------------------------------------------------------
class BatchAPI:
    """/v1/files and /v1/batches through the official client; errors as the backends raise them (Refused,
    Unknown, Fatal), so the budget knows whether the server may have done the work."""

    def __init__(self, backend):
        self.backend, self.client, self.where = backend, backend.client, backend.where

    async def _call(self, coro):
        try:
            return await coro
        except Exception as e:  # noqa: BLE001 - classified just below
            raise self.backend.classify(e, what="the Batch API") from None

    async def upload(self, data: bytes, name: str) -> str:
        return (await self._call(self.client.files.create(file=(name, data), purpose="batch"))).id

    async def create(self, file_id: str, endpoint: str, ref: int):
        return await self._call(
            self.client.batches.create(
                input_file_id=file_id, endpoint=endpoint, completion_window="24h", metadata={"baldistill_ref": str(ref)}
            )
        )

    async def retrieve(self, batch_id: str):
        return await self._call(self.client.batches.retrieve(batch_id))

    async def cancel(self, batch_id: str):
        return await self._call(self.client.batches.cancel(batch_id))

    async def content(self, file_id: str) -> str:
        return (await self._call(self.client.files.content(file_id))).text

    async def find(self, file_id: str, since: float):
        """The batch made from ``file_id``, or None (the server's batches, newest first, back to ``since``)."""
        after = None
        while True:
            page = await self._call(self.client.batches.list(limit=100, **({"after": after} if after else {})))
            for b in page.data:
                if b.input_file_id == file_id:
                    return b
            if not page.data or not page.has_more or min(b.created_at for b in page.data) < since - 3600:
                return None
            after = page.data[-1].id


# ---- the runner -----------------------------------------------------------------------------------------
class BatchRunner:
    """Fills the reply cache for a list of requests through batches, under the engine's ledger and caps."""

    def __init__(self, engine, api: BatchAPI):
        self.engine, self.api, self.cfg = engine, api, engine.cfg
        self.led, self.cache, self.backend = engine.ledger, engine.cache, engine.backend
        self._refused: set[str] = set()  # requests released for their response_format: asked again, not failed
        self._known_cancelled: set[int] = set()
        self._advance, self._per_key, self._advanced = None, Counter(), 0

    async def fill(self, requests: list[Request], advance=None) -> int:
        """Afterwards every reply these requests need is in the cache, unless a cap stopped the buying
        (``engine.cap_reached``). Returns how many of ``requests`` it advanced the progress by."""
        self._close_finished()
        need: dict[str, Request] = {}
        for r in requests:
            self.led.adopt(r.legacy_key, r.key)
            if self.cache.get(r.cache_key) is None:
                need.setdefault(r.cache_key, r)
        if not need:
            return 0
        per_key = Counter(r.cache_key for r in requests)
        self._advance, self._per_key, self._advanced = advance, per_key, 0
        tries: Counter = Counter()
        # batches an earlier process submitted with some of these requests: picked up, never submitted again
        found = [b for b in self.led.batches(open_only=True) if set(b["custom_ids"]) & set(need)]
        # cancelled before this process looked (``baldistill batch cancel``): settled, the rest submitted again
        self._known_cancelled = {b["ref"] for b in found if b["state"] in ("cancelling", "cancelled")}
        watch = await self._recover(found)
        while True:
            inflight = {cid for b in watch for cid in b["custom_ids"]}
            todo = [r for k, r in need.items() if k not in inflight and self.cache.get(k) is None]
            if todo and not self.engine.cap_reached:
                watch += await self._submit(todo, bool(watch))
            if not watch:
                break
            self._refused = set()
            for cid, why in (await self._wait(watch)).items():
                if cid in self._refused:  # to be asked again in the next structured-output form
                    continue
                tries[cid] += 1
                if tries[cid] > self.cfg.max_retries:
                    raise TeacherUnavailable(
                        f"teacher unavailable at {self.api.where}: a batch request failed {tries[cid]} times ({why})"
                    )
            watch = []
        return self._advanced

    def _close_finished(self) -> None:
        """A batch whose rows were all settled before a crash cut its record short: recorded settled."""
        for b in self.led.batches(open_only=True):
            if b["batch_id"] and not any(st == "submitted" for _, _, st in self.led.batch_rows(b["ref"]).values()):
                self.led.update_batch(b["ref"], state="settled")

    # ---- submit ------------------------------------------------------------------------------------
    async def _submit(self, todo: list[Request], others_inflight: bool) -> list[dict]:
        """Charge and submit ``todo`` as batches (files within the limits); stops where a cap refuses. When a
        cap refuses the first request with nothing in flight, the cap is reached."""
        form = self._form()
        lines = [line(r, form) for r in todo]
        made = []
        for part in split([len(x) for x in lines], MAX_REQUESTS, MAX_BYTES):
            reqs = [todo[i] for i in part]
            asks = [dict(r.charge(physical=True), custom_id=r.cache_key, request=r.payload) for r in reqs]
            try:
                ref, rows, refused = self.led.submit(
                    asks, stage=reqs[0].stage, kind=reqs[0].kind, endpoint=endpoint(reqs[0]), form=form or ""
                )
            except BudgetExceeded as e:
                ref, rows, refused = None, [], str(e)
            if ref is not None:
                data = b"".join(lines[i] for i in list(part)[: len(rows)])
                made.append(await self._send(ref, data, endpoint(reqs[0])))
            if refused:
                if not made and not others_inflight:
                    self.engine.cap_reached = refused
                    log.warning("%s: no more teacher calls in this run", refused)
                break
        return made

    def _form(self) -> str | None:
        """With ``teacher.structured: auto``: the structured-output form the lines are sent in (the one the server
        is known to take); None otherwise (the requests as built)."""
        return self.backend.form if getattr(self.backend, "structured", None) == "auto" else None

    def _refuse_form(self, b: dict, refused: list[str], detail: str) -> None:
        """The server refused the response_format of ``refused`` requests of batch ``b`` (released, not billed):
        with ``auto``, the next form is used from now on (and kept in the ledger) and they are asked again;
        otherwise the run stops, as it does one by one."""
        sent = b.get("form") or None
        after = next_form(sent) if sent and self._form() is not None else None
        if after is None:
            what = sent or getattr(self.backend, "structured", "as configured")
            raise TeacherError(
                f"{self.api.where} rejected the structured-output form {what} in batch {b['batch_id']}: "
                f"{detail[:200]}; set teacher.structured to auto (falls back by itself) or off"
            )
        if self.backend.form == sent:
            self.backend.form = after
            self.led.set_setting("structured_form", after)
            log.info(
                "teacher: %s rejected response_format %s in batch %s; using %s for this run",
                self.api.where,
                sent,
                b["batch_id"],
                after if after != "text" else "plain text",
            )
        self._refused.update(refused)

    async def _send(self, ref: int, data: bytes, ep: str) -> dict:
        """Upload the file, create the batch, record each id the moment it arrives."""
        n = data.count(b"\n")
        try:
            file_id = await self._retrying(lambda: self.api.upload(data, f"baldistill-{ref}.jsonl"), "upload")
            self.led.update_batch(ref, file_id=file_id, state="uploaded")
            batch = None
            for attempt in range(self.cfg.max_retries + 1):
                try:
                    batch = await self.api.create(file_id, ep, ref)
                    break
                except Unknown:  # it may exist: look for it before creating another
                    batch = await self.api.find(file_id, time.time())
                    if batch is not None:
                        break
                except Refused:
                    pass
                await asyncio.sleep(self._backoff(attempt))
            if batch is None:
                raise Unknown(f"could not create a batch at {self.api.where}")
        except (Fatal, Refused, Unknown) as e:
            self._release_all(ref, f"batch not created: {e}")
            raise (TeacherError if isinstance(e, Fatal) else TeacherUnavailable)(
                f"{e}" if isinstance(e, Fatal) else f"teacher unavailable at {self.api.where}: {e}"
            ) from None
        self.led.update_batch(ref, batch_id=batch.id, state=batch.status)
        log.info("batch %s: %d request(s) submitted (file %s)", batch.id, n, file_id)
        return self._record(ref)

    async def _retrying(self, call, what: str):
        for attempt in range(self.cfg.max_retries + 1):
            try:
                return await call()
            except (Refused, Unknown):
                if attempt == self.cfg.max_retries:
                    raise
                await asyncio.sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        return min(self.cfg.backoff_max, self.cfg.backoff * 2**attempt) * random.uniform(0.5, 1.5)

    def _record(self, ref: int) -> dict:
        return next(b for b in self.led.batches() if b["ref"] == ref)

    # ---- resume --------------------------------------------------------------------------------------
    async def _recover(self, found: list[dict]) -> list[dict]:
        """Batches of an earlier process: those with an id are polled; one with only a file id is looked up by
        that file; one without either was never sent (its rows are released)."""
        out = []
        for b in found:
            if b["batch_id"]:
                out.append(b)
                continue
            batch = await self.api.find(b["file_id"], b["created"]) if b["file_id"] else None
            if batch is None:
                self._release_all(b["ref"], "batch never created (the process stopped first)")
                self.led.update_batch(b["ref"], state="abandoned")
                continue
            self.led.update_batch(b["ref"], batch_id=batch.id, state=batch.status)
            log.info("batch %s: found on the server by its file %s", batch.id, b["file_id"])
            out.append(self._record(b["ref"]))
        return out

    # ---- wait and settle -----------------------------------------------------------------------------
    async def _wait(self, watch: list[dict]) -> dict[str, str]:
        """Poll until every batch in ``watch`` is finished, settling each as it finishes. Returns the requests
        that must be submitted again (released or of unknown outcome) with the reason."""
        again: dict[str, str] = {}
        pending = {b["ref"]: b for b in watch}
        fails: Counter = Counter()
        delay = self.cfg.batch_poll
        while pending:
            states = []
            for ref, b in list(pending.items()):
                try:
                    info = await self.api.retrieve(b["batch_id"])
                except Fatal as e:
                    again.update(self._lost(b, f"batch {b['batch_id']} cannot be read back: {e}"))
                    del pending[ref]
                    continue
                except (Refused, Unknown) as e:
                    fails[ref] += 1
                    if fails[ref] > self.cfg.max_retries:
                        again.update(self._lost(b, f"batch {b['batch_id']} cannot be read back: {e}"))
                        del pending[ref]
                    continue
                fails[ref] = 0
                self.led.update_batch(ref, state=info.status)
                c = info.request_counts
                states.append(f"{info.status} {c.completed + c.failed}/{c.total}" if c else info.status)
                if info.status in FINAL:
                    try:
                        output = await self._retrying(lambda i=info: self._content(i.output_file_id), "download")
                        errors = await self._retrying(lambda i=info: self._content(i.error_file_id), "download")
                    except (Fatal, Refused, Unknown) as e:
                        again.update(self._lost(b, f"batch {b['batch_id']}: its results cannot be read: {e}"))
                    else:
                        again.update(self._settle(b, info, read_results(output, errors)))
                    del pending[ref]
            info_line = getattr(self._advance, "info", None)
            if info_line and states:
                info_line("batch " + ", ".join(states))
            if pending:
                await asyncio.sleep(delay)
                delay = min(self.cfg.batch_poll_max, delay * 2)
        return again

    async def _content(self, file_id: str | None) -> str | None:
        return await self.api.content(file_id) if file_id else None

    def _settle(self, b: dict, info, results: dict[str, Result]) -> dict[str, str]:
        """Every submitted row of a finished batch: settled (cached first), released, or unknown."""
        again: dict[str, str] = {}
        failed = info.status == "failed"
        why_failed = "; ".join(e.message or "" for e in (info.errors.data if info.errors else [])) or "batch failed"
        refused, detail = [], ""
        for cid, (row, payload, status) in self.led.batch_rows(b["ref"]).items():
            if status != "submitted":  # settled before a crash
                continue
            res = results.get(cid)
            if res is not None and res.refused_form:  # no work done: not billed, asked again in another form
                self.led.release(row, f"batch {b['batch_id']}: response_format {b.get('form') or ''} refused")
                again[cid], detail = "response_format refused", res.detail
                refused.append(cid)
            elif res is not None and res.raw is not None:
                self.cache.put(cid, payload, res.raw, self.led.row(row)["prompt_hash"])
                self._settle_row(row, res.raw)
                if self._advance and self._per_key.get(cid):
                    self._advance(self._per_key[cid])
                    self._advanced += self._per_key[cid]
            elif failed or res is not None or info.status in ("expired", "cancelled"):
                why = why_failed if failed else (res.why if res is not None else f"not run: batch {info.status}")
                self.led.release(row, f"batch {b['batch_id']}: {why} (not billed)")
                again[cid] = why
            else:  # a finished batch that says nothing about it
                self.led.unknown(row, f"batch {b['batch_id']}: no result for this request")
                again[cid] = "no result in the batch's files"
        self.led.update_batch(
            b["ref"],
            state="settled",
            output_file_id=info.output_file_id,
            error_file_id=info.error_file_id,
            note=info.status,
        )
        log.info("batch %s %s: %d request(s) to submit again", b["batch_id"], info.status, len(again))
        if refused:
            self._refuse_form(b, refused, detail)
        if info.status == "cancelled" and b["ref"] not in self._known_cancelled:
            raise BatchCancelled(
                f"batch {b['batch_id']} was cancelled; what it answered is kept and the "
                f"{len(again)} request(s) it did not run were released"
            )
        return again

    def _settle_row(self, row: int, raw: str) -> None:
        reply, led = parse_body(raw), self.led
        u = reply.usage
        if reply.error and not (u.prompt_tokens or u.completion_tokens):  # no usage: keep the worst case
            r = led.row(row)
            led.settle(row, r["prompt_tokens"], r["completion_tokens"], status="parse_error", note=reply.error)
        else:
            led.settle(
                row,
                u.prompt_tokens,
                u.completion_tokens,
                u.reasoning_tokens,
                status="parse_error" if reply.error else "ok",
                note=reply.error or "",
            )

    def _lost(self, b: dict, why: str) -> dict[str, str]:
        """A batch that cannot be read back: its requests' worst case stays charged (unknown outcome)."""
        again = {}
        for cid, (row, _, status) in self.led.batch_rows(b["ref"]).items():
            if status == "submitted":
                self.led.unknown(row, why)
                again[cid] = why
        self.led.update_batch(b["ref"], state="lost", note=why)
        log.warning("%s; its requests keep their worst case charged and are submitted again", why)
        return again

    def _release_all(self, ref: int, why: str) -> None:
        for _cid, (row, _, status) in self.led.batch_rows(ref).items():
            if status == "submitted":
                self.led.release(row, why)
        self.led.update_batch(ref, state="abandoned", note=why)
