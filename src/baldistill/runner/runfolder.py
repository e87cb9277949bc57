"""The run folder: everything a run writes, in files a person can read, each written and read here.

stages/<i>/quota.json       the stage's plan: quota, head, tail, real examples left before it
stages/<i>/selected.jsonl   real examples selected (and paid copies), ifd.jsonl what IFD scored,
stages/<i>/synthetic.jsonl  synthetic examples kept by the check
stages/<i>/signal.json      methods that look at the student's answers: the per-domain signal (and the feedback
                            policy's smoothed scores and quotas)
stages/<i>/adapter/         the student after the stage; eval.json its scores (eval_each_stage)
stages/<i>/train.jsonl      everything kept so far (cumulative)
stages/<i>/done.json        written last: the stage is complete, with what --resume needs
"""

from __future__ import annotations

import json
import logging
import math
import platform
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ..core.plan import StagePlan
from ..core.results import RunMetrics, StageEval
from ..data import Example, read_jsonl, write_jsonl
from ..runtime import dist


class RunFolderError(ValueError):
    pass


def _clean(x):
    """JSON has no NaN: write null instead."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


@dataclass
class State:
    """What carries from one stage to the next (and what --resume restores)."""

    remaining: dict[str, list[str]]  # unselected real example ids per domain, in pool order
    train: list[Example] = field(default_factory=list)  # everything selected and kept so far
    synth_asked: dict[str, int] = field(default_factory=dict)  # synthesis calls so far per domain (sample index)
    copies: dict[str, int] = field(default_factory=dict)  # duplicate-ft-cot: paid copies so far per real example
    cap_reached: str | None = None  # a token or dollar cap ended the buying (at which stage, which cap)
    synth_carry: dict[str, int] = field(
        default_factory=dict
    )  # units a tail domain left for its next stage (verification)
    unspent: dict[str, dict[str, int]] = field(default_factory=dict)  # per domain and reason: units not spent
    signal: dict[str, float] = field(default_factory=dict)  # feedback policy: each domain's smoothed score so far
    # feedback policy: the student's answers to the last stage's synthetic examples, per domain (Signal JSON),
    # which count at the next stage
    synthetic_signal: dict[str, dict] = field(default_factory=dict)

    def add_unspent(self, domain: str, reason: str, n: int) -> None:
        if n:
            by = self.unspent.setdefault(domain, {})
            by[reason] = by.get(reason, 0) + n

    @classmethod
    def start(cls, pool: list[Example], domains: list[str]) -> State:
        return cls(remaining={d: [e.id for e in pool if e.domain == d] for d in domains})


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)

    @staticmethod
    def check(path: Path, resume: bool = False) -> None:
        """Can a run be started (or resumed) in ``path``? Raises RunFolderError; writes nothing."""
        path = Path(path)
        if path.exists() and any(path.iterdir()) and not resume:
            raise RunFolderError(
                f"{path} exists and is not empty: choose another --out, or add --resume to continue it"
            )
        if resume and not (path / "config.yaml").exists():
            raise RunFolderError(f"{path} holds no run to resume (no config.yaml)")

    @classmethod
    def create(cls, path: Path, resume: bool = False) -> RunFolder:
        path = Path(path)
        if not dist.is_main():  # the main process checks and creates the folder
            return cls(path)
        cls.check(path, resume)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def write_json(self, rel: str, obj) -> None:
        if not dist.is_main():
            return
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(_clean(obj), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(p)

    def read_json(self, rel: str):
        return json.loads((self.path / rel).read_text(encoding="utf-8"))

    def write_jsonl(self, rel: str, rows) -> None:
        if not dist.is_main():
            return
        write_jsonl(self.path / rel, [_clean(r) if isinstance(r, dict) else r for r in rows])

    def write_text(self, rel: str, text: str) -> None:
        if not dist.is_main():
            return
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")

    # ---- stages ----------------------------------------------------------------------------
    def stage_path(self, i: int) -> Path:
        return self.path / "stages" / str(i)

    def write_stage_choice(
        self,
        plan: StagePlan,
        selected: list[Example],
        synthetic: list[Example],
        scored: list[dict],
        candidates: dict[str, int] | None = None,
    ) -> None:
        """What a stage chose, before its teacher replies are checked and the student trained; ``candidates``:
        how many each group (a domain, or "*" for a stage-wide quota) scored with IFD."""
        i = plan.stage
        self.write_json(
            f"stages/{i}/quota.json",
            {
                "stage": i,
                "quota": plan.quota.to_json(),
                "head": plan.head,
                "tail": plan.tail,
                "remaining_before": plan.remaining,
                "candidates": candidates or {},
            },
        )
        self.write_jsonl(f"stages/{i}/selected.jsonl", selected)
        self.write_jsonl(f"stages/{i}/synthetic.jsonl", synthetic)
        self.write_jsonl(f"stages/{i}/ifd.jsonl", scored)

    def write_stage_eval(self, ev: StageEval) -> None:
        self.write_json(f"stages/{ev.stage}/eval.json", ev.to_json())

    def write_stage_done(
        self, i: int, state: State, *, kept_new: int, spent: int, training: dict, seconds: dict | None = None
    ) -> None:
        """The training set so far, then done.json: from here on the stage counts as complete."""
        self.write_jsonl(f"stages/{i}/train.jsonl", state.train)
        self.write_json(
            f"stages/{i}/done.json",
            {
                "stage": i,
                "kept_new": kept_new,
                "n_train": len(state.train),
                "spent": spent,
                "training": training,
                "phase_seconds": seconds or {},
                "remaining": state.remaining,
                "synth_asked": state.synth_asked,
                "copies": state.copies,
                **({"cap_reached": state.cap_reached} if state.cap_reached else {}),
                **({"synth_carry": state.synth_carry} if state.synth_carry else {}),
                **({"unspent": state.unspent} if state.unspent else {}),
                **({"signal": state.signal} if state.signal else {}),
                **({"synthetic_signal": state.synthetic_signal} if state.synthetic_signal else {}),
            },
        )

    def completed_stages(self) -> list[int]:
        return sorted(int(p.parent.name) for p in self.path.glob("stages/*/done.json"))

    def last_completed_stage(self) -> int | None:
        done = self.completed_stages()
        return done[-1] if done else None

    def load_state(self, i: int) -> State:
        """The state after completed stage ``i`` (done.json and train.jsonl)."""
        info = self.read_json(f"stages/{i}/done.json")
        train = [Example.from_json(r) for r in read_jsonl(self.stage_path(i) / "train.jsonl")]
        return State(
            remaining=info["remaining"],
            train=train,
            synth_asked=info.get("synth_asked", {}),
            copies=info.get("copies", {}),
            cap_reached=info.get("cap_reached"),
            synth_carry=info.get("synth_carry", {}),
            unspent=info.get("unspent", {}),
            signal=info.get("signal", {}),
            synthetic_signal=info.get("synthetic_signal", {}),
        )

    def signal_by_stage(self) -> dict[str, dict[str, float | None]]:
        """Each stage's measured per-domain score (stages/<i>/signal.json), keyed by the 1-based stage."""
        out = {}
        for p in sorted((self.path / "stages").glob("*/signal.json"), key=lambda p: int(p.parent.name)):
            info = json.loads(p.read_text(encoding="utf-8"))
            out[str(int(p.parent.name) + 1)] = {d: x["score"] for d, x in info["measured"].items()}
        return out

    def write_metrics(self, metrics: RunMetrics) -> None:
        self.write_json("metrics.json", metrics.to_json())

    def attach_log(self) -> logging.Handler:
        if not dist.is_main():
            return logging.NullHandler()
        h = logging.FileHandler(self.path / "run.log", encoding="utf-8")
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("baldistill").addHandler(h)
        return h


def environment() -> dict:
    pkgs = {}
    for name in ("baldistill", "torch", "transformers", "peft", "accelerate", "tokenizers", "pydantic", "numpy"):
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pkgs[name] = None
    try:
        git = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        git = None
    import torch

    device = "cuda:" + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": pkgs,
        "git": git,
        "device": device,
        "torch_threads": torch.get_num_threads(),
    }
