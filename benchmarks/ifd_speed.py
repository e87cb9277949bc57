"""IFD scoring speed: BalDistill's path against the reference implementation, same model, data, dtype
and threads, in one process; both must give the same IFD (1e-4 relative).

Reference (as Cherry-LLM / Superfiltering do it, but without needless work): batch size 1, each example
tokenised once, two separate forward passes (prompt + response with the prompt masked, then the
response alone after BOS), full-vocabulary logits, the model's own loss, ``torch.inference_mode``.
BalDistill (``baldistill.student.scoring.ifd_scores``): each pass in length-sorted batches of at most 16 rows cut to
minimise padding, the prefix every prompt shares (chat template system turn and instruction) run once and
its keys and values reused, the LM head applied only at response positions.

    python benchmarks/ifd_speed.py [--model smollm2-135m-instruct] [--n 64] [--batch 16] [--repeats 5]
    python benchmarks/ifd_speed.py --smoke   # seconds: a tiny model, 4 candidates, a small matmul probe

The demo data's inputs and reference rationales are the candidates. Also prints the achieved FLOP/s
against a ``torch.mm`` probe of the machine's fp32 matmul rate: the FLOPs are those of every ``nn.Linear``
call the path really makes (padding, the shared prefix and the LM head included; attention scores,
norms and activations not counted), counted with forward hooks in an extra untimed run.
"""

from __future__ import annotations

import statistics
import time

import torch
from _common import demo_rows, describe, load_student, median, parse, parser, set_threads, span, spread_rows, timed

from baldistill.core.ifd import ifd_from_nll
from baldistill.student.scoring import ifd_scores


@torch.inference_mode()
def reference(model, prompts, responses, start_ids) -> list[float]:
    out = []
    for p, r in zip(prompts, responses):
        ids = torch.tensor([p + r])
        labels = ids.clone()
        labels[0, : len(p)] = -100
        cond = model(input_ids=ids, labels=labels).loss.item()
        ids2 = torch.tensor([list(start_ids) + r])
        labels2 = ids2.clone()
        labels2[0, : len(start_ids)] = -100
        direct = model(input_ids=ids2, labels=labels2).loss.item()
        out.append(ifd_from_nll(cond, direct))
    return out


def linear_flops(model, fn) -> int:
    """FLOPs of every nn.Linear call made by fn() (2 x rows x in x out)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += 2 * inputs[0].numel() * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    try:
        fn()
    finally:
        for h in handles:
            h.remove()
    return total


def matmul_rate(n=1024, reps=20, rounds=5) -> float:
    """fp32 FLOP/s of an n x n torch.mm: the median of several rounds after a warm-up."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    rates = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        rates.append(2 * n**3 * reps / (time.perf_counter() - t))
    return statistics.median(rates)


def main() -> None:
    ap = parser(__doc__, model=True, threads=True, repeats=5, n=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--probe-size", type=int, default=1024, help="n of the n x n torch.mm probe")
    a = parse(ap, smoke={"n": 4, "batch": 2, "probe_size": 128})
    set_threads(a.threads)
    st = load_student(a.model, score_batch_size=a.batch)
    rows = spread_rows(demo_rows(), a.n)  # spread over the domains
    prompts = [st.prompt_ids(r["input"]) for r in rows]
    responses = [st.encode(r["rationale"]) for r in rows]
    model = st.model.eval()
    n_tokens = sum(len(p) + 2 * len(r) + len(st.start_ids) for p, r in zip(prompts, responses))
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{a.model}: {params / 1e6:.0f}M parameters, {a.n} candidates, {n_tokens} tokens in the two passes "
        f"(the reference runs them all), {describe(model)}"
    )

    def ours_run():
        return ifd_scores(model, prompts, responses, st.start_ids, batch_size=a.batch, pad_id=st.tokenizer.pad_token_id)

    if a.warmup:
        reference(model, prompts[:2], responses[:2], st.start_ids)
        ours_run()
    t_ref, t_ours = [], []
    for rep in range(a.repeats):
        ref, dt = timed(reference, model, prompts, responses, st.start_ids)
        t_ref.append(dt)
        ours, dt = timed(ours_run)
        t_ours.append(dt)
        worst = max(abs(o.ifd - r) / abs(r) for o, r in zip(ours, ref))
        assert worst <= 1e-4, f"IFD differs: {worst:.2e} relative"
        print(
            f"repeat {rep + 1}: reference {a.n / t_ref[-1]:.2f} ex/s, baldistill {a.n / t_ours[-1]:.2f} ex/s; "
            f"max relative IFD difference {worst:.1e}"
        )
    mr, mo = median(t_ref), median(t_ours)
    f_ours = linear_flops(model, ours_run)
    f_ref = linear_flops(model, lambda: reference(model, prompts, responses, st.start_ids))
    probe = matmul_rate(a.probe_size, **({"reps": 2, "rounds": 1} if a.smoke else {}))
    print(
        f"median: reference {a.n / mr:.2f} ex/s, baldistill {a.n / mo:.2f} ex/s -> {mr / mo:.2f}x "
        f"(spread ref {span(t_ref)} s, ours {span(t_ours)} s)"
    )
    print(f"linear-layer work per scoring: reference {f_ref / 1e12:.2f} TFLOP, baldistill {f_ours / 1e12:.2f} TFLOP")
    print(
        f"FLOP/s: baldistill {f_ours / mo / 1e9:.1f} G, reference {f_ref / mr / 1e9:.1f} G; torch.mm probe "
        f"{probe / 1e9:.1f} G -> baldistill at {100 * f_ours / mo / probe:.0f}% of the machine's fp32 matmul rate"
    )


if __name__ == "__main__":
    main()
