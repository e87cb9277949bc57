"""Data files: JSONL or CSV, validated with file, line and field in every message."""

import pytest

from baldistill.data import DataError, domain_counts, load_examples


def test_data_validation_names_file_line_field(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"input": "a", "answer": "b", "domain": "c"}\n{"input": "a", "domain": "c"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: missing or empty field 'answer'"):
        load_examples(p)
    p.write_text('{"input": "a", "answer": "b", "domain": "c"}\nnot json\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid JSON"):
        load_examples(p)
    p.write_text('{"q": "a", "label": 3, "topic": "c", "id": 1}\n{"q": "b", "label": 4, "topic": "c", "id": 1}\n')
    with pytest.raises(DataError, match="duplicate id '1'"):
        load_examples(p, {"input": "q", "answer": "label", "domain": "topic"})


def test_csv_and_remapped_fields(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("question,label,topic\nwhat?,yes,t1\nwhy?,no,t2\nhow?,yes,t1\n")
    exs = load_examples(p, {"input": "question", "answer": "label", "domain": "topic"})
    assert [e.answer for e in exs] == ["yes", "no", "yes"] and domain_counts(exs) == {"t1": 2, "t2": 1}
