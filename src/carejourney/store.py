"""The store: one Ibis connection holding the canonical tables.

The engine is chosen by URL (``duckdb:///target/carejourney.duckdb`` by default,
``pyspark://`` or a Spark Connect URL for scale). The store knows no connector and no
analysis: :mod:`carejourney.ingest` hands it finished, de-identified Arrow tables and it
writes them **atomically** (all tables of one file in one transaction, replacing that
file's earlier rows) — a failed or killed ingest leaves the store as it was.

Reads are lazy Ibis expressions: :meth:`Store.events` and :meth:`Store.persons` resolve
subject keys to stitched person keys through the ``identity`` table.

**The stitched key on the rows (DuckDB).** A DuckDB store's ``events`` and ``feedback`` tables
have one column more than the canonical schema: ``person_key``, the row's stitched person key
where identity maps its subject to another key (NULL where the subject is a person of its own).
Every write and every identity rebuild keeps it equal to the ``identity`` table, in the same
transaction, so :meth:`Store.events` and :meth:`Store.feedback` are projections — no join of
every row with the identity map in each query (DuckDB hashes the whole map for each), and no copy
of every event per report (3.9 s of a 1M-person report, see docs/benchmarks.md). A store opened
read-only before the column existed reads through the join, as other engines do.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import ibis
import pyarrow as pa

from .enum_columns import current_types, needs_widening, values_in, widen
from .errors import StoreError
from .model.events import NEEDS, PERSON_ATTRIBUTES, SCHEMAS, conform
from .prefetch import prefetch

__all__ = ["Store", "WriteBatch", "open_store", "connect"]

#: On-disk format for new DuckDB stores (readable by DuckDB 1.3 and later; see docs/benchmarks.md).
DUCKDB_STORAGE_VERSION = "v1.3.0"


@dataclass
class WriteBatch:
    """Everything one ingested file adds: rows per table, and the file ids it replaces.

    ``stream`` adds more rows chunk by chunk (each chunk: table name → rows), written after
    ``tables`` in the same transaction — a large file is de-identified and written a batch at a
    time without ever being held in memory whole.
    """

    file_id: str
    tables: dict[str, pa.Table] = field(default_factory=dict)
    replaces: list[str] = field(default_factory=list)
    stream: Iterable[dict[str, pa.Table]] = ()


def connect(url: str, root: Path | None = None):
    """An Ibis backend for a store URL. Relative DuckDB paths are relative to ``root``."""
    if url.startswith("duckdb://"):
        # SQLAlchemy convention: duckdb:///rel/path.duckdb is relative, duckdb:////abs/path absolute
        path = url.removeprefix("duckdb://").removeprefix("/")
        if path in ("", ":memory:"):
            return ibis.duckdb.connect()
        p = Path(path)
        if not p.is_absolute() and root is not None:
            p = root / p
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Storage format of DuckDB >= 1.3 for a new store file (an existing file keeps its own):
            # its string compression makes the bulk event write ~30 % cheaper and the file smaller.
            return ibis.duckdb.connect(str(p), storage_compatibility_version=DUCKDB_STORAGE_VERSION)
        except Exception as exc:  # duckdb raises IOException for locks / corrupt files
            raise StoreError(f"{p}: cannot open the DuckDB store ({exc}). Is another carejourney "
                             "process using it?") from None
    if url.startswith(("pyspark", "sc://")):
        from .engines.spark import connect_spark
        return connect_spark(url)
    raise StoreError(f"unsupported store URL '{url}': use duckdb:///path/to/file.duckdb, pyspark:// "
                     "or sc://host:port (Spark Connect)")


class Store:
    """The canonical tables on one Ibis backend."""

    def __init__(self, con, url: str = "duckdb://"):
        self.con = con
        self.url = url
        self.ensure_tables()

    @property
    def engine(self) -> str:
        return self.con.name

    # -- schema ----------------------------------------------------------------------
    def ensure_tables(self) -> None:
        existing = set(self.con.list_tables())
        if "events" in existing:
            schema = self.con.table("events").schema()
            if not (schema["event_id"].is_integer() and schema["subject_key"].is_integer()):
                raise StoreError(f"{self.url}: this store was made by an older carejourney (text event ids or "
                                 "person keys; they are now integers). Delete the store (e.g. "
                                 "target/carejourney.duckdb) and run `carejourney ingest` again: everything in "
                                 "it is rebuilt from the sources.")
        for name, schema in SCHEMAS.items():
            if name not in existing:
                self.con.create_table(name, schema=schema)
        missing = [t for t in STITCHED_TABLES if STITCHED not in self.con.table(t).schema()] \
            if self.engine == "duckdb" else []
        if missing and not _read_only(self.con):
            # a new store, or one of an earlier release: add the column and fill it once
            raw = self.con.con
            raw.execute("BEGIN TRANSACTION")
            try:
                for t in missing:
                    raw.execute(f"ALTER TABLE {t} ADD COLUMN {STITCHED} BIGINT")
                _restitch(raw)
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                raise

    def table(self, name: str) -> ibis.Table:
        return self.con.table(name)

    # -- reads -------------------------------------------------------------------------
    def events(self) -> ibis.Table:
        """Events with ``person_key`` (stitched identity) in place of the subject key."""
        return self._stitched("events")

    def _stitched(self, name: str) -> ibis.Table:
        """Table ``name`` with ``person_key`` (stitched identity) in place of the subject key."""
        t = self.table(name)
        cols = [c for c in SCHEMAS[name].names if c != "subject_key"]
        if STITCHED in t.schema():  # kept equal to the identity map (see the module docstring)
            return t.select(ibis.coalesce(t[STITCHED], t.subject_key).name("person_key"), *[t[c] for c in cols])
        idn = self.table("identity")
        joined = t.left_join(idn, t.subject_key == idn.subject_key)
        return joined.select(ibis.coalesce(joined.person_key, joined.subject_key).name("person_key"),
                             *[joined[c] for c in cols])

    def persons(self, events: ibis.Table | None = None) -> ibis.Table:
        """One row per person: attributes (first known value across sources), first/last seen
        (over ``events``, default :meth:`events`)."""
        sub, idn = self.table("subjects"), self.table("identity")
        j = sub.left_join(idn, sub.subject_key == idn.subject_key)
        j = j.mutate(person_key=ibis.coalesce(j.person_key, j.subject_key))
        aggs = {a: j[a].max() for a in PERSON_ATTRIBUTES if a not in NEEDS}
        aggs.update({n: j[n].any() for n in NEEDS})
        attrs = j.group_by("person_key").aggregate(**aggs)
        ev = self.events() if events is None else events
        seen = ev.group_by("person_key").aggregate(first_seen=ev.ts.min(), last_seen=ev.ts.max())
        out = seen.left_join(attrs, seen.person_key == attrs.person_key)
        return out.select("person_key", *PERSON_ATTRIBUTES, "first_seen", "last_seen")

    def feedback(self) -> ibis.Table:
        """Feedback with ``person_key`` (stitched identity) in place of the subject key."""
        return self._stitched("feedback")

    def receipts(self) -> ibis.Table:
        return self.table("receipts")

    def data_version(self) -> str:
        """A fingerprint of the stored data, for derived tables (the journey log) to know when to
        rebuild: every ingest writes a receipt (its time), every identity rebuild changes the
        identity table's content hash."""
        r, i = self.table("receipts"), self.table("identity")
        rec = r.aggregate(n=r.count(), last=r.ingested_at.max().cast("string"), rows=r.rows_loaded.sum())
        # each (subject, person) pair hashed as one integer: building their text for 3.3M rows cost
        # 0.24 s of every report's start; the XOR differs when a subject's person does
        h = ((i.subject_key ^ i.person_key).hash() % 1_000_000_007).sum()
        idn = i.aggregate(n_identity=i.count(), h=h)
        row = rec.cross_join(idn).to_pyarrow().to_pylist()[0]
        return "|".join(str(row[k]) for k in ("n", "last", "rows", "n_identity", "h"))

    def receipt_for(self, source: str, path: str) -> dict | None:
        r = self.table("receipts")
        df = r.filter((r.source == source) & (r.path == path)).order_by(r.ingested_at.desc()).limit(1).to_pandas()
        return None if df.empty else df.iloc[0].to_dict()

    # -- writes ------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> None:
        """Write one file's rows atomically, replacing rows of the files it supersedes."""
        if self.engine == "duckdb":
            self._write_duckdb(batch)
        else:
            self._write_generic(batch)

    def _write_duckdb(self, batch: WriteBatch) -> None:
        raw = self.con.con
        raw.execute("BEGIN TRANSACTION")
        try:
            # A file id is a hash of content and settings, so only superseded versions can have
            # rows: with nothing to replace there is nothing to delete (and no table to scan).
            for name in SCHEMAS if batch.replaces else ():
                if name != "identity" and "file_id" in SCHEMAS[name].names:
                    raw.execute(f"DELETE FROM {name} WHERE file_id IN (SELECT unnest(?::VARCHAR[]))",
                                [list(batch.replaces)])
            # Events of every chunk go through as few INSERTs as possible, each reading a stream of
            # record batches (many small INSERTs into one table are much slower): a new INSERT
            # starts only where a chunk brings values that an ENUM column's type must first take
            # in (see carejourney.enum_columns). Other, smaller tables are inserted after.
            rest: list[dict[str, pa.Table]] = []
            feed = _EventFeed(itertools.chain([dict(batch.tables)], prefetch(batch.stream)), rest)
            while feed.pending is not None:
                types = current_types(raw, "events")
                if needs_widening(types, feed.pending_values):
                    widen(raw, "events", feed.pending_values, types)
                    types = current_types(raw, "events")
                try:
                    _insert(raw, "events", feed.reader(types))
                except Exception:
                    if feed.failed:  # the producer's own error (e.g. a clear IngestError), not DuckDB's wrapper
                        raise feed.failed[0] from None
                    raise
            for chunk in rest:
                for name, table in chunk.items():
                    _insert(raw, name, table)
            _restitch(raw, file_id=batch.file_id)  # the new rows' subjects may be stitched already
            if os.environ.get("CAREJOURNEY_TEST_PAUSE_IN_WRITE"):  # lets tests kill an ingest mid-write
                import time
                Path(os.environ["CAREJOURNEY_TEST_PAUSE_IN_WRITE"]).write_text("writing")
                time.sleep(60)
            raw.execute("COMMIT")
        except BaseException:
            raw.execute("ROLLBACK")
            raise

    def _write_generic(self, batch: WriteBatch) -> None:
        # Engines without multi-statement transactions: rewrite each touched table through a new
        # table and swap (readers see the old or the new table, never a half-written one).
        old = [batch.file_id, *batch.replaces]
        parts: dict[str, list[pa.Table]] = {}
        for chunk in itertools.chain([batch.tables], batch.stream):
            for name, table in chunk.items():
                if table.num_rows:
                    parts.setdefault(name, []).append(_conform(name, table))
        tables = {name: pa.concat_tables(ts) for name, ts in parts.items()}
        for name in SCHEMAS:
            if name == "identity" or "file_id" not in SCHEMAS[name].names:
                continue
            t = self.table(name)
            kept = t.filter(~t.file_id.isin(old))
            new = tables.get(name)
            if new is not None and new.num_rows:
                kept = kept.union(ibis.memtable(_conform(name, new)).cast(SCHEMAS[name]))
            tmp = f"{name}__new"
            self.con.create_table(tmp, kept.cast(SCHEMAS[name]), overwrite=True)
            self.con.create_table(name, self.con.table(tmp), overwrite=True)
            self.con.drop_table(tmp)

    def drop_derived(self) -> list[str]:
        """Drop what analyses keep in the store to be fast — the journey logs and the kept shared
        tables (names starting ``_cj_``) — and return their names. Never the data: each is built
        again when a report needs it. DuckDB only (Spark keeps nothing)."""
        if self.engine != "duckdb":
            return []
        raw = self.con.con
        names = [n for (n,) in raw.execute(
            "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, '_cj_') AND NOT temporary "
            "AND database_name = current_database() ORDER BY table_name").fetchall()]
        for name in names:
            raw.execute(f'DROP TABLE "{name}"')
        return names

    def replace_identity(self, identity: pa.Table) -> None:
        """Swap in a rebuilt subject → person mapping."""
        arrow = _conform("identity", identity)
        if self.engine == "duckdb":
            raw = self.con.con
            raw.execute("BEGIN TRANSACTION")
            try:
                raw.execute("DELETE FROM identity")
                raw.register("_cj_identity", arrow)
                raw.execute("INSERT INTO identity SELECT subject_key, person_key FROM _cj_identity")
                raw.unregister("_cj_identity")
                _restitch(raw)
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                raise
        else:
            self.con.create_table("identity", ibis.memtable(arrow), overwrite=True)

    def close(self) -> None:
        disconnect = getattr(self.con, "disconnect", None)
        if disconnect:
            disconnect()


