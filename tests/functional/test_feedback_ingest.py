"""End to end: survey, review and portal exports with planted identifiers → ingest → store.

None of the planted identifiers (names, phones, emails, addresses, SSNs, MRNs, birth dates,
review authors) may remain anywhere in the DuckDB store: not in its file bytes, not in any
string column of any table.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
from faker import Faker

from carejourney.analyses.base import run
from carejourney.analyses.context import AnalysisContext
from carejourney.analyses.feedback import FeedbackSpec, verbatims
from carejourney.ingest import ingest_sources
from carejourney.project import load_project
from carejourney.store import open_store
from tests.conftest import MINI_JOURNEY

SOURCES = """\
sources:
  - {name: post_survey, kind: survey, path: data/surveys/responses.csv}
  - {name: reviews, kind: reviews, path: data/reviews/reviews.csv}
  - {name: portal, kind: portal, path: data/portal/messages.csv}
"""
COMPLAINTS = ["The wait was far too long and nobody apologised.", "I got a surprise bill, the price was never clear.",
              "Nobody called me back for days.", "Parking was impossible to find."]


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _plant(root: Path, n: int = 60) -> list[str]:
    fake = Faker("en_US")
    fake.seed_instance(2026)
    planted: list[str] = []
    survey, reviews, portal = [], [], []
    for i in range(n):
        first, last = fake.first_name(), fake.last_name()
        phone, email, street = fake.phone_number(), fake.email(), fake.street_address()
        ssn, dob, mrn = fake.ssn(), fake.date_of_birth().strftime("%m/%d/%Y"), f"MRN{700000 + i}"
        planted += [first, last, phone, email, street, ssn, dob, mrn]
        complaint = COMPLAINTS[i % len(COMPLAINTS)]
        survey.append([f"r{i}", mrn, "2026-01-02", f"2026-01-{3 + i % 20:02d} 10:00", "downtown", "cardiology",
                       i % 11, 1 + i % 5, f"My name is {first} {last}, call me at {phone} or {email}. "
                                           f"I live at {street}. DOB {dob}. {complaint}"])
        author = f"{fake.first_name()} {fake.last_name()}"
        planted += author.split()
        a_first = author.split()[0]
        reviews.append([f"v{i}", f"2026-02-{1 + i % 25:02d}T09:00:00", "google", "downtown", 1 + i % 5, author,
                        f"{a_first} here. {complaint} Ask {first} {last} at the desk, their SSN is {ssn}."])
        portal.append([f"m{i}", f"2026-01-{5 + i % 20:02d} 08:00", mrn, "patient_to_clinic", "billing",
                       f"Hi, this is {first} {last} (MRN {mrn}). Born {dob}. Reach me at {phone}. {complaint}",
                       ""])
    _write(root / "data/surveys/responses.csv",
           ["response_id", "mrn", "visit_date", "completed_at", "location", "service_line", "nps", "csat", "comment"],
           survey)
    _write(root / "data/reviews/reviews.csv",
           ["review_id", "posted_at", "site", "location", "rating", "author_name", "text"], reviews)
    _write(root / "data/portal/messages.csv",
           ["message_id", "sent_at", "mrn", "direction", "topic", "body", "replied_at"], portal)
    # identifiers shorter than 4 characters would match unrelated bytes; every planted one is longer
    return sorted({p for p in planted if len(p) >= 4})


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    from tests.conftest import write_project
    root = write_project(tmp_path_factory.mktemp("voice") / "proj",
                         {"journeys/care.yml": MINI_JOURNEY, "sources/voice.yml": SOURCES})
    planted = _plant(root)
    project = load_project(root)
    receipts = ingest_sources(project)
    return root, project, planted, receipts


def test_receipts_account_for_every_row(ingested):
    _, _, _, receipts = ingested
    by = {r.source: r for r in receipts}
    assert set(by) == {"post_survey", "reviews", "portal"}
    for r in receipts:
        assert r.rows_read == r.rows_loaded + r.rows_rejected == 60 and r.rows_rejected == 0
    assert by["reviews"].feedback == 60 and by["portal"].feedback == 60
    assert by["post_survey"].feedback == 120  # an NPS and a CSAT row per response


def test_no_planted_identifier_in_the_store(ingested):
    root, _, planted, _ = ingested
    files = [p for p in (root / "target").rglob("*") if p.is_file() and "duckdb" in p.name]
    blob = b"".join(p.read_bytes() for p in files)
    assert blob, "no store written"
    assert [p for p in planted if p.encode() in blob] == []
    con = duckdb.connect(str(root / "target" / "carejourney.duckdb"), read_only=True)
    try:
        texts = []
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            cols = [c for c, t in con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()
                if t == "VARCHAR"]
            for c in cols:
                texts += [v for (v,) in con.execute(f'SELECT DISTINCT "{c}" FROM "{table}"').fetchall() if v]
    finally:
        con.close()
    dump = "\n".join(texts)
    assert [p for p in planted if p in dump] == []
    assert "[NAME]" in dump and "[PHONE]" in dump and "[EMAIL]" in dump and "[ADDRESS]" in dump


def test_feedback_is_scored_tagged_and_placed(ingested):
    _, project, planted, _ = ingested
    store = open_store(project)
    try:
        fb = store.feedback().to_pandas()
        ctx = AnalysisContext.from_store(project, store)
        recs = run(FeedbackSpec(kind="feedback"), ctx).records()
        quotes = verbatims(ctx, n=2)
    finally:
        store.close()
    texts = fb[fb.text.notna()]
    assert texts.sentiment.notna().all()
    topics = set().union(*[set(json.loads(t)) for t in texts.topics])
    assert {"wait_time", "billing", "callback_phone", "parking_transport"} <= topics
    assert fb[fb.source == "reviews"].person_key.isna().all()
    assert fb[fb.source == "post_survey"].person_key.notna().all()
    assert set(fb.stage.dropna()) <= {"awareness", "access", "pre_visit", "care", "post_visit"}
    assert {r["stage"] for r in recs} >= {"access", "post_visit"}
    assert quotes and all("person_key" not in q for q in quotes)
    assert not any(p in q["text"] for q in quotes for p in planted)
