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
    python benchmarks/ifd_truncation.py --smoke   # seconds: a tiny model, B = 24, 6 validation inputs per domain
"""

from __future__ import annotations

import math
import random
import statistics
import tempfile
from pathlib import Path

from _common import (
    DEFAULT_STUDENT,
    demo_config,
    demo_subset,
    parse,
    parser,
    print_table,
    set_threads,
    smoke_sets,
    timed,
)
from scipy.stats import spearmanr

from baldistill.core.methods import METHODS
from baldistill.core.plan import plan_run
from baldistill.data import domain_counts
from baldistill.runner.pipeline import Distiller
from baldistill.runner.runfolder import RunFolder, State


def main() -> None:
    ap = parser(__doc__, model=True, threads=True, default_threads=2)
    ap.add_argument("--lengths", default="8,16,24,32,48")
    ap.add_argument("--scheme", default="select-then-train")
    ap.add_argument("--factor", type=float, default=4.0)
    ap.add_argument("--draws", type=int, default=20)
    args = parse(ap, smoke={"lengths": "2,4", "draws": 2})
    set_threads(args.threads)
    lengths = [int(x) for x in args.lengths.split(",")]
    sets = [
        f"student.train.scheme={args.scheme}",
        f"student.threads={args.threads}",
        "data.val=../bundled/demo/val.jsonl",
    ]
    if args.model != DEFAULT_STUDENT:
        sets.append(f"student.model={args.model}")
    if args.smoke:  # a small budget, one epoch, 8-token rationales, a handful of validation inputs per domain
        sets += smoke_sets(args.model) + [f"data.val={demo_subset('val', 6)}"]
    cfg = demo_config(sets)
    full_len = cfg.student.generation.max_new_tokens
    with tempfile.TemporaryDirectory() as tmp:
        d = Distiller(cfg, RunFolder.create(Path(tmp) / "run"))
        state = State.start(d.pool, d.domains)
        d.stage(0, state)  # the student that selects at stage 2
        student, val = d.student, d.val
        assert val, "the demo config has no data.val"
        texts = [e.input for e in val]
        gens, t_full = timed(student.generate, texts, desc="full rationales", logprobs=True)
        timing = {full_len: t_full}
        for L in lengths:
            _, timing[L] = timed(student.generate, texts, desc=f"{L}-token rationales", max_new_tokens=L)
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
    rows, passing = [], []
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
        rows.append([L, f"{timing[L]:.1f}", f"{rho:.3f}", f"{min(rhos):.3f}", f"{ov:.3f}", "yes" if ok else "no"])
    rows.append([f"{full_len} (full)", f"{timing[full_len]:.1f}", 1, 1, 1, "-"])
    header = ["L", "generation s", "mean Spearman", "min Spearman", "mean top-k overlap", "passes"]
    print_table(header, rows, align="rrrrrl")
    print(f"cheapest passing length: {min(passing) if passing else 'none'}")


def _nan_low(x: float) -> float:
    return -math.inf if math.isnan(x) else x


if __name__ == "__main__":
    main()
