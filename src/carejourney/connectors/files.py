"""The file connector: CSV, Parquet and JSONL with a column mapping — and the canonical events
file, which needs no mapping at all.

Canonical events file (``kind: events``): columns ``person_id, ts, touchpoint`` plus any of the
optional canonical columns (source, source_event, detail, status, channel, service_line,
location, device, value, episode_id) and person attributes (age or age_band or birth_date, sex,
language, payer_type, zip or zip3, needs_interpreter, needs_transport,
needs_disability_access, low_digital_literacy). Other columns go to ``attrs`` — except
columns that look like direct identifiers (names, phones, emails, addresses, SSN, MRN…):
those are never stored; email, phone, MRN and SSN are kept only as keyed hashes that stitch
identities across sources.

Generic tabular sources (``kind: csv|parquet|jsonl``) map their columns with ``mapping:``
(canonical field → column) and may set ``constants:`` (e.g. ``source: crm``); rows get a
touchpoint from the journeys' match rules unless a touchpoint column is mapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa

from ..model.events import OPTIONAL_EVENT_FIELDS
from .base import ReadContext, Staged, register
from .tabular import (default_link_columns, detect_format, is_identifier_column, person_columns,
                      read_parquet_batches, read_table, stage_rows)

__all__ = ["FileConnector", "EventsFileConnector"]

_KNOWN = {"person_id", "ts", "touchpoint", *OPTIONAL_EVENT_FIELDS, "row_num", "birth_date",
          "date_of_birth", "dob", "birthdate", "zip", "zipcode", "zip_code", "postal_code"}


class _Tabular:
    fmt_default = "auto"
    requires_touchpoint = False

    def read(self, path: Path, ctx: ReadContext) -> Staged:
        fmt = detect_format(path, ctx.spec.format if ctx.spec.format != "auto" else self.fmt_default)
        table, bad = read_table(path, fmt)
        return self._stage(table, bad, ctx)

    def read_batches(self, path: Path, ctx: ReadContext) -> Iterator[Staged]:
        """Like :meth:`read`, one batch of rows at a time (Parquet: about a million rows), so a
        large file is never held in memory whole. Row numbers count from the file's start."""
        fmt = detect_format(path, ctx.spec.format if ctx.spec.format != "auto" else self.fmt_default)
        if fmt != "parquet":
            yield self.read(path, ctx)
            return
        first = True
        rows = int(ctx.spec.options.get("batch_rows", 1 << 20))  # memory vs. per-batch overhead
        for table, bad in read_parquet_batches(path, rows):
            staged = self._stage(table, bad, ctx)
            if not first:
                staged.detail.clear()  # per-file facts (dropped identifier columns) come once
            first = False
            yield staged

    def _stage(self, table: pa.Table, bad: pa.Table, ctx: ReadContext) -> Staged:
        spec = ctx.spec
        mapping = dict(spec.mapping)
        mapped = {v.lower() for v in mapping.values()}
        identifiers = dict(spec.identifiers) or default_link_columns(table.column_names)
        known = _KNOWN | person_columns() | mapped
        attrs = [c for c in table.column_names
                 if c.lower() not in known and not is_identifier_column(c)]
        dropped = sorted(c for c in table.column_names if is_identifier_column(c) and c.lower() not in mapped)
        events, subjects, links, rejects = stage_rows(
            table, mapping=mapping, constants=dict(spec.constants), id_type=spec.options.get("id_type", "person"),
            timezone=spec.timezone or ctx.timezone, known_touchpoints=ctx.touchpoints or None,
            source=spec.name, identifiers=identifiers, attr_columns=attrs)
        staged = Staged(rows_read=table.num_rows + bad.num_rows, events=events, subjects=subjects,
                        links=links, rejects=pa.concat_tables([bad, rejects]) if bad.num_rows else rejects)
        if dropped:
            staged.detail["identifier_columns_not_stored"] = dropped
        return staged


@register("events")
class EventsFileConnector(_Tabular):
    """Canonical events file: person_id, ts, touchpoint (+ optional columns). No mapping needed."""


@register("csv")
class FileConnector(_Tabular):
    """Any CSV with a column mapping."""

    fmt_default = "csv"


@register("parquet")
class ParquetConnector(_Tabular):
    fmt_default = "parquet"


@register("jsonl")
class JsonlConnector(_Tabular):
    fmt_default = "jsonl"
