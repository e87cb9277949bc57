"""From the pipeline's asks to paid, cached, parsed teacher replies — the same for every backend.

For each request: a reply this run already paid for is reused; a cached reply (possibly paid by
another run sharing the cache) is charged to this run without being sent; otherwise the worst case is
reserved in the ledger, the request is sent (bounded concurrency), and the outcome decides the charge:
settled with the reported usage, released when the server did no work (then retried with backoff,
honouring Retry-After), kept when the outcome is unknown (then retried while the budget allows).
Every reply is written to the cache the moment it arrives, so a crash loses nothing that was paid for.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import signal
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..cache import ReplyCache
from ..data import Example
from ..ledger import BudgetExceeded, Ledger
from ..prompts import load_prompt
from .base import Declined, Fatal, Refused, Reply, Request, Unknown, annotation_from, parse_body, synthesis_from

log = logging.getLogger("baldistill")


class TeacherError(RuntimeError):
    """A teacher failure retrying cannot fix (bad key, unknown model, bad request)."""


@dataclass
class Outcome:
    request: Request
    row: int | None  # ledger row (None: never charged)
    reply: Reply | None
    error: str | None = None


def _tokens(text: str) -> Counter:
    return Counter(re.findall(r"\w+", text.lower()))


def near_duplicate(text: str, others: list[str], tolerance: float = 0.02) -> bool:
    """The same words and numbers after case, spacing and punctuation are ignored, up to a few changed
    words in a long text (at most ``tolerance`` of all tokens, and no changed number). In templated
    tasks one changed word or number is a different example, so short texts must match exactly."""
    a = _tokens(text)
    na = sum(a.values())
    for o in others:
        b = _tokens(o)
        diff = (a - b) + (b - a)
        if not diff:
            return True
        if sum(diff.values()) <= tolerance * (na + sum(b.values())) and not any(t.isdigit() for t in diff):
            return True
    return False


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


class TeacherClient:
    def __init__(self, backend, cfg, ledger: Ledger, cache: ReplyCache | None, instruction: str = "",
                 labels: list[str] | None = None, seed: int = 0):
        self.backend, self.cfg, self.ledger, self.cache = backend, cfg, ledger, cache
        self.instruction, self.labels, self.seed = instruction, labels, seed
        self._loop: asyncio.AbstractEventLoop | None = None
        self.annotate_prompt = load_prompt(cfg.annotate_prompt)
        self.synth_prompt = load_prompt(cfg.synthesize_prompt)

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def label(self) -> str:
        return self.backend.label

    # ---- requests --------------------------------------------------------------------------------
    def _payload(self, prompt, values: dict, temperature: float, sample: int | str, prime: str = "") -> dict:
        """What decides the reply. For a base model (completions) the prompt ends with ``prime``, the
        start of the expected answer, and a blank-lines stop ends the continuation."""
        c = self.cfg
        p = {"model": c.model or self.backend.name, "temperature": temperature, c.token_param: c.max_tokens,
             "sample": sample}
        if c.api == "chat":
            p["messages"] = prompt.messages(**values)
        else:
            p["prompt"] = prompt.text(**values) + "\n\n" + prime
            if prime:
                p["stop"] = ["\n\n\n"]
        return p

    def annotation_request(self, stage: int, ex: Example) -> Request:
        """``ex.meta['copy']``: the n-th annotated copy of a real example (duplicate-ft-cot; 0 for the
        example itself). Each copy is a budget unit. Copies, and
        runs with another seed, reuse the cached reply unless ``fresh_samples`` asks for a new sample
        per seed and copy (the sample index enters the request, hence the cache key)."""
        values = {"instruction": self.instruction, "input": ex.input, "answer": ex.answer}
        copy = ex.meta.get("copy", 0)
        sample = f"seed{self.seed}/copy{copy}" if self.cfg.fresh_samples else 0
        payload = self._payload(self.annotate_prompt, values, self.cfg.temperature, sample)
        return Request("annotate", stage, ex.domain, ex.id, payload, self.annotate_prompt.hash, {"example": ex}, copy)

    def synthesis_request(self, stage: int, domain: str, seeds: list[Example], sample: int) -> Request:
        shots = "\n\n".join(
            f"Input: {s.input}\n" + (f"Reasoning: {s.rationale}\n" if s.rationale else "") + f"Answer: {s.answer}"
            for s in seeds)
        values = {"domain": domain, "examples": shots}
        payload = self._payload(self.synth_prompt, values, self.cfg.synthesis_temperature, sample,
                                prime="Input: " if self.cfg.api == "completions" else "")
        return Request("synthesize", stage, domain, None, payload, self.synth_prompt.hash)

    # ---- what the pipeline asks ------------------------------------------------------------------
    def annotate(self, stage: int, examples: list[Example], advance: Callable[[int], None] | None = None
                 ) -> list[Example]:
        """Rationales for real examples (gold answer given); keeps those whose answer agrees."""
        kept = []
        reqs = [self.annotation_request(stage, e) for e in examples]
        for ex, out in zip(examples, self.execute(reqs, advance)):
            if out.reply is None:
                continue
            if out.reply.text is None:
                self.ledger.mark(out.row, "parse_error", out.reply.error or "")
                continue
            rationale, answer, ok = annotation_from(out.reply.text, ex.answer, self.labels)
            if not ok and out.reply.finish_reason == "length":
                self.ledger.mark(out.row, "parse_error", "reply cut at max_tokens before its answer")
            elif answer is None:
                self.ledger.mark(out.row, "parse_error", "no final answer in the rationale")
            elif not ok:
                self.ledger.mark(out.row, "dropped", f"answer {answer!r} != gold {ex.answer!r}")
            else:
                kept.append(Example(ex.id, ex.domain, ex.input, ex.answer, rationale, ex.source, ex.meta))
        return kept

    def synthesize(self, stage: int, domain: str, seeds: list[Example], n: int, first_sample: int,
                   existing: list[str], advance: Callable[[int], None] | None = None) -> list[Example]:
        """``n`` new examples of ``domain`` (one call each), with hygiene: parse, answer consistency,
        length bounds, no exact or near duplicate of the domain's pool or earlier synthetic examples."""
        reqs = [self.synthesis_request(stage, domain, seeds, first_sample + j) for j in range(n)]
        out_examples, seen = [], list(existing)
        lo, hi = self.cfg.synthesis_min_chars, self.cfg.synthesis_max_chars
        for j, out in enumerate(self.execute(reqs, advance)):
            if out.reply is None:
                continue
            why, parsed = None, None
            if out.reply.text is None:
                why, status = out.reply.error, "parse_error"
            else:
                # a base model continues a prompt that already ends with "Input:"
                text = ("Input: " if self.cfg.api == "completions" else "") + out.reply.text
                parsed = synthesis_from(text)
                status = "dropped"
                if parsed is None:
                    why, status = "reply not in the Input/Reasoning/Answer format", "parse_error"
                elif not parsed[3]:
                    why = "reasoning and answer disagree"
                elif not lo <= len(parsed[0]) <= hi:
                    why = f"input length {len(parsed[0])} outside [{lo}, {hi}]"
                elif near_duplicate(parsed[0], seen):
                    why = "duplicate of an existing example"
            if why:
                self.ledger.mark(out.row, status, why)
                continue
            text, rationale, answer, _ = parsed
            seen.append(text)
            out_examples.append(Example(f"syn-{domain}-{first_sample + j}", domain, text, answer, rationale,
                                        "synthetic", {"stage": stage}))
        return out_examples

    def close(self) -> None:
        """Close the HTTP connections on the loop they belong to, then the loop."""
        if self._loop is not None and not self._loop.is_closed():
            http = getattr(self.backend, "client", None)
            if http is not None:
                self._loop.run_until_complete(http.close())
            self._loop.close()

    # ---- the engine ------------------------------------------------------------------------------
    def execute(self, requests: list[Request], advance: Callable[[int], None] | None = None) -> list[Outcome]:
        if not requests:
            return []
        # one event loop for the client's whole life: the HTTP connection pool is bound to it
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        main = self._loop.create_task(self._execute(requests, advance))
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

    async def _execute(self, requests, advance) -> list[Outcome]:
        sem = asyncio.Semaphore(max(1, min(self.cfg.concurrency, self.backend.concurrency)))

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
        prior = led.completed(key)
        raw = self.cache.get(req.cache_key) if self.cache is not None else None
        if prior is not None and raw is not None:  # already paid by this run (a resumed stage)
            return Outcome(req, prior, parse_body(raw))
        if prior is not None and getattr(self.backend, "free", False):  # a free simulation: just re-ask
            return Outcome(req, prior, parse_body(await self.backend.send(req)))
        if raw is not None:  # paid by another run that shares the cache: charge it here, send nothing
            reply = parse_body(raw)
            try:
                row = self._reserve(req, physical=False)
            except BudgetExceeded as e:
                return Outcome(req, None, None, str(e))
            self._settle(row, req, reply)
            return Outcome(req, row, reply)
        attempt = 0
        while True:
            try:
                row = self._reserve(req, physical=True)
            except BudgetExceeded as e:
                return Outcome(req, None, None, str(e))
            try:
                raw = await self.backend.send(req)
            except asyncio.CancelledError:
                led.unknown(row, "in flight when the run was stopped")
                raise
            except Declined as e:
                led.release(row, str(e))
                log.warning("%s", e)
                return Outcome(req, None, None, str(e))
            except Fatal as e:
                led.release(row, str(e))
                raise TeacherError(str(e)) from None
            except (Refused, Unknown) as e:
                (led.release if isinstance(e, Refused) else led.unknown)(row, str(e))
                attempt += 1
                if attempt > self.cfg.max_retries:
                    log.warning("teacher request given up after %d attempts: %s", attempt, e)
                    return Outcome(req, None, None, str(e))
                after = getattr(e, "retry_after", None)
                delay = after if after is not None else \
                    min(self.cfg.backoff_max, self.cfg.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
                await asyncio.sleep(delay)
                continue
            if self.cache is not None:
                self.cache.put(req.cache_key, req.payload, raw, req.prompt_hash)  # journaled the moment it arrives
            reply = parse_body(raw)
            self._settle(row, req, reply)
            return Outcome(req, row, reply)

    def _reserve(self, req: Request, physical: bool) -> int:
        """Charge the worst case of ``req``; raises BudgetExceeded when a cap would be crossed."""
        return self.ledger.reserve(key=req.key, stage=req.stage, domain=req.domain, kind=req.kind,
                                   example_id=req.example_id, prompt_tokens=req.worst_prompt_tokens(),
                                   max_tokens=req.max_tokens(), physical=physical, prompt_hash=req.prompt_hash)

    def _settle(self, row: int, req: Request, reply: Reply) -> None:
        u = reply.usage
        if reply.error and not (u.prompt_tokens or u.completion_tokens):  # no usage: keep the worst case
            self.ledger.settle(row, req.worst_prompt_tokens(), req.max_tokens(), status="parse_error", note=reply.error)
        else:
            self.ledger.settle(row, u.prompt_tokens, u.completion_tokens, u.reasoning_tokens,
                               status="parse_error" if reply.error else "ok", note=reply.error or "")
