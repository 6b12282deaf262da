"""Timestamp parsing for connectors, vectorised in (in-memory) DuckDB.

Accepted: ISO 8601 with or without ``T``, seconds, fraction and offset (``Z``, ``+02:00``);
``MM/DD/YYYY[ HH:MM[:SS][ AM|PM]]``; ``DD.MM.YYYY[ HH:MM]``; ``YYYY/MM/DD[ HH:MM:SS]``;
Unix epoch in seconds, milliseconds or microseconds (GA4 exports use microseconds).
Values without an offset are read in the source's timezone (default: the project's), so
a DST gap or fold resolves the way the zone database says. Output: naive UTC ``timestamp[us]``.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

__all__ = ["parse_timestamps", "ACCEPTED_FORMATS"]

ACCEPTED_FORMATS = "ISO 8601 (2026-03-08T14:30:00Z, 2026-03-08 14:30), 03/08/2026 2:30 PM, 08.03.2026 14:30, or Unix epoch"

_STRPTIME = ["%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
             "%m/%d/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S",
             "%Y/%m/%d %H:%M", "%Y/%m/%d"]


def parse_timestamps(values: pa.Array | pa.ChunkedArray, timezone: str) -> pa.Array:
    """Parse strings (or numbers) to naive-UTC timestamps; unparseable values become null."""
    con = duckdb.connect()
    try:
        con.execute(f"SET TimeZone = '{_quote(timezone)}'")
        tbl = pa.table({"v": values.cast(pa.string()) if not pa.types.is_string(values.type) else values})
        fmts = ", ".join(f"'{f}'" for f in _STRPTIME)
        sql = f"""
        SELECT CASE
          WHEN v IS NULL OR trim(v) = '' THEN NULL
          WHEN regexp_full_match(trim(v), '\\d{{16}}') THEN make_timestamp(CAST(trim(v) AS BIGINT))
          WHEN regexp_full_match(trim(v), '\\d{{13}}') THEN make_timestamp(CAST(trim(v) AS BIGINT) * 1000)
          WHEN regexp_full_match(trim(v), '\\d{{9,10}}') THEN make_timestamp(CAST(trim(v) AS BIGINT) * 1000000)
          ELSE coalesce(
            try_cast(trim(v) AS TIMESTAMPTZ) AT TIME ZONE 'UTC',
            timezone('{_quote(timezone)}', try_strptime(trim(v), [{fmts}])) AT TIME ZONE 'UTC')
        END AS ts FROM tbl
        """
        out = con.sql(sql).to_arrow_table()
        return out.column("ts").combine_chunks().cast(pa.timestamp("us"))
    finally:
        con.close()


def _quote(s: str) -> str:
    return s.replace("'", "''")