#: The stitched person key column of these DuckDB tables (see the module docstring).
STITCHED = "person_key"
STITCHED_TABLES = ("events", "feedback")


def _read_only(con) -> bool:
    row = con.con.execute("SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return bool(row and row[0])


def _restitch(raw, file_id: str | None = None) -> None:
    """Make ``person_key`` of :data:`STITCHED_TABLES` agree with the identity table (only the rows
    that differ are written): NULL where the subject is a person of its own, else its person key.
    ``file_id``: only that file's rows (just written; the others agree already)."""
    tables = [t for t in STITCHED_TABLES
              if STITCHED in {r[0] for r in raw.execute(f"DESCRIBE {t}").fetchall()}]  # else read through the join
    only = "AND e.file_id = ?" if file_id is not None else ""
    args = [file_id] if file_id is not None else []
    any_stitched = raw.execute("SELECT 1 FROM identity WHERE person_key <> subject_key LIMIT 1").fetchone()
    stitched = "(SELECT subject_key, person_key FROM identity WHERE person_key <> subject_key)"
    for t in tables:
        if any_stitched is None:
            if file_id is None:
                raw.execute(f"UPDATE {t} SET {STITCHED} = NULL WHERE {STITCHED} IS NOT NULL")
            continue
        if file_id is None:  # keys no longer stitched (a rebuilt identity)
            raw.execute(f"UPDATE {t} e SET {STITCHED} = NULL WHERE {STITCHED} IS NOT NULL "
                        f"AND NOT EXISTS (SELECT 1 FROM {stitched} i WHERE i.subject_key = e.subject_key)")
        raw.execute(f"UPDATE {t} e SET {STITCHED} = i.person_key FROM {stitched} i "
                    f"WHERE e.subject_key = i.subject_key AND e.{STITCHED} IS DISTINCT FROM i.person_key {only}", args)


def _insert(raw, name: str, data) -> None:
    """INSERT an Arrow table (or a RecordBatchReader) into ``name`` by column name."""
    if isinstance(data, pa.Table):
        if not data.num_rows:
            return
        data = _conform(name, data, keep_dictionaries=True)  # DuckDB reads dictionaries as VARCHAR
    raw.register("_cj_batch", data)
    try:
        cols = ", ".join(f'"{c}"' for c in data.schema.names)
        raw.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _cj_batch")
    finally:
        raw.unregister("_cj_batch")


#: Record batches handed to DuckDB hold at most one row group (122,880 rows): DuckDB's parallel,
#: order-preserving insert splits work by record batch, and a 1M-row batch costs it about twice
#: the CPU (see docs/benchmarks.md).
_ARROW_BATCH_ROWS = 122_880


class _EventFeed:
    """The events of a stream of chunks (table name → rows), handed to DuckDB as record-batch
    readers; the chunks' other tables are appended to ``rest``.

    ``pending`` is the next chunk's events (None at the end) and ``pending_values`` their values
    in the ENUM columns. :meth:`reader` streams events until the stream ends or a chunk has
    values outside the ENUM types given — that chunk becomes ``pending`` for the next reader, so
    the writer can widen the types between two INSERTs of one transaction.
    """

    def __init__(self, chunks, rest: list):
        self._chunks = iter(chunks)
        self.rest = rest
        self.failed: list[BaseException] = []
        self.pending: pa.Table | None = None
        self.pending_values: dict[str, set[str]] = {}
        self._advance()

    def _advance(self) -> None:
        """Move to the next chunk that has events (or to the end)."""
        self.pending = None
        for chunk in self._chunks:
            ev = chunk.pop("events", None)
            self.rest.append(chunk)
            if ev is not None and ev.num_rows:
                self.pending = _conform("events", ev, keep_dictionaries=True)
                self.pending_values = values_in(self.pending)
                return

    def reader(self, types: dict) -> pa.RecordBatchReader:
        """Events from ``pending`` on, in the schema of ``pending`` (its dictionary-encoded
        columns kept as dictionaries; later chunks are cast to it)."""
        held, self.pending = [self.pending], None
        schema = held[0].schema

        def batches():
            try:
                yield from held.pop().to_batches(_ARROW_BATCH_ROWS)  # not kept once read
                self._advance()
                while self.pending is not None and not needs_widening(types, self.pending_values):
                    chunk, self.pending = self.pending.cast(schema), None
                    yield from chunk.to_batches(_ARROW_BATCH_ROWS)
                    del chunk
                    self._advance()
            except BaseException as exc:
                self.failed.append(exc)
                raise

        return pa.RecordBatchReader.from_batches(schema, batches())


def _conform(name: str, table: pa.Table, keep_dictionaries: bool = False) -> pa.Table:
    """An Arrow table in the canonical schema of table ``name`` (see :func:`model.events.conform`)."""
    return conform(table, SCHEMAS[name].to_pyarrow(), keep_dictionaries=keep_dictionaries)


def open_store(project) -> Store:
    """Open the project's store (creating the DuckDB file and tables on first use)."""
    return Store(connect(project.config.store, project.root), project.config.store)
