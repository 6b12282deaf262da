"""Shared tables (analyses/_shared.py): the same answers as inline queries, never stale, never
written for a report answered from the query cache, kept in the store for later processes."""

from __future__ import annotations

from datetime import timedelta

import ibis
import pandas as pd
import pytest

from carejourney.analyses._shared import PREFIX
from carejourney.analyses._steps import journey_step_table, resolve_steps
from carejourney.analyses.base import execute, parse_spec
from carejourney.analyses.context import AnalysisContext
from carejourney.model.events import PERSON_ATTRIBUTES, SCHEMAS
from carejourney.project import load_project
from carejourney.store import Store, open_store
from tests.conftest import MINI_JOURNEY, _events_frame, key_of
from tests.functional.test_query_cache import SPECS, _ingest, project  # noqa: F401 (fixture)

SHARING = [{"kind": "drivers"}, {"kind": "equity"}, {"kind": "targets"}, {"kind": "funnel"},
           {"kind": "compare", "analysis": "funnel", "overall": True}]


def _shared_tables(con) -> list[str]:
    return sorted(t for t in con.list_tables() if t.startswith(PREFIX))


def _context(con, project, people: dict, version: str, suffix: str = "") -> AnalysisContext:
    """A context on tables ``ev<suffix>`` / ``persons<suffix>`` of ``con`` (rewritten), with data
    version ``version``."""
    ev, persons = _events_frame(people, project)
    schema = ibis.schema({"person_key": "string", **{k: v for k, v in SCHEMAS["events"].items() if k != "subject_key"}})
    ev_t = con.create_table(f"ev{suffix}", ibis.memtable(ev[list(schema.names)]).cast(schema), overwrite=True)
    first_last = ev.groupby("person_key")["ts"].agg(["min", "max"]).rename(columns={"min": "first_seen", "max": "last_seen"})
    pdf = persons.merge(first_last, left_on="person_key", right_index=True, how="left")
    pschema = ibis.schema({"person_key": "string", **{k: v for k, v in SCHEMAS["subjects"].items() if k in PERSON_ATTRIBUTES},
                           "first_seen": "timestamp", "last_seen": "timestamp"})
    p_t = con.create_table(f"persons{suffix}", ibis.memtable(pdf).cast(pschema), overwrite=True)
    return AnalysisContext(events=ev_t, persons=p_t, project=project, con=con, data_version=lambda: version)


def _people(n: int, booked: int) -> dict:
    return {f"p{i}": {"events": [("referral_received", "2026-01-02"), *([("appointment_booked", "2026-01-05")]
                                                                       if i < booked else [])],
                      "attrs": {"language": "es" if i % 2 else "en"}} for i in range(n)}


def _shared_and_inline(root, monkeypatch, specs: list[dict]) -> dict[str, tuple[list, list[str]]]:
    """Each spec's frame, and the shared tables left on the connection, with shared tables off
    (``"0"``) and on (``"1"``); no query cache."""
    monkeypatch.setenv("CAREJOURNEY_QUERY_CACHE", "0")
    out = {}
    for shared in ("0", "1"):
        monkeypatch.setenv("CAREJOURNEY_SHARED_TABLES", shared)
        p = load_project(root)
        store = open_store(p)
        try:
            ctx = AnalysisContext.from_store(p, store)
            out[shared] = ([execute(parse_spec(s), ctx)[0] for s in specs], _shared_tables(store.con))
        finally:
            store.close()
    return out


def test_shared_tables_give_the_inline_answers(project, monkeypatch):  # noqa: F811
    runs = _shared_and_inline(project, monkeypatch, SHARING)
    assert not runs["0"][1] and runs["1"][1]
    for spec, a, b in zip(SHARING, runs["0"][0], runs["1"][0]):
        pd.testing.assert_frame_equal(a, b, obj=str(spec))


def test_a_shared_table_of_older_data_is_never_read(duckdb_con, mini_project):
    old = _context(duckdb_con, mini_project, _people(40, 10), "v1")
    before, _, _ = execute(parse_spec({"kind": "equity", "dimensions": ["language"], "censor": False}), old)
    new = _context(duckdb_con, mini_project, _people(40, 30), "v2")  # same connection, new data
    after, _, _ = execute(parse_spec({"kind": "equity", "dimensions": ["language"], "censor": False}), new)
    assert before["converted"].sum() == 10 and after["converted"].sum() == 30
    # the older version's tables were dropped when the new ones were written: no copy of old data lingers
    names = _shared_tables(duckdb_con)
    assert {n.split("_")[4] for n in names} == {"step", "pair", "person", "feature"} and len(names) == 4
    assert all(n in new.__dict__["_shared"]._source for n in names)  # the new data's tables
    funnel, _, _ = execute(parse_spec({"kind": "funnel", "steps": "referral_received,appointment_booked"}), new)
    assert list(funnel["reached"]) == [40, 30]


