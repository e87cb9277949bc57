"""Reuters-21578 from its SGML files (``reut2-000.sgm`` .. ``reut2-021.sgm``, latin-1), ModApte split.

Rules:

* ModApte: a document is used when ``TOPICS="YES"``, ``LEWISSPLIT`` is ``TRAIN`` or ``TEST`` and it
  lists at least one topic; everything else (``NOT-USED``, ``TOPICS="NO"``, no topic) is skipped.
* The 90 categories are computed from the data: the topics that occur in at least one ModApte
  training document and at least one ModApte test document. Topics outside them are ignored, and a
  document none of whose topics is among them is skipped.
* Multi-label documents (``multi_label``): ``"pairs"`` (default) keeps one example per (document,
  category), which is how the paper's released data counts Reuters (about 9.6k train; Table 1: 3745
  test); ``"first"`` keeps one example per document, labelled with the first topic listed in
  ``<TOPICS>`` that is among the categories (the usual ModApte document counts, 7769 / 3019).
* Classification: domain = answer = the category; input = ``<TITLE>`` and ``<BODY>`` with entities
  unescaped and whitespace collapsed. A text without either (``TYPE="UNPROC"``) uses its whole text.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from ..data import DataError, Example
from .common import Adapted, clean_text, example, require_dir


class _SgmParser(HTMLParser):
    """Collects one dict per ``<REUTERS>`` element: its attributes, the ``<D>`` entries of ``<TOPICS>``,
    and the title, body and remaining text of ``<TEXT>``."""

    def __init__(self):
        super().__init__(convert_charrefs=False)  # entities are unescaped once, by clean_text
        self.docs: list[dict] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)
        if tag == "reuters":
            self.docs.append(
                {"attrs": {k: v or "" for k, v in attrs}, "topics": [], "title": "", "body": "", "rest": ""}
            )
        elif tag == "d" and "topics" in self.open and self.docs:
            self.docs[-1]["topics"].append("")

    def handle_endtag(self, tag):
        if tag in self.open:  # close the element and anything left open inside it
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data):
        if not self.docs or "reuters" not in self.open:
            return
        doc = self.docs[-1]
        if "topics" in self.open and "d" in self.open and doc["topics"]:
            doc["topics"][-1] += data
        elif "text" in self.open:
            key = "title" if "title" in self.open else "body" if "body" in self.open else "rest"
            if key != "rest" or not {"dateline", "author"} & set(self.open):
                doc[key] += data

    def handle_entityref(self, name):
        self.handle_data(f"&{name};")

    def handle_charref(self, name):
        self.handle_data(f"&#{name};")


def parse_sgm(text: str) -> list[dict]:
    """The documents of one SGML file: ``{"attrs", "topics", "title", "body", "rest"}`` each."""
    p = _SgmParser()
    p.feed(text)
    p.close()
    return p.docs


def _modapte(path: Path) -> list[tuple[str, dict]]:
    files = sorted(path.glob("reut2-*.sgm"))
    if not files:
        raise DataError(f"{path}: no reut2-*.sgm files (unpack reuters21578.tar.gz into this folder)")
    out = []
    for f in files:
        for doc in parse_sgm(f.read_text(encoding="latin-1")):
            a = doc["attrs"]
            doc["topics"] = [t.strip() for t in doc["topics"] if t.strip()]
            split = a.get("lewissplit", "").lower()
            if a.get("topics") == "YES" and split in ("train", "test") and doc["topics"]:
                doc["where"] = f"{f}: NEWID={a.get('newid', '?')}"
                out.append((split, doc))
    if not out:
        raise DataError(
            f'{path}: no ModApte documents (TOPICS="YES", LEWISSPLIT TRAIN/TEST) in {len(files)} reut2-*.sgm files'
        )
    return out


def categories(docs: list[tuple[str, dict]]) -> set[str]:
    """Topics with at least one training and one test document (90 on the full ModApte split)."""
    seen = {s: {t for split, d in docs if split == s for t in d["topics"]} for s in ("train", "test")}
    return seen["train"] & seen["test"]


def _text(doc: dict) -> str:
    title, body = clean_text(doc["title"]), clean_text(doc["body"])
    return f"{title} {body}".strip() or clean_text(doc["rest"])


def load(source: str | Path, multi_label: str = "pairs") -> Adapted:
    """Reuters-21578 ModApte with the categories that have train and test documents (see module doc)."""
    if multi_label not in ("first", "pairs"):
        raise DataError(f"multi_label {multi_label!r}: use 'first' or 'pairs'")
    docs = _modapte(require_dir(source, "the Reuters-21578 reut2-*.sgm files"))
    cats = categories(docs)
    out: dict[str, list[Example]] = {"train": [], "test": []}
    for split, doc in docs:
        labels = [t for t in dict.fromkeys(doc["topics"]) if t in cats]
        newid = doc["attrs"].get("newid", str(len(out[split])))
        for label in labels[:1] if multi_label == "first" else labels:
            ex_id = f"reuters-{newid}" + (f"-{label}" if multi_label == "pairs" else "")
            out[split].append(example(ex_id, label, _text(doc), label, doc["where"]))
    return Adapted(
        out["train"],
        out["test"],
        "classification",
        "accuracy",
        budget_per_domain=50,
        instruction="Assign a topic to this Reuters news story. Reason briefly, then end with: The answer is <topic>.",
        note=f"{len(cats)} categories with train and test documents; multi-label documents: {multi_label}",
    )
