"""Several processes (``accelerate launch`` / ``torchrun``): the main process chooses the data and
talks to the teacher; every process trains (the HF Trainer does DDP/FSDP/DeepSpeed), generates and scores
its share of the candidates and predicts its share of the test items (``shard``, ``all_gather``); only
the main process writes the run folder. One process needs none of this."""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def _group():
    import torch.distributed as dist
    from accelerate import PartialState

    PartialState()  # initialises the process group from the launcher's environment
    return dist


def on_main(fn):
    """Run ``fn`` on the main process only and give its result to every process."""
    if world_size() == 1:
        return fn()
    dist = _group()
    box = [None]
    if is_main():
        try:
            box = [("ok", fn())]
        except BaseException as e:  # tell the others, then fail here too
            dist.broadcast_object_list([("error", f"{type(e).__name__}: {e}")], src=0)
            raise
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise RuntimeError(f"main process failed: {value}")
    return value


def shard(items: list[T]) -> list[T]:
    """This process's share of ``items``: every ``world_size()``-th one from its rank (round-robin). Every
    process must pass the same list in the same order; one process gets all of it."""
    return list(items) if world_size() == 1 else list(items)[rank() :: world_size()]


def all_gather(obj: T) -> list[T]:
    """``obj`` of every process, in rank order, on every process (``[obj]`` for one process)."""
    if world_size() == 1:
        return [obj]
    dist = _group()
    out: list = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if world_size() > 1:
        _group().barrier()
