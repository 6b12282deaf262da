"""Raw records in the formats of docs/raw-formats.md, appended to an in-memory :class:`Sink`.

The walk decides *what* happens and *when*; these builders decide how each system writes it
down (GA4 event JSON, CRM/call/portal/survey/review CSV rows, FHIR R4 resources). Records whose
time falls after the export cut-off are not written (the systems have not seen them yet).
"""

from __future__ import annotations

from datetime import datetime, timezone

from orjson import dumps as _dumps

__all__ = ["Sink", "iso", "fhir_ts", "utc_micros", "set_timezone", "SITE", "EXT", "phone_formats"]

SITE = "https://www.harborviewhealth.org"
EXT = "https://carejourney.dev/fhir/StructureDefinition/"
_DAYS: dict[int, str] = {}
_OFFSETS: dict[int, tuple[int, str]] = {}
_TZ: list = [timezone.utc]


def set_timezone(name: str) -> None:
    """Times in the walk are local wall-clock seconds in this zone (clinic hours, weekends)."""
    from zoneinfo import ZoneInfo
    _TZ[0] = ZoneInfo(name)
    _OFFSETS.clear()
    _FHIR_DAYS.clear()


def _day(d: int) -> str:
    s = _DAYS.get(d)
    if s is None:
        s = _DAYS[d] = datetime.fromtimestamp(d * 86400, timezone.utc).strftime("%Y-%m-%d")
    return s


def _offset(d: int) -> tuple[int, str]:
    """(UTC offset in seconds, "+hh:mm") of local day ``d`` (taken at local noon)."""
    o = _OFFSETS.get(d)
    if o is None:
        noon = datetime.fromtimestamp(d * 86400 + 43200, timezone.utc).replace(tzinfo=None)
        secs = int(_TZ[0].utcoffset(noon).total_seconds()) if _TZ[0] is not timezone.utc else 0
        sign = "-" if secs < 0 else "+"
        o = _OFFSETS[d] = (secs, f"{sign}{abs(secs) // 3600:02d}:{abs(secs) % 3600 // 60:02d}")
    return o


_HMS = [f"T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" for s in range(86400)]


def iso(ts: float) -> str:
    """Naive local ISO 8601, as the CSV exports write it (docs/raw-formats.md)."""
    d, s = divmod(int(ts), 86400)
    day = _DAYS.get(d) or _day(d)
    return day + _HMS[s]


_FHIR_DAYS: dict[int, tuple[str, str]] = {}


def fhir_ts(ts: float) -> str:
    """FHIR dateTime with the local UTC offset."""
    d, s = divmod(int(ts), 86400)
    day = _FHIR_DAYS.get(d)
    if day is None:
        day = _FHIR_DAYS[d] = (_day(d), _offset(d)[1])
    return day[0] + _HMS[s] + day[1]


