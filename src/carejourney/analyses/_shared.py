"""Shared tables: an intermediate result several analyses of one report read, computed once.

Drivers, equity and the findings each counted people per (step, dimension, value, delay bin)
from scratch — the person-level step table and every person dimension, over all events — which
was most of a cold report's time. :meth:`SharedTables.table` gives such a result a name and
returns a table that *refers* to it by that name; the expression is executed into a temporary
table only when a query that reads it is executed (:meth:`SharedTables.prepare`), so a report
answered from the query cache (``analyses._cache``) never pays for it.

The name is a hash of what determines the result — the caller's key (journey definition,
parameters) and the store's data version — so a table made before new data was ingested is
never read for the new data: the new version gives a new name. Names start with a tag of the
data version, and writing a table drops the ones of other versions (a long-lived connection
would otherwise keep a copy of the events per ingest). A shared table may be built on others
(the step counts read the shared persons): they are written first, unless the table built on them
is there already.

Shared tables (the persons, the journey's people, each person's report dimensions and first
feature events, the funnels' per-person tables, the pair rows, the step counts, conformance
deviations, segment members — person-level, a few rows per person at most) are *kept*: written
to the store's
database file, so a later process on the same data — ``carejourney report --segment …`` after
``carejourney run``, ``analyze``, ``findings`` — reads them instead of going over every event
again; their names also carry the code's version (``_cache.code_version``), so a table written by
other code is never read. The events are not copied (a DuckDB store's events carry their stitched
person key, see :mod:`carejourney.store`). A read-only store gets temporary tables, for the
connection only. Only DuckDB contexts with a data version share (like the journey log); elsewhere
:meth:`AnalysisContext.shared` returns the expression itself, which gives the same rows (the
backend tests run both).
"""

from __future__ import annotations

import hashlib
import json
from typing import Callable

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from ._log import read_only

__all__ = ["SharedTables", "PREFIX"]

PREFIX = "_cj_shared_"
#: Bump when what a shared table holds changes for the same key.
SHARED_VERSION = "1"


