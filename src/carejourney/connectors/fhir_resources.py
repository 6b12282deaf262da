"""Per-resource extractors for the FHIR connector: one FHIR R4 resource → staged events.

Each extractor reads a plain ``dict`` (parsed by orjson; no model objects on the fast path)
and returns an :class:`Extracted`: the Patient the resource is about, zero or more events and,
for billing/coverage resources, the payer type. Problems raise :class:`Reject` with the field
and a reason that never quotes a raw identifier.

What each resource means for the journey is tabled in docs/raw-formats.md; the status value
sets are the FHIR R4 ones (checked against ``fhir.resources`` R4B metadata).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

__all__ = ["Reject", "Extracted", "EXTRACTORS", "STATUS_VALUES", "parse_datetime", "parse_date",
           "payer_type", "encounter_service_line", "ENCOUNTER_CARE_TYPES", "Refs"]

_REQUEST = ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
_FINANCIAL = ("active", "cancelled", "draft", "entered-in-error")
#: FHIR R4 status value sets of the resources the connector maps (a code outside → reject).
STATUS_VALUES: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    "ServiceRequest": _REQUEST,
    "CommunicationRequest": _REQUEST,
    "CarePlan": _REQUEST,
    "Task": ("draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
             "on-hold", "failed", "completed", "entered-in-error"),
    "Coverage": _FINANCIAL,
    "Claim": _FINANCIAL,
    "ExplanationOfBenefit": _FINANCIAL,
    "Appointment": ("proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                    "entered-in-error", "checked-in", "waitlist"),
    "Communication": ("preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                      "entered-in-error", "unknown"),
    "QuestionnaireResponse": ("in-progress", "completed", "amended", "entered-in-error", "stopped"),
    "Encounter": ("planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
                  "entered-in-error", "unknown"),
    "DiagnosticReport": ("registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
                         "cancelled", "entered-in-error", "unknown"),
    "EpisodeOfCare": ("planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"),
}.items()}

#: Encounter.class (v3-ActCode) → care type, used as service_line when the Encounter names none.
ENCOUNTER_CARE_TYPES = {"EMER": "urgent_care", "AMB": "primary_care", "VR": "primary_care",
                        "IMP": "inpatient", "ACUTE": "inpatient", "NONAC": "inpatient", "SS": "inpatient",
                        "OBSENC": "urgent_care", "HH": "home_health", "PRENC": "primary_care"}
_CX = "https://carejourney.dev/fhir/StructureDefinition/"
_CHANNELS = {"web": "digital", "online": "digital", "portal": "digital", "app": "digital", "phone": "phone",
             "in_person": "in_person", "walk_in": "in_person", "referral": "referral", "mail": "mail"}
_MEDIUM = {"sms": "digital", "email": "digital", "portal": "digital", "app": "digital", "phone": "phone",
           "voice": "phone", "vr": "phone", "mail": "mail", "written": "mail", "wrtn": "mail"}


class Reject(Exception):
    """A resource that cannot be loaded: ``field`` and ``reason`` go to the receipt."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass
class Extracted:
    patient: str | None = None                      # Patient id the resource is about
    events: list[dict] = field(default_factory=list)  # staged event fields (no person id, no row)
    payer: str | None = None
    payer_ts: datetime | None = None


# -- small readers -----------------------------------------------------------------------------
def parse_datetime(value, tz: ZoneInfo) -> datetime | None:
    """FHIR dateTime/instant/date → naive UTC. Partial dates (YYYY, YYYY-MM) take the first day."""
    if not value or not isinstance(value, str):
        return None
    v = value.strip()
    if len(v) == 4 and v.isdigit():
        v += "-01-01"
    elif len(v) == 7 and v[4] == "-":
        v += "-01"
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def parse_date(value) -> date | None:
    if not value or not isinstance(value, str):
        return None
    v = value.strip()[:10]
    if len(v) == 4 and v.isdigit():
        v += "-01-01"
    elif len(v) == 7:
        v += "-01"
    try:
        return date.fromisoformat(v)
    except ValueError:
        return None


def _code(concept) -> str | None:
    """First coding code of a CodeableConcept (or list of them), else its text."""
    if isinstance(concept, list):
        concept = concept[0] if concept else None
    if not isinstance(concept, dict):
        return None
    for c in concept.get("coding") or ():
        if c.get("code"):
            return str(c["code"])
    return concept.get("text")


