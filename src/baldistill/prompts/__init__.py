"""Versioned prompt files. A file holds ``### system`` / ``### user`` sections; the hash of its text is
stored with every reply made from it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    user: str
    hash: str

    def messages(self, **values) -> list[dict]:
        msgs = [{"role": "system", "content": self.system.format(**values)}] if self.system else []
        return msgs + [{"role": "user", "content": self.user.format(**values)}]

    def text(self, **values) -> str:
        """One plain prompt for base models behind /v1/completions."""
        return "\n\n".join(m["content"] for m in self.messages(**values))


def load_prompt(name: str, folder: Path | None = None) -> Prompt:
    path = (folder or HERE) / f"{name}.txt"
    raw = path.read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    current = None
    for line in raw.splitlines():
        if line.startswith("### "):
            current = line[4:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    if "user" not in sections:
        raise ValueError(f"{path}: no '### user' section")
    return Prompt(
        name,
        "\n".join(sections.get("system", [])).strip(),
        "\n".join(sections["user"]).strip(),
        hashlib.sha256(raw.encode()).hexdigest()[:12],
    )