class SharedTables:
    """Named, lazily written shared tables on one DuckDB connection (see the module docstring)."""

    def __init__(self, con, version: Callable[[], str]):
        self.con = con
        self._version = version
        self._source: dict[str, ir.Table] = {}
        self._sql: dict[str, str] = {}
        self._custom: dict[str, Callable] = {}
        self._builders: dict[str, Callable[[], ir.Table]] = {}
        #: kept tables found in the store, read by name without building their expressions
        self._placeholders: set[str] = set()
        self._kept_meta: dict[str, dict] | None = None  # name → {"sql", "reads"} of the store's kept tables
        self._writable = not read_only(con)  # (asked once: a connection's mode does not change)

    def name(self, kind: str, key) -> str:
        """``_cj_shared_<tag>_<kind>_<hash of kind, key, data version, code version>``."""
        tag = self._tag()
        payload = json.dumps([kind, key, self._version()], sort_keys=True, default=str)
        return f"{PREFIX}{tag}_{kind}_{hashlib.sha256((tag + payload).encode()).hexdigest()[:20]}"

    def _tag(self) -> str:
        """A tag of the data version and the code: tables with another tag are of replaced data or
        other code, and are dropped when a table is written."""
        from ._cache import code_version
        return hashlib.sha256(f"{SHARED_VERSION}|{code_version()}|{self._version()}".encode()).hexdigest()[:8]

    def table(self, kind: str, key, build: Callable[[], ir.Table],
              sql: Callable[[Callable[[ir.Expr], str]], str] | None = None) -> ir.Table:
        """A table named by ``kind``, ``key`` and the data version, holding ``build()``'s rows once a
        query reading it is executed. ``key`` must determine ``build()``'s result on given data.
        ``sql(compile)``: the SQL that fills it instead of ``build()``'s (same rows and schema)."""
        name = self.name(kind, key)
        if name not in self._source:  # built once: drivers, equity and the findings ask for the same counts
            self._builders[name] = build
            if sql is not None:
                self._custom[name] = sql
            schema = self._kept_schema(name)
            if schema is not None:
                # kept by an earlier process: read by name, its expression never built (building the
                # large ones was ~1 s of a segment's first report); built if the table goes missing
                self._source[name] = ibis.table(schema, name=name)
                self._placeholders.add(name)
            else:
                self._source[name] = build()
        return ibis.table(self._source[name].schema(), name=name)

    def _kept(self) -> dict[str, dict]:
        """The kept tables of this data and code in the store's file, with the query and the shared
        tables each was written from (its comment), read once per connection."""
        if self._kept_meta is None:
            rows = self.con.con.execute(
                "SELECT table_name, comment FROM duckdb_tables() WHERE starts_with(table_name, ?) AND NOT temporary "
                "AND database_name = current_database()", [f"{PREFIX}{self._tag()}_"]).fetchall()
            self._kept_meta = {}
            for name, comment in rows:
                try:
                    meta = json.loads(comment or "")
                except ValueError:
                    continue  # (not written by this code: built again if asked for)
                if isinstance(meta, dict) and isinstance(meta.get("sql"), str) and isinstance(meta.get("reads"), list):
                    self._kept_meta[name] = meta
        return self._kept_meta

    def _kept_schema(self, name: str) -> ibis.Schema | None:
        """The schema of kept table ``name`` if the store has it (None: build it)."""
        if name not in self._kept():
            return None
        try:
            return self.con.table(name).schema()
        except Exception:  # dropped since the list was read (by a process of other code)
            return None

    def _deps(self, name: str) -> list[str]:
        """The shared tables ``name`` is built on."""
        if name in self._source and name not in self._placeholders:
            return self._read_by(self._source[name])
        return list(self._kept().get(name, {}).get("reads", []))

    def _read_by(self, expr: ir.Expr) -> list[str]:
        return list(dict.fromkeys(t.name for t in expr.op().find(ops.UnboundTable) if t.name in self._source))

    def _closure(self, expr: ir.Expr, have: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """The shared tables ``expr`` reads, directly or through other shared tables, each after
        the ones it is built on — leaving out those in ``have`` and what only they are built on."""
        out: list[str] = []

        def visit(name: str) -> None:
            if name not in out and name not in have:
                for dep in self._deps(name):
                    visit(dep)
                out.append(name)
        for name in self._read_by(expr):
            visit(name)
        return out

    def prepare(self, expr: ir.Expr) -> None:
        """Write the shared tables ``expr`` reads that do not exist yet (called before executing it)."""
        if not self._read_by(expr):
            return
        # asked of the connection each time (not only "not made yet"): another context on it may
        # have dropped a table of older data that this context still reads, and another process
        # may have kept one in the file
        raw = self.con.con
        tables = raw.execute(
            "SELECT table_name, temporary FROM duckdb_tables() WHERE starts_with(table_name, ?) "
            "AND database_name IN (current_database(), 'temp')", [PREFIX]).fetchall()
        writable = self._writable
        existing = set()
        tag = self._tag()
        for name, temporary in tables:
            if name[len(PREFIX):len(PREFIX) + 8] == tag:
                existing.add(name)
            elif temporary or writable:  # of data this connection, or the file, has seen replaced
                raw.execute(f'DROP TABLE IF EXISTS {"temp.main." if temporary else ""}"{name}"')
        for name in [n for n in self._placeholders if n not in existing]:  # dropped since: build it after all
            self._placeholders.discard(name)
            self._source[name] = self._builders[name]()
        missing = self._closure(expr, existing)  # what is missing, after what it is built on
        if not missing:
            return
        # a shared table is a set: its rows need not keep the order a query produced them in, and
        # DuckDB writes unordered results in parallel (everyone's conformance deviations at 1M
        # people, a union of ~90 parts: 6.8 -> 5.3 s)
        order = raw.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
        raw.execute("SET preserve_insertion_order = false")
        try:
            for name in missing:
                # from the SQL compiled for the footnote (compiling is 0.1-0.3 s of Python); memtables
                # registered as Ibis' own execution does (as analyses._cache does)
                self.con._run_pre_execute_hooks(self._source[name])
                kind = "TABLE" if writable else "TEMPORARY TABLE"
                raw.execute(f'CREATE {kind} "{name}" AS {self.sql(name)}')
                if writable:  # the query goes with the kept table: a later process describes it from there
                    meta = json.dumps({"sql": self.sql(name), "reads": self._deps(name)})
                    raw.execute(f'COMMENT ON TABLE "{name}" IS ' + "'" + meta.replace("'", "''") + "'")
        finally:
            raw.execute(f"SET preserve_insertion_order = {'true' if order else 'false'}")

    def sql(self, name: str) -> str:
        """The compiled query of the shared table ``name`` (compiled once)."""
        if name not in self._sql:
            custom = self._custom.get(name)
            self._sql[name] = (custom(lambda e: str(self.con.compile(e))) if custom is not None
                               else str(self.con.compile(self._source[name])))
        return self._sql[name]

    def describe(self, expr: ir.Expr) -> str:
        """SQL comments saying how each shared table ``expr`` reads is computed (for the footnote:
        every number stays traceable to its query). A kept table's query is read from the table's
        comment rather than compiled again (compiling the large ones is most of the Python time
        of a report that reads them)."""
        out = []
        for name in self._closure(expr):
            stored = self._kept().get(name) if name not in self._sql else None
            if stored is None and name not in self._source:
                continue  # (a kept table's input that has gone from the store: nothing to show)
            text = stored["sql"] if stored else self.sql(name)
            body = "\n".join(f"--   {line}" for line in text.splitlines())
            out.append(f"-- {name}: a shared table (analyses/_shared.py), computed once per data version as\n{body}\n")
        return "".join(out)
