"""Raw file writers: one open file per export, a chunk of people appended at a time.

Serialising happens in the worker that generated the chunk (:func:`serialise`); the parent
only appends bytes in chunk order, so output is byte-identical however many workers run,
and memory stays bounded by a few chunks.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .records import Sink

__all__ = ["FILES", "CSV_HEADERS", "serialise", "RawWriters", "PEOPLE_FILE"]

CSV_HEADERS = {
    "leads": ("lead_id", "created_at", "first_name", "last_name", "email", "phone", "service_line", "location",
              "lead_source", "utm_source", "utm_medium", "utm_campaign", "client_id", "first_contact_at", "status",
              "owner_team"),
    "calls": ("call_id", "started_at", "caller_phone", "direction", "queue", "wait_seconds", "talk_seconds",
              "abandoned", "outcome", "agent_team", "callback_of", "reason"),
    "portal": ("message_id", "sent_at", "mrn", "direction", "topic", "body", "replied_at"),
    "survey": ("response_id", "mrn", "visit_date", "completed_at", "location", "service_line", "nps", "csat",
               "comment"),
    "reviews": ("review_id", "posted_at", "site", "location", "rating", "author_name", "text"),
}
FILES = {"ga4": "web/ga4_events.jsonl", "leads": "crm/leads.csv", "calls": "calls/calls.csv",
         "portal": "portal/messages.csv", "survey": "surveys/responses.csv", "reviews": "reviews/reviews.csv",
         **{f"fhir:{t}": f"fhir/{t}.ndjson" for t in Sink.FHIR_TYPES}}
PEOPLE_FILE = "truth/people.parquet"

PEOPLE_SCHEMA = pa.schema([(c, pa.int64() if c == "age" else pa.string()) for c in (
    "person_id", "care_type", "service_line", "age_group", "age", "sex", "language", "payer_type", "location",
    "device", "zip", "first_name", "last_name", "email", "phone", "client_id", "lead_id", "booking_id", "lead_phone",
    "lead_email", "call_phone", "mrn", "patient_id", "ssn")])


def _csv(rows: list[tuple]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def serialise(sink: Sink) -> tuple[dict[str, bytes], dict[str, int], pa.Table]:
    """Bytes to append to each file, row counts, and the chunk's truth/people rows."""
    out = {"ga4": bytes(sink.ga4)}
    counts = {"ga4": sink.n_ga4}
    for key in CSV_HEADERS:
        rows = getattr(sink, key)
        out[key] = _csv(rows)
        counts[key] = len(rows)
    for t, buf in sink.fhir.items():
        out[f"fhir:{t}"] = bytes(buf)
        counts[f"fhir:{t}"] = sink.n_fhir[t]
    people = pa.Table.from_pylist(sink.people, schema=PEOPLE_SCHEMA)
    return out, counts, people


class RawWriters:
    """The open export files under ``out_dir`` (created, truncated, CSV headers written)."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.handles = {}
        self.rows = {k: 0 for k in FILES}
        for key, rel in FILES.items():
            path = self.out_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path, "wb")
            if key in CSV_HEADERS:
                fh.write(_csv([CSV_HEADERS[key]]))
            self.handles[key] = fh
        people = self.out_dir / PEOPLE_FILE
        people.parent.mkdir(parents=True, exist_ok=True)
        (people.parent / "README.txt").write_text(
            "TEST TRUTH - contains raw synthetic identifiers on purpose (names, phones, e-mails, MRNs, SSNs).\n"
            "Never ingest it and never share it: it exists only to score identity stitching and analyses.\n",
            encoding="utf-8")
        self.people = pq.ParquetWriter(people, PEOPLE_SCHEMA, compression="zstd")

    def append(self, data: dict[str, bytes], counts: dict[str, int], people: pa.Table) -> None:
        for key, b in data.items():
            if b:
                self.handles[key].write(b)
            self.rows[key] += counts[key]
        self.people.write_table(people)

    def close(self) -> dict[str, int]:
        for fh in self.handles.values():
            fh.close()
        self.people.close()
        return {FILES[k]: v for k, v in self.rows.items()}
