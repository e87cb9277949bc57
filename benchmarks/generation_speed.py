"""Student generation speed: batched (``Student.generate``: prompts sorted by length, left-padded batches of
16, KV cache, a batch stops when all its rows have ended) against one-by-one generation (the same call with
one prompt at a time, so no padding at all), same model, prompts, greedy decoding and threads, in one
process. The greedy outputs must be identical.

    python benchmarks/generation_speed.py [--model smollm2-135m-instruct] [--n 32] [--batch 16] [--repeats 3]
        [--against-hf-generate]
    python benchmarks/generation_speed.py --smoke   # seconds: a tiny model, 4 prompts, HF generate included

Tokens/s counts the generated tokens of every prompt up to and including its end-of-sequence token (none
after it, no padding). The prompts are demo inputs spread over the domains; max_new_tokens is the
student's default (64).
"""

from __future__ import annotations

import importlib.util
import statistics

from _common import demo_inputs, describe, load_student, median, parse, parser, skipped, span, timed


def main() -> None:
    ap = parser(__doc__, model=True, threads=True, repeats=3, n=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument(
        "--against-hf-generate",
        action="store_true",
        help="also time HF generate (the implementation early exit replaced; needs baldistill_testing)",
    )
    # smoke: HF generate too where baldistill_testing is installed (bash scripts/setup.sh test), so that path runs
    hf = importlib.util.find_spec("baldistill_testing") is not None
    a = parse(ap, smoke={"n": 4, "batch": 2, "max_new_tokens": 8, "against_hf_generate": hf})
    if a.smoke and not hf:
        skipped("HF generate", "baldistill_testing is not installed: bash scripts/setup.sh test")
    st = load_student(a.model, a.threads, generation={"batch_size": a.batch, "max_new_tokens": a.max_new_tokens})
    texts = demo_inputs(a.n)
    print(f"{a.model}, {a.n} prompts, batch {a.batch}, max_new_tokens {a.max_new_tokens}, {describe(st.model)}")

    def one_by_one():
        return [st.generate([t])[0] for t in texts]

    if a.warmup:
        st.generate(texts[:2])
        st.generate(texts[:1])
    t_b, t_s, tokens = [], [], 0
    for rep in range(a.repeats):
        batched, dt = timed(st.generate, texts)
        t_b.append(dt)
        single, dt = timed(one_by_one)
        t_s.append(dt)
        assert [g.ids for g in batched] == [g.ids for g in single], "batched and one-by-one outputs differ"
        tokens = sum(len(g.ids) + (len(g.ids) < a.max_new_tokens) for g in batched)  # + the EOS where it came
        print(
            f"repeat {rep + 1}: batched {tokens / t_b[-1]:.1f} tok/s, one-by-one {tokens / t_s[-1]:.1f} tok/s; "
            "outputs identical"
        )
    lengths = [len(g.ids) for g in batched]
    mb, ms = median(t_b), median(t_s)
    print(f"{tokens} tokens per run (lengths {min(lengths)}-{max(lengths)}, mean {statistics.mean(lengths):.1f})")
    print(
        f"median: batched {tokens / mb:.1f} tok/s ({span(t_b)} s), one-by-one "
        f"{tokens / ms:.1f} tok/s ({span(t_s)} s) -> {ms / mb:.2f}x"
    )
    if a.against_hf_generate:  # finished rows leaving the batch, against HF generate computing them to the end
        from baldistill_testing.reference import hf_generate

        order = sorted(range(len(texts)), key=lambda k: len(st.prompt_ids(texts[k])))
        batches = [order[s : s + a.batch] for s in range(0, len(order), a.batch)]

        def hf_all():
            return [x for b in batches for x in zip(b, hf_generate(st, [texts[j] for j in b], a.max_new_tokens))]

        t_h = []
        for _ in range(a.repeats):
            old, dt = timed(hf_all)
            t_h.append(dt)
            assert [ids for _, (ids, _) in sorted(old)] == [g.ids for g in batched], "early exit changed the output"
        steps = sum(max(len(batched[j].ids) + 1 for j in b) for b in batches)
        print(
            f"HF generate (finished rows computed to the end of their batch): median {median(t_h):.1f} s "
            f"against {mb:.1f} s with early exit -> {median(t_h) / mb:.2f}x; outputs identical; rows "
            f"used {sum(len(g.ids) + 1 for g in batched)} of {steps * a.batch} row-steps that HF generate computes"
        )


if __name__ == "__main__":
    main()
