"""Tabular reading: a broken JSONL line is rejected with its line number, the rest loads."""

from carejourney.connectors.tabular import read_table


def test_jsonl_bad_lines_are_rejects_not_errors(tmp_path):
    f = tmp_path / "e.jsonl"
    f.write_text('{"person_id": "a", "ts": "2026-01-01", "touchpoint": "x"}\n{"person_id": "b", "ts\n\n[1]\n'
                 '{"person_id": "c", "ts": "2026-01-02", "touchpoint": "y"}\n')
    table, rejects = read_table(f, "jsonl")
    assert table["person_id"].to_pylist() == ["a", "c"]
    assert [(r["row_num"], r["reason"]) for r in rejects.to_pylist()] == [
        (2, "not valid JSON; the line is truncated or corrupt"), (4, "not a JSON object")]
