"""Reference implementations that BalDistill's fast paths replaced, kept for tests and benchmarks to compare
against (they import torch and transformers; the rest of this package is stdlib only)."""

from __future__ import annotations


def hf_generate(student, texts: list[str], max_new_tokens: int) -> list[tuple[list[int], list[float]]]:
    """Greedy rationales as ``Student.generate`` made them before rows that end left their batch: HF
    ``generate`` over the same padded batch (one batch of all ``texts``) and shared prefix, each step's greedy
    log-probability recorded by a logits processor; finished rows run on until the batch's last row ends.
    Returns (tokens without the end of sequence, their log-probs) per text."""
    import torch
    from transformers import LogitsProcessorList

    from baldistill.student.scoring import SharedPrefix

    class Record:
        def __init__(self):
            self.steps = []

        def __call__(self, input_ids, scores):
            s = scores.float()
            self.steps.append(s.max(-1).values - s.logsumexp(-1))
            return scores

    prompts = [student.prompt_ids(t) for t in texts]
    with torch.inference_mode():
        prefix = SharedPrefix(student.model, prompts, student.device)
    skip, pad = len(prefix.ids), student.tokenizer.pad_token_id
    width = skip + max(len(p) - skip for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    ids[:, :skip] = torch.tensor(prefix.ids)
    mask = torch.zeros_like(ids)
    mask[:, :skip] = 1
    for row, p in enumerate(prompts):
        ids[row, width - len(p[skip:]) :] = torch.tensor(p[skip:])
        mask[row, width - len(p[skip:]) :] = 1
    rec = Record()
    with torch.inference_mode():
        gen = student.model.generate(
            input_ids=ids.to(student.device),
            attention_mask=mask.to(student.device),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=pad,
            eos_token_id=student.eos_ids,
            temperature=None,
            top_p=None,
            top_k=None,
            logits_processor=LogitsProcessorList([rec]),
            **prefix.rows(len(prompts)),
        )
    lp = torch.stack(rec.steps, 1).tolist()
    out = []
    for row in range(len(prompts)):
        new = gen[row, width:].tolist()
        cut = next((j for j, t in enumerate(new) if t in student.eos_ids), len(new))
        out.append((new[:cut], lp[row][:cut]))
    return out
