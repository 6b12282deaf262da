"""A DuckDB store's events and feedback carry their stitched person key (``carejourney.store``):
every write and every identity rebuild keeps their ``person_key`` equal to the identity table, so
reads need no join — and a store made before the column existed still reads right."""

from __future__ import annotations

import ibis
import pyarrow as pa

from carejourney.identity import rebuild_identity
from carejourney.ingest import ingest_sources
from carejourney.project import load_project
from carejourney.store import Store, WriteBatch, connect, open_store
from tests.conftest import MINI_JOURNEY
from tests.unit.test_identity import sources_yml, write_population

#: Rows whose stored key disagrees with the identity table: a stitched subject without its
#: person key, or a key stored where the subject is a person of its own.
DISAGREE = """
SELECT count(*) FROM {table} e LEFT JOIN identity i ON i.subject_key = e.subject_key
WHERE CASE WHEN i.person_key IS NOT NULL AND i.person_key <> e.subject_key THEN e.person_key IS DISTINCT FROM i.person_key
           ELSE e.person_key IS NOT NULL END
"""


def _disagreements(store: Store) -> int:
    return sum(store.con.con.execute(DISAGREE.format(table=t)).fetchone()[0] for t in ("events", "feedback"))


def _persons(store: Store, table: str = "events") -> dict[int, int]:
    """Rows per stitched person, as :meth:`Store.events` (or ``feedback``) gives them."""
    ev = store.events() if table == "events" else store.feedback()
    rows = ev.group_by("person_key").aggregate(n=ev.count()).to_pyarrow().to_pylist()
    return {r["person_key"]: r["n"] for r in rows}


def test_ingest_and_rebuilds_keep_the_events_person_keys_equal_to_identity(make_project):
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    data = root / "raw"
    write_population(data, n=60)
    (root / "sources").mkdir(exist_ok=True)
    (root / "sources/all.yml").write_text(sources_yml(data))
    project = load_project(root)
    ingest_sources(project, ["web"])  # visitors alone: nobody stitched yet
    store = open_store(project)
    try:
        assert _disagreements(store) == 0
        alone = _persons(store)
    finally:
        store.close()
    ingest_sources(project, ["crm", "calls", "ehr"])  # leads, calls and records stitch the visitors' events
    store = open_store(project)
    try:
        raw = store.con.con
        assert _disagreements(store) == 0
        rekeyed = raw.execute("SELECT count(*) FROM events WHERE source = 'web' AND person_key IS NOT NULL").fetchone()[0]
        assert rekeyed > 0 and _persons(store) != alone  # earlier events were re-keyed
        stitched = raw.execute("SELECT count(*) FROM events WHERE person_key IS NOT NULL").fetchone()[0]
        assert stitched > 0
        version = store.data_version()
        rebuild_identity(store, max_links=0)  # every link left out: everybody is a person of their own
        assert _disagreements(store) == 0
        assert raw.execute("SELECT count(*) FROM events WHERE person_key IS NOT NULL").fetchone()[0] == 0
        assert store.data_version() != version  # (kept results and tables of the old mapping are not read)
        rebuild_identity(store)
        assert _disagreements(store) == 0
        assert raw.execute("SELECT count(*) FROM events WHERE person_key IS NOT NULL").fetchone()[0] == stitched
        assert store.data_version() == version  # the same mapping again: the same version
    finally:
        store.close()


def _batch(file_id: str, subjects: list[int]) -> WriteBatch:
    n = len(subjects)
    ts = pa.array([1_700_000_000_000_000 + i for i in range(n)], pa.timestamp("us"))
    return WriteBatch(file_id, tables={"events": pa.table({
        "event_id": pa.array(range(n), pa.int64()) if file_id == "f1" else pa.array(range(100, 100 + n), pa.int64()),
        "subject_key": pa.array(subjects, pa.int64()), "ts": ts,
        "source": pa.array(["src"] * n), "touchpoint": pa.array(["visit"] * n),
        "file_id": pa.array([file_id] * n)}), "feedback": pa.table({
        "feedback_id": pa.array([f"{file_id}-{i}" for i in range(n)]), "subject_key": pa.array(subjects, pa.int64()),
        "ts": ts, "source": pa.array(["survey"] * n), "text": pa.array(["fine"] * n), "file_id": pa.array([file_id] * n)})})


def test_a_file_written_after_the_rebuild_gets_its_subjects_person_keys(tmp_path):
    """Events written without a rebuild after them (their subjects stitched already) read under
    their person key, not their own subject key."""
    store = Store(connect("duckdb:///s.duckdb", tmp_path))
    store.write(_batch("f1", [1, 2, 3]))
    store.replace_identity(pa.table({"subject_key": pa.array([1, 2], pa.int64()), "person_key": pa.array([1, 1], pa.int64())}))
    store.write(_batch("f2", [2, 2, 3, 4]))
    assert _disagreements(store) == 0
    assert _persons(store) == _persons(store, "feedback") == {1: 4, 3: 2, 4: 1}
    store.close()


def test_a_store_made_before_the_column_reads_through_the_join_and_gains_it_when_opened_for_writing(tmp_path):
    path = tmp_path / "s.duckdb"
    store = Store(connect("duckdb:///s.duckdb", tmp_path))
    store.write(_batch("f1", [1, 2, 3]))
    store.replace_identity(pa.table({"subject_key": pa.array([1, 2, 3], pa.int64()),
                                     "person_key": pa.array([1, 1, 3], pa.int64())}))
    for t in ("events", "feedback"):  # as an earlier release wrote them
        store.con.con.execute(f"ALTER TABLE {t} DROP COLUMN person_key")
    store.close()
    old = Store(ibis.duckdb.connect(str(path), read_only=True))
    assert "person_key" not in old.table("events").schema()
    assert _persons(old) == _persons(old, "feedback") == {1: 2, 3: 1}  # read through the identity join
    old.close()
    store = Store(connect("duckdb:///s.duckdb", tmp_path))  # opened for writing: the column is added and filled
    assert "person_key" in store.table("events").schema() and "person_key" in store.table("feedback").schema()
    assert _disagreements(store) == 0
    assert _persons(store) == _persons(store, "feedback") == {1: 2, 3: 1}
    store.close()
