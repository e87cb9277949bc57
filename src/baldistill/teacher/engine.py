"""From the pipeline's asks to paid, cached, parsed teacher replies — the same for every backend.

For each request: a reply this run already paid for is reused; a cached reply (possibly paid by
another run sharing the cache) is charged to this run without being sent; otherwise the worst case is
reserved in the ledger, the request is sent (bounded concurrency), and the outcome decides the charge:
settled with the reported usage, released when the server did no work (then retried with backoff,
honouring Retry-After), kept when the outcome is unknown (then retried while the budget allows).
Every reply is written to the cache the moment it arrives, so a crash loses nothing that was paid for.

A teacher bar shows the spend as replies settle (``SpendView``: the ledger's totals against B and the caps, and
with the run's plan the projection of ``core/forecast.py``), refreshed at most every ``SpendView.every`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from ..budget.cache import ReplyCache
from ..budget.ledger import BudgetExceeded, Ledger, ReplyRecord
from ..core.checks import Verdict
from ..core.forecast import Forecast, Limits, PlanRow, Totals, bar_text, project
from .backends import Backend, Declined, Fatal, Refused, Unknown
from .errors import TeacherError, TeacherUnavailable
from .replies import Reply, parse_body
from .requests import Request

log = logging.getLogger("baldistill")


@dataclass
class Outcome:
    request: Request
    row: int | None  # ledger row (None: never charged)
    reply: Reply | None
    error: str | None = None


class _on_sigint:
    """While a batch runs: SIGINT cancels it (in the main thread, where the OS allows; a no-op elsewhere)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task):
        self.loop, self.task, self.interrupted, self.installed = loop, task, False, False
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(signal.SIGINT)
            try:
                loop.add_signal_handler(signal.SIGINT, self._fire)
                self.installed = True
            except (NotImplementedError, RuntimeError, ValueError):  # e.g. Windows
                pass

    def _fire(self) -> None:
        self.interrupted = True
        self.task.cancel()

    def remove(self) -> None:
        if self.installed:
            self.loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, self.previous)  # whatever handled Ctrl-C before (Python's by default)


def limits(ledger: Ledger) -> Limits:
    """What the ledger's caps let a bar show: B, the token and dollar caps, and whether tokens are priced."""
    c = ledger.caps
    return Limits(c.calls, c.tokens, c.dollars, bool(c.input_per_mtok or c.output_per_mtok))


class SpendView:
    """The ledger's spend as a teacher bar's text (``core.forecast.bar_text``); given the run's plan
    (``runner/estimate.py``'s ``plan_spend``) with the projection too. ``done``: the stages whose teacher steps
    are over (the runner sets it at each stage's start)."""

    every = 0.2  # seconds between two refreshes of a bar's text while replies arrive

    def __init__(self, ledger: Ledger, plan: Sequence[PlanRow] = (), max_tokens: int = 0):
        self.ledger, self.plan, self.max_tokens = ledger, list(plan), max_tokens
        self.done: Collection[int] = ()
        self.limits = limits(ledger)

    def forecast(self, done: Collection[int] | None = None) -> Forecast:
        """The projection from the ledger now (``done``: those stages, default ``self.done``)."""
        return project(
            self.plan,
            self.ledger.charges(),
            self.done if done is None else done,
            self.max_tokens,
            self.ledger.caps.price,
        )

    def text(self) -> str:
        if self.plan and self.limits.shows_tokens:
            f = self.forecast()
            return bar_text(f.spent, self.limits, f)
        return bar_text(Totals.of(self.ledger.charges()), self.limits)


