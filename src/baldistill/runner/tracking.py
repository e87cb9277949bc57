"""Experiment trackers (``student.train.report_to``): TensorBoard (offline, event files in the run folder's
``tracker/``), Weights & Biases (``WANDB_MODE=offline`` keeps it in ``tracker/wandb``) and MLflow (a SQLite
store, ``tracker/mlflow.db``, unless ``MLFLOW_TRACKING_URI`` names another), where installed.

One tracker run per BalDistill run, opened by the main process when the run starts: every stage's Trainer
feeds its logs (loss, learning rate, gradient norm) into it through ``TrackerCallback`` at the run's global
step, so the steps continue across stages (the Trainer's own integrations would start a new count at 0 every
stage). After each stage's training the stage itself is logged at the same step beside the loss: the stage
number, the domain quotas, the candidates IFD scored, and the spend (teacher units, tokens, dollars; this
stage's and the run's so far). At the end: the final student's macro, micro, head and tail scores and its
score per domain. The W&B and MLflow run ids are kept in ``tracker/ids.json``, so a resumed run logs into the
same tracker runs. Nothing here is imported unless a tracker is asked for.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path

log = logging.getLogger("baldistill")

TRACKERS = ("tensorboard", "wandb", "mlflow")
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def installed(name: str) -> bool:
    return importlib.util.find_spec(PACKAGES[name]) is not None


def resolve(report_to: str | list[str]) -> list[str]:
    """The trackers a validated ``report_to`` names: "none" none, "all" every installed one."""
    if report_to == "none":
        return []
    if report_to == "all":
        return [t for t in TRACKERS if installed(t)]
    return [report_to] if isinstance(report_to, str) else list(report_to)


def missing(report_to: str | list[str]) -> list[str]:
    """Trackers named explicitly that are not installed (pre-flight reports them before anything is paid)."""
    return [t for t in resolve(report_to) if not installed(t)]


class Tracker:
    """One run in each of ``names``; ``log`` writes scalars at the run's global step ``step``."""

    def __init__(self, names: list[str], folder: Path, run_name: str, params: dict | None = None, step: int = 0):
        self.names, self.step = list(names), step
        self.dir = folder / "tracker"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._tb = self._wandb = self._mlflow = None
        params = params or {}
        ids_file = self.dir / "ids.json"
        ids = json.loads(ids_file.read_text()) if ids_file.exists() else {}  # a resumed run continues its runs
        if "tensorboard" in names:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.dir))
            self._tb.add_text(
                "config", "```\n" + "\n".join(f"{k}: {v}" for k, v in sorted(params.items())) + "\n```", 0
            )
        if "wandb" in names:
            import wandb

            self._wandb = wandb.init(
                project=os.environ.get("WANDB_PROJECT", "baldistill"),
                name=run_name,
                dir=str(self.dir),
                config=params,
                id=ids.get("wandb"),
                resume="allow" if ids.get("wandb") else None,
            )
            ids["wandb"] = self._wandb.id
        if "mlflow" in names:
            import mlflow

            if not os.environ.get("MLFLOW_TRACKING_URI"):  # offline by default: a SQLite store in the run folder
                mlflow.set_tracking_uri(f"sqlite:///{(self.dir / 'mlflow.db').resolve()}")
            self._mlflow = mlflow
            if ids.get("mlflow"):
                mlflow.start_run(run_id=ids["mlflow"])
            else:
                mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "baldistill"))
                mlflow.start_run(run_name=run_name)
                mlflow.log_params({k: str(v)[:250] for k, v in params.items()})
            ids["mlflow"] = mlflow.active_run().info.run_id
        if ids:
            ids_file.write_text(json.dumps(ids) + "\n")
        log.info("trackers: %s (%s)", ", ".join(names), self.dir)

    def log(self, values: dict[str, float], step: int | None = None) -> None:
        step = self.step if step is None else step
        values = {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(k, v, step)
        if self._wandb is not None:
            self._wandb.log(values, step=step)
        if self._mlflow is not None:
            self._mlflow.log_metrics({k.replace("*", "all"): v for k, v in values.items()}, step=step)

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
        if self._mlflow is not None:
            self._mlflow.end_run()
            self._mlflow = None

    def callback(self):
        """A TrainerCallback for one stage's Trainer: its logs at the run's global step."""
        from transformers import TrainerCallback

        tracker, offset = self, self.step

        class TrackerCallback(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kw):
                if logs:
                    tracker.log({f"train/{k}": v for k, v in logs.items()}, offset + state.global_step)

            def on_train_end(self, args, state, control, **kw):
                tracker.step = offset + state.global_step
                tracker.flush()

        return TrackerCallback()


def flat_params(cfg_json: dict, prefix: str = "") -> dict:
    """A nested config as {dotted.key: value} (tracker parameters)."""
    out = {}
    for k, v in cfg_json.items():
        if isinstance(v, dict):
            out.update(flat_params(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
