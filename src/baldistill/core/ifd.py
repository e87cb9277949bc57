"""Instruction-Following Difficulty, the pure part: IFD(x, y) = PPL(y | x) / PPL(y) from mean NLLs, the
top-k selection rule, and the length buckets every batched pass uses (the torch passes are in
``student/scoring.py``).

``ppl_ratio`` (the paper's and Superfiltering's) divides perplexities, exp(s(y|x) - s(y)); ``loss_ratio``
(Cherry-LLM's) divides the mean token cross-entropies s(y|x) / s(y). Both keep the same IFD < 1 cut
but may rank differently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class IFDScore:
    cond_nll: float  # mean NLL of y given x (the student's prompt template)
    direct_nll: float  # mean NLL of y after the start token alone
    ifd: float


def ifd_from_nll(cond_nll: float, direct_nll: float, variant: str = "ppl_ratio") -> float:
    if variant == "ppl_ratio":
        return math.exp(cond_nll - direct_nll)
    if variant == "loss_ratio":
        return cond_nll / direct_nll if direct_nll > 0 else math.inf
    raise ValueError(f"unknown IFD variant {variant!r}")


def buckets(lengths: Sequence[int], batch_size: int, batch_cost: int = 32) -> list[list[int]]:
    """Split the indices, sorted by length, into consecutive batches of at most ``batch_size`` rows that
    minimise the padded tokens plus ``batch_cost`` tokens per batch (dynamic programming over the cuts)."""
    order = sorted(range(len(lengths)), key=lambda k: lengths[k])
    best, cut = [0] + [math.inf] * len(order), [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        width = lengths[order[j - 1]]
        for i in range(max(0, j - batch_size), j):
            cost = best[i] + (j - i) * width + batch_cost
            if cost < best[j]:
                best[j], cut[j] = cost, i
    out, j = [], len(order)
    while j:
        out.append(order[cut[j] : j])
        j = cut[j]
    return out[::-1]


def select_top(scores: Sequence[float], k: int, drop_ge_1: bool = False) -> list[int]:
    """Indices of the k highest scores. With ``drop_ge_1``, candidates with IFD >= 1 are taken only
    when too few remain below 1 (then the highest remaining fill the quota). NaN ranks last."""

    def key(i):
        s = scores[i]
        return -math.inf if math.isnan(s) else s

    ranked = sorted(range(len(scores)), key=lambda i: (-key(i), i))
    if drop_ge_1:
        nan = [i for i in ranked if math.isnan(scores[i])]
        below = [i for i in ranked if key(i) < 1 and i not in nan]
        above = [i for i in ranked if key(i) >= 1]
        ranked = below + above + nan
    return ranked[:k]
