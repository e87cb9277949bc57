#!/usr/bin/env python
"""Build the small long-tailed multi-domain demo dataset shipped with baldistill.

Eight easy reasoning-gym task families are sampled with a steep Zipf-shaped
training pool (300 ``products`` items down to two ``family_relationships``
items), a test split of at least 50 items per domain where the generator has
them (the earlier 20-per-domain split, then items drawn after every other
split), a reserve split of 60 unseen items per domain (used by
the simulated teacher to "synthesize" new tail examples), and a validation
split of up to 50 items per domain for choosing settings (drawn after all the
others, so they are unchanged by it).

Every item gets a short mechanical worked solution ("rationale") derived from
the generator's metadata or question text, always ending with
``The answer is <answer>.``; every derived value is re-checked against the
gold answer, and the gold answer is checked with reasoning-gym's own scorer.
(A ``family_relationships`` relation that cannot be derived mechanically from
the story falls back to just ``The answer is <answer>.``; none does with the
configured family sizes.)

The output is a pure function of ``--seed``:

    python scripts/build_demo_data.py --seed 0 --out src/baldistill/bundled/demo

Requires the ``data`` extra (``reasoning-gym==0.1.25``).  The constants below
can be read without reasoning-gym installed (it is imported lazily).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------
# Domains, in head -> tail order, with the generator configs used.
# (Parameter names checked against reasoning_gym 0.1.25 sources.)
# --------------------------------------------------------------------------
DOMAIN_CONFIGS: dict[str, dict[str, Any]] = {
    # 1-digit operands.  Two 1-digit factors (0-9) give only 100 distinct
    # questions, fewer than the 452 this head domain needs (pool + test +
    # reserve), so products of 3 one-digit factors are allowed as well.
    "products": dict(min_terms=2, max_terms=3, min_digits=1, max_digits=1, allow_negation=False),
    "word_sequence_reversal": dict(min_words=3, max_words=4),
    "gcd": dict(min_numbers=2, max_numbers=2, min_value=1, max_value=50),
    # n in 1..31 gives only 31 distinct questions (< 79 needed), so 1..127 (7 bits).
    "count_bits": dict(min_n=1, max_n=127),
    "letter_counting": dict(min_words=1, max_words=3),
    "simple_equations": dict(
        min_terms=2, max_terms=3, min_value=1, max_value=10, operators=("+", "-"), operators_weights=[0.5, 0.5]
    ),
    "lcm": dict(min_numbers=2, max_numbers=2, min_value=1, max_value=12),
    # Family size 3-4 (grandparents, father, at most his wife) makes almost every
    # question "son"/"father"/spouse; 3-6 adds 1-2 children, hence grandparent
    # and sibling questions and a more varied answer distribution (still no
    # aunts/uncles, which need family size > 8).
    "family_relationships": dict(min_family_size=3, max_family_size=6),
}
DOMAINS: list[str] = list(DOMAIN_CONFIGS)

# Training-pool sizes: steep Zipf law n_k = round(300 / k**2.5), k = 1..8 in
# DOMAINS order -> 300, 53, 19, 9, 5, 3, 2, 2 (393 items in total).
POOL_SIZES: dict[str, int] = {
    "products": 300,
    "word_sequence_reversal": 53,
    "gcd": 19,
    "count_bits": 9,
    "letter_counting": 5,
    "simple_equations": 3,
    "lcm": 2,
    "family_relationships": 2,
}
assert POOL_SIZES == {d: round(300 / k**2.5) for k, d in enumerate(DOMAINS, start=1)}

# Test split: natural (pool) distribution over ~80 items, at least 20 per domain (so that a tail
# domain's score moves in steps of 5 points, not 10).
TEST_TOTAL = 80
MIN_TEST = 20
TEST_SIZES: dict[str, int] = {
    d: max(MIN_TEST, round(TEST_TOTAL * n / sum(POOL_SIZES.values()))) for d, n in POOL_SIZES.items()
}
# Reserve split: unseen items per domain for the simulated teacher.
RESERVE_PER_DOMAIN = 60
# Validation split, for choosing settings (never the test split): up to 50 items per domain, drawn from the
# generator's stream after every item of the other splits, so train, test and reserve stay exactly what
# they were before the split existed. count_bits (n in 1..127) has only 38 questions left for it.
VAL_PER_DOMAIN = 50

# Evaluation items per domain: the test split is topped up to at least this many per domain with items drawn
# from the stream after every item of the other splits (val included), so train, reserve and val stay exactly
# what they were and the earlier 20-per-domain test items are the first of each domain's block. A tail
# domain's score then moves in steps of 2 points, not 5. count_bits (n in 1..127) has no question left for it.
MIN_EVAL = 50

SPLITS = ("train", "test", "reserve")
ALL_SPLITS = SPLITS + ("val",)
MAX_DRAWS = 50_000  # per domain; generous upper bound on stream length
DOMAIN_SEED_STRIDE = 100_000  # reasoning-gym seeds item idx with Random(seed + idx)


def split_sizes(domain: str) -> dict[str, int]:
    return {"train": POOL_SIZES[domain], "test": TEST_SIZES[domain], "reserve": RESERVE_PER_DOMAIN}


def final(answer: str) -> str:
    return f"The answer is {answer}."


# --------------------------------------------------------------------------
# Rationale builders: (item) -> rationale, or None to reject the item.
# Each asserts its derived values against the gold answer.
# --------------------------------------------------------------------------
def r_products(item: dict) -> str:
    nums = [int(t) for t in item["metadata"]["expression"].split(" * ")]
    steps, acc = [], nums[0]
    for n in nums[1:]:
        steps.append(f"{acc} * {n} = {acc * n}")
        acc *= n
    assert str(acc) == item["answer"], item
    body = steps[0] if len(steps) == 1 else ", then ".join(steps)
    return f"{body}. {final(item['answer'])}"


def r_word_sequence_reversal(item: dict) -> str:
    rev = ", ".join(reversed(item["metadata"]["words"]))
    assert rev == item["answer"], item
    return f"The words in reverse order are: {rev}. {final(item['answer'])}"


def _euclid_chain(a: int, b: int) -> tuple[str, int]:
    a, b = max(a, b), min(a, b)
    parts = [f"gcd({a}, {b})"]
    while b:
        a, b = b, a % b
        parts.append(f"gcd({a}, {b})")
    return " = ".join(parts) + f" = {a}", a


def r_gcd(item: dict) -> str:
    x, y = item["metadata"]["numbers"]
    chain, g = _euclid_chain(x, y)
    assert g == math.gcd(x, y) and str(g) == item["answer"], item
    return f"By Euclid's algorithm, {chain}. {final(item['answer'])}"


def r_count_bits(item: dict) -> str:
    n = item["metadata"]["number"]
    b = bin(n)[2:]
    ones = b.count("1")
    assert b == item["metadata"]["binary"] and str(ones) == item["answer"], item
    unit = "one bit" if ones == 1 else "one bits"
    return f"{n} in binary is {b}, which has {ones} {unit}. {final(item['answer'])}"


def r_letter_counting(item: dict) -> str:
    letter = item["metadata"]["target_letter"]
    span = item["metadata"]["span"]
    counts = [w.lower().count(letter) for w in span]
    total = sum(counts)
    assert str(total) == item["answer"], item
    words = "; ".join(f"{'-'.join(w.lower())} has {c}" for w, c in zip(span, counts))
    tail = f"Total: {' + '.join(map(str, counts))} = {total}" if len(counts) > 1 else f"Total: {total}"
    return f'Count "{letter}" in each word: {words}. {tail}. {final(item["answer"])}'


def r_simple_equations(item: dict) -> str:
    import sympy

    var = item["metadata"]["variable"]
    x = sympy.Symbol(var)
    lhs_s, rhs_s = item["metadata"]["equation"].split(" = ")
    lhs = sympy.sympify(lhs_s, locals={var: x})
    rhs = int(sympy.sympify(rhs_s))
    s = lhs.coeff(x)
    c = int(lhs.subs(x, 0))
    assert s in (1, -1) and sympy.expand(lhs - (s * x + c)) == 0, item
    sol = (rhs - c) if s == 1 else (c - rhs)
    assert str(sol) == item["answer"] and lhs.subs(x, sol) == rhs, item
    if s == 1:
        if c == 0:
            body = f"{var} = {rhs}"
        elif c > 0:
            body = f"Subtract {c} from both sides: {var} = {rhs} - {c} = {sol}"
        else:
            body = f"Add {-c} to both sides: {var} = {rhs} + {-c} = {sol}"
    else:
        body = f"Add {var} to both sides and subtract {rhs}: {var} = {c} - {rhs} = {sol}"
        if rhs < 0:
            body = f"Add {var} to both sides and add {-rhs}: {var} = {c} + {-rhs} = {sol}"
    return f"{body}. {final(item['answer'])}"


def r_lcm(item: dict) -> str:
    x, y = item["metadata"]["numbers"]
    g = math.gcd(x, y)
    lcm = x * y // g
    assert lcm == math.lcm(x, y) and str(lcm) == item["answer"], item
    if g == 1:
        return f"gcd({x}, {y}) = 1, so lcm = {x} * {y} = {lcm}. {final(item['answer'])}"
    return f"gcd({x}, {y}) = {g}, so lcm = {x} * {y} / {g} = {x * y} / {g} = {lcm}. {final(item['answer'])}"


_MARRIED = re.compile(r"^(\w+) is married to (\w+)\.$")
_CHILDREN = re.compile(r"^They have (?:a child|children) called (.+)\.$")


def _parse_family_story(story: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Return (spouse_of, parents_of) from the generator's story text."""
    spouse, parents = {}, {}
    last_couple = None
    for sent in re.findall(r"[^.]+\.", story):
        sent = sent.strip()
        if m := _MARRIED.match(sent):
            a, b = m.groups()
            spouse[a], spouse[b] = b, a
            last_couple = (a, b)
        elif m := _CHILDREN.match(sent):
            assert last_couple is not None, story
            for child in re.split(r", | and ", m.group(1)):
                parents[child] = last_couple
        else:
            raise AssertionError(f"unparsed family sentence: {sent!r}")
    return spouse, parents


