"""The web analytics connector (``kind: ga4``): the GA4 BigQuery export schema, JSONL or Parquet.

One event per row: ``event_name`` → source_event, ``event_timestamp`` (µs, UTC) → ts,
``user_pseudo_id`` → the person (id type ``client_id``), the ``page_type`` event parameter (or
the page type derived from the ``page_location`` path) → detail, ``device.category`` → device,
the ``service_line`` / ``location_id`` parameters → service_line / location. ``attrs`` keeps the
traffic source, medium and campaign (first touch: ``traffic_source``; this session:
``collected_traffic_source``) and the session id.

Never stored (Safe Harbor: URLs, geographic units below the state): the ``page_location``
URL and its query string, the referrer, ``geo.city``, IP-derived data, search terms.
A ``lead_id`` parameter (sent with ``form_submit``) links the visitor to the CRM lead; a
``booking_id`` (or ``appointment_id``) parameter — the online booking's confirmation, as the
booking page sends it with ``booking_complete`` — links the visitor to the scheduled
appointment (the EHR's ``Appointment.identifier``, id type ``appointment``), hence the patient.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import IngestError
from .base import STAGED_EVENTS, STAGED_LINKS, ReadContext, Staged, register, rejects_table
from .tabular import read_jsonl_records

__all__ = ["Ga4Connector", "page_type_from_url", "PAGE_TYPES"]

#: First path segment → page type, for exports without a ``page_type`` parameter.
PAGE_TYPES = {"": "home", "index.html": "home", "home": "home", "services": "service", "service": "service",
              "specialties": "service", "providers": "provider", "provider": "provider", "doctors": "provider",
              "find-a-doctor": "provider", "reviews": "reviews", "locations": "locations", "location": "locations",
              "pricing": "pricing", "cost": "pricing", "billing": "pricing", "book": "booking",
              "booking": "booking", "schedule": "booking", "appointments": "booking", "portal": "portal",
              "mychart": "portal", "blog": "blog", "news": "blog", "search": "search", "contact": "contact"}
_EPOCH = datetime(1970, 1, 1)
_MAX_US = 4102444800 * 10**6  # 2100-01-01


def page_type_from_url(url: str | None) -> str | None:
    """Page type from a URL's first path segment (known names only; anything else is ``other``)."""
    if not url:
        return None
    try:
        path = urlsplit(str(url)).path
    except ValueError:
        return None
    seg = path.strip("/").split("/")[0].lower()
    return PAGE_TYPES.get(seg, "other")


def _params(raw) -> dict:
    out = {}
    if isinstance(raw, str):
        raw = orjson.loads(raw)
    for p in raw or ():
        if not isinstance(p, dict) or not p.get("key"):
            continue
        v = p.get("value") or {}
        for k in ("string_value", "int_value", "double_value", "float_value"):
            if v.get(k) is not None:
                out[p["key"]] = v[k]
                break
    return out


def _struct(v) -> dict:
    if isinstance(v, str):
        try:
            v = orjson.loads(v)
        except orjson.JSONDecodeError:
            return {}
    return v if isinstance(v, dict) else {}


def _text(v) -> str | None:
    return None if v is None or v == "" else str(v)


