"""Student generation speed: batched (``Student.generate``: prompts sorted by length, left-padded batches of
16, KV cache, a batch stops when all its rows have ended) against one-by-one generation (the same call with
one prompt at a time, so no padding at all), same model, prompts, greedy decoding and threads, in one
process. The greedy outputs must be identical.

    python benchmarks/generation_speed.py [--model smollm2-135m-instruct] [--n 32] [--batch 16] [--repeats 3]
        [--against-hf-generate]

Tokens/s counts the generated tokens of every prompt up to and including its end-of-sequence token (none
after it, no padding). The prompts are demo inputs spread over the domains; max_new_tokens is the
student's default (64).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from baldistill.config import StudentConfig
from baldistill.student import Student

DEMO = Path(__file__).parents[1] / "src/baldistill/bundled/demo/train.jsonl"


def demo_inputs(n: int) -> list[str]:
    rows = [json.loads(line) for line in DEMO.read_text().splitlines()]
    return [rows[k * len(rows) // n]["input"] for k in range(n)]  # spread over the domains


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument(
        "--against-hf-generate",
        action="store_true",
        help="also time HF generate (the implementation early exit replaced; needs baldistill_testing)",
    )
    a = ap.parse_args()
    st = Student(
        StudentConfig(
            model=a.model, threads=a.threads, generation={"batch_size": a.batch, "max_new_tokens": a.max_new_tokens}
        ),
        instruction="Solve the task.",
    )
    texts = demo_inputs(a.n)
    print(
        f"{a.model}, {a.n} prompts, batch {a.batch}, max_new_tokens {a.max_new_tokens}, "
        f"{torch.get_num_threads()} threads, {next(st.model.parameters()).dtype}"
    )

    def one_by_one():
        return [st.generate([t])[0] for t in texts]

    st.generate(texts[:2])  # warm-up
    st.generate(texts[:1])
    t_b, t_s, tokens = [], [], 0
    for rep in range(a.repeats):
        t = time.perf_counter()
        batched = st.generate(texts)
        t_b.append(time.perf_counter() - t)
        t = time.perf_counter()
        single = one_by_one()
        t_s.append(time.perf_counter() - t)
        assert [g.ids for g in batched] == [g.ids for g in single], "batched and one-by-one outputs differ"
        tokens = sum(len(g.ids) + (len(g.ids) < a.max_new_tokens) for g in batched)  # + the EOS where it came
        print(
            f"repeat {rep + 1}: batched {tokens / t_b[-1]:.1f} tok/s, one-by-one {tokens / t_s[-1]:.1f} tok/s; "
            "outputs identical"
        )
    lengths = [len(g.ids) for g in batched]
    mb, ms = statistics.median(t_b), statistics.median(t_s)
    print(f"{tokens} tokens per run (lengths {min(lengths)}-{max(lengths)}, mean {statistics.mean(lengths):.1f})")
    print(
        f"median: batched {tokens / mb:.1f} tok/s ({min(t_b):.1f}-{max(t_b):.1f} s), one-by-one "
        f"{tokens / ms:.1f} tok/s ({min(t_s):.1f}-{max(t_s):.1f} s) -> {ms / mb:.2f}x"
    )
    if a.against_hf_generate:  # finished rows leaving the batch, against HF generate computing them to the end
        from baldistill_testing.reference import hf_generate

        order = sorted(range(len(texts)), key=lambda k: len(st.prompt_ids(texts[k])))
        t_h = []
        for _ in range(a.repeats):
            t = time.perf_counter()
            old = [
                x
                for s in range(0, len(order), a.batch)
                for x in zip(
                    [order[j] for j in range(s, min(s + a.batch, len(order)))],
                    hf_generate(
                        st, [texts[order[j]] for j in range(s, min(s + a.batch, len(order)))], a.max_new_tokens
                    ),
                )
            ]
            t_h.append(time.perf_counter() - t)
            assert [ids for _, (ids, _) in sorted(old)] == [g.ids for g in batched], "early exit changed the output"
        steps = sum(
            max(len(batched[order[j]].ids) + 1 for j in range(s, min(s + a.batch, len(order))))
            for s in range(0, len(order), a.batch)
        )
        print(
            f"HF generate (finished rows computed to the end of their batch): median {statistics.median(t_h):.1f} s "
            f"against {mb:.1f} s with early exit -> {statistics.median(t_h) / mb:.2f}x; outputs identical; rows "
            f"used {sum(len(g.ids) + 1 for g in batched)} of {steps * a.batch} row-steps that HF generate computes"
        )


if __name__ == "__main__":
    main()