def _derive_relation(
    p1: str, p2: str, male: bool, spouse: dict[str, str], parents: dict[str, tuple[str, str]]
) -> tuple[str, str] | None:
    """(relation, explanation) of p1 to p2 from the parsed story, or None.

    Mirrors the order of reasoning-gym's checks (parent, child, spouse,
    sibling, grandparent); anything else (aunt/uncle, niece/nephew, in-laws) is
    not derived.
    """
    sex = "male" if male else "female"
    if p1 in parents.get(p2, ()):
        a, b = parents[p2]
        return ("father" if male else "mother"), f"{p2} is the child of {a} and {b}, and {p1} is {sex}"
    if p2 in parents.get(p1, ()):
        a, b = parents[p1]
        return ("son" if male else "daughter"), f"{p1} is the child of {a} and {b}, and {p1} is {sex}"
    if spouse.get(p1) == p2:
        return ("husband" if male else "wife"), f"{p1} is married to {p2}, and {p1} is {sex}"
    if p1 in parents and p2 in parents and set(parents[p1]) == set(parents[p2]):
        a, b = parents[p1]
        return ("brother" if male else "sister"), f"{p1} and {p2} are both children of {a} and {b}, and {p1} is {sex}"
    for parent in parents.get(p2, ()):
        if p1 in parents.get(parent, ()):
            a, b = parents[p2]
            c, d = parents[parent]
            return ("grandfather" if male else "grandmother"), (
                f"{p2} is the child of {a} and {b}, {parent} is the child of {c} and {d}, and {p1} is {sex}"
            )
    return None


