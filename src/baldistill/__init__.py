"""BalDistill: budget-capped multi-stage balanced distillation on long-tailed multi-domain data."""

from .config import ConfigError, RunConfig, load_config
from .core.methods import METHODS
from .core.results import RunMetrics
from .data import DataError, Example, load_examples

__version__ = "0.1.0"


def run(config, out, resume: bool = False, **kw) -> RunMetrics:
    """Run a distillation: ``config`` is a RunConfig, a dict or a YAML path. Returns its metrics."""
    from .runner.pipeline import run as _run  # torch and transformers: imported when a run starts

    cfg = config if isinstance(config, RunConfig) else load_config(config)
    return _run(cfg, out, resume=resume, **kw)


__all__ = [
    "ConfigError",
    "DataError",
    "Example",
    "METHODS",
    "RunConfig",
    "RunMetrics",
    "load_config",
    "load_examples",
    "run",
]
