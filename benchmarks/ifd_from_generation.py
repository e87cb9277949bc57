"""IFD of the student's own rationales, end to end (generate y, then score it): log p(y | x) taken from
the generation that produced y (``Student.generate(logprobs=True)``, then only the direct pass PPL(y))
against generate-then-two-passes, same model, candidates, batches and threads, in one process. Both must
give the same rationales and the same IFD (1e-4 relative).

    python benchmarks/ifd_from_generation.py [--model smollm2-135m-instruct] [--n 32] [--repeats 3]
    python benchmarks/ifd_from_generation.py --smoke   # seconds: a tiny model, 4 candidates

The candidates are demo inputs spread over the domains; y is the student's greedy rationale (its default
max_new_tokens, 64), without the end-of-sequence token, in both paths.
"""

from __future__ import annotations

import time

import torch
from _common import demo_inputs, load_student, median, parse, parser, span


def main() -> None:
    ap = parser(__doc__, model=True, threads=True, repeats=3, n=32)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    a = parse(ap, smoke={"n": 4, "max_new_tokens": 8})
    st = load_student(a.model, a.threads, generation={"max_new_tokens": a.max_new_tokens})
    texts = demo_inputs(a.n)
    print(
        f"{a.model}, {a.n} candidates, generation batch {st.cfg.generation.batch_size}, scoring batch "
        f"{st.cfg.score_batch_size}, {torch.get_num_threads()} threads"
    )

    def two_passes():
        gens = st.generate(texts)
        t = time.perf_counter()
        return gens, st.ifd(texts, [g.ids for g in gens], "ppl_ratio"), t

    def from_generation():
        gens = st.generate(texts, logprobs=True)
        t = time.perf_counter()
        return gens, st.ifd(texts, [g.ids for g in gens], "ppl_ratio", cond_nll=[g.nll for g in gens]), t

    if a.warmup:
        st.generate(texts[:2], logprobs=True)
        st.ifd(texts[:2], [[1, 2, 3]] * 2, "ppl_ratio")
    runs = {
        "generate + two passes": (two_passes, [], []),
        "generate with log-probs + direct pass": (from_generation, [], []),
    }
    for rep in range(a.repeats):
        results = []
        for fn, totals, scoring in runs.values():
            t0 = time.perf_counter()
            gens, scores, t1 = fn()
            end = time.perf_counter()
            totals.append(end - t0)
            scoring.append(end - t1)
            results.append((gens, scores))
        (g2, s2), (g1, s1) = results
        assert [g.ids for g in g1] == [g.ids for g in g2], "the rationales differ"
        worst = max(abs(x.ifd - y.ifd) / abs(y.ifd) for x, y in zip(s1, s2))
        assert worst <= 1e-4, f"IFD differs: {worst:.2e} relative"
        print(
            f"repeat {rep + 1}: "
            + "; ".join(f"{n} {v[1][-1]:.1f} s (scoring {v[2][-1]:.1f} s)" for n, v in runs.items())
            + f"; max relative IFD difference {worst:.1e}"
        )
    tokens = sum(len(g.ids) for g in g1)
    print(f"{tokens} rationale tokens")
    med = {n: (median(v[1]), median(v[2])) for n, v in runs.items()}
    for n, (_, totals, scoring) in runs.items():
        print(
            f"{n}: median {med[n][0]:.1f} s ({span(totals)}), of which scoring "
            f"{med[n][1]:.2f} s ({span(scoring, '.2f')})"
        )
    (t2, c2), (t1, c1) = med.values()
    print(f"saving: {100 * (t2 - t1) / t2:.0f}% end to end ({t2 / t1:.2f}x), scoring {c2 / c1:.2f}x faster")


if __name__ == "__main__":
    main()
