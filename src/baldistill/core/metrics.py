"""Evaluation metrics: per-domain scores, macro/micro averages, head/tail split, majority baseline."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .answers import answers_match, normalize


def token_f1(pred: str | None, gold: str) -> float:
    """Word-level F1 between prediction and gold (SQuAD-style normalisation)."""

    def toks(s: str) -> list[str]:
        s = re.sub(r"\b(a|an|the)\b", " ", normalize(s))
        return re.sub(r"[^\w\s]", " ", s).split()

    p, g = toks(pred or ""), toks(gold)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def score(pred: str | None, gold: str, metric: str) -> float:
    if metric == "accuracy":
        return float(answers_match(pred, gold))
    if metric == "token_f1":
        return token_f1(pred, gold)
    raise ValueError(f"unknown metric {metric!r}")


@dataclass
class Scored:
    domain: str
    gold: str
    pred: str | None
    score: float


def _avg(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def summarize(items: Iterable[Scored], tail_domains: Iterable[str], labels: Sequence[str] | None = None) -> dict:
    """macro = mean of per-domain means; micro = mean over all items; the same for head and tail."""
    items = list(items)
    tail = set(tail_domains)
    by_dom: dict[str, list[float]] = defaultdict(list)
    for it in items:
        by_dom[it.domain].append(it.score)
    per_domain = {d: {"n": len(v), "score": _avg(v), "tail": d in tail} for d, v in sorted(by_dom.items())}

    def block(domains: list[str]) -> dict:
        scores = [s for d in domains for s in by_dom[d]]
        return {"domains": domains, "macro": _avg([per_domain[d]["score"] for d in domains]), "micro": _avg(scores)}

    out = {
        "macro": _avg([v["score"] for v in per_domain.values()]),
        "micro": _avg([it.score for it in items]),
        "head": block([d for d in per_domain if d not in tail]),
        "tail": block([d for d in per_domain if d in tail]),
        "per_domain": per_domain,
    }
    if labels is not None:
        out.update(label_f1(items, labels))
    return out


def label_f1(items: Sequence[Scored], labels: Sequence[str]) -> dict:
    """sklearn macro/micro F1 over the label set (predictions outside it count as a wrong class)."""
    from sklearn.metrics import f1_score

    canon = {normalize(label): label for label in labels}
    y_true = [canon.get(normalize(it.gold), it.gold) for it in items]
    y_pred = [canon.get(normalize(it.pred or ""), "<none>") for it in items]
    kw = dict(labels=sorted(set(labels)), zero_division=0)
    return {
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", **kw)),
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", **kw)),
    }


def majority_predictions(train: Iterable[tuple[str, str]], classification: bool) -> dict[str, str]:
    """The prior-only baseline: per domain, the most common training answer (for classification the
    single most common label overall, the usual majority-class baseline)."""
    pairs = list(train)
    if classification:
        top = Counter(normalize(a) for _, a in pairs).most_common(1)[0][0]
        return {d: top for d, _ in pairs}
    by_dom: dict[str, Counter] = defaultdict(Counter)
    for d, a in pairs:
        by_dom[d][a] += 1
    return {d: c.most_common(1)[0][0] for d, c in by_dom.items()}


def majority_baseline(
    train: Iterable[tuple[str, str]],
    test: Iterable[tuple[str, str]],
    metric: str,
    tail_domains: Iterable[str],
    classification: bool,
) -> dict:
    preds = majority_predictions(train, classification)
    items = [Scored(d, g, preds.get(d), score(preds.get(d), g, metric)) for d, g in test]
    return summarize(items, tail_domains)
