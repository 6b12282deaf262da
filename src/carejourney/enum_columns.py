"""Low-cardinality text columns of the DuckDB store kept as ENUM types.

Why: writing a text column costs DuckDB about 0.8 CPU-s per 10M rows however few its distinct
values (its storage analyses and compresses every string); an ENUM stores a 1-byte code and
costs about a third of that (docs/benchmarks.md, "Round 4").

``touchpoint`` stays text on purpose: it is what analyses filter on most, and DuckDB pushes a
text column's ``= 'x'`` / ``IN (…)`` into the scan of its compressed storage but compares an
ENUM column with text by casting every row — with touchpoint as an ENUM the analyses took 8 %
longer (delays 50 %), for 0.5 CPU-s less per 10M ingested rows.

Nobody reading the store can tell: Ibis types a DuckDB ENUM as ``string``, comparisons and
joins with text cast it to text, and each column's values are kept **sorted**, so ordering,
``min`` and ``max`` agree with text. Only the writer knows: values must be in the type before a
row can hold them, so :func:`widen` re-types a column (``ALTER … TYPE ENUM(old ∪ new)``, inside
the write's transaction) when a batch brings new ones — rare after a source's first file.

A column still typed VARCHAR is turned into an ENUM on the first write that gives it values,
if it holds none yet (a new store); a column with more than :data:`MAX_VALUES` values goes back
to VARCHAR for good (e.g. a ``location`` holding free text), where it is merely slower to write.
Other engines (Spark) store plain strings: this module is DuckDB's physical detail.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["ENUM_COLUMNS", "MAX_VALUES", "TEXT", "current_types", "values_in", "needs_widening", "widen", "retype"]

#: Columns of ``events`` stored as ENUMs when their values allow.
ENUM_COLUMNS = ("source", "stage", "channel", "owner", "location")

#: Above this many distinct values a column is stored as VARCHAR (ENUM codes widen past 1 byte
#: at 256 values and the type's definition grows with every value; text is the better fit then).
MAX_VALUES = 4096


#: A column that stays VARCHAR (it held values before it could become an ENUM, or too many).
TEXT = "text"


def current_types(raw, table: str) -> dict[str, list[str] | str | None]:
    """Per ENUM column: its values if it is an ENUM now; None if it is VARCHAR holding no value
    yet (it becomes an ENUM on its first values); :data:`TEXT` if it is VARCHAR for good."""
    cols = ", ".join(f'"{c}"' for c in ENUM_COLUMNS)
    rel = raw.sql(f"SELECT {cols} FROM {table} LIMIT 0")
    out: dict[str, list[str] | str | None] = {}
    for name, ty in zip(rel.columns, rel.types):
        if ty.id == "enum":
            out[name] = list(ty.children[0][1])
        else:
            held = raw.execute(f'SELECT 1 FROM {table} WHERE "{name}" IS NOT NULL LIMIT 1').fetchone()
            out[name] = TEXT if held else None
    return out


def values_in(table: pa.Table | pa.RecordBatch) -> dict[str, set[str]]:
    """The distinct non-null values of each ENUM column present in ``table`` (for a dictionary
    column: its dictionary's values, which may include a few unused ones — harmless to add)."""
    out: dict[str, set[str]] = {}
    for col in ENUM_COLUMNS:
        if col not in table.column_names:
            continue
        arr = table[col]
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
        if arr.null_count == len(arr):
            continue
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary
        else:
            arr = pc.unique(arr)
        out[col] = {v for v in arr.cast(pa.string()).to_pylist() if v is not None}
    return out


def _lacking(have: list[str] | str | None, vals: set[str]) -> bool:
    return have != TEXT and bool(vals) and (have is None or not vals.issubset(have))


def needs_widening(types: dict[str, list[str] | str | None], values: dict[str, set[str]]) -> bool:
    """True if some column must be re-typed before rows with ``values`` can be inserted."""
    return any(_lacking(types.get(col, TEXT), vals) for col, vals in values.items())


def widen(raw, table: str, values: dict[str, set[str]], types: dict[str, list[str] | str | None]) -> None:
    """Re-type the columns whose type lacks some of ``values`` (see the module's docstring)."""
    for col, vals in values.items():
        have = types.get(col, TEXT)
        if not _lacking(have, vals):
            continue
        _set_type(raw, table, col, vals if have is None else set(have) | vals)


def retype(raw, table: str) -> None:
    """Type the ENUM columns of ``table``, already holding text, as the store's writer would have:
    an ENUM of each column's distinct values (VARCHAR past :data:`MAX_VALUES`). For tables filled
    by SQL rather than through :class:`carejourney.store.Store` (the benchmarks)."""
    for col in ENUM_COLUMNS:
        vals = {v for (v,) in raw.execute(f'SELECT DISTINCT "{col}" FROM {table} WHERE "{col}" IS NOT NULL').fetchall()}
        if vals:
            _set_type(raw, table, col, vals)


def _set_type(raw, table: str, col: str, values: set[str]) -> None:
    """``col`` as an ENUM of ``values``, sorted (so it orders as text), or VARCHAR if too many."""
    if len(values) > MAX_VALUES:
        raw.execute(f'ALTER TABLE {table} ALTER "{col}" TYPE VARCHAR')
    else:
        listed = ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))
        raw.execute(f'ALTER TABLE {table} ALTER "{col}" TYPE ENUM ({listed})')
