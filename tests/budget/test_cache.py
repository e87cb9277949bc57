"""The reply cache: content-addressed, first writer wins, shared between runs."""

from baldistill.budget.cache import ReplyCache, request_key


def test_key_is_canonical_and_first_writer_wins(tmp_path):
    assert request_key({"a": 1, "b": [1, 2]}) == request_key({"b": [1, 2], "a": 1}) != request_key({"a": 2})
    one = ReplyCache(tmp_path / "c.sqlite")
    one.put("k", {"a": 1}, "first", "h")
    one.put("k", {"a": 1}, "second", "h")
    other = ReplyCache(tmp_path / "c.sqlite")  # another run on the same file
    assert other.get("k") == "first" and other.get("missing") is None and len(other) == 1
    one.close()
    other.close()
