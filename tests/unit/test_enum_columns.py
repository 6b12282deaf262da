"""The DuckDB store keeps low-cardinality event columns as ENUMs (carejourney.enum_columns):
readers still see text, in text order, and a write that brings new values — in a later file or
in a later batch of the same file — widens the type inside the write's transaction."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from carejourney import enum_columns
from carejourney.store import Store, WriteBatch, connect


def _events(first_id: int, locations: list[str | None], channel: str = "phone", file_id: str = "f1") -> pa.Table:
    n = len(locations)
    return pa.table({
        "event_id": pa.array(range(first_id, first_id + n), pa.int64()),
        "subject_key": pa.array([7 + i % 3 for i in range(n)], pa.int64()),
        "ts": pa.array([1_700_000_000_000_000 + i for i in range(n)], pa.timestamp("us")),
        "source": pa.array(["src"] * n),
        "touchpoint": pa.array(["visit"] * n).dictionary_encode(),
        "channel": pa.array([channel] * n).dictionary_encode(),
        "stage": pa.array(["care"] * n).dictionary_encode(),
        "location": pa.array(locations, pa.string()),
        "file_id": pa.array([file_id] * n),
    })


def _store(tmp_path) -> Store:
    return Store(connect("duckdb:///store.duckdb", tmp_path))


def _types(store: Store) -> dict:
    return enum_columns.current_types(store.con.con, "events")


def test_columns_become_sorted_enums_and_read_as_text(tmp_path):
    store = _store(tmp_path)
    store.write(WriteBatch("f1", stream=[{"events": _events(0, ["north", "east", None, "O'Hare"])}]))
    types = _types(store)
    assert types["location"] == ["O'Hare", "east", "north"] and types["channel"] == ["phone"]
    assert types["owner"] is None  # never given a value: still VARCHAR, may become an ENUM later
    # touchpoint, what analyses filter on most, stays text (see the module docstring)
    assert "touchpoint" not in types
    assert store.con.con.sql("SELECT touchpoint FROM events LIMIT 0").types[0].id == "varchar"
    ev = store.table("events")
    assert ev.schema()["location"].is_string()  # what every reader sees
    assert ev.order_by("event_id").location.to_pyarrow().to_pylist() == ["north", "east", None, "O'Hare"]


def test_new_values_in_a_later_batch_widen_the_type_mid_file(tmp_path):
    store = _store(tmp_path)
    chunks = [{"events": _events(0, ["m"] * 4)},
              {"events": _events(4, ["z", "a"])},           # new values: a second INSERT after widening
              {"events": _events(6, ["m", "a"], channel="mail")},
              {"events": _events(8, ["z"])}]
    store.write(WriteBatch("f1", stream=iter(chunks)))
    assert _types(store)["location"] == ["a", "m", "z"] and _types(store)["channel"] == ["mail", "phone"]
    ev = store.table("events")
    got = ev.order_by("event_id").select("location", "channel").to_pyarrow().to_pylist()
    assert [r["location"] for r in got] == ["m"] * 4 + ["z", "a", "m", "a", "z"]
    assert [r["channel"] for r in got] == ["phone"] * 6 + ["mail"] * 2 + ["phone"]
    # the type's order is the text order: sorting, min and max agree with VARCHAR
    assert ev.order_by(["location", "event_id"]).location.to_pyarrow().to_pylist() == \
        ["a", "a", "m", "m", "m", "m", "m", "z", "z"]
    assert (ev.location.min().execute(), ev.location.max().execute()) == ("a", "z")
    assert ev.filter(ev.location == "not-a-value").count().execute() == 0  # no conversion error


def test_a_failed_write_rolls_back_rows_and_types(tmp_path):
    store = _store(tmp_path)
    store.write(WriteBatch("f1", stream=[{"events": _events(0, ["m"])}]))

    def failing():
        yield {"events": _events(1, ["q"])}   # widens the type, then the producer fails
        raise RuntimeError("producer broke")

    with pytest.raises(RuntimeError, match="producer broke"):
        store.write(WriteBatch("f2", stream=failing()))
    assert _types(store)["location"] == ["m"]
    assert store.table("events").count().execute() == 1


def test_too_many_values_fall_back_to_text(tmp_path, monkeypatch):
    monkeypatch.setattr(enum_columns, "MAX_VALUES", 3)
    store = _store(tmp_path)
    store.write(WriteBatch("f1", stream=[{"events": _events(0, ["a", "b"])}]))
    store.write(WriteBatch("f2", stream=[{"events": _events(2, ["c", "d"], file_id="f2")}]))
    assert _types(store)["location"] == enum_columns.TEXT
    store.write(WriteBatch("f3", stream=[{"events": _events(4, ["e"], file_id="f3")}]))  # stays text
    assert sorted(store.table("events").location.to_pyarrow().to_pylist()) == list("abcde")


def test_a_text_column_holding_values_stays_text(tmp_path):
    """A store whose column already holds text (written before, or by SQL) is left as it is."""
    store = _store(tmp_path)
    store.con.con.execute("INSERT INTO events (event_id, subject_key, ts, location, file_id) "
                          "VALUES (0, 1, TIMESTAMP '2026-01-01', 'old', 'f0')")
    store.write(WriteBatch("f1", stream=[{"events": _events(1, ["new"])}]))
    assert _types(store)["location"] == enum_columns.TEXT and _types(store)["stage"] == ["care"]
    store.close()
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT list(location ORDER BY event_id) FROM events").fetchone()[0] == ["old", "new"]
    finally:
        con.close()


def test_retype_gives_a_table_filled_by_sql_the_stores_types(tmp_path, monkeypatch):
    """What the benchmarks use for tables they fill with SQL: the same types a store's writer gives."""
    monkeypatch.setattr(enum_columns, "MAX_VALUES", 3)
    store = _store(tmp_path)
    store.con.con.execute("INSERT INTO events (event_id, subject_key, ts, source, stage, location, file_id) "
                          "SELECT i, i, TIMESTAMP '2026-01-01', 'src', ['care', 'access'][1 + i % 2], "
                          "['O''Hare', 'b', 'c', 'd'][1 + i % 4], 'f' FROM range(8) t(i)")
    enum_columns.retype(store.con.con, "events")
    types = _types(store)
    assert types["stage"] == ["access", "care"] and types["source"] == ["src"]
    assert types["location"] == enum_columns.TEXT and types["channel"] is None  # too many values; none at all
    assert store.table("events").order_by("event_id").stage.to_pyarrow().to_pylist() == ["care", "access"] * 4
