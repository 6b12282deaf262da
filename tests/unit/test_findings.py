"""Findings: planted frictions are found, ranked, merged, owned and suppressed; no friction → nothing."""

from __future__ import annotations

import json

import ibis
import pytest

from carejourney.cli import main
from carejourney.findings import FindingsConfig, collect, find
from carejourney.privacy.suppression import Suppressed
from carejourney.project import load_project
from tests.conftest import MINI_JOURNEY
from tests.friction_helpers import context_from, events_csv, planted_log


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from tests.conftest import write_project
    project = load_project(write_project(tmp_path_factory.mktemp("f") / "p", {"journeys/care.yml": MINI_JOURNEY}))
    ev, persons = planted_log(n=4000, seed=3)
    return context_from(ibis.duckdb.connect(), project, ev, persons)


@pytest.fixture(scope="module")
def found(planted):
    return collect(planted)


def test_planted_frictions_are_found_ranked_and_owned(found):
    df = found
    drivers = df[df.kind.isin(["conversion", "delay"])]
    keys = {(r.kind, r.step, r.dimension, r.value) for r in drivers.itertuples()}
    assert ("conversion", "referral_received>appointment_booked", "language", "es") in keys
    assert ("delay", "referral_received>appointment_booked", "location", "L2") in keys
    assert len(drivers) == 2  # nothing else at the default thresholds
    assert list(df["rank"]) == list(range(1, len(df) + 1))
    assert df["impact"].is_monotonic_decreasing
    es = df[(df.dimension == "language") & (df.value == "es")].iloc[0]
    assert es.owner == "patient_access" and es.stage == "access" and es.touchpoint == "appointment_booked"
    assert es.effect < -0.15 and es.effect_lo < es.effect < es.effect_hi < 0 and es.q < 1e-6
    # lost conversions per month = (overall − group rate) × group entrants per month
    assert 5 < es.lost_per_month < 25
    assert es.lost_per_month == pytest.approx(es.impact)


def test_same_friction_seen_through_nested_dimensions_is_one_finding(found):
    df = found
    es = df[(df.dimension == "language") & (df.value == "es")].iloc[0]
    members = {(m[2], m[3]) for m in es.members}
    assert ("needs_interpreter", "yes") in members and "needs_interpreter=yes" in es.also
    # names only: the merged finding's effect is computed from counts that are not in the row
    assert not any(ch.isdigit() for ch in es.also)
    assert not ((df.dimension == "needs_interpreter") & (df.value == "yes")).any()


def test_ids_are_stable_across_runs(planted, found):
    assert list(collect(planted)["id"]) == list(found["id"])


def test_findings_are_shown_only_suppressed(planted):
    rows = find(planted, top=5)
    assert isinstance(rows, Suppressed) and len(rows) <= 5
    for r in rows.records():
        for c in ("n", "affected", "rest_n", "rest_affected"):
            assert r[c] is None or r[c] == "<11" or r[c] == 0 or r[c] >= 11
        assert r["owner"] and r["evidence"]


def test_no_planted_friction_reports_nothing(make_project):
    project = load_project(make_project({"journeys/care.yml": MINI_JOURNEY}, name="clean"))
    ev, persons = planted_log(n=4000, seed=11, friction=False)
    df = collect(context_from(ibis.duckdb.connect(), project, ev, persons))
    assert df[df.kind.isin(["conversion", "delay"])].empty


def test_min_support_keeps_small_groups_out(planted):
    df = collect(planted, FindingsConfig(min_support=5000))
    assert df[df.kind.isin(["conversion", "delay"])].empty


def test_cli_findings_json(make_project, capsys):
    ev, persons = planted_log(n=1500, seed=4)
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "data/events.csv": events_csv(ev, persons),
                         "sources/events.yml": "sources:\n  - {name: ev, kind: events, path: data/events.csv}\n"},
                        name="cli")
    from carejourney.ingest import ingest_sources
    ingest_sources(load_project(root))
    capsys.readouterr()
    assert main(["--project", str(root), "findings", "--format", "json", "--top", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["min_cell"] == 11 and 1 <= len(out["rows"]) <= 3
    top = out["rows"][0]
    assert top["owner"] == "patient_access" and top["rank"] == 1
    assert main(["--project", str(root), "findings", "--journey", "nope"]) == 2


def test_finding_sentences_use_the_journeys_words_and_only_shown_numbers(planted, found, monkeypatch):
    """A finding's title and evidence are written from the suppressed cells, in the journey's words:
    a share whose count is too small to show never reaches the sentence (it once did: "8% within")."""
    import pandas as pd

    import carejourney.findings as fm
    es = found[(found.dimension == "language") & (found.value == "es")].iloc[0].to_dict()
    small = {**{c: None for c in found.columns}, "id": "small", "kind": "target", "journey": "care",
             "segment": "all", "stage": "access", "touchpoint": "appointment_booked", "step": None,
             "value": "appointment_booked", "metric": "touchpoint_sla", "target": "90% within 1 hour",
             "n": 646, "affected": 5, "rate": 5 / 646, "effect": 5 / 646 - 0.9, "effect_lo": -0.9,
             "effect_hi": -0.88, "effect_unit": "share vs target", "q": 1e-9, "impact": 1.0, "owner": "patient_access"}
    monkeypatch.setattr(fm, "collect", lambda ctx, cfg=None: pd.DataFrame([es, small]))
    rows = {r["id"]: r for r in find(planted).records()}
    assert rows["small"]["title"] == ("Appointment booked misses its target of 90% within 1 hour: "
                                      "the share within it is hidden to protect privacy")
    assert rows["small"]["evidence"].startswith("<11 of 646 (hidden);") and "0.8%" not in rows["small"]["evidence"]
    title = rows[es["id"]]["title"]
    assert title.startswith("Language es: ") and "from Referral received to Appointment booked" in title
    assert f"{es['rate']:.0%} go on" in title and "_" not in title
    # without a journey (an extra finding from elsewhere) the sentence keeps its ids
    assert fm.describe({**small, "rate": 0.5}, None).startswith("appointment_booked misses its target")
