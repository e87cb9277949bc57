"""Any Hugging Face ``datasets`` source: a hub name, a folder written by ``save_to_disk``, or local data
files (.json/.jsonl/.csv/.parquet, or a folder of them).

Rules: ``input_field``, ``answer_field`` and ``domain_field`` name the columns (``domain_field`` may
equal ``answer_field`` for a classification set whose labels are the domains); class-label columns
(integers) are turned into their names. ``splits`` is ``"TRAIN,TEST"`` (default ``"train,test"``).
The task is ``classification`` when the answer column is a class label or is the domain column,
else ``qa``; ``task`` and ``metric`` override.
"""

from __future__ import annotations

from pathlib import Path

from ..data import DataError, Example
from .common import Adapted, example

_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def _open(source: str, config: str | None, split: str):
    """One split of ``source`` as a ``datasets.Dataset``."""
    import datasets

    path = Path(source).expanduser()
    try:
        if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise DataError(f"{source}: no split '{split}' (has {', '.join(ds)}); use --hf-split TRAIN,TEST")
                return ds[split]
            return ds
        if path.is_file():
            if path.suffix not in _BUILDERS:
                raise DataError(f"{source}: unsupported file type (use {', '.join(_BUILDERS)})")
            return datasets.load_dataset(_BUILDERS[path.suffix], data_files={split: str(path)}, split=split)
        return datasets.load_dataset(str(source), config, split=split)
    except DataError:
        raise
    except (FileNotFoundError, ValueError, KeyError, ConnectionError) as e:
        msg = " ".join(str(e).split())[:300]
        raise DataError(f"{source}, split {split}: cannot load ({type(e).__name__}: {msg})") from None


def _column(ds, field: str, role: str, source: str, split: str) -> list[str]:
    if field not in ds.column_names:
        raise DataError(
            f"{source}, split {split}: no field '{field}' ({role}); fields: {', '.join(ds.column_names)}; "
            f"use --{role}-field"
        )
    values = ds[field]
    feature = ds.features[field]
    if hasattr(feature, "int2str"):  # ClassLabel
        values = [feature.int2str(v) if isinstance(v, int) and v >= 0 else v for v in values]
    return ["" if v is None else str(v) for v in values]


def is_class_label(ds, field: str) -> bool:
    return field in ds.column_names and hasattr(ds.features[field], "int2str")


def read_split(source: str, config: str | None, split: str, fields: dict[str, str]) -> tuple[list[Example], bool]:
    """The examples of one split and whether its answer column is a class label."""
    ds = _open(source, config, split)
    cols = {role: _column(ds, name, role, source, split) for role, name in fields.items() if name}
    ids = cols.get("id") or [f"{split}-{i}" for i in range(len(ds))]
    out = [
        example(
            str(ids[i]), cols["domain"][i], cols["input"][i], cols["answer"][i], f"{source}, split {split}, row {i}"
        )
        for i in range(len(ds))
    ]
    if not out:
        raise DataError(f"{source}, split {split}: no rows")
    return out, is_class_label(ds, fields["answer"])


def load(
    source: str | Path,
    config: str | None = None,
    splits: str = "train,test",
    input_field: str = "input",
    answer_field: str = "answer",
    domain_field: str = "domain",
    id_field: str | None = None,
    task: str | None = None,
    metric: str | None = None,
) -> Adapted:
    """A Hugging Face dataset with its columns mapped to input/answer/domain (see module doc)."""
    names = [s.strip() for s in splits.split(",")]
    if len(names) != 2 or not all(names):
        raise DataError(f"splits {splits!r}: expected 'TRAIN,TEST', e.g. train,validation")
    if task not in (None, "qa", "classification") or metric not in (None, "accuracy", "token_f1"):
        raise DataError(f"task {task!r} / metric {metric!r}: use qa|classification and accuracy|token_f1")
    fields = {"input": input_field, "answer": answer_field, "domain": domain_field, "id": id_field}
    train, label_col = read_split(str(source), config, names[0], fields)
    test, _ = read_split(str(source), config, names[1], fields)
    task = task or ("classification" if label_col or answer_field == domain_field else "qa")
    return Adapted(
        train, test, task, metric or "accuracy", budget_per_domain=50, note=f"{source} splits {names[0]}/{names[1]}"
    )