def _ext(resource: dict, url: str):
    for e in resource.get("extension") or ():
        if e.get("url") == url:
            for k, v in e.items():
                if k.startswith("value"):
                    return v
    return None


def _period_start(p) -> str | None:
    return p.get("start") if isinstance(p, dict) else None


def _ref_id(ref) -> str | None:
    """Id part of a literal reference (``Location/x`` → ``x``), else its display."""
    if not isinstance(ref, dict):
        return None
    r = ref.get("reference")
    if isinstance(r, str) and r:
        parts = [p for p in r.split("/_history")[0].split("/") if p]
        return parts[-1].removeprefix("urn:uuid:") if parts else None
    return ref.get("display")


def payer_type(text) -> str | None:
    """Normalise a payer name/type to commercial / medicare / medicaid / self-pay / other."""
    if not text:
        return None
    t = str(text).strip().lower().replace("_", " ").replace("-", " ")
    if "medicare" in t:
        return "medicare"
    if "medicaid" in t or "chip" in t:
        return "medicaid"
    if t in ("self pay", "selfpay", "self", "no insurance", "uninsured", "none", "cash"):
        return "self-pay"
    if t in ("private", "commercial") or "commercial" in t or "private" in t:
        return "commercial"
    return "other"


def encounter_service_line(r: dict, refs: "Refs | None" = None) -> str | None:
    """serviceType, else the booked Appointment's serviceType (same Bundle), else the care type
    of the Encounter class."""
    st = _code(r.get("serviceType"))
    if st:
        return st
    for ref in r.get("appointment") or () if refs is not None else ():
        appt = refs.resource(ref)
        if appt and _code(appt.get("serviceType")):
            return _code(appt.get("serviceType"))
    cls = r.get("class")
    code = cls.get("code") if isinstance(cls, dict) else None
    return ENCOUNTER_CARE_TYPES.get(str(code).upper()) if code else None


# -- references ----------------------------------------------------------------------------------
class Refs:
    """Resolves references: ``urn:uuid:`` through the Bundle's ``fullUrl`` index, literal
    ``Type/id`` (relative or absolute, with or without ``_history``) directly."""

    def __init__(self, full_urls: dict[str, tuple[str, str]] | None = None,
                 resources: dict[tuple[str, str], dict] | None = None):
        self.full_urls = full_urls or {}
        self.resources = resources or {}  # (type, id) -> resource, for Bundles

    def resource(self, ref) -> dict | None:
        """The referenced resource when it is in the same Bundle."""
        kind, ident = self.target(ref)
        return self.resources.get((kind, ident)) if kind else None

    def target(self, ref) -> tuple[str | None, str | None]:
        r = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(r, str) or not r:
            return None, None
        if r.startswith("urn:"):
            return self.full_urls.get(r, (None, None))
        hit = self.full_urls.get(r)
        if hit:
            return hit
        parts = [p for p in r.split("/_history")[0].split("/") if p]
        if len(parts) >= 2:
            return parts[-2], parts[-1]
        return None, None

    def __call__(self, ref, field: str) -> str:
        """The Patient id ``ref`` points at; raises :class:`Reject` when it points nowhere."""
        if not isinstance(ref, dict) or not ref.get("reference"):
            raise Reject(field, "no Patient reference; every event must say whose it is")
        kind, ident = self.target(ref)
        if kind is None:
            raise Reject(field, "reference cannot be resolved (no Bundle entry has that fullUrl)")
        if kind != "Patient":
            raise Reject(field, f"reference points at a {kind}, not a Patient")
        return ident


def _event(resource: dict, ts: datetime | None, ts_field: str, **fields) -> dict:
    if ts is None:
        raise Reject(ts_field, f"{resource['resourceType']} has no {ts_field}; an event needs a time")
    fields.setdefault("source_event", resource["resourceType"])
    fields.setdefault("status", resource.get("status"))
    return {"ts": ts, **fields}


