"""Cached query results: identical answers, never stale, off when asked, safe when torn."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

from carejourney.analyses._cache import QueryCache
from carejourney.analyses.base import execute, parse_spec
from carejourney.analyses.context import AnalysisContext
from carejourney.cli import main
from carejourney.project import load_project
from carejourney.store import open_store
from tests.conftest import MINI_JOURNEY

SPECS = [{"kind": "funnel"}, {"kind": "process_map"}, {"kind": "paths"}, {"kind": "conformance"},
         {"kind": "compare", "analysis": "funnel", "overall": True}, {"kind": "delays"}, {"kind": "retention"},
         {"kind": "targets"}, {"kind": "drivers"}, {"kind": "timing", "from": "referral_received",
                                                   "to": "appointment_booked"}]


def _ingest(root: Path, name: str, people: int, steps: list[str], prefix: str) -> None:
    rows = [(f"{prefix}{i:03d}", f"2026-02-{1 + k:02d} 09:{i % 60:02d}:00", tp)
            for i in range(people) for k, tp in enumerate(steps)]
    pd.DataFrame(rows, columns=["person_id", "ts", "touchpoint"]).to_csv(root / name, index=False)
    assert main(["--project", str(root), "ingest", str(root / name)]) == 0


@pytest.fixture
def project(make_project):
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    _ingest(root, "a.csv", 40, ["referral_received", "appointment_booked", "visit_completed"], "A")
    _ingest(root, "b.csv", 25, ["referral_received", "appointment_booked"], "B")
    return root


def _results(root: Path) -> tuple[list[pd.DataFrame], QueryCache | None]:
    project = load_project(root)
    store = open_store(project)
    try:
        ctx = AnalysisContext.from_store(project, store)
        return [execute(parse_spec(s), ctx)[0] for s in SPECS], ctx.query_cache
    finally:
        store.close()


def _cache_files(root: Path) -> list[Path]:
    return sorted((root / "target" / "cache" / "queries").glob("*.arrow"))


def test_second_run_is_answered_from_the_cache_with_identical_frames(project, monkeypatch):
    monkeypatch.setenv("CAREJOURNEY_QUERY_CACHE", "0")
    plain, _ = _results(project)
    monkeypatch.delenv("CAREJOURNEY_QUERY_CACHE")
    first, cache = _results(project)
    assert cache.misses >= len(SPECS) and cache.hits == 0
    assert _cache_files(project)
    again, cache = _results(project)
    assert cache.misses == 0 and cache.hits >= len(SPECS)
    for spec, a, b, c in zip(SPECS, plain, first, again):  # dtypes and missing values included
        pd.testing.assert_frame_equal(a, b, obj=str(spec))
        pd.testing.assert_frame_equal(a, c, obj=str(spec))


def test_a_kept_answer_is_neither_built_nor_compiled_again(project, monkeypatch):
    """On unchanged data a report's analyses come from kept results without building their Ibis
    expressions (most of a warm report's time): the kept file carries the SQL and the schema."""
    from carejourney.analyses.base import analysis_kinds, get_analysis
    first, _ = _results(project)
    for kind in analysis_kinds():
        monkeypatch.setattr(get_analysis(kind), "build", lambda *a, **k: pytest.fail("built again"))
    again, cache = _results(project)
    assert cache.misses == 0
    for spec, a, b in zip(SPECS, first, again):
        pd.testing.assert_frame_equal(a, b, obj=str(spec))


def test_new_data_is_never_answered_from_an_old_result(project):
    before, _ = _results(project)
    _ingest(project, "c.csv", 30, ["referral_received"], "C")
    after, cache = _results(project)
    assert cache.misses >= len(SPECS)
    funnel_before, funnel_after = before[0], after[0]
    assert funnel_after["entered"].max() == funnel_before["entered"].max() + 30


def test_cache_can_be_turned_off(project, monkeypatch):
    monkeypatch.setenv("CAREJOURNEY_QUERY_CACHE", "0")
    _, cache = _results(project)
    assert cache is None and not _cache_files(project)


def test_a_torn_cache_file_is_recomputed(project):
    first, _ = _results(project)
    for f in _cache_files(project):
        f.write_bytes(f.read_bytes()[:20])   # a run killed while writing (or a damaged disk)
    again, cache = _results(project)
    assert cache.misses >= len(SPECS)
    for a, b in zip(first, again):
        pd.testing.assert_frame_equal(a, b)


def test_in_memory_tables_are_keyed_by_their_content(tmp_path):
    """Memtables get random names; two with the same rows share a key, different rows do not."""
    cache = QueryCache(tmp_path, lambda: "v1")
    con = ibis.duckdb.connect()

    def key(values):
        t = ibis.memtable(pd.DataFrame({"x": values}))
        expr = t.aggregate(n=t.x.sum())
        return cache.key(str(con.compile(expr)), expr)

    assert key([1, 2, 3]) == key([1, 2, 3])
    assert key([1, 2, 3]) != key([1, 2, 4])


def test_generated_aliases_do_not_change_the_key(tmp_path):
    """Ibis names some subqueries at random (e.g. unnest): the same query in another process
    must find its cached answer."""
    cache = QueryCache(tmp_path, lambda: "v1")
    con = ibis.duckdb.connect()
    t = con.create_table("t", ibis.memtable(pd.DataFrame({"g": [1, 2], "xs": [[1, 2], [3]]})))

    def key():
        u = t.unnest("xs")
        expr = u.group_by("g").aggregate(n=u.xs.sum())
        sql = str(con.compile(expr))
        return sql, cache.key(sql, expr)

    (sql_a, key_a), (sql_b, key_b) = key(), key()
    assert sql_a != sql_b and key_a == key_b


def test_findings_are_the_same_from_the_cache(project, monkeypatch):
    from carejourney.findings import FindingsConfig, find
    from tests.friction_helpers import events_csv, planted_log
    (project / "planted.csv").write_text(events_csv(*planted_log(n=1500)))  # frictions to find
    assert main(["--project", str(project), "ingest", str(project / "planted.csv")]) == 0

    def findings():
        p = load_project(project)
        store = open_store(p)
        try:
            ctx = AnalysisContext.from_store(p, store)
            return find(ctx, FindingsConfig()).frame, ctx.query_cache
        finally:
            store.close()

    monkeypatch.setenv("CAREJOURNEY_QUERY_CACHE", "0")
    plain, _ = findings()
    monkeypatch.delenv("CAREJOURNEY_QUERY_CACHE")
    first, _ = findings()
    again, cache = findings()
    assert len(plain) and cache.misses == 0
    pd.testing.assert_frame_equal(plain, first, check_dtype=False)
    pd.testing.assert_frame_equal(plain, again, check_dtype=False)


def _reworded(journey: str) -> str:
    """MINI_JOURNEY with a title, labels, descriptions and the map's research lanes written in."""
    out = journey.replace("kind: specialty\n", "kind: specialty\ntitle: Cardiology referrals\ndescription: From referral to bill.\n")
    out = out.replace("{id: access, owner: patient_access}",
                      "{id: access, owner: patient_access, label: Getting an appointment, description: Calls and portal}")
    out = out.replace("{id: intake_completed, stage: pre_visit,", "{id: intake_completed, label: Intake form, stage: pre_visit,")
    out = out.replace("{id: senior, where:", "{id: senior, label: People 65 and over, where:")
    return out + 'moments:\n  access: {doing: "Calls twice to book", feeling: anxious, mood: -1, questions: ["How long?"]}\n'


def test_rewording_the_map_keeps_stored_results_and_a_measured_change_does_not(project):
    from carejourney.reports.render import build_report
    journey_file = project / "journeys" / "care.yml"
    build_report(load_project(project))  # keeps every query's result and builds the journey log
    _results(project)
    kept = _cache_files(project)
    store = open_store(load_project(project))
    receipt, log_meta = store.receipt_for("events", "a.csv"), store.con.table("_cj_log_care_meta").to_pandas()
    store.close()
    journey_file.write_text(_reworded(MINI_JOURNEY))
    reworded = load_project(project)
    html = build_report(reworded).html
    assert "Calls twice to book" in html and "Getting an appointment" in html  # the new wording is shown
    assert _cache_files(project) == kept  # ... from the kept results: no query ran again
    again, cache = _results(project)
    assert cache.misses == 0 and cache.hits >= len(SPECS)
    store = open_store(reworded)
    try:  # the journey log was not rebuilt; re-ingesting a file finds it unchanged (nothing re-mapped)
        pd.testing.assert_frame_equal(store.con.table("_cj_log_care_meta").to_pandas(), log_meta)
        assert main(["--project", str(project), "ingest", str(project / "a.csv")]) == 0
        assert store.receipt_for("events", "a.csv")["file_id"] == receipt["file_id"]
    finally:
        store.close()
    # what is measured does change the results: an optional intake form becomes a required step
    journey_file.write_text(_reworded(MINI_JOURNEY).replace("channel: digital, optional: true}\n  - {id: visit",
                                                             "channel: digital}\n  - {id: visit"))
    _, cache = _results(project)
    assert cache.misses > 0