def _kept_tables(con) -> list[str]:
    """The shared tables written to the store's file (not temporary)."""
    rows = con.con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND starts_with(table_name, ?)",
                           [PREFIX]).fetchall()
    return sorted(r[0] for r in rows)


def test_a_report_answered_from_the_cache_writes_no_shared_table(project):  # noqa: F811
    kept = None
    for attempt in range(2):
        p = load_project(project)
        store = open_store(p)
        try:
            ctx = AnalysisContext.from_store(p, store)
            for s in SPECS:
                execute(parse_spec(s), ctx)
            if attempt == 0:
                assert _shared_tables(store.con) and ctx.query_cache.misses
                kept = _kept_tables(store.con)
                assert kept and set(kept) == set(_shared_tables(store.con))  # every shared table is kept
            else:  # only what the first process kept in the file: nothing written this time
                assert ctx.query_cache.misses == 0 and _shared_tables(store.con) == kept
        finally:
            store.close()


def test_a_later_process_reads_the_kept_tables_without_the_events(project, monkeypatch):  # noqa: F811
    """A new process on the same data (e.g. ``carejourney report --segment`` after ``run``) reads
    the person-level tables an earlier one kept — it writes none of them, nor any temporary table —
    and gets the same answers, with footnotes describing the kept tables from the queries stored
    with them (nothing built or compiled again); a table kept by other code is never read."""
    from carejourney.analyses._shared import SharedTables
    monkeypatch.setenv("CAREJOURNEY_QUERY_CACHE", "0")
    specs = [{"kind": "funnel"}, {"kind": "drivers"}]
    answers, kept, footnotes = [], [], []
    for attempt in range(2):
        if attempt == 1:
            def no_compiling(self, name):
                raise AssertionError(f"{name} compiled again")

            def no_building(*args, **kwargs):
                raise AssertionError("a kept table's expression built again")
            monkeypatch.setattr(SharedTables, "sql", no_compiling)
            monkeypatch.setattr("carejourney.analyses._steps.pair_base", no_building)
            monkeypatch.setattr("carejourney.analyses.drivers.person_dims", no_building)
        p = load_project(project)
        store = open_store(p)
        try:
            ctx = AnalysisContext.from_store(p, store)
            runs = [execute(parse_spec(s), ctx) for s in specs]
            answers.append([r[0] for r in runs])
            footnotes.append([[line for line in r[1].splitlines() if line.startswith("--")] for r in runs])
            kept.append(_kept_tables(store.con))
            temp = [t for t in _shared_tables(store.con) if t not in kept[-1]]
        finally:
            store.close()
    monkeypatch.undo()
    monkeypatch.setenv("CAREJOURNEY_QUERY_CACHE", "0")
    assert kept[0] == kept[1] and {n.split("_")[4] for n in kept[0]} == {"funnel", "pair", "step", "persons", "person", "feature"}
    assert not temp  # the kept tables were read, nothing was written
    for a, b in zip(*answers):
        pd.testing.assert_frame_equal(a, b)
    assert footnotes[0] == footnotes[1]  # the same description of the kept tables each reads
    assert all(any(line.startswith(f"-- {PREFIX}") for line in f) and any("SELECT" in line for line in f)
               for f in footnotes[0])
    monkeypatch.setattr("carejourney.analyses._cache.code_version", lambda: "other code")
    p = load_project(project)
    store = open_store(p)
    try:
        execute(parse_spec(specs[0]), AnalysisContext.from_store(p, store))
        assert set(_kept_tables(store.con)).isdisjoint(kept[0])  # rebuilt, the old ones dropped
    finally:
        store.close()


def test_shared_tables_built_on_shared_tables_are_written_and_described_in_order(project):  # noqa: F811
    p = load_project(project)
    store = open_store(p)
    try:
        ctx = AnalysisContext.from_store(p, store)
        _, sql, _ = execute(parse_spec({"kind": "drivers"}), ctx)
        kinds = [line.split(":")[0].split("_")[4] for line in sql.splitlines() if line.startswith(f"-- {PREFIX}")]
        # every table's query is shown once, after the tables it reads (the footnote stays traceable)
        assert kinds.index("persons") < kinds.index("person") < kinds.index("step")  # person_dims reads persons
        assert kinds.index("pair") < kinds.index("step") and kinds.index("feature") < kinds.index("step")
        assert len(kinds) == len(set(kinds))
        made = set(_shared_tables(store.con))
        assert {n.split("_")[4] for n in made} == {"persons", "person", "feature", "pair", "step"}
    finally:
        store.close()


