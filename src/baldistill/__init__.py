"""BalDistill: budget-capped multi-stage balanced distillation on long-tailed multi-domain data."""

from .config import ConfigError, RunConfig, load_config
from .data import DataError, Example, load_examples
from .methods import METHODS

__version__ = "0.1.0"


def run(config, out, resume: bool = False, **kw):
    """Run a distillation: ``config`` is a RunConfig, a dict or a YAML path. Returns the metrics."""
    from .pipeline import run as _run

    cfg = config if isinstance(config, RunConfig) else load_config(config)
    return _run(cfg, out, resume=resume, **kw)


__all__ = ["ConfigError", "DataError", "Example", "METHODS", "RunConfig", "load_config", "load_examples", "run"]
