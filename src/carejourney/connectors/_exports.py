"""Shared plumbing for the system-export connectors (leads, calls, scheduling, portal).

Each of those connectors declares a *default mapping* (logical field → column name in the
export) that a source can override with ``mapping:`` in ``sources/*.yml``, checks the columns
it needs up front (rows with a missing person id or an unreadable required timestamp are
rejected with the column named), then stages one or more *passes* over the rows through
:func:`carejourney.connectors.tabular.stage_rows` (one pass per kind of event a row yields).
A row rejected by any pass loads nothing.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import IngestError
from .base import REJECTS, STAGED_EVENTS, STAGED_FEEDBACK, STAGED_LINKS, STAGED_SUBJECTS, ReadContext, Staged
from .tabular import detect_format, read_table, stage_rows
from .timeparse import ACCEPTED_FORMATS, parse_timestamps

__all__ = ["Export", "minutes_between"]


def minutes_between(later: pa.Array, earlier: pa.Array) -> pa.Array:
    """(later − earlier) in minutes as float; null where either side is null."""
    us = pc.subtract(later.cast(pa.int64()), earlier.cast(pa.int64()))
    return pc.round(pc.divide(us.cast(pa.float64()), 60e6), 2)


class Export:
    """One CSV (or Parquet / JSONL) export being staged."""

    def __init__(self, path: Path, ctx: ReadContext, defaults: dict[str, str], required: tuple[str, ...]):
        spec = ctx.spec
        self.path, self.spec = path, spec
        self.tz = spec.timezone or ctx.timezone
        unknown = sorted(set(spec.mapping) - set(defaults))
        if unknown:
            raise IngestError(f"sources/{spec.name}: unknown mapping field(s) {', '.join(unknown)} for kind "
                              f"'{spec.kind}'; known fields: {', '.join(sorted(defaults))}")
        fmt = detect_format(path, spec.format if spec.format != "auto" else "csv")
        self.table, bad = read_table(path, fmt)
        self.rows_read = self.table.num_rows + bad.num_rows
        self.map = {**defaults, **spec.mapping}
        self._cols = {c.lower(): c for c in self.table.column_names}
        missing = [f"{f} (column '{self.map[f]}')" for f in required if self.map[f].lower() not in self._cols]
        if missing:
            have = ", ".join(c for c in self.table.column_names if c != "row_num")
            raise IngestError(f"{path}: missing {', '.join(missing)}. Columns found: {have}. If the export names "
                              f"them differently, map them in sources/{spec.name}.yml: mapping: {{field: column}}")
        self.rejects: list[pa.Table] = [bad]
        self.events: list[pa.Table] = []
        self.links: list[pa.Table] = []
        self.feedback: list[pa.Table] = []
        self.detail: dict = {}

    # -- columns ---------------------------------------------------------------------------
    def column(self, field: str) -> pa.Array | None:
        """The mapped column for ``field`` as strings (blank → null), or None if absent."""
        real = self._cols.get(self.map.get(field, field).lower())
        if real is None:
            return None
        col = self.table[real].combine_chunks()
        col = col if pa.types.is_string(col.type) else col.cast(pa.string())
        trimmed = pc.utf8_trim_whitespace(col)
        return pc.if_else(pc.equal(trimmed, ""), pa.nulls(len(col), pa.string()), trimmed)

    def real(self, field: str) -> str | None:
        return self._cols.get(self.map.get(field, field).lower())

    def timestamps(self, field: str) -> pa.Array:
        col = self.column(field)
        if col is None:
            return pa.nulls(self.table.num_rows, pa.timestamp("us"))
        return parse_timestamps(col, self.tz)

    def add(self, name: str, values: pa.Array) -> str:
        """Append a computed column (named ``_cj_<name>``) and return its name."""
        full = f"_cj_{name}"
        self.table = self.table.append_column(full, values)
        self._cols[full] = full
        return full

    # -- row checks ------------------------------------------------------------------------
    def reject(self, mask: pa.Array, field: str, reason: str) -> None:
        """Reject (and drop) the rows where ``mask`` is true."""
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        rows = pc.filter(self.table["row_num"], mask)
        self.rejects.append(pa.table({"row_num": rows, "field": pa.array([field] * len(rows), pa.string()),
                                      "reason": pa.array([reason] * len(rows), pa.string())}, schema=REJECTS))
        self.table = self.table.filter(pc.invert(mask))

    def require_id(self, field: str) -> None:
        col = self.column(field)
        self.reject(pc.is_null(col), self.map[field], f"{self.map[field]} is empty; every row needs its "
                                                      f"{field.replace('_', ' ')}")

    def require_ts(self, field: str, *, optional: bool = False) -> str:
        """Parse a timestamp column; reject unreadable values (and blanks unless ``optional``)."""
        raw, ts = self.column(field), self.timestamps(field)
        if raw is None:
            return self.add(field, ts)
        bad = pc.and_(pc.is_valid(raw), pc.is_null(ts))
        self.reject(bad, self.map[field], f"{self.map[field]} is not a timestamp; expected {ACCEPTED_FORMATS}")
        if not optional:
            raw, ts = self.column(field), self.timestamps(field)
            self.reject(pc.is_null(raw), self.map[field], f"{self.map[field]} is empty; the row's event needs a time")
        return self.add(field, self.timestamps(field))

    # -- staging ---------------------------------------------------------------------------
    def stage(self, *, id_field: str, id_type: str, ts_col: str, fields: dict[str, str | None],
              constants: dict[str, str] | None = None, where: pa.Array | None = None,
              identifiers: dict[str, str] | None = None, attrs: list[str] | None = None) -> None:
        """One pass: every (selected) row becomes one event. ``fields``: canonical → column."""
        table = self.table if where is None else self.table.filter(pc.fill_null(where, False))
        if table.num_rows == 0:
            return
        mapping = {"person_id": self.real(id_field), "ts": ts_col,
                   **{k: v for k, v in fields.items() if v is not None}}
        # canonical names must not pick up same-named export columns the pass did not ask for
        for f in ("source", "source_event", "detail", "status", "channel", "service_line", "location",
                  "device", "value", "episode_id", "touchpoint"):
            mapping.setdefault(f, f"_cj_none_{f}")
        ids = {t: c for t, c in (identifiers or {}).items() if c is not None}
        events, _, links, rejects = stage_rows(
            table, mapping=mapping, constants=constants or {}, id_type=id_type, timezone=self.tz,
            known_touchpoints=None, source=self.spec.name, identifiers=ids,
            attr_columns=[c for c in (attrs or []) if c is not None])
        self.events.append(events)
        self.links.append(links)
        self.rejects.append(rejects)

    def add_feedback(self, table: pa.Table) -> None:
        self.feedback.append(table)

    def staged(self) -> Staged:
        rejects = pa.concat_tables(self.rejects) if self.rejects else REJECTS.empty_table()
        if rejects.num_rows:  # one reason per row: the first check that failed
            first = pc.index_in(pa.array(sorted(set(rejects["row_num"].to_pylist()))), rejects["row_num"])
            rejects = rejects.take(first)
        bad = rejects["row_num"]

        def keep(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
            t = pa.concat_tables(tables) if tables else schema.empty_table()
            if "row_num" in t.column_names and len(bad):
                t = t.filter(pc.invert(pc.is_in(t["row_num"], bad)))
            return t

        events = keep(self.events, STAGED_EVENTS)
        if events.num_rows:
            events = events.sort_by([("row_num", "ascending"), ("ts", "ascending")])
        return Staged(rows_read=self.rows_read, events=events, subjects=STAGED_SUBJECTS.empty_table(),
                      links=keep(self.links, STAGED_LINKS), feedback=keep(self.feedback, STAGED_FEEDBACK),
                      rejects=rejects, detail=self.detail)
