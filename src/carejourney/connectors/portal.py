"""The patient-portal connector (``kind: portal``): a CSV export of portal messages.

Default columns (docs/raw-formats.md; override any with ``mapping: {field: column}``)::

    message_id, sent_at, mrn, direction, topic, body, replied_at   (+ optional: event)

Each row yields ``portal_message`` at ``sent_at`` (or the value of an ``event`` column, e.g.
``portal_login`` / ``result_viewed``, when the export has one): detail = topic, status =
direction (``patient_to_clinic`` / ``clinic_to_patient``), channel = digital, value = minutes
until the reply (``replied_at − sent_at``) where there was one. The person is the MRN (id type
``mrn``), stored only hashed.

Messages the patient wrote (``patient_to_clinic``) with a body also become **feedback** rows
(source ``portal_message``, text = body). The body is never stored raw: ingest scrubs PHI from
it (and scores sentiment and topics) before it reaches the store.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ._exports import Export, minutes_between
from .base import STAGED_FEEDBACK, ReadContext, Staged, register

__all__ = ["PortalConnector", "DEFAULT_MAPPING"]

DEFAULT_MAPPING = {f: f for f in ("message_id", "sent_at", "mrn", "direction", "topic", "body", "replied_at",
                                  "event")}
_DIRECTIONS = {"patient_to_clinic", "clinic_to_patient"}


@register("portal")
class PortalConnector:
    """Portal message export → portal_message events keyed by MRN, plus patient-voice feedback."""

    def read(self, path: Path, ctx: ReadContext) -> Staged:
        x = Export(path, ctx, DEFAULT_MAPPING, required=("sent_at", "mrn"))
        x.require_id("mrn")
        sent = x.require_ts("sent_at")
        replied = x.require_ts("replied_at", optional=True)
        direction = x.column("direction")
        if direction is not None:
            d = pc.utf8_lower(direction)
            x.reject(pc.and_(pc.is_valid(d), pc.invert(pc.is_in(d, pa.array(sorted(_DIRECTIONS))))),
                     x.map["direction"], f"{x.map['direction']} must be patient_to_clinic or clinic_to_patient")
        n = x.table.num_rows
        direction = x.column("direction")
        direction = pc.utf8_lower(direction) if direction is not None else pa.nulls(n, pa.string())
        x.add("direction", direction)
        x.add("reply_minutes", minutes_between(x.table[replied], x.table[sent]))
        event = x.column("event")
        x.add("event", event if event is not None else pa.array(["portal_message"] * n, pa.string()))
        x.stage(id_field="mrn", id_type="mrn", ts_col=sent,
                fields={"source_event": "_cj_event", "detail": x.real("topic"), "status": "_cj_direction",
                        "value": "_cj_reply_minutes"}, constants={"channel": "digital"})
        body = x.column("body")
        if body is not None:
            voice = pc.and_(pc.equal(direction, "patient_to_clinic"), pc.is_valid(body))
            t = x.table.filter(pc.fill_null(voice, False))
            b = pc.filter(body, pc.fill_null(voice, False))
            m = t.num_rows
            x.add_feedback(pa.table({
                "row_num": t["row_num"], "id_type": pa.array(["mrn"] * m, pa.string()),
                "id_value": pc.filter(x.column("mrn"), pc.fill_null(voice, False)), "ts": t[sent],
                "source": pa.array(["portal_message"] * m, pa.string()),
                "source_event": pc.filter(x.table["_cj_event"], pc.fill_null(voice, False)),
                "touchpoint": pa.nulls(m, pa.string()), "location": pa.nulls(m, pa.string()),
                "service_line": pa.nulls(m, pa.string()),
                "rating": pa.nulls(m, pa.float64()), "rating_scale": pa.nulls(m, pa.float64()), "text": b,
            }, schema=STAGED_FEEDBACK))
        return x.staged()
