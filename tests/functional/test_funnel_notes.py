"""The funnel view says when nobody could be followed from one key step to the next."""

from __future__ import annotations

import pandas as pd

from carejourney.cli import main
from carejourney.project import load_project
from carejourney.reports.render import build_report
from tests.conftest import MINI_JOURNEY
from tests.unit.test_report import views_html


def _report(make_project, split: bool) -> str:
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    rows = []
    for i in range(40):
        day = pd.Timestamp("2026-02-02 09:00") + pd.Timedelta(hours=i)
        booked = [("referral_received", 0), ("appointment_booked", 1)]
        seen = [("visit_completed", 3)]
        # split: the visits are recorded under other people (no identifier in common)
        people = [(f"A{i:03d}", booked), (f"B{i:03d}", seen)] if split else [(f"A{i:03d}", booked + seen)]
        rows += [(pid, str(day + pd.Timedelta(days=d)), tp) for pid, evs in people for tp, d in evs]
    pd.DataFrame(rows, columns=["person_id", "ts", "touchpoint"]).to_csv(root / "e.csv", index=False)
    assert main(["--project", str(root), "ingest", str(root / "e.csv")]) == 0
    return views_html(build_report(load_project(root)).html)["funnel"]


def test_a_step_nobody_was_followed_to_gets_a_note(make_project):
    body = _report(make_project, split=True)
    assert "Nobody who reached &#39;Appointment booked&#39; was seen at &#39;Visit completed&#39;" in body
    assert "booking_id" in body


def test_no_note_where_people_were_followed(make_project):
    assert "Nobody who reached" not in _report(make_project, split=False)