@register("ga4")
class Ga4Connector:
    """GA4 BigQuery export (events_*), one event per JSONL line or Parquet row."""

    def read(self, path: Path, ctx: ReadContext) -> Staged:
        fmt = ctx.spec.format
        if fmt == "auto":
            fmt = "parquet" if path.name.lower().endswith((".parquet", ".pq")) else "jsonl"
        records, rejects = (_parquet(path) if fmt == "parquet" else read_jsonl_records(path))
        ev = {f: [] for f in STAGED_EVENTS.names}
        links: list[tuple[str, str, str]] = []  # (client id, id type, id)
        for row, rec in records:
            try:
                self._event(rec, row, ev, links, ctx.spec.name)
            except _Bad as bad:
                rejects.append((row, bad.args[0], bad.args[1]))
        n = len(ev["row_num"])
        ev["id_type"] = ["client_id"] * n
        events = pa.table({f.name: pa.array(ev[f.name] if ev[f.name] else [None] * n, f.type)
                           for f in STAGED_EVENTS}, schema=STAGED_EVENTS)
        link_t = pa.table({"id_type_a": ["client_id"] * len(links), "id_value_a": [a for a, _, _ in links],
                           "id_type_b": [t for _, t, _ in links], "id_value_b": [b for _, _, b in links]},
                          schema=STAGED_LINKS)
        return Staged(rows_read=len(records) + sum(1 for r in rejects if r[1] == "(line)"),
                      events=events, links=link_t, rejects=rejects_table(rejects),
                      detail={"visitor_lead_links": sum(1 for _, t, _ in links if t == "lead"),
                              "visitor_appointment_links": sum(1 for _, t, _ in links if t == "appointment")})

    @staticmethod
    def _event(rec: dict, row: int, ev: dict, links: list, source: str) -> None:
        cid = _text(rec.get("user_pseudo_id"))
        if not cid:
            raise _Bad("user_pseudo_id", "user_pseudo_id is empty; every GA4 event needs the client id")
        name = _text(rec.get("event_name"))
        if not name:
            raise _Bad("event_name", "event_name is empty")
        us = rec.get("event_timestamp")
        try:
            us = int(us)
        except (TypeError, ValueError):
            raise _Bad("event_timestamp", "event_timestamp is missing or not an integer (µs since epoch)") from None
        if not 0 < us < _MAX_US:
            raise _Bad("event_timestamp", "event_timestamp is out of range (expected µs since 1970)")
        try:
            params = _params(rec.get("event_params"))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            raise _Bad("event_params", "event_params is not a list of {key, value} records") from None
        ft = _struct(rec.get("traffic_source"))
        st = _struct(rec.get("collected_traffic_source"))
        attrs = {k: v for k, v in {
            "source": ft.get("source"), "medium": ft.get("medium"), "campaign": ft.get("name"),
            "session_source": st.get("manual_source"), "session_medium": st.get("manual_medium"),
            "session_campaign": st.get("manual_campaign_name"), "session_id": params.get("ga_session_id"),
            "form_id": params.get("form_id")}.items() if v not in (None, "")}
        value = params.get("value")
        ev["row_num"].append(row)
        ev["id_value"].append(cid)
        ev["ts"].append(_EPOCH + timedelta(microseconds=us))
        ev["source"].append(source)
        ev["source_event"].append(name)
        ev["detail"].append(_text(params.get("page_type")) or page_type_from_url(params.get("page_location")))
        ev["status"].append(None)
        ev["channel"].append("digital")
        ev["service_line"].append(_text(params.get("service_line")))
        ev["location"].append(_text(params.get("location_id")))
        ev["device"].append(_text(_struct(rec.get("device")).get("category")))
        ev["value"].append(float(value) if isinstance(value, (int, float)) else None)
        ev["episode_ref"].append(None)
        ev["touchpoint"].append(None)
        ev["attrs"].append(orjson.dumps(attrs).decode() if attrs else None)
        lead = _text(params.get("lead_id"))
        if lead:
            links.append((cid, "lead", lead))
        booking = _text(params.get("booking_id")) or _text(params.get("appointment_id"))
        if booking:
            links.append((cid, "appointment", booking))


class _Bad(Exception):
    pass


def _parquet(path: Path):
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(f"{path}: cannot read as Parquet ({exc}); export the GA4 table as Parquet or JSONL") from None
    missing = {"event_name", "event_timestamp", "user_pseudo_id"} - set(table.column_names)
    if missing:
        raise IngestError(f"{path}: not a GA4 export: missing column(s) {', '.join(sorted(missing))}")
    wanted = [c for c in ("event_name", "event_timestamp", "user_pseudo_id", "event_params", "device",
                          "traffic_source", "collected_traffic_source") if c in table.column_names]
    return list(enumerate(table.select(wanted).to_pylist(), start=1)), []