def test_steps_outside_the_journey_defaults_are_computed_on_their_own(project, monkeypatch):  # noqa: F811
    """Drivers of a step the report does not share (not a default step or target check) read the
    shared persons but pair their own rows, and agree with the inline query."""
    spec = {"kind": "drivers", "steps": [["referral_received", "visit_completed"]], "dimensions": ["language"]}
    runs = _shared_and_inline(project, monkeypatch, [spec])
    assert runs["1"][1] and not any("_pair_base_" in n for n in runs["1"][1])
    pd.testing.assert_frame_equal(runs["0"][0][0], runs["1"][0][0])


def test_a_context_whose_tables_another_context_dropped_writes_them_again(duckdb_con, mini_project):
    """Two contexts of different data versions on one connection (a long-lived process): the newer
    one drops the older one's tables; the older one, asked again, writes them again — right answers
    for each, never a missing table."""
    spec = parse_spec({"kind": "equity", "dimensions": ["language"], "censor": False})
    old = _context(duckdb_con, mini_project, _people(40, 10), "v1", suffix="_old")
    assert execute(spec, old)[0]["converted"].sum() == 10
    new = _context(duckdb_con, mini_project, _people(40, 30), "v2", suffix="_new")
    assert execute(spec, new)[0]["converted"].sum() == 30
    assert execute(spec, old)[0]["converted"].sum() == 10
    assert execute(spec, new)[0]["converted"].sum() == 30


def test_a_read_only_store_keeps_nothing_in_the_file(project, monkeypatch):  # noqa: F811
    """A store opened read-only (next to a running ingest, say) gets its shared tables for its
    connection only, and leaves the file as it was — kept tables of other code included."""
    monkeypatch.setenv("CAREJOURNEY_QUERY_CACHE", "0")
    p = load_project(project)
    store = open_store(p)
    try:
        execute(parse_spec({"kind": "funnel"}), AnalysisContext.from_store(p, store))
        before = _kept_tables(store.con)
    finally:
        store.close()
    monkeypatch.setattr("carejourney.analyses._cache.code_version", lambda: "other code")
    path = project / "target" / "carejourney.duckdb"
    store = Store(ibis.duckdb.connect(str(path), read_only=True))
    try:
        df, _, _ = execute(parse_spec({"kind": "funnel"}), AnalysisContext.from_store(p, store))
        assert df["reached"].iloc[0] > 0 and _shared_tables(store.con)
        assert _kept_tables(store.con) == before  # its own are temporary; the file's are not dropped
    finally:
        store.close()


def test_a_segments_analyses_read_everyones_person_tables_and_agree_with_its_own(duckdb_con, mini_project):
    """A segment's funnel units and pair rows are everyone's of the segment's people (what lets a
    segment's first report read the tables everyone's report kept): the answers equal those of
    the segment computed on its own, inline."""
    people = {f"p{i}": {"events": [("referral_received", "2026-01-02"),
                                   *([("appointment_booked", f"2026-01-{3 + i % 9:02d}")] if i % 4 else []),
                                   *([("visit_completed", "2026-02-01")] if i % 3 == 0 else []),
                                   *([("appointment_booked", "2026-02-03")] if i % 5 == 0 else [])],  # a loop
                        "attrs": {"age_band": "65-74" if i % 2 else "35-49", "language": "es" if i % 5 else "en"}}
              for i in range(90)}
    shared = _context(duckdb_con, mini_project, people, "v1")
    inline = _context(duckdb_con, mini_project, people, "v1", suffix="_inline")
    inline.data_version = None  # nothing shared: every query from the events
    specs = [{"kind": "funnel", "segment": "senior"}, {"kind": "funnel", "segment": "adult", "steps_kind": "stage",
                                                       "steps": ["access", "care"], "open": True},
             {"kind": "drivers", "segment": "senior"}, {"kind": "targets", "segment": "senior"},
             {"kind": "equity", "segment": "adult", "dimensions": ["language"]},
             {"kind": "conformance", "segment": "senior"}, {"kind": "conformance"}]
    for s in specs:
        a, sql, _ = execute(parse_spec(s), shared)
        b, _, _ = execute(parse_spec(s), inline)
        pd.testing.assert_frame_equal(a, b, obj=str(s))
        if s["kind"] == "funnel":  # read from everyone's units, restricted to the segment
            assert "_funnel_units_" in sql and "SEMI" in sql.upper()
    assert execute(parse_spec(specs[0]), shared)[0]["reached"].iloc[0] == 45
    conf = execute(parse_spec(specs[5]), shared)[0].set_index("deviation")
    assert conf.loc["(not conforming)", "people"] > 0 and (conf["section"] == "deviation").any()
    # the members themselves are computed once and kept, not evaluated again in every query
    assert {n.split("_")[4] for n in _kept_tables(duckdb_con)} >= {"segment", "funnel", "pair", "conformance"}
    steps = resolve_steps(shared.journey(None))
    rows = [ctx.to_pandas(journey_step_table(ctx, None, "senior", steps, timedelta(days=90)))
            .sort_values(["step_no", "person_key"], ignore_index=True) for ctx in (shared, inline)]
    pd.testing.assert_frame_equal(*rows)
    assert rows[0].person_key.nunique() == 45  # the segment's people only