def _encounter(r, resolve, tz):
    cls = r.get("class")
    code = cls.get("code") if isinstance(cls, dict) else None
    start = parse_datetime(_period_start(r.get("period")), tz)
    end = parse_datetime((r.get("period") or {}).get("end"), tz)
    attrs = {"minutes": round((end - start).total_seconds() / 60, 1)} if start and end else None
    loc = (r.get("location") or [{}])[0].get("location") if r.get("location") else None
    ev = _event(r, start, "period.start", detail=code, service_line=encounter_service_line(r, resolve),
                channel="digital" if code == "VR" else "in_person", location=_ref_id(loc),
                episode_ref=_ref_id((r.get("episodeOfCare") or [None])[0]) or _ref_id((r.get("basedOn") or [None])[0]),
                attrs=attrs)
    return Extracted(resolve(r.get("subject"), "subject"), [ev])


def _appointment(r, resolve, tz):
    patient, location = None, None
    for p in r.get("participant") or ():
        actor = p.get("actor")
        kind, ident = resolve.target(actor)
        if kind == "Patient" and patient is None:
            patient = ident
        elif kind == "Location" and location is None:
            location = ident
        elif kind is None and isinstance(actor, dict) and str(actor.get("reference", "")).startswith("urn:"):
            raise Reject("participant.actor", "reference cannot be resolved (no Bundle entry has that fullUrl)")
    if patient is None:
        raise Reject("participant", "Appointment has no Patient participant")
    created, start = parse_datetime(r.get("created"), tz), parse_datetime(r.get("start"), tz)
    booking = _ext(r, _CX + "booking-channel")
    common = dict(detail=booking, channel=_CHANNELS.get(str(booking).lower()) if booking else None,
                  service_line=_code(r.get("serviceType")) or _ext(r, _CX + "service-line"), location=location,
                  episode_ref=_ref_id((r.get("basedOn") or [None])[0]))
    status = r.get("status")
    lead = round((start - created).total_seconds() / 86400, 3) if start and created else None
    events = []
    if status in ("proposed", "pending", "waitlist"):
        return Extracted(patient, [_event(r, created or start, "created", **common)])
    if created is not None:
        events.append(_event(r, created, "created", status="booked", value=lead, **common))
    if status != "booked":
        if status == "cancelled":
            ts = (parse_datetime(_ext(r, _CX + "cancelled-at"), tz)
                  or parse_datetime((r.get("meta") or {}).get("lastUpdated"), tz) or start)
            reason = _code(r.get("cancelationReason"))
            events.append(_event(r, ts, "start", attrs={"cancel_reason": reason} if reason else None, **common))
        else:
            events.append(_event(r, start, "start", **common))
    elif created is None:
        events.append(_event(r, start, "created", value=lead, **common))
    return Extracted(patient, events)


def _service_request(r, resolve, tz):
    cats = [c for cc in r.get("category") or () for c in (cc.get("coding") or ())]
    detail = "referral" if any(c.get("code") == "3457005" for c in cats) else _code(r.get("category"))
    ev = _event(r, parse_datetime(r.get("authoredOn"), tz), "authoredOn", detail=detail, channel="referral",
                service_line=_ext(r, _CX + "service-line") or _code(r.get("orderDetail")),
                location=_code(r.get("locationCode")), episode_ref=r.get("id"),
                attrs={"priority": r["priority"]} if r.get("priority") else None)
    return Extracted(resolve(r.get("subject"), "subject"), [ev])


def _task(r, resolve, tz):
    ts = parse_datetime(_period_start(r.get("executionPeriod")), tz) or parse_datetime(r.get("authoredOn"), tz)
    focus = (r.get("focus") or {}).get("reference") or ""
    ev = _event(r, ts, "executionPeriod.start or authoredOn", detail=_code(r.get("businessStatus")),
                episode_ref=_ref_id(r.get("focus")) if "ServiceRequest" in focus else None)
    return Extracted(resolve(r.get("for"), "for"), [ev])


def _communication(r, resolve, tz):
    medium = _code(r.get("medium"))
    ev = _event(r, parse_datetime(r.get("sent"), tz) or parse_datetime(r.get("received"), tz), "sent",
                detail=_code(r.get("category")), channel=_MEDIUM.get(str(medium).lower()) if medium else None,
                attrs={"medium": medium} if medium else None)
    return Extracted(resolve(r.get("subject"), "subject"), [ev])


def _communication_request(r, resolve, tz):
    ts = parse_datetime(r.get("authoredOn"), tz) or parse_datetime(r.get("occurrenceDateTime"), tz)
    ev = _event(r, ts, "authoredOn", detail=_code(r.get("category")))
    return Extracted(resolve(r.get("subject"), "subject"), [ev])


