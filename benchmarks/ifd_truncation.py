"""Does IFD on a shorter student rationale rank candidates like IFD on the full one? Decides the default of
``selection.max_new_tokens`` on the validation split (never on test).

The student that selects at stage 2 of the demo run (trained on stage 1's 32 examples, as the pipeline trains
it) writes a full rationale (student.generation.max_new_tokens, 64) for every validation input. IFD on its first
L tokens (the conditional NLL from the generation's log-probs, the direct NLL from a pass over those L tokens)
is compared with IFD on the whole rationale, per domain: Spearman's rank correlation over the domain's
candidates, and the overlap of the top-k at the quotas the demo takes at stages 2 and 3 (k per head domain, out
of candidate_factor x k candidates drawn at random, 20 draws averaged). A length passes when the mean Spearman
is at least 0.9 and the mean top-k overlap at least 0.8 (thresholds fixed before it ran). The cheapest length
that passes is printed last; generation time is measured at each length.

    python benchmarks/ifd_truncation.py [--lengths 8,16,24,32,48] [--scheme select-then-train] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

from baldistill.config import load_config
from baldistill.core.methods import METHODS
from baldistill.core.plan import plan_run
from baldistill.data import domain_counts
from baldistill.runner.pipeline import Distiller
from baldistill.runner.runfolder import RunFolder, State

DEMO = Path(__file__).parents[1] / "src/baldistill/configs/demo.yaml"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", default="8,16,24,32,48")
    ap.add_argument("--scheme", default="select-then-train")
    ap.add_argument("--factor", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--draws", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lengths = [int(x) for x in args.lengths.split(",")]
    cfg = load_config(
        DEMO,
        [
            f"student.train.scheme={args.scheme}",
            f"student.threads={args.threads}",
            "data.val=../bundled/demo/val.jsonl",
        ],
    )
    full_len = cfg.student.generation.max_new_tokens
    with tempfile.TemporaryDirectory() as tmp:
        d = Distiller(cfg, RunFolder.create(Path(tmp) / "run"))
        state = State.start(d.pool, d.domains)
        d.stage(0, state)  # the student that selects at stage 2
        student, val = d.student, d.val
        assert val, "the demo config has no data.val"
        texts = [e.input for e in val]
        t0 = time.perf_counter()
        gens = student.generate(texts, desc="full rationales", logprobs=True)
        t_full = time.perf_counter() - t0
        timing = {full_len: t_full}
        for L in lengths:
            t0 = time.perf_counter()
            student.generate(texts, desc=f"{L}-token rationales", max_new_tokens=L)
            timing[L] = time.perf_counter() - t0
        ifd = {}
        for L in lengths + [full_len]:
            resp = [g.ids[:L] for g in gens]
            cond = [-sum(g.logprobs[:L]) / len(g.logprobs[:L]) if g.logprobs[:L] else math.nan for g in gens]
            scores = student.ifd(texts, resp, cfg.selection.ifd_variant, desc=f"IFD at {L}", cond_nll=cond)
            ifd[L] = [s.ifd for s in scores]
    # the quotas the demo takes from head domains at stages 2 and 3
    method = METHODS[cfg.method]
    takes = [p.take for p in plan_run(method, domain_counts(d.pool), cfg.budget, cfg.stages)[1:]]
    by_dom: dict[str, list[int]] = {}
    for j, e in enumerate(val):
        by_dom.setdefault(e.domain, []).append(j)
    print(
        f"student after stage 1 ({args.scheme}); {len(val)} validation inputs; full rationale {full_len} tokens "
        f"(mean length {statistics.mean(len(g.ids) for g in gens):.1f})"
    )
    print("| L | generation s | mean Spearman | min Spearman | mean top-k overlap | passes |")
    print("|---:|---:|---:|---:|---:|---|")
    passing = []
    for L in lengths:
        rhos, overlaps = [], []
        for dom, idx in by_dom.items():
            full = [ifd[full_len][j] for j in idx]
            short = [ifd[L][j] for j in idx]
            ok = [k for k in range(len(idx)) if not (math.isnan(full[k]) or math.isnan(short[k]))]
            if len(ok) >= 3:
                rhos.append(spearmanr([full[k] for k in ok], [short[k] for k in ok]).statistic)
            for take in takes:
                k = take.get(dom, 0)
                n = min(len(idx), math.ceil(args.factor * k))
                if not 0 < k < n:
                    continue
                rng = random.Random(f"{dom}/{k}")
                for _ in range(args.draws):
                    cand = rng.sample(range(len(idx)), n)

                    def top(vals, cand=cand, k=k):
                        return set(sorted(cand, key=lambda c: (-_nan_low(vals[c]), c))[:k])

                    overlaps.append(len(top(full) & top(short)) / k)
        rho, ov = statistics.mean(rhos), statistics.mean(overlaps)
        ok = rho >= 0.9 and ov >= 0.8
        if ok:
            passing.append(L)
        print(f"| {L} | {timing[L]:.1f} | {rho:.3f} | {min(rhos):.3f} | {ov:.3f} | {'yes' if ok else 'no'} |")
    print(f"| {full_len} (full) | {timing[full_len]:.1f} | 1 | 1 | 1 | - |")
    print(f"cheapest passing length: {min(passing) if passing else 'none'}")


def _nan_low(x: float) -> float:
    return -math.inf if math.isnan(x) else x


if __name__ == "__main__":
    main()
