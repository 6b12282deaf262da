"""The canonical tables, as Ibis schemas. Every engine stores exactly these columns.

All timestamps are UTC, stored without a zone (``timestamp``): connectors convert on the way
in, and calendar periods are computed in the project timezone by the analyses.
Identifiers appear only as keyed pseudonyms (``subject_key``, ``person_key``, ``episode_id``,
the link keys): 64-bit integers (see :mod:`carejourney.privacy.pseudonymise`).
``event_id`` is an int64 unique across the store (assigned at ingest, see
:func:`carejourney.ingest.next_event_id`); analyses use it only as the last tie-break when
ordering a person's events.
"""

from __future__ import annotations

import ibis
import pyarrow as pa

__all__ = ["SCHEMAS", "EVENT_COLUMNS", "conform", "OPTIONAL_EVENT_FIELDS", "PERSON_ATTRIBUTES", "NEEDS"]

#: Optional canonical event fields a source may supply (besides person, ts, touchpoint).
OPTIONAL_EVENT_FIELDS = ("source", "source_event", "detail", "status", "channel", "service_line",
                         "location", "device", "value", "episode_id")

#: Access needs recorded per person (booleans).
NEEDS = ("needs_interpreter", "needs_transport", "needs_disability_access", "low_digital_literacy")

#: De-identified person attributes (quasi-identifiers only).
PERSON_ATTRIBUTES = ("age_band", "sex", "language", "payer_type", "zip3", *NEEDS)

SCHEMAS: dict[str, ibis.Schema] = {
    "events": ibis.schema({
        "event_id": "int64", "subject_key": "int64", "ts": "timestamp",
        "source": "string", "source_event": "string", "detail": "string",
        "touchpoint": "string", "stage": "string", "channel": "string", "owner": "string",
        "service_line": "string", "location": "string", "device": "string", "status": "string",
        "value": "float64", "episode_id": "int64", "attrs": "string", "file_id": "string",
    }),
    "subjects": ibis.schema({
        "subject_key": "int64", "age_band": "string", "sex": "string", "language": "string",
        "payer_type": "string", "zip3": "string", "needs_interpreter": "boolean",
        "needs_transport": "boolean", "needs_disability_access": "boolean",
        "low_digital_literacy": "boolean", "file_id": "string",
    }),
    "links": ibis.schema({"key_a": "int64", "key_b": "int64", "file_id": "string"}),
    "identity": ibis.schema({"subject_key": "int64", "person_key": "int64"}),
    "feedback": ibis.schema({
        "feedback_id": "string", "subject_key": "int64", "ts": "timestamp", "source": "string",
        "source_event": "string", "touchpoint": "string", "stage": "string", "location": "string",
        "service_line": "string", "rating": "float64", "rating_scale": "float64", "text": "string",
        "sentiment": "float64", "topics": "string", "file_id": "string",
    }),
    "receipts": ibis.schema({
        "file_id": "string", "source": "string", "kind": "string", "path": "string",
        "sha256": "string", "config_hash": "string", "ingested_at": "timestamp",
        "rows_read": "int64", "rows_loaded": "int64", "rows_rejected": "int64",
        "rows_unmapped": "int64", "detail": "string",
    }),
    "rejects": ibis.schema({
        "file_id": "string", "source": "string", "path": "string", "row_num": "int64",
        "field": "string", "reason": "string",
    }),
}

EVENT_COLUMNS = tuple(SCHEMAS["events"].names)


def conform(table: pa.Table, schema: pa.Schema, *, keep_dictionaries: bool = False) -> pa.Table:
    """Reorder/cast an Arrow table to ``schema``; missing columns become null.

    With ``keep_dictionaries``, dictionary-encoded string columns (constant file ids, person
    keys, mapped stages) are passed as they are rather than expanded to one string per row.
    """
    cols, fields = [], []
    for f in schema:
        if f.name in table.column_names:
            col = table[f.name]
            if keep_dictionaries and pa.types.is_dictionary(col.type) and col.type.value_type == f.type:
                fields.append(pa.field(f.name, col.type))
                cols.append(col)
                continue
            cols.append(col.cast(f.type) if col.type != f.type else col)
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
        fields.append(f)
    return pa.table(cols, schema=pa.schema(fields))
