"""Query results kept between runs: the same SQL over the same data gives the same answer.

A report runs some twenty analyses; ``carejourney run`` writes the report right after
ingesting, so a later ``carejourney report`` (another segment's, a PDF, a re-render after a
template change), ``carejourney analyze`` or the findings ask the very same queries of the very
same data. Each result is kept as an Arrow IPC file in ``target/cache/queries/``, named by a
hash of the compiled SQL, the store's data version (which changes with every ingest and
identity rebuild) and the journey definitions — so a cached answer is never stale: new data,
or a changed journey, gives new keys.

Only results of at most :data:`MAX_ROWS` rows are kept (aggregates, not event exports). The
files hold *unsuppressed* aggregates: the target folder is as private as the store next to it
(docs/privacy.md). ``CAREJOURNEY_QUERY_CACHE=0`` turns the cache off; deleting the folder is
always safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

__all__ = ["QueryCache", "MAX_ROWS", "CACHE_VERSION", "NO_SQL"]

#: Bump when the way results are computed changes without the SQL changing.
CACHE_VERSION = "1"
MAX_ROWS = 100_000
MAX_FILES = 5_000
#: How ``analyses.base.compile_sql`` starts its text for an expression with no single SQL query:
#: such an expression is executed by Ibis and never kept.
NO_SQL = "-- SQL not available"


class QueryCache:
    """Results by (SQL, data version, journeys) in ``folder``; see the module docstring."""

    def __init__(self, folder: Path, version: Callable[[], str], salt: str = ""):
        self.folder = Path(folder)
        self._version = version
        self._resolved: str | None = None
        self.salt = salt
        self.hits = self.misses = 0

    @property
    def version(self) -> str:
        if self._resolved is None:  # asked of the store once per cache (one context)
            self._resolved = self._version()
        return self._resolved

    def key(self, sql: str, expr: ir.Expr | None = None) -> str:
        return self._hash("sql", _stable_sql(sql, expr))

    def _hash(self, *parts: str) -> str:
        text = "\x1f".join((CACHE_VERSION, code_version(), self.version, self.salt, *parts))
        return hashlib.sha256(text.encode()).hexdigest()

    def analysis(self, name: str, build: Callable[[], ir.Expr], compile_sql: Callable[[ir.Expr], str], con,
                 prepare: Callable[[ir.Expr], None] | None = None) -> tuple[pd.DataFrame, str]:
        """An analysis' frame and SQL by its name (resolved spec, project settings), without
        building or compiling its expression when the answer is kept: that is most of a report's
        time on unchanged data. ``name`` must determine the expression (with the data and the
        code, which are part of every key). The SQL is kept in the file's metadata, for the
        footnote, and so is the result's Ibis schema, which turns the kept Arrow table into the
        very frame the expression gives (``_as_pandas``). ``prepare(expr)`` runs before an
        expression is executed (writes the shared tables it reads)."""
        path = self.folder / f"{self._hash('analysis', name)}.arrow"
        table = self._lookup(path)
        meta = (table.schema.metadata or {}) if table is not None else {}
        if table is not None and b"ibis_schema" in meta:
            kept = ibis.table(ibis.schema(json.loads(meta[b"ibis_schema"])), name="kept_result")
            return _as_pandas(kept, table), meta[b"sql"].decode()
        expr = build()
        if table is None:
            sql = compile_sql(expr)
            if prepare is not None:
                prepare(expr)
            if sql.startswith(NO_SQL):
                return con.to_pandas(expr), sql
            table = _execute(con, expr, sql)
            extra = {b"sql": sql.encode()}
            if isinstance(expr, ir.Table):  # (a column or scalar result converts differently: built each time)
                extra[b"ibis_schema"] = json.dumps({c: str(t) for c, t in expr.schema().items()}).encode()
            table = self._keep(path, table.replace_schema_metadata({**(table.schema.metadata or {}), **extra}))
        return _as_pandas(expr, table), table.schema.metadata[b"sql"].decode()

    def frame(self, name: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """A derived pandas frame of plain columns (e.g. the ranked findings) by name."""
        path = self.folder / f"{self._hash('frame', name)}.arrow"
        table = self._lookup(path)
        if table is None:
            table = self._keep(path, pa.Table.from_pandas(compute(), preserve_index=False))
        return table.to_pandas()  # the same conversion on a hit and a miss, so both give the same frame

    def to_pandas(self, con, expr: ir.Expr, sql: str, prepare: Callable[[ir.Expr], None] | None = None) -> pd.DataFrame:
        """``con.to_pandas(expr)`` (DuckDB), answered from the folder when the same query was asked
        before. The raw Arrow result is what is kept, and it is turned into pandas exactly as
        Ibis does, so a cached answer is the very frame a fresh query gives (types included)."""
        if sql.startswith(NO_SQL):
            if prepare is not None:
                prepare(expr)
            return con.to_pandas(expr)
        path = self.folder / f"{self.key(sql, expr)}.arrow"
        table = self._lookup(path)
        if table is None:
            if prepare is not None:
                prepare(expr)
            table = self._keep(path, _execute(con, expr, sql))
        return _as_pandas(expr, table)

    def _lookup(self, path: Path) -> pa.Table | None:
        table = _read(path)
        if table is not None:
            self.hits += 1
        return table

    def _keep(self, path: Path, table: pa.Table) -> pa.Table:
        """A computed result (a miss), written to ``path`` when small enough."""
        self.misses += 1
        if table.num_rows <= MAX_ROWS:
            _write(path, table)
            self._prune()
        return table

    def _prune(self) -> None:
        files = list(self.folder.glob("*.arrow"))
        if len(files) > MAX_FILES:
            files.sort(key=lambda p: p.stat().st_mtime)
            for p in files[: len(files) - MAX_FILES // 2]:
                p.unlink(missing_ok=True)


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the package's code and templates: a new version, or any local edit, starts a
    fresh cache (results by analysis name depend on the code, not only on the SQL)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".yml", ".yaml", ".j2", ".json") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _execute(con, expr: ir.Expr, sql: str) -> pa.Table:
    """Run ``sql`` (already compiled from ``expr``) on DuckDB without compiling it again.

    Compiling an analysis' expression costs 0.1–0.5 s of Python — as much as running it on a
    small store — and the caller has compiled it once already (for the key and the footnote).
    Memtables are registered as Ibis' own execution does.
    """
    con._run_pre_execute_hooks(expr)
    return con.con.sql(sql).to_arrow_table()


def _as_pandas(expr: ir.Expr, table: pa.Table) -> pd.DataFrame:
    """DuckDB's Arrow result as the DataFrame ``ibis`` returns for ``expr`` (the steps of the
    DuckDB backend's ``execute`` in ibis-framework 12, which is pinned)."""
    import pyarrow.types as pat
    from ibis.backends.duckdb.converter import DuckDBPandasData
    df = pd.DataFrame({
        name: (col.to_pylist() if pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count
               else col.to_pandas())
        for name, col in zip(table.column_names, table.columns)})
    df = DuckDBPandasData.convert_table(df, expr.as_table().schema())
    return expr.__pandas_result__(df)


_GENERATED = re.compile(r"\bibis_[a-z_]+?_[a-z0-9]{26}\b")


def _stable_sql(sql: str, expr: ir.Expr | None) -> str:
    """The SQL with Ibis' random names made stable: in-memory tables (e.g. a segment list) are
    named by their content, other generated aliases (e.g. for ``unnest``) by order of appearance."""
    if expr is not None:
        for node in expr.op().find(ops.InMemoryTable):
            sink = pa.BufferOutputStream()
            table = node.data.to_pyarrow(node.schema)
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            sql = sql.replace(node.name, "memtable_" + hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:24])
    names: dict[str, str] = {}
    return _GENERATED.sub(lambda m: names.setdefault(m.group(0), f"ibis_generated_{len(names)}"), sql)


def _read(path: Path) -> pa.Table | None:
    try:
        with pa.OSFile(str(path), "rb") as f:
            return pa.ipc.open_file(f).read_all()
    except (FileNotFoundError, pa.ArrowInvalid, OSError):
        return None  # absent, or a torn file from a killed run: recompute


def _write(path: Path, table: pa.Table) -> None:
    """Atomically: a reader sees the whole file or none (write aside, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw, pa.ipc.new_file(raw, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
