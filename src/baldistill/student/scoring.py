"""The student's scoring passes: mean NLL of responses given a context, batched by length with as little
padding as possible (right padding); the prefix every prompt shares (the chat template's system turn and
the instruction) runs once and its keys and values are reused; the language-model head is applied only at
the positions whose next token is a response token. Shared by IFD scoring and by training.
"""

from __future__ import annotations

import copy
import inspect
import math
import os
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..core.ifd import IFDScore, buckets, ifd_from_nll
from ..runtime import dist


def _head_logits(model, hidden: torch.Tensor) -> torch.Tensor:
    logits = model.get_output_embeddings()(hidden)
    cap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
    if cap:  # Gemma-style soft-capping happens after the head
        logits = torch.tanh(logits / cap) * cap
    return logits.float()


class SharedPrefix:
    """The tokens that every sequence of a call starts with (a chat template's system turn and the
    instruction), run through the model once. ``rows(n)`` gives the forward arguments that prepend them to
    a batch of n rows: a fresh copy of their keys and values. At least one token of each sequence is left
    out of the prefix (it predicts the first response token, or starts generation)."""

    def __init__(self, model, seqs: Sequence[Sequence[int]], device):
        from transformers import DynamicCache

        shortest = min((len(x) for x in seqs), default=0)
        self.ids: list[int] = list(os.path.commonprefix([list(x) for x in seqs]))[: max(shortest - 1, 0)]
        self.cache = None
        if self.ids and hasattr(model, "get_decoder"):
            decoder = model.get_decoder()
            self.arg = cache_arg(decoder)
            self.cache = DynamicCache(config=decoder.config)
            decoder(input_ids=torch.tensor([self.ids], device=device), use_cache=True, **{self.arg: self.cache})
        else:
            self.ids = []

    def rows(self, n: int) -> dict:
        if self.cache is None:
            return {}
        cache = copy.deepcopy(self.cache)
        cache.batch_repeat_interleave(n)
        return {self.arg: cache}


def cache_arg(decoder) -> str:
    """The forward (and generate) argument that takes a key/value cache; renamed in transformers 5.x."""
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"


def token_nll(
    model, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor, prefix: SharedPrefix | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """NLL of every token marked in ``target`` (aligned with ids), and the row each belongs to.

    Runs the backbone once and the language-model head only at the positions that predict a marked
    token (the response), instead of over the whole vocabulary at every position. Shared by IFD
    scoring and by training (it carries gradients when called outside inference mode). With a
    ``prefix``, every row continues its tokens; ``mask`` covers the rows' own tokens.
    """
    sel = target[:, 1:]  # token t+1 is predicted from position t
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    if decoder is not None:
        kw = prefix.rows(len(ids)) if prefix is not None else {}
        if kw:
            mask = torch.cat([mask.new_ones(mask.shape[0], len(prefix.ids)), mask], 1)
        hidden = decoder(input_ids=ids, attention_mask=mask, **kw).last_hidden_state
        logits = _head_logits(model, hidden[:, :-1][sel])
    else:  # fall back to full logits
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][sel].float()
    return F.cross_entropy(logits, ids[:, 1:][sel], reduction="none"), sel.nonzero()[:, 0]


def _batch_nll(
    model, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor, prefix: SharedPrefix | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum and count of NLL over the marked positions, per row."""
    nll, rows = token_nll(model, ids, mask, target, prefix)
    sums = torch.zeros(ids.shape[0], dtype=torch.float64, device=ids.device).index_add_(0, rows, nll.double())
    return sums, target[:, 1:].sum(1)


@torch.inference_mode()
def response_nll(
    model,
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    batch_size: int = 16,
    pad_id: int = 0,
    progress: Callable[[int], None] | None = None,
    shard: bool = False,
) -> list[float]:
    """Mean NLL of each response given its context: pairs of (context_ids, response_ids).

    With an empty context the first response token cannot be predicted and is not scored. The prefix
    that every context shares (a chat template's system turn and instruction) runs once, and its keys
    and values are reused by every batch; the rest is batched by length with as little padding as
    possible, padded on the right. With ``shard`` (every process of a launcher calls it with the same pairs)
    the batches are cut from all pairs as one process cuts them, each process runs every ``world_size``-th
    batch, and all get every value.
    """
    if not pairs:
        return []
    device = next(model.parameters()).device
    prefix = SharedPrefix(model, [c for c, _ in pairs], device)
    skip = len(prefix.ids)
    out: dict[int, float] = {}
    batches = buckets([len(c) + len(r) - skip for c, r in pairs], batch_size)
    for idx in dist.shard(batches) if shard else batches:
        width = max(len(pairs[k][0]) + len(pairs[k][1]) for k in idx) - skip
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        target = torch.zeros((len(idx), width), dtype=torch.bool)
        for row, k in enumerate(idx):
            ctx, resp = list(pairs[k][0]), list(pairs[k][1])
            seq = (ctx + resp)[skip:]
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
            target[row, max(len(ctx), 1) - skip : len(seq)] = True
        sums, counts = _batch_nll(model, ids.to(device), mask.to(device), target.to(device), prefix)
        for row, k in enumerate(idx):
            n = int(counts[row])
            out[k] = float(sums[row]) / n if n else math.nan
        if progress:
            progress(len(idx))
    merged = {k: v for part in (dist.all_gather(out) if shard else [out]) for k, v in part.items()}
    return [merged[k] for k in range(len(pairs))]


def ifd_scores(
    model,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    start_ids: Sequence[int],
    variant: str = "ppl_ratio",
    batch_size: int = 16,
    pad_id: int = 0,
    progress: Callable[[int], None] | None = None,
    cond_nll: Sequence[float] | None = None,
    shard: bool = False,
) -> list[IFDScore]:
    """IFD for each (prompt, response): PPL(y|x) with the prompt as context, PPL(y) after ``start_ids``
    (the tokenizer's BOS). Each pass is batched by length; the prompts' shared prefix runs once.
    ``cond_nll`` gives the mean NLL of y given x when it is already known (from the generation that
    produced y); then only the direct pass runs. ``shard``: see ``response_nll``."""
    if cond_nll is None:
        cond_nll = response_nll(model, list(zip(prompts, responses)), batch_size, pad_id, progress, shard)
    direct = response_nll(model, [(list(start_ids), r) for r in responses], batch_size, pad_id, progress, shard)
    return [IFDScore(c, d, ifd_from_nll(c, d, variant)) for c, d in zip(cond_nll, direct)]
