"""The FHIR R4 connector (``kind: fhir``): Bundles and Bulk Data NDJSON.

Reads
- **Bundles** (``.json``; type transaction, collection, searchset, batch or any other): every
  ``entry.resource`` is one record; ``urn:uuid:`` references resolve through the entries'
  ``fullUrl``. A single non-Bundle resource in a ``.json`` file is one record.
- **Bulk Data NDJSON** (``.ndjson``, ``.ndjson.gz``; one resource per line, one type per file as
  ``$export`` writes them); references are literal (``Patient/<id>``).

Fast path: orjson and plain dict access (see :mod:`.fhir_resources`). With
``options: {validate: true}`` each known resource is also validated against the
``fhir.resources.R4B`` models (the ``fhir`` extra), and invalid ones are rejected.

Patient → a staged subject (birth date → age band and ZIP → ZIP3 happen in ingest; sex,
language, needs from the extensions in docs/raw-formats.md; payer from Coverage / Claim / EOB)
and links Patient id ↔ MRN / phone / email, and ↔ each ``Appointment.identifier`` (an online
booking's confirmation, also sent to web analytics as ``booking_id``). Names, addresses, SSNs
and other identifiers are never read. Every other mapped resource becomes events keyed by ``patient`` + the Patient id.
Resource types the connector does not map are loaded without events and counted per type.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import IngestError
from .base import STAGED_EVENTS, STAGED_LINKS, STAGED_SUBJECTS, ReadContext, Staged, register, rejects_table
from .fhir_resources import EXTRACTORS, STATUS_VALUES, Refs, Reject, parse_date

__all__ = ["FhirConnector", "MAPPED_TYPES"]

#: Resource types that become events or person attributes.
MAPPED_TYPES = frozenset(EXTRACTORS) | {"Patient"}
_MRN_SYSTEMS = ("urn:carejourney:mrn",)
_NEEDS_URL = "https://carejourney.dev/fhir/StructureDefinition/access-needs"
_INTERPRETER_URL = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
_NEEDS = {"transport": "needs_transport", "disability-access": "needs_disability_access",
          "low-digital-literacy": "low_digital_literacy"}
#: Bulk files at least this big are parsed by one process per core (byte ranges split at newlines)
_PARALLEL_MIN_BYTES = 32 << 20
_EVENT_FIELDS = ("source_event", "detail", "status", "channel", "service_line", "location", "value", "episode_ref")
_CODE = re.compile(r"[A-Za-z][A-Za-z-]{0,29}")
_ROW = ("row_num", "id_value", "ts", "attrs", *_EVENT_FIELDS)


@register("fhir")
class FhirConnector:
    """FHIR R4 Bundles (.json) and Bulk Data NDJSON (.ndjson, .ndjson.gz)."""

    def read(self, path: Path, ctx: ReadContext) -> Staged:
        spec = ctx.spec
        tz = ZoneInfo(spec.timezone or ctx.timezone)
        validate = bool(spec.options.get("validate"))
        name = path.name.lower()
        if name.endswith((".ndjson", ".jsonl")):
            workers = spec.options.get("workers", os.cpu_count() or 1)
            if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
                raise IngestError(f"sources/{spec.name}: options.workers must be a whole number of processes "
                                  f"(1 or more), not {workers!r}")
            if workers > 1 and path.stat().st_size >= _PARALLEL_MIN_BYTES:
                return _read_parallel(path, spec.name, tz, validate, workers)
        acc = _Accumulator(spec.name, tz, _validator() if validate else None)
        if name.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
            acc.read_ndjson(path)
        else:
            acc.read_json(path)
        return acc.staged()


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _validator():
    try:
        from fhir.resources.R4B import get_fhir_model_class
    except ImportError:
        raise IngestError("options.validate needs the fhir.resources package: pip install 'carejourney[fhir]'") from None

    def validate(resource: dict) -> str | None:
        """None when valid, else a short description without input values (they may be PHI)."""
        from pydantic import ValidationError
        try:
            model = get_fhir_model_class(resource["resourceType"])
        except KeyError:
            return None
        try:
            model.model_validate(resource)
        except ValidationError as exc:
            errs = exc.errors(include_input=False, include_url=False)
            first = errs[0] if errs else {"loc": (), "msg": "invalid"}
            loc = ".".join(str(x) for x in first.get("loc", ()))
            more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
            return f"{loc}: {first.get('msg')}{more}"
        return None
    return validate


class _Accumulator:
    """Collects staged rows column by column while records are read."""

    def __init__(self, source: str, tz: ZoneInfo, validate):
        self.source, self.tz, self.validate = source, tz, validate
        self.rows_read = 0
        self.ev: list[tuple] = []  # one tuple per event, in _ROW order (cheaper than a list per column)
        self.subjects: dict[str, dict] = {}      # patient id -> subject row
        self.payers: dict[str, tuple] = {}       # patient id -> (ts, payer, row_num)
        self.links: list[tuple[str, str, str]] = []
        self.rejects: list[tuple[int, str, str]] = []
        self.by_type: dict[str, dict[str, int]] = {}
        self.skipped_entered_in_error = 0

    # -- reading ---------------------------------------------------------------------------
    def read_ndjson(self, path: Path, start: int = 0, end: int | None = None) -> int:
        """Read lines (all, or those starting in bytes [start, end)); returns the lines seen."""
        stem = path.name.split(".")[0]
        refs = Refs()
        i = 0
        with _open(path) as fh:
            if start:
                fh.seek(start)
            pos = start
            for i, line in enumerate(fh, start=1):
                if end is not None and pos >= end:
                    return i - 1
                pos += len(line)
                if not line.strip():
                    continue
                self.rows_read += 1
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    self._count(stem, "rejected")
                    self.rejects.append((i, "(line)", "not valid JSON; the line is truncated or corrupt"))
                    continue
                self.record(obj, i, refs, fallback_type=stem)
        return i

    def read_json(self, path: Path) -> None:
        with _open(path) as fh:
            raw = fh.read()
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise IngestError(f"{path}: not valid JSON ({exc}). A FHIR Bundle file must hold one JSON object; "
                              "Bulk Data exports should be named *.ndjson") from None
        if not isinstance(doc, dict) or "resourceType" not in doc:
            raise IngestError(f"{path}: not a FHIR resource (no resourceType). Expected a Bundle or a resource")
        if doc["resourceType"] != "Bundle":
            self.rows_read += 1
            self.record(doc, 1, Refs())
            return
        entries = [e for e in doc.get("entry") or () if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
        index, by_id = {}, {}
        for e in entries:
            r = e["resource"]
            if r.get("resourceType"):
                key = (r["resourceType"], r.get("id") or str(e.get("fullUrl", "")).removeprefix("urn:uuid:"))
                by_id[key] = r
                if e.get("fullUrl"):
                    index[e["fullUrl"]] = key
        refs = Refs(index, by_id)
        for i, e in enumerate(entries, start=1):
            self.rows_read += 1
            r = e["resource"]
            if not r.get("id") and str(e.get("fullUrl", "")).startswith("urn:uuid:"):
                r = {**r, "id": e["fullUrl"].removeprefix("urn:uuid:")}  # transaction bundles may omit ids
            self.record(r, i, refs)

    # -- one record ------------------------------------------------------------------------------
    def _count(self, rtype: str, outcome: str) -> None:
        c = self.by_type.setdefault(rtype, {"read": 0, "loaded": 0, "rejected": 0})
        c["read"] += 1
        c[outcome] += 1

    def record(self, r, row: int, refs: Refs, fallback_type: str = "(unknown)") -> None:
        rtype = r.get("resourceType") if isinstance(r, dict) else None
        if not isinstance(rtype, str) or not rtype:
            self._count(fallback_type, "rejected")
            self.rejects.append((row, "resourceType", "not a FHIR resource (no resourceType)"))
            return
        try:
            if rtype in MAPPED_TYPES and self.validate is not None:
                problem = self.validate(r)
                if problem:
                    raise Reject("(validation)", f"{rtype} is not valid FHIR R4: {problem}")
            if rtype == "Patient":
                self._patient(r, row)
            elif rtype in EXTRACTORS:
                self._events(rtype, r, row, refs)
        except Reject as rej:
            self._count(rtype, "rejected")
            self.rejects.append((row, f"{rtype}.{rej.field}", rej.reason))
            return
        except (AttributeError, TypeError, KeyError, ValueError, IndexError):
            # an element with the wrong JSON shape (a string where R4 has an object or a list…)
            self._count(rtype, "rejected")
            self.rejects.append((row, rtype, f"{rtype} does not have the FHIR R4 structure; check it with "
                                             "options: {validate: true} for the exact element"))
            return
        self._count(rtype, "loaded")

    def _events(self, rtype: str, r: dict, row: int, refs: Refs) -> None:
        status = r.get("status")
        allowed = STATUS_VALUES.get(rtype)
        if allowed is not None:
            if not status:
                raise Reject("status", f"{rtype}.status is missing (required in FHIR R4)")
            if status not in allowed:
                # quote the code only when it looks like one (rejects never carry free values)
                shown = f" '{status}'" if isinstance(status, str) and _CODE.fullmatch(status) else ""
                raise Reject("status", f"unknown {rtype}.status code{shown}; "
                                       f"expected one of {', '.join(sorted(allowed))}")
        out = EXTRACTORS[rtype](r, refs, self.tz)
        if out.payer:
            prev = self.payers.get(out.patient)
            when = out.payer_ts or datetime.min
            if prev is None or when >= prev[0]:
                self.payers[out.patient] = (when, out.payer, row)
        if status == "entered-in-error":
            self.skipped_entered_in_error += 1
            return
        if rtype == "Appointment":
            # its identifiers (e.g. an online booking's confirmation, which the booking page also sends
            # to web analytics as ``booking_id``) lead to the patient
            self.links += [(out.patient, "appointment", str(i["value"])) for i in r.get("identifier") or ()
                           if isinstance(i, dict) and i.get("value")]
        append, patient = self.ev.append, out.patient
        for e in out.events:
            attrs = e.get("attrs")
            get = e.get
            append((row, patient, e["ts"], orjson.dumps(attrs).decode() if attrs else None,
                    get("source_event"), get("detail"), get("status"), get("channel"), get("service_line"),
                    get("location"), get("value"), get("episode_ref")))

    def _patient(self, r: dict, row: int) -> None:
        pid = r.get("id")
        if not pid:
            raise Reject("id", "Patient has no id; no event could reference it")
        lang = None
        comms = r.get("communication") or []
        pick = next((c for c in comms if c.get("preferred")), comms[0] if comms else None)
        if pick:
            lc = pick.get("language") or {}
            code = next((c.get("code") for c in lc.get("coding") or () if c.get("code")), None) or lc.get("text")
            lang = str(code).split("-")[0].lower() if code else None
        addresses = r.get("address") or []
        home = next((a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else None)
        subject = {"row_num": row, "id_value": pid, "birth_date": parse_date(r.get("birthDate")),
                   "sex": r.get("gender"), "language": lang, "zip": (home or {}).get("postalCode"),
                   "payer_type": None, "needs_interpreter": None, "needs_transport": None,
                   "needs_disability_access": None, "low_digital_literacy": None}
        for ext in r.get("extension") or ():
            if ext.get("url") == _INTERPRETER_URL and isinstance(ext.get("valueBoolean"), bool):
                subject["needs_interpreter"] = ext["valueBoolean"]
            elif ext.get("url") == _NEEDS_URL:
                for sub in ext.get("extension") or ():
                    col = _NEEDS.get(sub.get("url"))
                    if col and isinstance(sub.get("valueBoolean"), bool):
                        subject[col] = sub["valueBoolean"]
        links = []
        for ident in r.get("identifier") or ():
            codes = {c.get("code") for c in (ident.get("type") or {}).get("coding") or ()}
            if ident.get("value") and ("MR" in codes or ident.get("system") in _MRN_SYSTEMS):
                links.append((pid, "mrn", str(ident["value"])))
        for t in r.get("telecom") or ():
            if t.get("value") and t.get("system") in ("phone", "sms", "email"):
                links.append((pid, "email" if t["system"] == "email" else "phone", str(t["value"])))
        self.subjects[pid] = subject  # only once the whole resource was read
        self.links += links

    # -- output ---------------------------------------------------------------------------------
    def events_table(self) -> pa.Table:
        n = len(self.ev)
        columns = list(zip(*self.ev)) if n else [[] for _ in _ROW]
        ev = {**dict(zip(_ROW, columns)), "id_type": ["patient"] * n, "source": [self.source] * n}
        return pa.table({f.name: pa.array(ev.get(f.name) or [None] * n, f.type) for f in STAGED_EVENTS},
                        schema=STAGED_EVENTS)

    def staged(self, events: pa.Table | None = None) -> Staged:
        events = self.events_table() if events is None else events
        for pid, (_, payer, row) in self.payers.items():
            if pid in self.subjects:
                self.subjects[pid]["payer_type"] = payer
            else:
                self.subjects[pid] = {"row_num": row, "id_value": pid, "payer_type": payer}
        rows = [{"id_type": "patient", **s} for s in self.subjects.values()]
        subjects = pa.Table.from_pylist(rows, schema=STAGED_SUBJECTS) if rows else STAGED_SUBJECTS.empty_table()
        links = pa.table({"id_type_a": ["patient"] * len(self.links),
                          "id_value_a": [a for a, _, _ in self.links],
                          "id_type_b": [t for _, t, _ in self.links],
                          "id_value_b": [v for _, _, v in self.links]}, schema=STAGED_LINKS)
        detail = {"by_type": dict(sorted(self.by_type.items())),
                  "not_mapped": sorted(t for t in self.by_type if t not in MAPPED_TYPES)}
        if self.skipped_entered_in_error:
            detail["entered_in_error_skipped"] = self.skipped_entered_in_error
        return Staged(rows_read=self.rows_read, events=events, subjects=subjects, links=links,
                      rejects=rejects_table(self.rejects), detail=detail)


# -- parallel Bulk parsing ------------------------------------------------------------------------
def _chunk_job(args) -> tuple:
    path, start, end, source, tzname, validate = args
    acc = _Accumulator(source, ZoneInfo(tzname), _validator() if validate else None)
    lines = acc.read_ndjson(Path(path), start, end)
    events = acc.events_table()
    acc.ev, acc.validate = [], None  # only plain data goes back to the parent
    return lines, events, acc


def _split(path: Path, parts: int) -> list[tuple[int, int]]:
    size = path.stat().st_size
    cuts = [0]
    with open(path, "rb") as fh:
        for k in range(1, parts):
            fh.seek(max(size * k // parts, cuts[-1]))
            fh.readline()  # move to the start of the next line
            cuts.append(min(fh.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _read_parallel(path: Path, source: str, tz: ZoneInfo, validate: bool, workers: int) -> Staged:
    """Parse byte ranges of a big Bulk file in worker processes and stitch the results together
    (row numbers stay file line numbers)."""
    ranges = _split(path, workers)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context(method)) as pool:
        results = list(pool.map(_chunk_job, [(str(path), a, b, source, tz.key, validate) for a, b in ranges]))
    total = _Accumulator(source, tz, None)
    events, offset = [], 0
    for lines, ev, acc in results:
        events.append(ev.set_column(0, "row_num", pc.add(ev["row_num"], offset)))
        total.rows_read += acc.rows_read
        total.rejects += [(r + offset, f, m) for r, f, m in acc.rejects]
        total.links += acc.links
        for pid, subj in acc.subjects.items():
            total.subjects[pid] = {**subj, "row_num": subj["row_num"] + offset}
        for pid, (when, payer, row) in acc.payers.items():
            prev = total.payers.get(pid)
            if prev is None or when >= prev[0]:
                total.payers[pid] = (when, payer, row + offset)
        for t, c in acc.by_type.items():
            mine = total.by_type.setdefault(t, {"read": 0, "loaded": 0, "rejected": 0})
            for k in mine:
                mine[k] += c[k]
        total.skipped_entered_in_error += acc.skipped_entered_in_error
        offset += lines
    return total.staged(pa.concat_tables(events))
