#!/usr/bin/env python
"""Build ``wide``, the second bundled long-tailed data set: 12 families, three large heads, a tail of seven.

Twelve reasoning-gym families (the demo's eight and four more that passed the learnability screen of
``scripts/learnability_screen.py``, docs/datasets.md) with a Zipf-like training pool: three heads of 400, 350
and 300 items (``simple_equations``, ``leg_counting``, ``word_sequence_reversal``: families with thousands of
distinct questions), two mid-sized domains (``products`` 120, ``letter_counting`` 40) and seven tail domains
of 9 down to 1 item. Per family a test and a validation split of 50 items (``lcm``: 40, its generator has
144 questions) and a reserve of 60 unseen items for the reference teacher's synthesis.

Every item gets a short mechanical worked solution ("rationale") derived from the generator's metadata or
question text, ending with ``The answer is <answer>.``: the demo's builders (scripts/build_demo_data.py) for
the demo's families, the ones below for the new families. Every derived value is asserted against the gold
answer, and the gold answer is checked with reasoning-gym's own scorer.

Each family is one reasoning-gym stream seeded by the family's fixed number (``CANDIDATES``) and ``--seed``
alone, read in index order and deduplicated by question text; its first train + test + reserve + val items
are shuffled with a seeded RNG and cut into the four splits. The output is a pure function of ``--seed``:

    python scripts/build_wide_data.py --seed 0 --out src/baldistill/bundled/wide

Requires the ``data`` extra (``reasoning-gym==0.1.25``). The constants below can be read without
reasoning-gym installed (it is imported lazily); the demo's constants and builders are read from
scripts/build_demo_data.py, which this script does not change.
"""

from __future__ import annotations