def _make_r_family(male_names: set[str]) -> Callable[[dict], str | None]:
    def r_family_relationships(item: dict) -> str | None:
        md = item["metadata"]
        rel = md["relationship"]
        # reasoning-gym 0.1.25 labels "What is X to Y?" with Y's role when Y is
        # X's parent-in-law (X is really the daughter/son-in-law): the gold
        # answer is inverted, so such items are dropped.
        if rel.endswith("-in-law"):
            return None
        p1, p2 = md["person1"], md["person2"]
        story = item["question"].split("\n\n")[0]
        spouse, parents = _parse_family_story(story)
        derived = _derive_relation(p1, p2, p1 in male_names, spouse, parents)
        if derived is None:  # not derivable mechanically: no worked solution
            return final(item["answer"])
        relation, body = derived
        assert relation == rel == item["answer"], item
        return f"{body}, so {p1} is {p2}'s {relation}. {final(item['answer'])}"

    return r_family_relationships


# --------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------
def _rationale_builders() -> dict[str, Callable[[dict], str | None]]:
    from reasoning_gym.graphs.family_relationships import FamilyRelationshipsConfig

    male = set(FamilyRelationshipsConfig().male_names)
    return {
        "products": r_products,
        "word_sequence_reversal": r_word_sequence_reversal,
        "gcd": r_gcd,
        "count_bits": r_count_bits,
        "letter_counting": r_letter_counting,
        "simple_equations": r_simple_equations,
        "lcm": r_lcm,
        "family_relationships": _make_r_family(male),
    }


