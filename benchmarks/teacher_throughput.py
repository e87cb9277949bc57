"""Teacher calls per second through BalDistill's client (ledger, cache off, retries, parsing) against
a local OpenAI-compatible server with a fixed latency; checks that the server's request count equals
the client's. Target (issue: 0.8 * concurrency / latency): 64 calls/s at concurrency 16, 200 ms.

    python benchmarks/teacher_throughput.py [--calls 320] [--concurrency 16] [--latency 0.2] [--repeats 3]
    python benchmarks/teacher_throughput.py --smoke   # seconds: 16 calls, 10 ms latency, no warm-up run

Needs ``baldistill_testing`` (its fake server): ``bash scripts/setup.sh test``.
"""

from __future__ import annotations

from _common import median, parse, parser, timed

from baldistill.budget.ledger import Ledger
from baldistill.config import TeacherConfig
from baldistill.data import Example
from baldistill.runner.teaching import Teaching, annotate_examples
from baldistill.teacher import RequestBuilder, TeacherEngine
from baldistill.teacher.backends.openai import OpenAICompatible
from baldistill_testing.fake_openai import FakeOpenAIServer


def main() -> None:
    ap = parser(__doc__, repeats=3)
    ap.add_argument("--calls", type=int, default=320)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.2)
    a = parse(ap, smoke={"calls": 16, "concurrency": 4, "latency": 0.01})
    rates = []
    with FakeOpenAIServer(latency=a.latency) as server:
        for rep in range(0 if a.warmup else 1, a.repeats + 1):  # repetition 0 warms up connections
            tc = TeacherConfig(
                kind="openai",
                model="fake-teacher",
                base_url=server.base_url,
                api_key_env=None,
                concurrency=a.concurrency,
                timeout=30,
            )
            engine = TeacherEngine(
                OpenAICompatible(tc.model, tc.base_url, None, tc.timeout, tc.concurrency), tc, Ledger(a.calls)
            )
            requests = RequestBuilder(tc, "Solve.")
            # unique prompts: no two requests are the same
            exs = [
                Example(f"r{rep}-{k}", "d", f"Question {rep}-{k}: what is {k} + {rep}?", str(k + rep))
                for k in range(a.calls)
            ]
            before = server.received
            kept, dt = timed(annotate_examples, Teaching(engine, requests, 0), exs)
            sent = server.received - before
            assert sent == a.calls == engine.ledger.spent, (sent, engine.ledger.spent)
            assert len(kept) == a.calls
            engine.close()
            if rep:
                rates.append(a.calls / dt)
            print(
                f"{'warm-up' if rep == 0 else f'run {rep}'}: {a.calls} calls in {dt:.2f} s = {a.calls / dt:.1f} "
                f"calls/s; "
                f"server count {sent} == client count {engine.ledger.spent}"
            )
    target = 0.8 * a.concurrency / a.latency
    med = median(rates)
    print(
        f"median {med:.1f} calls/s at concurrency {a.concurrency}, latency {a.latency * 1000:.0f} ms; "
        f"ideal {a.concurrency / a.latency:.0f}, target {target:.0f}: {'OK' if med >= target else 'BELOW TARGET'}"
    )


if __name__ == "__main__":
    main()
