"""The helpers that split work between the processes of a launcher (rank and world size from the
environment, as torchrun and accelerate set them)."""

from baldistill.runtime import dist


def test_shard_gives_each_rank_every_nth_item(monkeypatch):
    items = [f"batch{j}" for j in range(7)]
    parts = []
    for r in range(3):
        monkeypatch.setenv("WORLD_SIZE", "3")
        monkeypatch.setenv("RANK", str(r))
        parts.append(dist.shard(items))
    assert parts == [["batch0", "batch3", "batch6"], ["batch1", "batch4"], ["batch2", "batch5"]]
    assert sorted(x for p in parts for x in p) == sorted(items)


def test_one_process_does_everything(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    assert dist.shard([1, 2, 3]) == [1, 2, 3]
    assert dist.all_gather({"a": 1}) == [{"a": 1}]
    assert dist.on_main(lambda: 5) == 5
