"""The stored journey log: built once per data version, rebuilt when data or journey change,
never stale, and giving the same results as ordering the events in every query."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pytest

import carejourney.analyses._log as journey_log
from carejourney.analyses.base import execute, parse_spec
from carejourney.analyses.context import AnalysisContext
from carejourney.cli import main
from carejourney.project import load_project
from carejourney.store import Store, open_store
from tests.conftest import MINI_JOURNEY


def _csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    pd.DataFrame(rows, columns=["person_id", "ts", "touchpoint"]).to_csv(path, index=False)
    return path


def _people(prefix: str, n: int, steps: list[str], day: int = 1) -> list[tuple[str, str, str]]:
    return [(f"{prefix}{i:03d}", f"2026-02-{day + k:02d} 09:00:00", tp) for i in range(n) for k, tp in enumerate(steps)]


@pytest.fixture
def project(make_project, tmp_path):
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    _csv(root / "a.csv", _people("A", 30, ["referral_received", "appointment_booked", "visit_completed"]))
    assert main(["--project", str(root), "ingest", str(root / "a.csv")]) == 0
    return root


@pytest.fixture
def builds(monkeypatch):
    """Journeys whose log was (re)built, in order."""
    seen: list[str] = []
    original = journey_log._write

    def spy(con, journey, *args, **kwargs):
        seen.append(journey.journey)
        return original(con, journey, *args, **kwargs)

    monkeypatch.setattr(journey_log, "_write", spy)
    return seen


def _edges(root: Path, **env) -> dict[str, int]:
    project = load_project(root)
    store = open_store(project)
    try:
        df, _, _ = execute(parse_spec({"kind": "process_map"}), AnalysisContext.from_store(project, store))
    finally:
        store.close()
    e = df[df.element == "edge"]
    return {f"{r.source}>{r.target}": int(r.events) for r in e.itertuples()}


def test_log_is_stored_once_and_reused(project, builds):
    first = _edges(project)
    assert first == {"referral_received>appointment_booked": 30, "appointment_booked>visit_completed": 30}
    assert builds == ["care"]
    assert _edges(project) == first       # a new process, same data: the stored log is used
    assert builds == ["care"]
    con = duckdb.connect(str(project / "target" / "carejourney.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from _cj_log_care").fetchone()[0] == 90
        # the log holds codes and a dense person number, never the person key itself
        cols = {r[0] for r in con.execute("describe _cj_log_care").fetchall()}
        assert "person_key" not in cols and {"pid", "seq", "tp", "next_tp", "next_ts"} <= cols
    finally:
        con.close()


def test_new_data_rebuilds_the_log(project, builds):
    """Late-arriving events (a second file) must show up: the data version changes."""
    _edges(project)
    _csv(project / "b.csv", _people("B", 12, ["site_visit", "referral_received"], day=10))
    assert main(["--project", str(project), "ingest", str(project / "b.csv")]) == 0
    edges = _edges(project)
    assert builds == ["care", "care"]
    assert edges["site_visit>referral_received"] == 12
    assert edges["referral_received>appointment_booked"] == 30


def test_changed_journey_rebuilds_the_log(project, builds):
    _edges(project)
    journey = project / "journeys" / "care.yml"
    # visit_completed moved before appointment_booked in the design: tie-breaks and codes change
    journey.write_text(MINI_JOURNEY.replace("  - {id: bill_sent, stage: post_visit, channel: mail}\n",
                                            "  - {id: bill_sent, stage: post_visit, channel: mail}\n"
                                            "  - {id: survey_completed, stage: post_visit, channel: digital}\n"))
    _edges(project)
    assert builds == ["care", "care"]


def test_interrupted_build_is_not_used(project, builds):
    _edges(project)
    con = duckdb.connect(str(project / "target" / "carejourney.duckdb"))
    con.execute("drop table _cj_log_care_meta")   # as if killed after the log, before its meta row
    con.execute("delete from _cj_log_care where seq > 0")
    con.close()
    # killed before any analysis ran, so nothing was kept either (a kept answer reads no log)
    shutil.rmtree(project / "target" / "cache", ignore_errors=True)
    assert _edges(project)["appointment_booked>visit_completed"] == 30
    assert builds == ["care", "care"]


def test_read_only_store_gets_a_temporary_log(project, builds):
    path = project / "target" / "carejourney.duckdb"
    store = Store(ibis.duckdb.connect(str(path), read_only=True))
    try:
        ctx = AnalysisContext.from_store(load_project(project), store)
        df, _, _ = execute(parse_spec({"kind": "paths", "collapse_repeats": False}), ctx)
    finally:
        store.close()
    assert builds == ["care"]
    assert df.iloc[0].variant == "referral_received > appointment_booked > visit_completed"
    con = duckdb.connect(str(path), read_only=True)
    try:  # nothing was written to the file
        assert not [t for (t,) in con.execute("show tables").fetchall() if t.startswith("_cj_log")]
    finally:
        con.close()


def test_results_equal_with_and_without_the_log(project, monkeypatch):
    """Every sequence analysis and level, and funnels (which read the log when its order is
    theirs): the log changes nothing but speed."""
    _csv(project / "c.csv", [("C1", "2026-03-01 08:00:00", "referral_received"),
                             ("C1", "2026-03-01 08:00:00", "site_visit"),          # a tie: design order
                             ("C1", "2026-03-02 08:00:00", "appointment_booked"),
                             ("C1", "2026-03-02 08:00:00", "appointment_cancelled"),  # a tie in one stage
                             ("C1", "2026-03-03 08:00:00", "appointment_booked"),  # a repeat
                             ("C1", "2026-05-01 08:00:00", "visit_completed")]      # a stall
         + _people("D", 15, ["site_visit", "appointment_booked", "site_visit", "visit_completed"], day=3))
    assert main(["--project", str(project), "ingest", str(project / "c.csv")]) == 0
    specs = [{"kind": "process_map"}, {"kind": "process_map", "level": "stage"},
             {"kind": "process_map", "collapse_repeats": True}, {"kind": "paths"},
             {"kind": "paths", "level": "stage", "collapse_repeats": False}, {"kind": "conformance"},
             {"kind": "after_dropout"}, {"kind": "funnel"}, {"kind": "funnel", "by": "age_band"},
             {"kind": "funnel", "steps_kind": "stage", "steps": ["awareness", "access", "care"]},
             {"kind": "compare", "analysis": "funnel", "overall": True}]

    def results() -> list[pd.DataFrame]:
        project_ = load_project(project)
        store = open_store(project_)
        try:
            ctx = AnalysisContext.from_store(project_, store)
            return [execute(parse_spec(s), ctx)[0] for s in specs]
        finally:
            store.close()

    with_log = results()
    monkeypatch.setenv("CAREJOURNEY_JOURNEY_LOG", "0")
    without = results()
    for spec, a, b in zip(specs, with_log, without):
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=str(spec))