def utc_micros(ts: float) -> int:
    """GA4 ``event_timestamp``: microseconds since the epoch, UTC."""
    return int((ts - _offset(int(ts) // 86400)[0]) * 1_000_000)


def phone_formats(area: str, local: int) -> tuple[str, str, str]:
    """(FHIR/portal style, CRM style, call-center E.164) renderings of one number."""
    loc = f"{local:07d}"
    return (f"({area}) {loc[:3]}-{loc[3:]}", f"{area}-{loc[:3]}-{loc[3:]}", f"+1{area}{loc}")


class Sink:
    """Per-file record buffers for one chunk of people."""

    FHIR_TYPES = ("Patient", "Coverage", "ServiceRequest", "Task", "Appointment", "Communication",
                  "QuestionnaireResponse", "Encounter", "DiagnosticReport", "Claim", "ExplanationOfBenefit")

    def __init__(self, t_end: float):
        self.t_end = t_end
        # NDJSON is serialised as it is made, into one buffer per file: orjson's bytes objects
        # keep a 4 KB allocation each, and millions of small objects would also slow the GC
        self.ga4 = bytearray()
        self.n_ga4 = 0
        self.leads: list[tuple] = []
        self.calls: list[tuple] = []
        self.portal: list[tuple] = []
        self.survey: list[tuple] = []
        self.reviews: list[tuple] = []
        self.fhir: dict[str, bytearray] = {t: bytearray() for t in self.FHIR_TYPES}
        self.n_fhir: dict[str, int] = {t: 0 for t in self.FHIR_TYPES}
        self.people: list[dict] = []

    # -- web ---------------------------------------------------------------------------------
    def ga4_event(self, ts: float, name: str, page_type: str, path: str, sess: dict, params: dict | None = None):
        if ts >= self.t_end:
            return
        us = utc_micros(ts)
        ep = [{"key": "page_location", "value": {"string_value": SITE + path}},
              {"key": "page_type", "value": {"string_value": page_type}},
              {"key": "ga_session_id", "value": {"int_value": sess["id"]}}]
        if params:
            for k, v in params.items():
                ep.append({"key": k, "value": {"int_value": v} if isinstance(v, int) else {"string_value": v}})
        self.n_ga4 += 1
        self.ga4 += _dumps({
            "event_date": _day(int(ts) // 86400).replace("-", ""), "event_timestamp": us, "event_name": name,
            "event_params": ep, "user_pseudo_id": sess["client_id"], "user_id": None,
            "device": sess["device"], "geo": sess["geo"], "traffic_source": sess["first_touch"],
            "collected_traffic_source": sess["source"]}) + b"\n"

    # -- CRM / calls / portal / survey / reviews ----------------------------------------------
    def lead(self, row: tuple, created: float):
        if created < self.t_end:
            self.leads.append(row)

    def call(self, ts: float, row: tuple):
        if ts < self.t_end:
            self.calls.append(row)

    def portal_msg(self, ts: float, row: tuple):
        if ts < self.t_end:
            self.portal.append(row)

    def survey_row(self, ts: float, row: tuple):
        if ts < self.t_end:
            self.survey.append(row)

    def review(self, ts: float, row: tuple):
        if ts < self.t_end:
            self.reviews.append(row)

    # -- FHIR ---------------------------------------------------------------------------------
    def res(self, ts: float, r: dict):
        """Append a FHIR resource, serialised now: bytes keep the garbage collector's work small."""
        if ts < self.t_end:
            rt = r["resourceType"]
            self.fhir[rt] += _dumps(r) + b"\n"
            self.n_fhir[rt] += 1


def patient_resource(p: dict, phone_fhir: str, email: str, birth: str) -> dict:
    lang = p["bcp47"]
    return {
        "resourceType": "Patient", "id": p["patient_id"],
        "meta": {"lastUpdated": fhir_ts(p["t0"])},
        "identifier": [
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
             "system": "urn:carejourney:mrn", "value": p["mrn"]},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]},
             "system": "http://hl7.org/fhir/sid/us-ssn", "value": p["ssn"]}],
        "name": [{"use": "official", "family": p["last"], "given": [p["first"]]}],
        "telecom": [{"system": "phone", "value": phone_fhir, "use": "mobile" if p["device"] == "mobile" else "home"},
                    {"system": "email", "value": email}],
        "gender": p["sex"], "birthDate": birth,
        "address": [{"use": "home", "line": [p["address"]], "city": p["city"], "state": p["state"],
                     "postalCode": p["zip"], "country": "US"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": lang}]},
                           "preferred": True}],
        "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired",
             "valueBoolean": p["interpreter"]},
            {"url": EXT + "access-needs", "extension": [
                {"url": "transport", "valueBoolean": p["transport"]},
                {"url": "disability-access", "valueBoolean": p["disability"]},
                {"url": "low-digital-literacy", "valueBoolean": p["low_lit"]}]}],
    }


_PAYORS = {"commercial": "Blue Harbor Health Plan", "medicare": "Medicare Part B",
           "medicaid": "MassHealth", "self-pay": "Self pay"}


def coverage_resource(p: dict, cid: str) -> dict:
    payer = p["payer"]
    return {"resourceType": "Coverage", "id": cid, "status": "active",
            "type": {"coding": [{"system": EXT + "payer-type", "code": payer}]},
            "beneficiary": {"reference": f"Patient/{p['patient_id']}"},
            "subscriberId": f"{'MB' if payer != 'self-pay' else 'SP'}{p['mrn'][::-1]}",
            "payor": [{"display": _PAYORS[payer]}], "period": {"start": iso(p["t0"])[:10]}}
