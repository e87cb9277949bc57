#!/usr/bin/env python
"""Which reasoning-gym families can SmolLM2-135M-Instruct learn from a few dozen worked examples in minutes?

A screen, not a measurement (one seed, a few dozen test items per family), run the way
``shared/reference/learnability.md`` ran its own, but through baldistill itself and on the targets a run
trains on: per family, the first ``--test`` distinct items of the family's stream (as
``scripts/build_wide_data.py`` generates them, generator config and worked solution included, at a seed the
bundled data does not use) are held out, the next ``--train`` are the training set. For each family it reports

* **zero-shot**: the untrained student (baldistill's ``Student``, its chat prompt with the default
  instruction), scored with baldistill's answer parser and scorer (``core.answers``: the text after the last
  "answer is"; for a numeric family the last number when there is none);
* **trained**: a fresh LoRA adapter (r 8, alpha 16, q/k/v/o, the demo's lr 2e-3, 4 epochs, batch 8) fitted
  on the training items with their worked solutions as targets (what the reference teacher returns), then
  scored the same way;
* **majority**: always answering the most common training answer (baldistill's majority baseline).

It prints a markdown table (and writes it with per-item outputs to ``--out`` as JSON). One torch thread by
default, so that it can share a 2-core machine:

    python scripts/learnability_screen.py --out /tmp/screen.json

``--smoke`` runs the same code on a tiny random model with 4 + 4 items of two families (seconds; measures
nothing).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    wide = _load("build_wide_data", HERE / "build_wide_data.py")
    ap.add_argument("--families", default=",".join(wide.CANDIDATES), help="comma-separated (default: every candidate)")
    ap.add_argument("--seed", type=int, default=500, help="stream seed (the bundled data uses 0)")
    ap.add_argument("--test", type=int, default=30, help="held-out items per family")
    ap.add_argument("--train", type=int, default=40, help="training items per family")
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--out", type=Path, help="write the table's figures and every output as JSON")
    ap.add_argument("--smoke", action="store_true", help="tiny random model, 2 families, 4 + 4 items")
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(a.threads)
    from baldistill.config import DEFAULT_INSTRUCTION, GenerationConfig, StudentConfig, TrainConfig
    from baldistill.core.answers import is_numeric, parse_answer
    from baldistill.core.metrics import score
    from baldistill.student import Student

    families = a.families.split(",")
    if a.smoke:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from _common import tiny_model

        a.model, a.test, a.train, families = str(tiny_model()), 4, 4, families[:2]
    unknown = [f for f in families if f not in wide.CANDIDATES]
    if unknown:
        ap.error(f"unknown families {unknown}; candidates: {', '.join(wide.CANDIDATES)}")

    builders = wide.rationale_builders()
    data = {}
    for f in families:
        items = wide.take(f, a.seed, a.test + a.train, builders)
        data[f] = {"test": items[: a.test], "train": items[a.test :]}

    t0 = time.perf_counter()
    student = Student(
        StudentConfig(
            model=a.model,
            threads=a.threads,
            train=TrainConfig(epochs=a.epochs, lr=a.lr, batch_size=8),
            generation=GenerationConfig(max_new_tokens=a.max_new_tokens, batch_size=64),
        ),
        instruction=DEFAULT_INSTRUCTION,
        seed=0,
    )
    print(f"loaded {a.model} in {time.perf_counter() - t0:.1f}s ({torch.get_num_threads()} thread(s))", flush=True)

    def scored(f: str, texts: list[str]) -> tuple[float, list[dict]]:
        numeric = sum(is_numeric(r["answer"]) for r in data[f]["train"]) > len(data[f]["train"]) / 2
        rows = []
        for r, text in zip(data[f]["test"], texts):
            pred = parse_answer(text, None, numeric=numeric)
            rows.append({"input": r["input"], "gold": r["answer"], "pred": pred, "output": text})
            rows[-1]["score"] = score(pred, r["answer"], "accuracy")
        return sum(x["score"] for x in rows) / len(rows), rows

    # zero-shot: every family's test items in one pass of the untrained student
    t = time.perf_counter()
    tests = [(f, r) for f in families for r in data[f]["test"]]
    gens = student.generate([r["input"] for _, r in tests], desc="zero-shot")
    results: dict[str, dict] = {f: {} for f in families}
    for f in families:
        texts = [g.text for (ff, _), g in zip(tests, gens) if ff == f]
        results[f]["zero_shot"], results[f]["zero_shot_rows"] = scored(f, texts)
    print(f"zero-shot on {len(tests)} items in {time.perf_counter() - t:.1f}s", flush=True)

    for f in families:
        train, test = data[f]["train"], data[f]["test"]
        top, _ = Counter(r["answer"] for r in train).most_common(1)[0]
        results[f]["majority"] = sum(score(top, r["answer"], "accuracy") for r in test) / len(test)
        results[f]["majority_answer"] = top
        student.new_adapter(0)
        t = time.perf_counter()
        stats = student.fit([(r["input"], r["rationale"]) for r in train], seed=0, desc=f"{f}: training")
        results[f]["train_s"] = time.perf_counter() - t
        results[f]["train_loss"] = stats["train_loss"]
        results[f]["final_loss"] = stats["losses"][-1] if stats.get("losses") else None
        t = time.perf_counter()
        gens = student.generate([r["input"] for r in test], desc=f"{f}: evaluating")
        results[f]["trained"], results[f]["trained_rows"] = scored(f, [g.text for g in gens])
        results[f]["eval_s"] = time.perf_counter() - t
        r = results[f]
        print(
            f"{f}: zero-shot {r['zero_shot']:.2f}, trained {r['trained']:.2f}, majority {r['majority']:.2f} "
            f"(train {r['train_s']:.0f}s, loss {r['train_loss']:.2f}; eval {r['eval_s']:.0f}s)",
            flush=True,
        )

    print(
        f"\n{len(families)} families, {a.train} training and {a.test} test items each, seed {a.seed}, "
        f"{a.epochs:g} epochs at lr {a.lr:g}, {a.threads} thread(s); {time.perf_counter() - t0:.0f}s in all\n"
    )
    print("| family | zero-shot | trained | majority (answer) | trained − max(majority, zero-shot) | training s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for f in families:
        r = results[f]
        gain = r["trained"] - max(r["majority"], r["zero_shot"])
        print(
            f"| {f} | {r['zero_shot']:.2f} | {r['trained']:.2f} | {r['majority']:.2f} (`{r['majority_answer']}`) "
            f"| {gain:+.2f} | {r['train_s']:.0f} |"
        )
    if a.out:
        a.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(a).items()}, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