def _questionnaire_response(r, resolve, tz):
    q = str(r.get("questionnaire") or "").split("|")[0].rstrip("/")
    kind = q.rsplit("/", 1)[-1] if q else None
    ev = _event(r, parse_datetime(r.get("authored"), tz), "authored", detail=kind or None, channel="digital")
    return Extracted(resolve(r.get("subject") or r.get("source"), "subject"), [ev])


def _diagnostic_report(r, resolve, tz):
    issued = parse_datetime(r.get("issued"), tz)
    eff = parse_datetime(r.get("effectiveDateTime") or _period_start(r.get("effectivePeriod")), tz)
    attrs = {"turnaround_hours": round((issued - eff).total_seconds() / 3600, 2)} if issued and eff else None
    ev = _event(r, issued or eff, "issued (or effective[x])", detail=_code(r.get("category")), attrs=attrs)
    return Extracted(resolve(r.get("subject"), "subject"), [ev])


def _insurance_payer(r) -> str | None:
    contained = {c.get("id"): c for c in r.get("contained") or ()}
    for ins in r.get("insurance") or ():
        cov = ins.get("coverage") or {}
        ref = cov.get("reference") or ""
        if ref.startswith("#") and ref[1:] in contained:
            t = contained[ref[1:]].get("type")
            if t:
                return payer_type(_code(t))
        if cov.get("display"):
            return payer_type(cov["display"])
    return None


def _money(m) -> float | None:
    v = (m or {}).get("value") if isinstance(m, dict) else None
    return float(v) if isinstance(v, (int, float)) else None


def _claim(r, resolve, tz):
    created = parse_datetime(r.get("created"), tz)
    ev = _event(r, created, "created", detail=_code(r.get("type")), value=_money(r.get("total")),
                attrs={"use": r["use"]} if r.get("use") else None)
    return Extracted(resolve(r.get("patient"), "patient"), [ev], _insurance_payer(r), created)


_PATIENT_PAY = {"patientpay", "paidbypatient", "patient", "copay", "coinsurance", "deductible"}


def _eob(r, resolve, tz):
    created = parse_datetime(r.get("created"), tz)
    pay = [_money(t.get("amount")) for t in r.get("total") or ()
           if any(c.get("code", "").lower() in _PATIENT_PAY for c in (t.get("category") or {}).get("coding") or ())]
    value = sum(v for v in pay if v is not None) if pay else _money((r.get("payment") or {}).get("amount"))
    ev = _event(r, created, "created", detail=r.get("outcome"), value=value)
    return Extracted(resolve(r.get("patient"), "patient"), [ev], _insurance_payer(r), created)


def _care_plan(r, resolve, tz):
    ts = parse_datetime(_period_start(r.get("period")), tz) or parse_datetime(r.get("created"), tz)
    ev = _event(r, ts, "period.start (or created)", detail=_code(r.get("category")))
    return Extracted(resolve(r.get("subject"), "subject"), [ev])


def _episode_of_care(r, resolve, tz):
    ev = _event(r, parse_datetime(_period_start(r.get("period")), tz), "period.start",
                detail=_code(r.get("type")), episode_ref=r.get("id"))
    return Extracted(resolve(r.get("patient"), "patient"), [ev])


def _coverage(r, resolve, tz):
    payer = payer_type(_code(r.get("type")))
    ts = parse_datetime(_period_start(r.get("period")), tz)
    # Coverage is mainly the payer of record: without a period it still sets the payer, with no event
    events = [_event(r, ts, "period.start", detail=payer)] if ts is not None else []
    return Extracted(resolve(r.get("beneficiary"), "beneficiary"), events, payer, ts)


EXTRACTORS: dict[str, Callable] = {
    "Encounter": _encounter, "Appointment": _appointment, "ServiceRequest": _service_request, "Task": _task,
    "Communication": _communication, "CommunicationRequest": _communication_request,
    "QuestionnaireResponse": _questionnaire_response, "DiagnosticReport": _diagnostic_report,
    "Claim": _claim, "ExplanationOfBenefit": _eob, "CarePlan": _care_plan, "EpisodeOfCare": _episode_of_care,
    "Coverage": _coverage,
}
