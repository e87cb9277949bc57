"""A tiny randomly initialised Llama with a byte-level BPE tokenizer trained in code (no files, no hub), saved
as a local model folder that the real loading code reads: the tests' student, and the benchmarks' ``--smoke``
one. Needs torch, tokenizers and transformers (imported when called)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


TINY = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    tie_word_embeddings=False,
)


def make_tiny_model(
    folder: Path, texts: Iterable[str], chat: bool = True, seed: int = 0, dtype: str = "float32", **config
) -> Path:
    """Save in ``folder`` a randomly initialised Llama (``TINY``: hidden size 64, 2 layers; ``config`` overrides
    any ``LlamaConfig`` field, e.g. a real model's sizes and vocabulary) with a 512-token BPE tokenizer trained on
    ``texts`` (its ids are a subset of any larger vocabulary); with ``chat`` a ChatML chat template
    (``<|im_end|>`` ends a turn), else a base model (``</s>``). ``dtype``: the weights as saved."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    special = ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        list(texts),
        trainers.BpeTrainer(
            vocab_size=512,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    eos = "<|im_end|>" if chat else "</s>"
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token=eos, pad_token="<pad>")
    if chat:
        hf.chat_template = CHATML
    torch.manual_seed(seed)
    sizes = {**TINY, "vocab_size": hf.vocab_size if len(hf) <= hf.vocab_size else len(hf), **config}
    cfg = LlamaConfig(**sizes, bos_token_id=hf.bos_token_id, eos_token_id=hf.eos_token_id, pad_token_id=hf.pad_token_id)
    model = LlamaForCausalLM(cfg).to(getattr(torch, dtype))
    model.generation_config.eos_token_id = hf.eos_token_id
    model.save_pretrained(folder)
    hf.save_pretrained(folder)
    return folder
