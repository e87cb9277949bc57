"""Instruction-Following Difficulty: IFD(x, y) = PPL(y | x) / PPL(y).

``ppl_ratio`` (the paper's and Superfiltering's) divides perplexities, exp(s(y|x) - s(y)); ``loss_ratio``
(Cherry-LLM's) divides the mean token cross-entropies s(y|x) / s(y). Both keep the same IFD < 1 cut
but may rank differently. The scoring is batched: both passes of every candidate go into one list of
sequences, sorted by length and padded on the right, and the language-model head is applied only at
the positions whose next token is a response token.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


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


def _head_logits(model, hidden: torch.Tensor) -> torch.Tensor:
    logits = model.get_output_embeddings()(hidden)
    cap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
    if cap:  # Gemma-style soft-capping happens after the head
        logits = torch.tanh(logits / cap) * cap
    return logits.float()


def token_nll(model, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NLL of every token marked in ``target`` (aligned with ids), and the row each belongs to.

    Runs the backbone once and the language-model head only at the positions that predict a marked
    token (the response), instead of over the whole vocabulary at every position. Shared by IFD
    scoring and by training (it carries gradients when called outside inference mode).
    """
    sel = target[:, 1:]  # token t+1 is predicted from position t
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    if decoder is not None:
        hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = _head_logits(model, hidden[:, :-1][sel])
    else:  # fall back to full logits
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][sel].float()
    return F.cross_entropy(logits, ids[:, 1:][sel], reduction="none"), sel.nonzero()[:, 0]


def _batch_nll(model, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum and count of NLL over the marked positions, per row."""
    nll, rows = token_nll(model, ids, mask, target)
    sums = torch.zeros(ids.shape[0], dtype=torch.float64, device=ids.device).index_add_(0, rows, nll.double())
    return sums, target[:, 1:].sum(1)


@torch.inference_mode()
def response_nll(model, pairs: Sequence[tuple[Sequence[int], Sequence[int]]], batch_size: int = 16,
                 pad_id: int = 0, progress: Callable[[int], None] | None = None) -> list[float]:
    """Mean NLL of each response given its context: pairs of (context_ids, response_ids).

    With an empty context the first response token cannot be predicted and is not scored.
    """
    device = next(model.parameters()).device
    order = sorted(range(len(pairs)), key=lambda k: len(pairs[k][0]) + len(pairs[k][1]))
    out = [math.nan] * len(pairs)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(pairs[k][0]) + len(pairs[k][1]) for k in idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        target = torch.zeros((len(idx), width), dtype=torch.bool)
        for row, k in enumerate(idx):
            ctx, resp = list(pairs[k][0]), list(pairs[k][1])
            seq = ctx + resp
            ids[row, :len(seq)] = torch.tensor(seq)
            mask[row, :len(seq)] = 1
            target[row, max(len(ctx), 1):len(seq)] = True
        sums, counts = _batch_nll(model, ids.to(device), mask.to(device), target.to(device))
        for row, k in enumerate(idx):
            n = int(counts[row])
            out[k] = float(sums[row]) / n if n else math.nan
        if progress:
            progress(len(idx))
    return out


def ifd_scores(model, prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], start_ids: Sequence[int],
               variant: str = "ppl_ratio", batch_size: int = 16, pad_id: int = 0,
               progress: Callable[[int], None] | None = None) -> list[IFDScore]:
    """IFD for each (prompt, response): PPL(y|x) with the prompt as context, PPL(y) after ``start_ids``
    (the tokenizer's BOS). Both passes are batched together."""
    n = len(prompts)
    pairs = [(p, r) for p, r in zip(prompts, responses)] + [(list(start_ids), r) for r in responses]
    nll = response_nll(model, pairs, batch_size, pad_id, progress)
    return [IFDScore(nll[k], nll[n + k], ifd_from_nll(nll[k], nll[n + k], variant)) for k in range(n)]


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