def _take_unique(ds, draws: list[int], n: int, seen: set[str], builder, domain: str) -> tuple[list[dict], list[int]]:
    """Up to n items with questions not in ``seen`` from the stream positions ``draws`` (in order), and the
    positions left after the last one read."""
    out: list[dict[str, str]] = []
    for pos, idx in enumerate(draws):
        if len(out) == n:
            return out, draws[pos:]
        item = ds[idx]
        question, answer = item["question"].strip(), item["answer"].strip()
        if question in seen:
            continue
        assert ds.score_answer(answer, item) == 1.0, item
        rationale = builder(item)
        if rationale is None:
            continue
        seen.add(question)
        out.append({"domain": domain, "input": question, "answer": answer, "rationale": rationale})
    return out, []


def build(seed: int = 0) -> dict[str, list[dict[str, str]]]:
    """Return {split: [record, ...]} for the given seed (deterministic)."""
    import reasoning_gym

    builders = _rationale_builders()
    out: dict[str, list[dict[str, str]]] = {s: [] for s in ALL_SPLITS}
    for k, domain in enumerate(DOMAINS):
        sizes = split_sizes(domain)
        need = sum(sizes.values())
        ds_seed = seed * len(DOMAINS) * DOMAIN_SEED_STRIDE + k * DOMAIN_SEED_STRIDE
        ds = reasoning_gym.create_dataset(domain, size=MAX_DRAWS, seed=ds_seed, **DOMAIN_CONFIGS[domain])
        seen: set[str] = set()
        items: list[dict[str, str]] = []
        draws = iter(range(MAX_DRAWS))
        for idx in draws:
            if len(items) == need:
                break
            item = ds[idx]
            question = item["question"].strip()
            answer = item["answer"].strip()
            if question in seen:
                continue
            assert answer == item["answer"] and answer, item
            assert ds.score_answer(answer, item) == 1.0, item
            rationale = builders[domain](item)
            if rationale is None:
                continue
            seen.add(question)
            assert rationale.endswith(f"The answer is {answer}."), rationale
            items.append({"domain": domain, "input": question, "answer": answer, "rationale": rationale})
        else:
            raise RuntimeError(f"{domain}: only {len(items)} unique items in {MAX_DRAWS} draws (need {need})")
        # Items are unique in stream order; shuffle so the splits are i.i.d.
        random.Random(f"{seed}-{domain}").shuffle(items)
        start = 0
        for split in SPLITS:
            for n, rec in enumerate(items[start : start + sizes[split]]):
                out[split].append({"id": f"{domain}-{split}-{n}", **rec})
            start += sizes[split]
        # val: the next unique items of the same stream (after every item above), as many as it still has;
        # then the test top-up: the next ones after val (see MIN_EVAL)
        rest = [idx] + list(draws)  # the draw that ended the loop above has not been used yet
        val, rest = _take_unique(ds, rest, VAL_PER_DOMAIN, seen, builders[domain], domain)
        random.Random(f"{seed}-{domain}-val").shuffle(val)
        out["val"] += [{"id": f"{domain}-val-{n}", **rec} for n, rec in enumerate(val)]
        extra, _ = _take_unique(ds, rest, max(0, MIN_EVAL - sizes["test"]), seen, builders[domain], domain)
        random.Random(f"{seed}-{domain}-test-extra").shuffle(extra)
        out["test"] += [{"id": f"{domain}-test-{sizes['test'] + n}", **rec} for n, rec in enumerate(extra)]
    inputs = [r["input"] for recs in out.values() for r in recs]
    assert len(inputs) == len(set(inputs)), "splits are not disjoint"
    return out


def write(out: dict[str, list[dict[str, str]]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, recs in out.items():
        with open(out_dir / f"{split}.jsonl", "w", encoding="utf-8", newline="\n") as f:
            for rec in recs:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def command(argv, doc: str, default_out: str, build_fn, domains) -> int:
    """The command line of a bundled data set's build script: --seed and --out, the splits written, their sizes
    per domain printed (shared with scripts/build_wide_data.py)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(default_out))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = build_fn(args.seed)
    write(out, args.out)
    for split, recs in out.items():
        counts = {d: sum(r["domain"] == d for r in recs) for d in domains}
        print(f"{split:8s} {len(recs):5d}  {counts}", file=sys.stderr)
    print(f"wrote {args.out} in {time.perf_counter() - t0:.2f}s", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return command(argv, __doc__, "src/baldistill/bundled/demo", build, DOMAINS)


if __name__ == "__main__":
    raise SystemExit(main())
