"""The fast ingest path keeps its promises: pseudonyms identical to the one-value-at-a-time
definition, integer event ids unique across the store, each person's rows stored together in
file order, and a clear error for a store written with the old (text) event ids or person keys."""

from __future__ import annotations

import hmac
import os
import random

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from carejourney.errors import StoreError
from carejourney.ingest import ingest_sources
from carejourney.privacy.pseudonymise import KeyCache, _hmac_sha256_many, _keys_for, pseudonym, pseudonymise_array
from carejourney.project import load_project
from carejourney.store import open_store
from tests.conftest import MINI_JOURNEY

KEY = b"k" * 32


@pytest.mark.parametrize("key_len", [0, 1, 32, 64, 65, 200])
def test_batched_hmac_equals_hmac_digest(key_len):
    rnd = random.Random(key_len)
    key = os.urandom(key_len)
    messages = [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300))) for _ in range(50)]
    assert _hmac_sha256_many(key, messages) == b"".join(hmac.digest(key, m, "sha256") for m in messages)
    assert _hmac_sha256_many(key, []) == b""


VALUES = ["A1", " b2 ", "\x1cC3\x1f", "", "  ", None, "abc\t", "MiXeD@Mail.COM ", "x" * 200, "P123"]


@pytest.mark.parametrize("id_type", ["person", "email", "mrn", "phone", "patient", "lead"])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_vectorised_keys_equal_per_value_pseudonyms(id_type, ascii_only):
    values = VALUES if ascii_only else VALUES + ["Ünïcode", "İd"]
    got = _keys_for(KEY, id_type, pa.array(values, pa.string())).to_pylist()
    expected = [None if (v is None or not v.strip()) else pseudonym(KEY, id_type, v) for v in values]
    assert got == expected
    assert all(k is None or 0 <= k < 2**63 for k in got)


def test_key_cache_across_batches_matches_uncached():
    cache = KeyCache()
    first = pa.array(["p1", "p2", "P1 ", "p3"])
    second = pa.array(["p3", "p4", "p2", None])
    types = lambda n: pa.array(["person"] * n)  # noqa: E731
    a = pseudonymise_array(KEY, types(4), first, cache=cache)
    b = pseudonymise_array(KEY, types(4), second, cache=cache)
    assert a.to_pylist() == pseudonymise_array(KEY, types(4), first).to_pylist()
    assert b.to_pylist() == pseudonymise_array(KEY, types(4), second).to_pylist()
    assert a[0] == a[2]  # "p1" and "P1 " normalise alike
    assert cache.count_distinct_all() == 4  # p1, p2, p3, p4


def _project(make_project, name: str):
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "sources/e.yml": "sources: [{name: e, kind: events, path: 'data/*.parquet'}]"}, name=name)
    (root / "data").mkdir()
    return root


def _events(people: int, per_person: int, seed: int) -> pd.DataFrame:
    rnd = random.Random(seed)
    rows = [(f"p{rnd.randrange(people)}", pd.Timestamp("2026-01-01") + pd.Timedelta(minutes=i),
             rnd.choice(["site_visit", "appointment_booked", "visit_completed"])) for i in range(people * per_person)]
    return pd.DataFrame(rows, columns=["person_id", "ts", "touchpoint"])


def test_event_ids_unique_across_store_and_grouped_by_person(make_project):
    root = _project(make_project, "ids")
    a, b = _events(50, 6, 1), _events(40, 5, 2)
    a.to_parquet(root / "data" / "a.parquet")
    b.to_parquet(root / "data" / "b.parquet")
    receipts = ingest_sources(load_project(root))
    assert [r.events for r in receipts] == [300, 200]
    db = root / "target" / "carejourney.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select typeof(event_id) from events limit 1").fetchone()[0] == "BIGINT"
        n, distinct, lo, hi = con.execute("select count(*), count(distinct event_id), min(event_id), "
                                          "max(event_id) from events").fetchone()
        assert (n, distinct, lo, hi) == (500, 500, 0, 499)  # one store-wide numbering, files in ingest order
        per_file = con.execute("select file_id, min(event_id), max(event_id), count(*) from events "
                               "group by 1 order by 2").fetchall()
        assert [(r[1], r[2]) for r in per_file] == [(0, 299), (300, 499)]
        # a person's events of one file have consecutive ids, in file order (ts increases with the row)
        runs = con.execute("""select file_id, subject_key, max(event_id) - min(event_id) + 1 = count(*),
                                     list(ts order by event_id) = list(ts order by ts)
                              from events group by 1, 2""").fetchall()
        assert runs and all(r[2] and r[3] for r in runs)
        tags = con.execute("select tags from duckdb_databases() where path = ?", [str(db)]).fetchone()[0]
        assert tags["storage_version"] >= "v1.3.0"  # the compact string storage (docs/benchmarks.md)
    finally:
        con.close()

    _events(30, 4, 3).to_parquet(root / "data" / "a.parquet")  # a.parquet re-exported: replaced, new ids
    ingest_sources(load_project(root))
    con = duckdb.connect(str(db), read_only=True)
    try:
        n, distinct, lo, hi = con.execute("select count(*), count(distinct event_id), min(event_id), "
                                          "max(event_id) from events").fetchone()
        assert (n, distinct, lo, hi) == (320, 320, 300, 619)
    finally:
        con.close()