def test_an_entry_segment_is_the_people_whose_first_journey_event_is_on_its_touchpoints(duckdb_con, make_project):
    """``entry_touchpoint``: the person's first event in the journey, ties at the same time going
    to the touchpoint designed first — read off the journey log (``seq = 0``) where there is one,
    the same people as ordering the events inline."""
    journey = MINI_JOURNEY + ("  - {id: referred, entry_touchpoint: [referral_received]}\n"
                              "  - {id: web_first, entry_touchpoint: [site_visit]}\n")
    project = load_project(make_project({"journeys/care.yml": journey}))
    people = {}
    for i in range(30):
        people[f"r{i}"] = {"events": [("referral_received", "2026-01-02"), ("site_visit", "2026-01-03")]}
        people[f"w{i}"] = {"events": [("site_visit", "2026-01-01"), ("referral_received", "2026-01-02")]}
        # the same moment: the site visit is designed first (and 'referral…' sorts first as text)
        people[f"t{i}"] = {"events": [("referral_received", "2026-01-05"), ("site_visit", "2026-01-05")]}
        people[f"b{i}"] = {"events": [("appointment_booked", "2026-01-01"), ("referral_received", "2026-01-02")]}
    from_log = _context(duckdb_con, project, people, "v1")
    inline = _context(duckdb_con, project, people, "v1", suffix="_inline")
    inline.data_version = None
    assert from_log.journey_log(None) is not None and inline.journey_log(None) is None
    j = from_log.journey(None)
    for seg, prefixes in (("referred", "r"), ("web_first", "wt")):
        got = [sorted(ctx.to_pandas(ctx.segment_members(j, seg)).person_key) for ctx in (from_log, inline)]
        assert got[0] == got[1] == sorted(str(key_of(p)) for p in people if p[0] in prefixes), seg


def test_a_kept_table_dropped_while_a_report_reads_it_is_built_again(project, monkeypatch):  # noqa: F811
    """A later process reads kept tables by name without building their expressions; if one goes
    missing meanwhile (another carejourney version dropped it), it is built again, not an error."""
    monkeypatch.setenv("CAREJOURNEY_QUERY_CACHE", "0")
    answers = []
    for attempt in range(2):
        p = load_project(project)
        store = open_store(p)
        try:
            ctx = AnalysisContext.from_store(p, store)
            first = execute(parse_spec({"kind": "funnel"}), ctx)[0]
            if attempt == 1:
                counts = [n for n in _kept_tables(store.con) if "_step_counts_" in n]
                assert counts and ctx.__dict__["_shared"]._placeholders  # read by name
                store.con.con.execute(f'DROP TABLE "{counts[0]}"')  # what drivers reads
            answers.append((first, execute(parse_spec({"kind": "drivers"}), ctx)[0]))
            assert any("_step_counts_" in n for n in _kept_tables(store.con))
            if attempt == 1:  # a table this report read by name already, dropped before it reads it again
                units = [n for n in _kept_tables(store.con) if "_funnel_units_" in n]
                assert units and set(units) <= ctx.__dict__["_shared"]._placeholders
                for n in units:
                    store.con.con.execute(f'DROP TABLE "{n}"')
                pd.testing.assert_frame_equal(execute(parse_spec({"kind": "funnel"}), ctx)[0], first)
                assert set(units) <= set(_kept_tables(store.con))
        finally:
            store.close()
    for a, b in zip(*answers):
        pd.testing.assert_frame_equal(a, b)
