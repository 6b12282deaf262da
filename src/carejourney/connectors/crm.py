"""The leads / CRM connector (``kind: leads``): a CSV export of leads.

Default columns (docs/raw-formats.md; override any with ``mapping: {field: column}``)::

    lead_id, created_at, first_name, last_name, email, phone, service_line, location,
    lead_source, utm_source, utm_medium, utm_campaign, client_id, first_contact_at, status, owner_team

Each row yields ``lead_created`` at ``created_at`` and, when the lead was contacted,
``lead_contacted`` at ``first_contact_at`` with ``value`` = minutes from creation to first
contact. detail = lead source, status = lead status, channel from the lead source (web_form →
digital, phone → phone, referral → referral, event → in_person). The person is the lead (id type ``lead``);
links lead ↔ email, phone and GA4 client id stitch it to web visitors, callers and patients.
Names are never read; email and phone survive only as keyed hashes.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ._exports import Export, minutes_between
from .base import ReadContext, Staged, register

__all__ = ["LeadsConnector", "DEFAULT_MAPPING"]

DEFAULT_MAPPING = {f: f for f in (
    "lead_id", "created_at", "first_contact_at", "status", "lead_source", "service_line", "location",
    "email", "phone", "client_id", "utm_source", "utm_medium", "utm_campaign", "owner_team")}

_CHANNELS = {"web_form": "digital", "web": "digital", "chat": "digital", "email": "digital", "phone": "phone",
             "call": "phone", "referral": "referral", "event": "in_person", "walk_in": "in_person"}


@register("leads")
class LeadsConnector:
    """CRM lead export → lead_created / lead_contacted events; lead ↔ email / phone / client_id links."""

    def read(self, path: Path, ctx: ReadContext) -> Staged:
        x = Export(path, ctx, DEFAULT_MAPPING, required=("lead_id", "created_at"))
        x.require_id("lead_id")
        created = x.require_ts("created_at")
        contacted = x.require_ts("first_contact_at", optional=True)
        early = pc.less(x.table[contacted], x.table[created])
        x.reject(early, x.map["first_contact_at"], "first contact is before the lead was created; check the "
                                                   "timestamps (and the source timezone)")
        minutes = x.add("minutes", minutes_between(x.table[contacted], x.table[created]))
        src = x.column("lead_source")
        x.add("channel", pa.array([_CHANNELS.get((v or "").lower()) for v in
                                   (src.to_pylist() if src is not None else [None] * x.table.num_rows)], pa.string()))
        common = {"detail": x.real("lead_source"), "channel": "_cj_channel", "status": x.real("status"),
                  "service_line": x.real("service_line"), "location": x.real("location")}
        attrs = [x.real(f) for f in ("utm_source", "utm_medium", "utm_campaign", "owner_team")]
        x.stage(id_field="lead_id", id_type="lead", ts_col=created, fields=common,
                constants={"source_event": "lead_created"}, attrs=attrs,
                identifiers={"email": x.real("email"), "phone": x.real("phone"), "client_id": x.real("client_id")})
        x.stage(id_field="lead_id", id_type="lead", ts_col=contacted, fields={**common, "value": minutes},
                constants={"source_event": "lead_contacted"}, where=pc.is_valid(x.table[contacted]), attrs=attrs)
        return x.staged()