@pytest.mark.parametrize("ddl", ["event_id varchar, subject_key varchar", "event_id bigint, subject_key varchar"])
def test_store_with_text_ids_or_keys_is_a_clear_error(make_project, ddl):
    root = _project(make_project, "old")
    (root / "target").mkdir()
    con = duckdb.connect(str(root / "target" / "carejourney.duckdb"))
    con.execute(f"create table events ({ddl})")
    con.close()
    with pytest.raises(StoreError, match=r"older carejourney.*Delete the store"):
        open_store(load_project(root))


def test_head_start_split_changes_nothing_stored(make_project, monkeypatch):
    """The first batch's head is written ahead of the rest; the store ends up the same."""
    import carejourney.ingest as ingest
    df = _events(12, 5, 4)
    df.loc[[3, 17, 40], "ts"] = None  # rejects, on both sides of the split
    stores = []
    for name, head in (("whole", 1 << 18), ("split", 8)):
        monkeypatch.setattr(ingest._head_start, "__defaults__", (head,))
        root = _project(make_project, name)
        df.to_parquet(root / "data" / "a.parquet")
        (root / ".carejourney" / "key").write_text("0" * 64)  # same key: comparable pseudonyms
        r = ingest_sources(load_project(root))[0]
        con = duckdb.connect(str(root / "target" / "carejourney.duckdb"), read_only=True)
        try:
            stores.append(((r.rows_read, r.rows_loaded, r.rows_rejected, r.events, r.persons),
                           con.execute("select subject_key, list((ts, touchpoint) order by event_id) from events "
                                       "group by 1 order by 1").fetchall(),
                           con.execute("select row_num, field from rejects order by 1").fetchall(),
                           con.execute("select count(distinct event_id), min(event_id), max(event_id) "
                                       "from events").fetchone()))
        finally:
            con.close()
    assert stores[0] == stores[1]
    assert stores[0][0] == (60, 57, 3, 57, 12) and stores[0][3] == (57, 0, 56)


def test_reorder_equals_table_take():
    """Grouping a batch by person moves each column on its own; the result must be exactly
    ``Table.take`` — dictionary, all-null, chunked and plain columns alike."""
    import numpy as np

    from carejourney.ingest import _reorder
    n = 1000
    rng = np.random.default_rng(3)
    t = pa.table({
        "key": pa.array([f"k{i % 37}" for i in range(n)]).dictionary_encode(),
        "ts": pa.array(rng.integers(0, 10**12, n).astype("datetime64[us]")),
        "gone": pa.nulls(n, pa.string()),
        "some": pa.array([None if i % 3 else f"v{i}" for i in range(n)]),
        "chunked": pa.chunked_array([pa.array(range(500)), pa.array(range(500, n))]),
    })
    order = np.argsort(rng.integers(0, 50, n), kind="stable")
    got = _reorder(t, order)
    want = t.take(pa.array(order))
    assert got.schema == t.schema
    for name in t.column_names:
        g, w = got[name], want[name]
        if pa.types.is_dictionary(g.type):
            g, w = g.cast(pa.string()), w.cast(pa.string())
        assert g.to_pylist() == w.to_pylist(), name


def test_prefetch_keeps_order_reraises_and_stops_with_the_consumer():
    """The read-ahead thread: items in order; the producer's error reaches the consumer; a
    consumer that stops early stops the producer (no thread left running, nothing more read)."""
    import threading
    import time

    from carejourney.prefetch import prefetch
    assert list(prefetch(iter(range(50)))) == list(range(50))

    def failing():
        yield 1
        raise ValueError("bad row 7")
    it = prefetch(failing())
    assert next(it) == 1
    with pytest.raises(ValueError, match="bad row 7"):
        next(it)

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1
    before = set(threading.enumerate())
    it = prefetch(endless(), depth=1)
    assert next(it) == 0
    mine = [t for t in threading.enumerate() if t not in before]
    assert len(mine) == 1
    it.close()
    mine[0].join(timeout=5)
    assert not mine[0].is_alive()
    assert len(produced) <= 3  # the consumed item, the one queued, the one waiting to be queued
