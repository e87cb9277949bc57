"""Versioned prompt files: sections, values, and a hash that changes with the text."""

import pytest

from baldistill.prompts import load_prompt


def test_shipped_prompts_render_and_hash(tmp_path):
    p = load_prompt("annotate_v1")
    msgs = p.messages(instruction="Solve.", input="2+2?", answer="4")
    assert [m["role"] for m in msgs] == ["system", "user"] and "Gold answer: 4" in msgs[1]["content"]
    assert p.text(instruction="Solve.", input="2+2?", answer="4").startswith(msgs[0]["content"])
    (tmp_path / "mine.txt").write_text("### user\nSay {x}.\n")
    mine = load_prompt("mine", tmp_path)
    assert mine.messages(x="hi") == [{"role": "user", "content": "Say hi."}] and mine.hash != p.hash
    (tmp_path / "bad.txt").write_text("### system\nno user part\n")
    with pytest.raises(ValueError, match="no '### user' section"):
        load_prompt("bad", tmp_path)
