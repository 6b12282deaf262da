"""The action backlog: created from findings without duplicates, survives restarts, keeps history,
exports for a team meeting, and says whether a done action worked (before / after on a generated fix)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import ibis
import pytest
from sqlalchemy import inspect

from carejourney.actions import ActionStore, before_after, before_after_suppressed, export_csv, export_markdown
from carejourney.cli import main
from carejourney.errors import SpecError
from carejourney.findings import collect, find
from carejourney.project import load_project
from tests.conftest import MINI_JOURNEY
from tests.friction_helpers import context_from, events_csv, planted_log


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    """The Spanish booking friction is removed for referrals from 2026-06-01 on."""
    from tests.conftest import write_project
    project = load_project(write_project(tmp_path_factory.mktemp("a") / "p", {"journeys/care.yml": MINI_JOURNEY}))
    ev, persons = planted_log(n=6000, seed=7, days=330, fix_on="2026-06-01")
    return context_from(ibis.duckdb.connect(), project, ev, persons)


def _es_finding(ctx):
    df = collect(ctx)
    return df, df[(df.dimension == "language") & (df.value == "es") & (df.kind == "conversion")].iloc[0]


def test_sync_is_idempotent_and_survives_restart(tmp_path, fixed):
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    store = ActionStore(url)
    rows = find(fixed)
    created, _ = store.sync(rows, by="ana")
    assert created == len(rows) >= 2
    assert store.sync(rows, by="ana") == (0, 0)
    first = store.list()[0]
    store.update(first.id, status="in_progress", due=date(2026, 12, 1), note="called the vendor", by="ben")
    store.close()

    again = ActionStore(url)  # a new engine and session: what a restart sees
    acts = again.list()
    assert len(acts) == len(rows)
    a = again.get(first.id)
    assert (a.status, a.due_date, a.updated_by) == ("in_progress", date(2026, 12, 1), "ben")
    assert "called the vendor" in a.notes and "ben" in a.notes
    assert {(h.field, h.old_value, h.new_value, h.changed_by) for h in a.history} >= {
        ("status", "open", "in_progress", "ben"), ("due_date", a.history[1].old_value, "2026-12-01", "ben")}
    verbs = [(x.actor, x.verb) for x in again.audit()]
    assert ("ana", "action.create") in verbs and ("ben", "action.update") in verbs
    assert {"actions", "action_history", "audit_log"} <= set(inspect(again.engine).get_table_names())
    assert all(a.owner_team for a in acts)


def test_update_rejects_bad_values(tmp_path, fixed):
    store = ActionStore(f"sqlite:///{tmp_path / 'b.sqlite'}")
    store.sync(find(fixed))
    with pytest.raises(SpecError, match="unknown status 'finished'"):
        store.update(1, status="finished")
    with pytest.raises(SpecError, match="unknown team 'billng' — did you mean 'billing'"):
        store.update(1, owner="billng")
    with pytest.raises(SpecError, match="no action with id 999"):
        store.update(999, status="done")


def test_exports_group_by_owner_team(tmp_path, fixed):
    store = ActionStore(f"sqlite:///{tmp_path / 'c.sqlite'}")
    store.sync(find(fixed))
    acts = store.list()
    md = export_markdown(acts, "Backlog")
    for team in {a.owner_team for a in acts}:
        assert f"## {team.replace('_', ' ').title()}" in md
    assert md.count("| open |") == len(acts)
    rows = list(csv.DictReader(io.StringIO(export_csv(acts))))
    assert len(rows) == len(acts) and rows[0]["status"] == "open" and rows[0]["finding_id"]


def test_before_after_sees_the_generated_fix(tmp_path, fixed):
    store = ActionStore(f"sqlite:///{tmp_path / 'd.sqlite'}")
    df, es = _es_finding(fixed)
    store.sync(df.drop(columns=["members"]))
    act = next(a for a in store.list() if a.finding_id == es.id)
    with pytest.raises(SpecError, match="has no done date"):
        before_after(act, fixed)
    act = store.update(act.id, status="done", done_on=date(2026, 6, 1))
    res = before_after(act, fixed, window=__import__("datetime").timedelta(days=60))
    assert res["before_rate"] == pytest.approx(0.5, abs=0.08) and res["after_rate"] == pytest.approx(0.75, abs=0.08)
    assert res["diff_lo"] > 0 and res["verdict"] == "improved" and res["note"] == ""
    # a done date with no fix behind it shows no clear change
    act2 = store.update(act.id, done_on=date(2026, 3, 15))
    res2 = before_after(act2, fixed, window=__import__("datetime").timedelta(days=60))
    assert res2["verdict"] == "no clear change" and res2["diff_lo"] < 0 < res2["diff_hi"]
    # too late in the data: the after window has not closed
    act3 = store.update(act.id, done_on=date(2026, 11, 1))
    res3 = before_after_suppressed(act3, fixed).records()[0]
    assert "short" in res3["note"] and res3["verdict"] == "too early to tell"


def test_cli_actions_roundtrip(make_project, capsys):
    ev, persons = planted_log(n=1500, seed=4)
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "data/events.csv": events_csv(ev, persons),
                         "sources/events.yml": "sources:\n  - {name: ev, kind: events, path: data/events.csv}\n"},
                        name="cliact")
    from carejourney.ingest import ingest_sources
    ingest_sources(load_project(root))
    p = ["--project", str(root)]
    assert main([*p, "actions", "sync", "--by", "ana"]) == 0
    assert (root / "target" / "app.sqlite").exists()
    capsys.readouterr()
    assert main([*p, "actions", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed and listed[0]["status"] == "open"
    aid = listed[0]["id"]
    assert main([*p, "actions", "update", str(aid), "--status", "done", "--done-on", "2026-05-01",
                 "--note", "new script", "--by", "ben"]) == 0
    assert main([*p, "actions", "update", str(aid), "--done-on", "May 1"]) == 2
    capsys.readouterr()
    assert main([*p, "actions", "export", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| done |" in md and "new script" in md
    assert main([*p, "actions", "sync"]) == 0
    capsys.readouterr()
    assert main([*p, "actions", "list", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(listed)
    assert main([*p, "actions", "check", str(aid), "--format", "json"]) == 0
    assert "verdict" in capsys.readouterr().out
