"""Progress bars: one per long step, silent when BALDISTILL_PROGRESS=0."""

from baldistill.runtime import progress


def test_bar_counts_and_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("BALDISTILL_PROGRESS", "1")
    with progress.bar("scoring", 5) as advance:
        advance(2)
        advance()
    assert not progress.new_progress().disable
    monkeypatch.setenv("BALDISTILL_PROGRESS", "0")
    assert progress.new_progress().disable
