"""The scheduling connector (``kind: scheduling``): a CSV export of appointments.

Default columns (docs/raw-formats.md; override any with ``mapping: {field: column}``)::

    appointment_id, mrn, created_at, start_at, status, service_line, location,
    booking_channel, referral_id, cancelled_at

Events follow the FHIR Appointment convention so one journey template serves both sources:
``source_event = Appointment``, one event ``status = booked`` at ``created_at`` (``value`` =
lead time in days, start − created) and, unless the appointment is still just booked, one event
with the final status at ``start_at`` (cancelled: at ``cancelled_at``, else ``start_at``).
Statuses are FHIR Appointment codes; common spellings are accepted (``completed`` →
fulfilled, ``no-show`` / ``no_show`` → noshow, ``canceled`` → cancelled, ``scheduled`` →
booked, ``checked_in`` → checked-in). detail = booking channel (web, phone, in_person,
referral); episode = referral id. The person is the MRN (id type ``mrn``), stored only hashed.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ._exports import Export, minutes_between
from .base import ReadContext, Staged, register
from .fhir_resources import STATUS_VALUES

__all__ = ["SchedulingConnector", "DEFAULT_MAPPING", "normalise_status"]

DEFAULT_MAPPING = {f: f for f in (
    "appointment_id", "mrn", "created_at", "start_at", "status", "service_line", "location",
    "booking_channel", "referral_id", "cancelled_at")}
_SYNONYMS = {"completed": "fulfilled", "complete": "fulfilled", "attended": "fulfilled", "seen": "fulfilled",
             "no-show": "noshow", "no_show": "noshow", "no show": "noshow", "dna": "noshow",
             "canceled": "cancelled", "scheduled": "booked", "confirmed": "booked",
             "checked_in": "checked-in", "checkedin": "checked-in"}
_CHANNELS = {"web": "digital", "online": "digital", "portal": "digital", "phone": "phone",
             "in_person": "in_person", "referral": "referral"}
_OPEN = ("booked", "proposed", "pending", "waitlist")


def normalise_status(value: str | None) -> str | None:
    """A scheduling status as a FHIR Appointment code, or None if it is not one."""
    if value is None:
        return None
    v = value.strip().lower()
    v = _SYNONYMS.get(v, v)
    return v if v in STATUS_VALUES["Appointment"] else None


@register("scheduling")
class SchedulingConnector:
    """Appointment export → Appointment booked / final-status events keyed by MRN."""

    def read(self, path: Path, ctx: ReadContext) -> Staged:
        x = Export(path, ctx, DEFAULT_MAPPING, required=("mrn", "created_at", "start_at", "status"))
        x.require_id("mrn")
        raw = x.column("status").to_pylist()
        x.reject(pa.array([normalise_status(v) is None for v in raw]), x.map["status"],
                 "unknown appointment status; expected one of " + ", ".join(sorted(STATUS_VALUES["Appointment"]))
                 + " (or completed, no-show, canceled, scheduled)")
        created = x.require_ts("created_at")
        start = x.require_ts("start_at", optional=True)
        cancelled = x.require_ts("cancelled_at", optional=True)
        status = pa.array([normalise_status(v) for v in x.column("status").to_pylist()], pa.string())
        is_open = pc.is_in(status, pa.array(_OPEN))
        final_ts = pc.if_else(pc.equal(status, "cancelled"), pc.coalesce(x.table[cancelled], x.table[start]),
                              x.table[start])
        x.reject(pc.and_(pc.invert(is_open), pc.is_null(final_ts)), x.map["start_at"],
                 f"{x.map['start_at']} is empty; a {x.map['status']} other than booked needs the appointment time")
        status = pa.array([normalise_status(v) for v in x.column("status").to_pylist()], pa.string())
        is_open = pc.is_in(status, pa.array(_OPEN))
        final_ts = pc.if_else(pc.equal(status, "cancelled"), pc.coalesce(x.table[cancelled], x.table[start]),
                              x.table[start])
        lead_days = pc.round(pc.divide(minutes_between(x.table[start], x.table[created]), 1440.0), 3)
        channel_raw = x.column("booking_channel")
        channel = pa.array([_CHANNELS.get((c or "").lower()) for c in
                            (channel_raw.to_pylist() if channel_raw is not None else [None] * len(status))], pa.string())
        x.add("status", status)
        x.add("final_ts", final_ts)
        x.add("lead_days", lead_days)
        x.add("channel", channel)
        common = {"detail": x.real("booking_channel"), "channel": "_cj_channel",
                  "service_line": x.real("service_line"), "location": x.real("location"),
                  "episode_id": x.real("referral_id")}
        booked_status = pc.if_else(is_open, status, pa.array(["booked"] * len(status)))
        x.add("booked_status", booked_status)
        x.stage(id_field="mrn", id_type="mrn", ts_col=created,
                fields={**common, "status": "_cj_booked_status", "value": "_cj_lead_days"},
                constants={"source_event": "Appointment"})
        x.stage(id_field="mrn", id_type="mrn", ts_col="_cj_final_ts", fields={**common, "status": "_cj_status"},
                constants={"source_event": "Appointment"}, where=pc.invert(is_open))
        return x.staged()