import importlib.util
import math
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _demo_script():
    """scripts/build_demo_data.py, whose worked-solution builders the demo's families reuse unchanged."""
    spec = importlib.util.spec_from_file_location("build_demo_data", HERE / "build_demo_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


demo = _demo_script()
final = demo.final


# --------------------------------------------------------------------------
# Candidate families: every family the learnability screen tried, with the generator config used for it
# (parameter names checked against reasoning_gym 0.1.25). ``number`` is fixed forever: it seeds the family's
# stream, so adding or dropping a family never changes another one's items.
# --------------------------------------------------------------------------
def _aiw_config() -> dict[str, Any]:
    from reasoning_gym.logic.aiw import TaskType

    # siblings and friends only: the colleagues template is ~90 words long for the same "+1" step
    return dict(task_types=[TaskType.SIBLINGS, TaskType.FRIENDS], task_type_weights=[0.5, 0.5], max_entities=6)


CANDIDATES: dict[str, dict[str, Any]] = {
    # the demo's eight, with the demo's settings except count_bits (1..255 instead of 1..127: 255 questions,
    # enough for a test, a validation split and a reserve beside a tail pool)
    "products": dict(number=0, config=demo.DOMAIN_CONFIGS["products"]),
    "word_sequence_reversal": dict(number=1, config=demo.DOMAIN_CONFIGS["word_sequence_reversal"]),
    "gcd": dict(number=2, config=demo.DOMAIN_CONFIGS["gcd"]),
    "count_bits": dict(number=3, config=dict(min_n=1, max_n=255)),
    "letter_counting": dict(number=4, config=demo.DOMAIN_CONFIGS["letter_counting"]),
    "simple_equations": dict(number=5, config=demo.DOMAIN_CONFIGS["simple_equations"]),
    "lcm": dict(number=6, config=demo.DOMAIN_CONFIGS["lcm"]),
    "family_relationships": dict(number=7, config=demo.DOMAIN_CONFIGS["family_relationships"]),
    # new families
    "word_sorting": dict(number=8, config=dict(min_words=3, max_words=4, min_word_length=3, max_word_length=8)),
    "aiw": dict(number=9, config=None),  # _aiw_config(): needs reasoning-gym's TaskType
    "leg_counting": dict(number=10, config=dict(min_animals=1, max_animals=2, min_instances=1, max_instances=5)),
    "prime_factorization": dict(number=11, config=dict(min_value=2, max_value=200)),
    "fraction_simplification": dict(
        number=12, config=dict(min_value=1, max_value=9, min_factor=2, max_factor=9, styles=("plain",))
    ),
    "spell_backward": dict(number=13, config=dict(min_word_len=3, max_word_len=5)),
}


def generator_config(family: str) -> dict[str, Any]:
    cfg = CANDIDATES[family]["config"]
    return _aiw_config() if cfg is None else dict(cfg)


# --------------------------------------------------------------------------
# Worked solutions of the new families: (item) -> rationale, or None to reject the item. Each asserts what it
# derives against the gold answer; the demo's families use the demo's builders.
# --------------------------------------------------------------------------
def r_word_sorting(item: dict) -> str:
    md = item["metadata"]
    asc = sorted(md["transformed_words"])
    order = asc if md["direction"] == "ascending" else asc[::-1]
    assert ", ".join(order) == item["answer"] == ", ".join(md["sorted_words"]), item
    body = f"In ASCII order (capitals before lowercase letters) the words sort as: {', '.join(asc)}"
    if md["direction"] == "descending":
        body += f"; descending is the reverse: {', '.join(order)}"
    return f"{body}. {final(item['answer'])}"


_AIW_SIBLINGS = re.compile(
    r"^(\w+) has (\d+) (brothers|sisters) and she also has (\d+) (brothers|sisters)\. "
    r"How many sisters does (\w+)'s brother have\?$"
)
_AIW_FRIENDS = re.compile(
    r"^(\w+) has (\d+) male friends and she also has (\d+) female friends\. .* "
    r"How many female friends does (\w+), a male friend of (\w+), have\?$"
)


def r_aiw(item: dict) -> str:
    q = item["question"]
    if m := _AIW_SIBLINGS.match(q):
        name, n1, k1, n2, k2, _ = m.groups()
        assert {k1, k2} == {"brothers", "sisters"}, item
        sisters = int(n1 if k1 == "sisters" else n2)
        body = f"The sisters in the family are {name} and her {sisters} sisters, and a brother has all of them"
    else:
        m = _AIW_FRIENDS.match(q)
        assert m, item
        name, _, sisters_s, male, name2 = m.groups()
        assert name == name2, item
        sisters = int(sisters_s)
        body = f"{male}'s female friends are {name} and her {sisters} female friends"
    assert str(sisters + 1) == item["answer"], item
    return f"{body}: {sisters} + 1 = {sisters + 1}. {final(item['answer'])}"


def r_leg_counting(item: dict) -> str:
    from reasoning_gym.arithmetic.leg_counting import ANIMALS

    animals = item["metadata"]["animals"]
    parts = [(a, n, ANIMALS[a], n * ANIMALS[a]) for a, n in animals.items()]
    total = sum(p for *_, p in parts)
    assert str(total) == item["answer"], item
    steps = "; ".join(
        f"{'an' if a[0] in 'aeiou' else 'a'} {a} has {legs} legs, {n} × {legs} = {p}" for a, n, legs, p in parts
    )
    if len(parts) > 1:
        steps += f". Total: {' + '.join(str(p) for *_, p in parts)} = {total}"
    return f"{steps[0].upper()}{steps[1:]}. {final(item['answer'])}"


def r_prime_factorization(item: dict) -> str:
    n, factors = item["metadata"]["number"], item["metadata"]["factors"]
    assert math.prod(factors) == n and factors == sorted(factors), item
    assert " × ".join(map(str, factors)) == item["answer"], item
    if len(factors) == 1:
        return f"{n} has no divisor between 2 and {math.isqrt(n)}, so it is prime. {final(item['answer'])}"
    steps, m = [], n
    for f in factors[:-1]:
        steps.append(f"{m} ÷ {f} = {m // f}")
        m //= f
    return f"{', '.join(steps)}, and {m} is prime. {final(item['answer'])}"


def r_fraction_simplification(item: dict) -> str:
    md = item["metadata"]
    num, den, sn, sd = md["numerator"], md["denominator"], md["simplified_numerator"], md["simplified_denominator"]
    g = math.gcd(num, den)
    assert num // g == sn and den // g == sd and f"{sn}/{sd}" == item["answer"], item
    return f"gcd({num}, {den}) = {g}; {num} ÷ {g} = {sn} and {den} ÷ {g} = {sd}. {final(item['answer'])}"


def r_spell_backward(item: dict) -> str:
    word = item["metadata"]["word"]
    assert word[::-1] == item["answer"], item
    return f"{word} is spelled {'-'.join(word)}; backward: {'-'.join(word[::-1])}. {final(item['answer'])}"


def rationale_builders() -> dict[str, Callable[[dict], str | None]]:
    from reasoning_gym.graphs.family_relationships import FamilyRelationshipsConfig

    return {
        "products": demo.r_products,
        "word_sequence_reversal": demo.r_word_sequence_reversal,
        "gcd": demo.r_gcd,
        "count_bits": demo.r_count_bits,
        "letter_counting": demo.r_letter_counting,
        "simple_equations": demo.r_simple_equations,
        "lcm": demo.r_lcm,
        "family_relationships": demo._make_r_family(set(FamilyRelationshipsConfig().male_names)),
        "word_sorting": r_word_sorting,
        "aiw": r_aiw,
        "leg_counting": r_leg_counting,
        "prime_factorization": r_prime_factorization,
        "fraction_simplification": r_fraction_simplification,
        "spell_backward": r_spell_backward,
    }


# --------------------------------------------------------------------------
# The item stream of one family
# --------------------------------------------------------------------------
MAX_DRAWS = 50_000  # per family; generous upper bound on the stream's length
SEED_STRIDE = 1_000_000  # > MAX_DRAWS: reasoning-gym seeds item idx with Random(seed + idx)
FAMILY_STRIDE = 10**6 * SEED_STRIDE  # streams of seeds below 10**6 and of different families never share a seed
BASE = 10**11  # away from the demo's streams (seed 0: 0 .. 750_000)


def stream_seed(family: str, seed: int) -> int:
    return BASE + CANDIDATES[family]["number"] * FAMILY_STRIDE + seed * SEED_STRIDE


def open_dataset(family: str, seed: int):
    """reasoning-gym's generator of the family's stream (items are generated on demand)."""
    import reasoning_gym

    return reasoning_gym.create_dataset(
        family, size=MAX_DRAWS, seed=stream_seed(family, seed), **generator_config(family)
    )


def stream_items(ds, family: str, builders=None, limit: int | None = None) -> Iterator[tuple[dict[str, str], dict]]:
    """(record, reasoning-gym item) for the first ``limit`` items of the stream ``ds`` in generator order, each
    question once, with a worked solution checked against the gold answer, and the gold answer checked with
    reasoning-gym's own scorer."""
    builder = (builders or rationale_builders())[family]
    seen: set[str] = set()
    for idx in range(MAX_DRAWS):
        if limit is not None and len(seen) == limit:
            return
        item = ds[idx]
        question, answer = item["question"].strip(), item["answer"].strip()
        if question in seen:
            continue
        assert answer and ds.score_answer(answer, item) == 1.0, item
        rationale = builder(item)
        if rationale is None:
            continue
        seen.add(question)
        assert rationale.endswith(final(answer)), rationale
        yield {"domain": family, "input": question, "answer": answer, "rationale": rationale}, item


def take(family: str, seed: int, n: int, builders=None) -> list[dict[str, str]]:
    """The first ``n`` items of the family's stream at ``seed`` (an error when the generator has fewer)."""
    out = [rec for rec, _ in stream_items(open_dataset(family, seed), family, builders, limit=n)]
    if len(out) < n:
        raise RuntimeError(f"{family}: only {len(out)} distinct items in {MAX_DRAWS} draws (need {n})")
    return out


# --------------------------------------------------------------------------
# The data set
# --------------------------------------------------------------------------
# Families that passed the screen (docs/datasets.md) and the demo's eight, in head -> tail order, with their
# training-pool sizes: three heads of 300-400 from families whose question space is large (simple_equations,
# leg_counting, word_sequence_reversal: thousands of distinct questions), two mid-sized domains, and a tail of
# seven domains with 9 down to 1 examples. The deep tail holds the families that learn from their own worked
# examples (aiw, family_relationships, lcm, fraction_simplification, prime_factorization); count_bits, gcd and
# letter_counting, which only learned the answer prior in the screen, are kept (they are the demo's) as filler.
# Left out after the screen: word_sorting and spell_backward (0 of 30 after training).
POOL_SIZES: dict[str, int] = {
    "simple_equations": 400,
    "leg_counting": 350,
    "word_sequence_reversal": 300,
    "products": 120,
    "letter_counting": 40,
    "gcd": 9,
    "count_bits": 7,
    "prime_factorization": 5,
    "fraction_simplification": 4,
    "lcm": 3,
    "family_relationships": 2,
    "aiw": 1,
}
TEST_PER_DOMAIN = 50
VAL_PER_DOMAIN = 50
RESERVE_PER_DOMAIN = 60
# lcm (two numbers in 1..12) has 144 distinct questions: 3 + 60 + 40 + 40 = 143 of them
SMALLER_EVAL: dict[str, int] = {"lcm": 40}
SPLITS = ("train", "test", "reserve", "val")
DOMAINS: list[str] = list(POOL_SIZES)


def split_sizes(domain: str) -> dict[str, int]:
    return {
        "train": POOL_SIZES[domain],
        "test": SMALLER_EVAL.get(domain, TEST_PER_DOMAIN),
        "reserve": RESERVE_PER_DOMAIN,
        "val": SMALLER_EVAL.get(domain, VAL_PER_DOMAIN),
    }


def build_domain(domain: str, seed: int = 0, builders=None) -> dict[str, list[dict[str, str]]]:
    """One family's records per split: its first distinct items, shuffled (so the splits are i.i.d.), cut into
    train, test, reserve and val. Depends on nothing but ``domain`` and ``seed``."""
    sizes = split_sizes(domain)
    items = take(domain, seed, sum(sizes.values()), builders)
    random.Random(f"wide/{seed}/{domain}").shuffle(items)
    out, start = {}, 0
    for split in SPLITS:
        out[split] = [{"id": f"{domain}-{split}-{n}", **r} for n, r in enumerate(items[start : start + sizes[split]])]
        start += sizes[split]
    return out


def build(seed: int = 0, domains: list[str] | None = None) -> dict[str, list[dict[str, str]]]:
    """{split: [record, ...]} for the given seed (deterministic), families in head -> tail order."""
    builders = rationale_builders()
    out: dict[str, list[dict[str, str]]] = {s: [] for s in SPLITS}
    for domain in domains or DOMAINS:
        for split, recs in build_domain(domain, seed, builders).items():
            out[split] += recs
    inputs = [r["input"] for recs in out.values() for r in recs]
    assert len(inputs) == len(set(inputs)), "splits are not disjoint"
    return out


write = demo.write  # one JSON line per record, UTF-8, "\n" line ends: byte for byte as the demo's files


def main(argv: list[str] | None = None) -> int:
    return demo.command(argv, __doc__, "src/baldistill/bundled/wide", build, DOMAINS)


if __name__ == "__main__":
    raise SystemExit(main())
