"""The student: a Hugging Face causal LM with a LoRA adapter (peft), trained with the HF Trainer.

One place builds the token spans that training, IFD scoring and evaluation share: the prompt is the
user turn rendered with the tokenizer's chat template (with the generation prompt), the completion is
what the template appends for the assistant turn. Both are tokenised separately, so the span
boundary is exact and identical to what the model sees when it generates.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
from transformers.utils import logging as hf_logging

from ..config import StudentConfig
from ..core.ifd import IFDScore
from ..runtime import dist
from ..runtime.dist import local_rank
from ..runtime.progress import bar
from .assets import resolve_model
from .scoring import SharedPrefix, cache_arg, ifd_scores
from .training import train_adapter

log = logging.getLogger(__name__)


def pick_device(cfg: StudentConfig) -> tuple[torch.device, torch.dtype]:
    if cfg.device != "auto":
        device = torch.device(cfg.device)
    elif torch.cuda.is_available():
        device = torch.device("cuda", local_rank())
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if cfg.dtype != "auto":
        dtype = getattr(torch, cfg.dtype)
    elif device.type == "cuda" and torch.cuda.is_bf16_supported():
        dtype = torch.bfloat16
    else:
        dtype = torch.float32
    return device, dtype


@dataclass
class Generation:
    text: str
    ids: list[int]  # generated tokens, without the end-of-sequence token
    logprobs: list[float] | None = None  # log p of each token in ids given the prompt and the tokens before it

    @property
    def nll(self) -> float:
        """Mean NLL of ids given the prompt (needs logprobs): the conditional half of IFD, for free."""
        return -sum(self.logprobs) / len(self.logprobs) if self.logprobs else math.nan


def greedy_decode(
    model, ids: torch.Tensor, mask: torch.Tensor, prefix: SharedPrefix, max_new_tokens: int, eos_ids: list[int]
) -> list[tuple[list[int], list[float]]]:
    """Greedy decoding of a batch of prompts (``ids``/``mask``: [shared prefix, padding, prompt] per row), for
    each row its new tokens up to (without) the end of sequence and their log-probabilities. Works like the
    HF ``generate`` call it replaces (the same positions, mask and cache; argmax of the float32 logits), but
    a row that ends leaves the batch: its cache rows are dropped and it costs nothing more, where
    ``generate`` keeps computing it until the last row of the batch ends."""
    arg = cache_arg(model.get_decoder())
    n, skip = ids.shape[0], len(prefix.ids)
    cache = prefix.rows(n).get(arg) or DynamicCache(config=model.get_decoder().config)
    pos = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    step_ids, step_pos = ids[:, skip:], pos[:, skip:]
    alive = torch.arange(n, device=ids.device)  # the original row of each row still decoding
    eos = torch.tensor(eos_ids, device=ids.device)
    tokens: list[list[int]] = [[] for _ in range(n)]
    lps: list[list[float]] = [[] for _ in range(n)]
    for _ in range(max_new_tokens):
        logits = (
            model(
                input_ids=step_ids,
                attention_mask=mask,
                position_ids=step_pos,
                use_cache=True,
                logits_to_keep=1,
                **{arg: cache},
            )
            .logits[:, -1]
            .float()
        )
        best = logits.max(-1)
        lp = best.values - logits.logsumexp(-1)
        done = torch.isin(best.indices, eos)
        for r, t, lpr, d in zip(alive.tolist(), best.indices.tolist(), lp.tolist(), done.tolist()):
            if not d:
                tokens[r].append(t)
                lps[r].append(lpr)
        if done.all():
            break
        if done.any():  # the rows that ended leave the batch
            keep = (~done).nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            alive, mask, best_ids, step_pos = alive[keep], mask[keep], best.indices[keep], step_pos[keep]
        else:
            best_ids = best.indices
        step_ids = best_ids[:, None]
        step_pos = step_pos[:, -1:] + 1
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], 1)
    return list(zip(tokens, lps))


class Student:
    def __init__(self, cfg: StudentConfig, instruction: str = "", seed: int = 0):
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
        self.cfg, self.instruction, self.seed = cfg, instruction, seed
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device, self.dtype = pick_device(cfg)
        self.path = resolve_model(cfg.model)
        remote = cfg.trust_remote_code
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, trust_remote_code=remote)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # safetensors only, unless the config allows pickle-based weight files (they can run code when loaded)
        self.base = AutoModelForCausalLM.from_pretrained(
            self.path,
            dtype=self.dtype,
            trust_remote_code=remote,
            use_safetensors=None if cfg.allow_pickle_weights else True,
        ).to(self.device)
        self.base.eval()
        self.model = self.base  # a PeftModel once an adapter is attached
        self.chat = bool(getattr(self.tokenizer, "chat_template", None))
        self._prompt_ids: dict[str, list[int]] = {}
        self.rows_by_rank: list[int] = []  # rows each process decoded in the last generate call
        gen_eos = self.base.generation_config.eos_token_id
        gen_eos = gen_eos if isinstance(gen_eos, list) else [gen_eos]
        self.eos_ids = sorted({i for i in [self.tokenizer.eos_token_id, *gen_eos] if i is not None})
        tok = self.tokenizer
        self.start_ids = (
            [tok.bos_token_id]
            if tok.bos_token_id is not None
            else ([tok.eos_token_id] if tok.eos_token_id is not None else [])
        )

    # ---- prompt and spans -------------------------------------------------------------------
    def user_text(self, text: str) -> str:
        return f"{self.instruction}\n\n{text}" if self.instruction else text

    def prompt_text(self, text: str) -> str:
        if self.chat:
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": self.user_text(text)}], tokenize=False, add_generation_prompt=True
            )
        bos = self.tokenizer.bos_token or ""
        return f"{bos}{self.user_text(text)}\nAnswer: Let's think step by step.\n"

    def completion_text(self, text: str, response: str) -> str:
        if self.chat:
            msgs = [{"role": "user", "content": self.user_text(text)}, {"role": "assistant", "content": response}]
            full = self.tokenizer.apply_chat_template(msgs, tokenize=False)
            prompt = self.prompt_text(text)
            if full.startswith(prompt):
                return full[len(prompt) :]
        return response + (self.tokenizer.eos_token or "")

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt_ids(self, text: str) -> list[int]:
        """Token ids of the rendered prompt; tokenised once per input (generation, IFD, training share it)."""
        ids = self._prompt_ids.get(text)
        if ids is None:
            ids = self._prompt_ids[text] = self.encode(self.prompt_text(text))
        return ids

    def train_features(self, text: str, response: str) -> dict:
        p, c = self.prompt_ids(text), self.encode(self.completion_text(text, response))
        limit = self.cfg.train.max_length
        if len(p) + len(c) > limit:  # keep the whole response; cut the prompt from the left
            p = p[max(0, len(p) + len(c) - limit) :]
            c = c[:limit]
        return {"input_ids": p + c, "labels": [-100] * len(p) + c, "attention_mask": [1] * (len(p) + len(c))}

    # ---- generation -------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        texts: list[str],
        desc: str = "generating",
        logprobs: bool = False,
        max_new_tokens: int | None = None,
        shard: bool = False,
    ) -> list[Generation]:
        """Greedy rationales, in batches of prompts sorted by length, with the KV cache. The prefix all prompts
        share runs once (its keys and values are copied into every batch); each row is [shared prefix,
        padding, rest of its prompt], so the padding sits before the tokens that differ, as left padding
        does. A row that has ended leaves its batch (``greedy_decode``): finished rows cost nothing. With
        ``logprobs`` each Generation carries its tokens' log-probs.

        With ``shard`` (every process of a launcher calls it with the same texts) each process decodes a share
        of the batches and all get every result: the batches and the shared prefix are cut from all the texts
        exactly as one process cuts them, and whole batches go to the processes in turn (``dist.shard``), so a
        row's text and log-probs do not depend on how many processes there are. ``rows_by_rank`` records the
        rows each process decoded."""
        gcfg = self.cfg.generation
        prompts = [self.prompt_ids(t) for t in texts]
        order = sorted(range(len(prompts)), key=lambda k: len(prompts[k]))
        batches = [order[s : s + gcfg.batch_size] for s in range(0, len(order), gcfg.batch_size)]
        mine = dist.shard(batches) if shard else batches
        out: dict[int, Generation] = {}
        pad = self.tokenizer.pad_token_id
        self.model.eval()
        prefix = SharedPrefix(self.model, prompts, self.device)
        skip = len(prefix.ids)
        with bar(desc, sum(map(len, mine))) as advance:
            for idx in mine:
                width = skip + max(len(prompts[k]) - skip for k in idx)
                ids = torch.full((len(idx), width), pad, dtype=torch.long)
                ids[:, :skip] = torch.tensor(prefix.ids, dtype=torch.long)
                mask = torch.zeros_like(ids)
                mask[:, :skip] = 1
                for row, k in enumerate(idx):  # padding between the shared prefix and the rest
                    rest = prompts[k][skip:]
                    ids[row, width - len(rest) :] = torch.tensor(rest)
                    mask[row, width - len(rest) :] = 1
                rows = greedy_decode(
                    self.model,
                    ids.to(self.device),
                    mask.to(self.device),
                    prefix,
                    max_new_tokens or gcfg.max_new_tokens,
                    self.eos_ids,
                )
                for row, k in enumerate(idx):
                    new, lp = rows[row]
                    out[k] = Generation(
                        self.tokenizer.decode(new, skip_special_tokens=True).strip(), new, lp if logprobs else None
                    )
                advance(len(idx))
        parts = dist.all_gather(out) if shard else [out]
        self.rows_by_rank = [len(p) for p in parts]
        merged = {k: g for p in parts for k, g in p.items()}
        return [merged[k] for k in range(len(prompts))]

    # ---- IFD --------------------------------------------------------------------------------
    def ifd(
        self,
        texts: list[str],
        responses: list[list[int]],
        variant: str,
        desc: str = "scoring IFD",
        cond_nll: list[float] | None = None,
        shard: bool = False,
    ) -> list[IFDScore]:
        """IFD of each response; with ``cond_nll`` (from ``Generation.nll``) only the direct pass runs. With
        ``shard`` each process of a launcher runs a share of the batches (cut as one process cuts them) and
        all get every score."""
        prompts = [self.prompt_ids(t) for t in texts]
        self.model.eval()
        passes = 1 if cond_nll is not None else 2
        share = round(len(texts) * passes / (dist.world_size() if shard else 1))
        with bar(desc, share) as advance:
            return ifd_scores(
                self.model,
                prompts,
                responses,
                self.start_ids,
                variant,
                self.cfg.score_batch_size,
                self.tokenizer.pad_token_id,
                advance,
                cond_nll,
                shard,
            )

    # ---- LoRA -------------------------------------------------------------------------------
    def new_adapter(self, seed: int) -> None:
        if isinstance(self.model, PeftModel):
            self.base = self.model.unload()  # drop the old adapter, keep the frozen base
        torch.manual_seed(seed)
        lc = self.cfg.lora
        self.model = get_peft_model(
            self.base,
            LoraConfig(
                r=lc.r,
                lora_alpha=lc.alpha,
                lora_dropout=lc.dropout,
                target_modules=lc.target_modules,
                bias="none",
                task_type="CAUSAL_LM",
            ),
        )

    def has_adapter(self) -> bool:
        return isinstance(self.model, PeftModel)

    def fit(
        self,
        pairs: list[tuple[str, str]],
        seed: int,
        desc: str = "training",
        epochs: float | None = None,
        callbacks: list | None = None,
    ) -> dict:
        """Fine-tune the current adapter on (input, target response) pairs; completion-only loss. ``epochs``
        overrides student.train.epochs (a select-then-train selection student); ``callbacks`` go to the Trainer."""
        if not self.has_adapter():
            self.new_adapter(seed)
        features = [self.train_features(x, y) for x, y in pairs]
        tc = self.cfg.train if epochs is None else self.cfg.train.model_copy(update={"epochs": epochs})
        stats = train_adapter(self.model, self.tokenizer, features, tc, self.device, self.dtype, seed, desc, callbacks)
        self.model.eval()
        return stats

    def save_adapter(self, path: Path) -> None:
        self.model.save_pretrained(str(path))

    def load_adapter(self, path: Path, trainable: bool = False) -> None:
        if self.has_adapter():
            self.base = self.model.unload()
        self.model = PeftModel.from_pretrained(self.base, str(path), is_trainable=trainable)
        self.model.eval()