class LiveBar:
    """A bar's ``advance`` that also shows the spend: ``bar(n)`` moves the bar and refreshes its text (at most every
    ``SpendView.every`` s, or 20 times what the last refresh took, unless forced); ``bar.info(text)`` sets what is
    shown before the spend (a batch's state). Without a bar that shows (``BALDISTILL_PROGRESS=0``, or a plain
    callable) it only moves."""

    def __init__(self, advance, view: SpendView):
        self.advance, self.view, self.state, self._next = advance, view, "", float("-inf")
        shown = advance is not None and getattr(advance, "live", True)
        self._info: Callable[[str], None] | None = getattr(advance, "info", None) if shown else None

    def __call__(self, n: int = 1) -> None:
        if self.advance is not None:
            self.advance(n)
        self.show()

    def info(self, text: str) -> None:
        self.state = text
        self.show(force=True)

    def show(self, force: bool = False) -> None:
        if self._info is None:
            return
        now = time.monotonic()
        if not force and now < self._next:
            return
        text = self.view.text()
        # a large ledger takes longer to sum: then refresh less often, so the text never costs more than ~5 %
        self._next = now + max(self.view.every, 20 * (time.monotonic() - now))
        self._info(" · ".join(x for x in (self.state, text) if x))


class TeacherEngine:
    """Runs batches of requests against one backend under one ledger, with an optional reply cache.
    ``cfg`` is the TeacherConfig (concurrency, retries, backoff); ``view`` what its bars show of the spend."""

    def __init__(
        self, backend: Backend, cfg, ledger: Ledger, cache: ReplyCache | None = None, view: SpendView | None = None
    ):
        self.backend, self.cfg, self.ledger, self.cache = backend, cfg, ledger, cache
        self.view = view or SpendView(ledger)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gone: str | None = None
        self._inflight: dict[str, asyncio.Future] = {}  # cache key -> the reply of the request being sent
        self.cap_reached: str | None = None  # set when a cap stops the buying: the message
        self._pending = 0
        self._batch_only = False  # the pass after the batches: everything is paid and cached, nothing is sent
        self._remembered_form()

    @property
    def batching(self) -> bool:
        """``teacher.batch``: requests go through the Batch API (``teacher/batch.py``) instead of one by one."""
        return bool(getattr(self.cfg, "batch", False)) and hasattr(self.backend, "client")

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def label(self) -> str:
        return self.backend.label

    def record(self, judged: Iterable[tuple[Outcome, Verdict]]) -> None:
        """Write the check step's verdicts on paid replies to the ledger (kept replies stay 'ok'), and keep every
        judged reply, kept or not, with its text, its verdict and (synthesis) the ids of the examples its prompt
        showed (the ledger's ``replies`` table: what ``export --dataset`` traces each example through)."""
        judged = [(out, verdict) for out, verdict in judged if out.row is not None]
        self.ledger.record_replies(
            ReplyRecord(
                row=out.row,
                key=out.request.key,
                kind=out.request.kind,
                example_id=out.request.example_id,
                text=out.reply.text if out.reply is not None else None,
                error=(out.reply.error if out.reply is not None else None) or out.error,
                verdict=verdict.status,
                note=verdict.note,
                shown=out.request.shown,
            )
            for out, verdict in judged
        )
        for out, verdict in judged:
            if not verdict.ok and out.row is not None:
                self.ledger.mark(out.row, verdict.status, verdict.note)

    def close(self) -> None:
        """Close the backend's connections on the loop they belong to, then the loop."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.run_until_complete(self.backend.aclose())
            self._loop.close()

    # ---- the engine ------------------------------------------------------------------------------
    def execute(self, requests: list[Request], advance: Callable[[int], None] | None = None) -> list[Outcome]:
        if not requests:
            return []
        live = LiveBar(advance, self.view)
        live.show(force=True)
        outs = self._run(self._execute(requests, live))
        live.show(force=True)  # the spend once every reply is settled
        return outs

    def prefetch(self, requests: list[Request], desc: str) -> None:
        """With ``teacher.batch``: buy the replies ``requests`` need through batches now (one wait for all of them),
        so that the ``execute`` calls that ask them later find them paid and cached. A no-op otherwise."""
        if not (self.batching and requests):
            return
        from ..runtime.progress import bar

        with bar(desc, len(requests)) as advance:
            live = LiveBar(advance, self.view)
            live.show(force=True)
            done = self._run(self._fill(requests, live))
            advance(len(requests) - done)  # those already in the cache
            live.show(force=True)

    async def _fill(self, requests: list[Request], advance) -> int:
        from .batch import BatchAPI, BatchRunner

        return await BatchRunner(self, BatchAPI(self.backend)).fill(requests, advance)

    def _run(self, coro):
        # one event loop for the client's whole life: the HTTP connection pool is bound to it
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        main = self._loop.create_task(coro)
        # Ctrl-C cancels the batch through the loop, so no library between us and the socket can catch the
        # KeyboardInterrupt (and, say, turn it into a connection error that would be retried)
        stop = _on_sigint(self._loop, main)
        try:
            return self._loop.run_until_complete(main)
        except asyncio.CancelledError:
            if stop.interrupted:
                raise KeyboardInterrupt from None
            raise
        except BaseException:  # Ctrl-C: cancel what is in flight (it stays charged), then re-raise
            main.cancel()
            try:
                self._loop.run_until_complete(main)
            except BaseException:
                pass
            raise
        finally:
            stop.remove()
            self._remember_form()

    def _remembered_form(self) -> None:
        """A resumed run starts with the structured-output form its server took (``teacher.structured: auto``),
        as the ledger kept it, instead of learning it again."""
        saved = self.ledger.setting("structured_form")
        if saved and getattr(self.backend, "structured", None) == "auto":
            self.backend.form = saved

    def _remember_form(self) -> None:
        form = getattr(self.backend, "form", None)
        if (
            form
            and getattr(self.backend, "structured", None) == "auto"
            and form != self.ledger.setting("structured_form")
        ):
            self.ledger.set_setting("structured_form", form)

    async def _execute(self, requests, advance) -> list[Outcome]:
        if self.batching:  # first the batches (they advance the bar as replies arrive), then the pass that reads them
            left = [await self._fill(requests, advance)]

            def rest(n: int = 1, _advance=advance) -> None:
                take = min(n, left[0])
                left[0] -= take
                if n > take and _advance:
                    _advance(n - take)

            advance, self._batch_only = rest, True
            try:
                return await self._each(requests, advance)
            finally:
                self._batch_only = False
        return await self._each(requests, advance)

    async def _each(self, requests, advance) -> list[Outcome]:
        sem = asyncio.Semaphore(max(1, min(self.cfg.concurrency, self.backend.concurrency)))
        self._pending, self._changed = 0, asyncio.Condition()  # reserved rows awaiting their outcome
        self._gone = None  # set when a request gives up: nothing more is sent in this batch

        async def guarded(r):
            async with sem:
                out = await self._one(r)
            if advance:
                advance(1)
            return out

        tasks = [asyncio.ensure_future(guarded(r)) for r in requests]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _one(self, req: Request) -> Outcome:
        key, led = req.key, self.ledger
        led.adopt(req.legacy_key, key)
        prior = led.completed(key)
        raw = self.cache.get(req.cache_key) if self.cache is not None else None
        if prior is not None and raw is not None:  # already paid by this run (a resumed stage)
            return Outcome(req, prior, parse_body(raw))
        if prior is not None and self.backend.free:  # a free simulation: just re-ask
            return Outcome(req, prior, parse_body(await self.backend.send(req)))
        if raw is None and self.cache is not None and req.cache_key in self._inflight:
            # the same request is on its way for another example of this batch: wait for that reply
            raw = await asyncio.shield(self._inflight[req.cache_key])
        if raw is not None:  # paid by another example or run that shares the cache: charge it here, send nothing
            reply = parse_body(raw)
            row = await self._reserve_when_possible(req, physical=False)
            if row is None:
                return Outcome(req, None, None, self.cap_reached)
            self._settle(row, req, reply)
            await self._done()
            return Outcome(req, row, reply)
        if self.cache is None:
            return await self._send(req)
        waiting = self._inflight[req.cache_key] = asyncio.get_running_loop().create_future()
        out = None
        try:
            out = await self._send(req)
            return out
        finally:  # those waiting get the reply, or None (then each sends for itself)
            del self._inflight[req.cache_key]
            waiting.set_result(self.cache.get(req.cache_key) if out is not None and out.reply is not None else None)

    async def _reserve_when_possible(self, req: Request, physical: bool) -> int | None:
        """Reserve the worst case of ``req``. When a cap would be crossed while other calls are still in flight,
        wait for them to settle (their real usage is usually far below the worst case) and try again; when it
        would be crossed with nothing in flight, the cap is reached: nothing more is bought in this run (it
        trains and evaluates on what it has) and None is returned."""
        while not self.cap_reached:
            try:
                row = self._reserve(req, physical)
            except BudgetExceeded as e:
                if self._pending == 0:
                    self.cap_reached = str(e)
                    log.warning("%s: no more teacher calls in this run", e)
                    break
                async with self._changed:
                    await self._changed.wait()
                continue
            self._pending += 1
            return row
        return None

    async def _done(self) -> None:
        """A reserved row has its outcome (settled, released or unknown): wake those waiting for room."""
        self._pending -= 1
        async with self._changed:
            self._changed.notify_all()

    async def _send(self, req: Request) -> Outcome:
        """Reserve, send and settle one request, retrying while the server did no work or may have."""
        led = self.ledger
        attempt = 0
        while True:
            if self._gone:
                raise TeacherUnavailable(self._gone)
            if self._batch_only:  # its batch did not answer it (a cap stopped the buying): never sent one by one
                return Outcome(req, None, None, self.cap_reached or "not answered by its batch")
            row = await self._reserve_when_possible(req, physical=True)
            if row is None:
                return Outcome(req, None, None, self.cap_reached)
            try:
                raw = await self.backend.send(req)
            except asyncio.CancelledError:
                led.unknown(row, "in flight when the run was stopped")
                raise
            except Declined as e:
                led.release(row, str(e))
                await self._done()
                log.warning("%s", e)
                return Outcome(req, None, None, str(e))
            except Fatal as e:
                led.release(row, str(e))
                raise TeacherError(str(e)) from None
            except (Refused, Unknown) as e:
                (led.release if isinstance(e, Refused) else led.unknown)(row, str(e))
                await self._done()
                attempt += 1
                if attempt > self.cfg.max_retries:  # an outage, not one bad request: stop the run here
                    self._gone = f"teacher unavailable at {self.backend.where}: {e} (gave up after {attempt} attempts)"
                    raise TeacherUnavailable(self._gone) from None
                after = getattr(e, "retry_after", None)
                delay = (
                    after
                    if after is not None
                    else min(self.cfg.backoff_max, self.cfg.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
                )
                await asyncio.sleep(delay)
                continue
            if self.cache is not None:
                self.cache.put(req.cache_key, req.payload, raw, req.prompt_hash)  # journaled the moment it arrives
            reply = parse_body(raw)
            self._settle(row, req, reply)
            await self._done()
            return Outcome(req, row, reply)

    def _reserve(self, req: Request, physical: bool) -> int:
        """Charge the worst case of ``req``; raises BudgetExceeded when a cap would be crossed."""
        return self.ledger.reserve(**req.charge(physical))

    def _settle(self, row: int, req: Request, reply: Reply) -> None:
        u = reply.usage
        if reply.error and not (u.prompt_tokens or u.completion_tokens):  # no usage: keep the worst case
            self.ledger.settle(row, req.worst_prompt_tokens(), req.max_tokens(), status="parse_error", note=reply.error)
        else:
            self.ledger.settle(
                row,
                u.prompt_tokens,
                u.completion_tokens,
                u.reasoning_tokens,
                status="parse_error" if reply.error else "ok",
                note=reply.error or "",
            )
