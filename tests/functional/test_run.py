"""carejourney run: ingest, analyse, and every journey's report — later reports read kept results."""

from __future__ import annotations

import re

import pandas as pd

import pytest

from carejourney.cli import main
from tests.conftest import MINI_JOURNEY
from tests.functional.test_query_cache import _ingest

SECOND = """\
journey: referrals
title: Referral follow-up
kind: specialty
stages:
  - {id: access, owner: patient_access}
  - {id: care, owner: clinical}
touchpoints:
  - {id: referral_received, stage: access, channel: referral, key_step: true}
  - {id: appointment_booked, stage: access, channel: phone, key_step: true}
  - {id: visit_completed, stage: care, channel: in_person, key_step: true}
"""


def _title(path) -> str:
    return re.search(r"<title>(.*?)</title>", path.read_text()).group(1)


def test_run_writes_every_journeys_report_and_later_reports_compute_nothing(make_project, monkeypatch, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "journeys/referrals.yml": SECOND})
    _ingest(root, "a.csv", 40, ["referral_received", "appointment_booked", "visit_completed"], "A")
    capsys.readouterr()
    assert main(["--project", str(root), "run"]) == 0
    out = capsys.readouterr().out
    default, other = root / "target" / "report.html", root / "target" / "report-referrals.html"
    assert _title(default) == "care: journey report" and _title(other) == "Referral follow-up: journey report"
    assert "referrals:" in out and "target/report-referrals.html" in "".join(out.split())  # (rich may wrap it)
    # analysing was run's job: a report of either journey afterwards executes no query
    monkeypatch.setattr("carejourney.analyses._cache._execute", lambda *a: pytest.fail("a query was executed"))
    for journey in ("care", "referrals"):
        assert main(["--project", str(root), "report", "--journey", journey, "-o", str(root / f"{journey}.html")]) == 0
        assert _title(root / f"{journey}.html") == _title(default if journey == "care" else other)


def test_run_with_segments_writes_every_declared_segments_report(make_project, monkeypatch, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "journeys/referrals.yml": SECOND})
    _ingest(root, "a.csv", 40, ["referral_received", "appointment_booked", "visit_completed"], "A")
    assert main(["--project", str(root), "run", "--no-report", "--segments"]) == 2  # (nothing to write)
    assert "leave out --no-report" in capsys.readouterr().err
    assert main(["--project", str(root), "run", "--segments"]) == 0
    out = "".join(capsys.readouterr().out.split())
    assert "Ingested" not in out and "nothingadded" not in out  # (no sources declared: nothing to ingest)
    # care declares senior and adult; referrals declares none
    written = sorted(p.name for p in (root / "target").glob("report-*-*.html"))
    assert written == ["report-care-adult.html", "report-care-senior.html"]
    assert "Segmentreports:2" in out
    for segment in ("adult", "senior"):
        html = (root / "target" / f"report-care-{segment}.html").read_text()
        assert _title(root / "target" / f"report-care-{segment}.html") == "care: journey report"
        assert f"Segment: {segment}" in html
    # and a segment's report afterwards executes no query
    monkeypatch.setattr("carejourney.analyses._cache._execute", lambda *a: pytest.fail("a query was executed"))
    assert main(["--project", str(root), "report", "--segment", "senior", "-o", str(root / "s.html")]) == 0
    assert "Segment: senior" in (root / "s.html").read_text()


def test_a_second_run_says_its_files_were_unchanged_not_loaded_again(make_project, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "sources/events.yml": "sources: [{name: events, kind: events, path: data/events.csv}]"})
    (root / "data").mkdir()
    rows = pd.DataFrame([(f"A{i:03d}", f"2026-02-0{1 + k} 09:{i:02d}:00", tp) for i in range(30)
                         for k, tp in enumerate(["referral_received", "appointment_booked"])],
                        columns=["person_id", "ts", "touchpoint"])
    rows.to_csv(root / "data" / "events.csv", index=False)
    assert main(["--project", str(root), "run", "--no-report"]) == 0
    assert "Ingested 1 file(s): 60 rows loaded" in " ".join(capsys.readouterr().out.split())
    assert main(["--project", str(root), "run", "--no-report"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 file(s) unchanged since they were ingested: nothing added." in out and "rows loaded" not in out
    pd.concat([rows, rows.assign(person_id=rows.person_id + "x")]).to_csv(root / "data" / "events.csv", index=False)
    assert main(["--project", str(root), "run", "--no-report"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Ingested 1 file(s): 120 rows loaded, 0 rejected" in out and "unchanged" not in out


def test_a_report_from_kept_results_does_not_load_scipy_stats(make_project):
    """scipy.stats takes ~0.4 s to import; after `run`, a report's statistics (the map's target
    checks, the findings' adjusted p-values) come from scipy.special and numpy alone."""
    import subprocess
    import sys
    from tests.functional.test_map_optional_stages import WITH_PRE_VISIT_TARGET, _project
    # (40 weeks of people: the targets' 90-day windows close, so the targets are tested)
    root = _project(make_project, WITH_PRE_VISIT_TARGET).root
    assert main(["--project", str(root), "run"]) == 0
    code = ("import sys; from pathlib import Path; from carejourney.project import load_project; "
            "from carejourney.reports.render import write_report; "
            f"write_report(load_project(Path({str(root)!r})), output={str(root / 'again.html')!r}); "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
