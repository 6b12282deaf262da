"""Planted frictions are in the raw files with the effect sizes the scenario states.

Each effect is measured from the exports (joined through the truth people file only where the
raw data itself cannot say who is a senior etc.), and compared with the scenario parameter and
with what truth.json reports.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from datetime import date, datetime, timedelta
from statistics import median

import orjson
import pandas as pd
import pytest

from carejourney.synth import load_scenario, synthesize

#: another seed can be tried with CJ_SYNTH_TEST_SEED (the checks are statistical, not seed-tuned)
SEED = int(os.environ.get("CJ_SYNTH_TEST_SEED", "5"))
N = 6000


def ndjson(root, name):
    return [orjson.loads(x) for x in (root / "fhir" / f"{name}.ndjson").read_bytes().splitlines() if x]


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=None)


def ratio_ci(k1, n1, k0, n0, z=3.0):
    """Rate ratio with a log-scale confidence interval."""
    r = (k1 / n1) / (k0 / n0)
    se = math.sqrt(1 / k1 - 1 / n1 + 1 / k0 - 1 / n0)
    return r, r * math.exp(-z * se), r * math.exp(z * se)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_fr")
    s = synthesize(out, people=N, seed=SEED, workers=1)
    truth = json.loads(s.truth_path.read_text())
    return out, {f["id"]: f for f in truth["frictions"]}, pd.read_parquet(out / "truth" / "people.parquet")


@pytest.fixture(scope="module")
def sc():
    return {f.id: f for f in load_scenario().frictions}


def test_senior_mobile_booking_abandon(raw, sc):
    root, truth, people = raw
    who = people.dropna(subset=["client_id"]).set_index("client_id")
    starts, done = defaultdict(int), defaultdict(int)
    for line in (root / "web" / "ga4_events.jsonl").read_bytes().splitlines():
        e = orjson.loads(line)
        if e["event_name"] not in ("booking_start", "booking_complete"):
            continue
        affected = e["device"]["category"] == "mobile" and who.at[e["user_pseudo_id"], "age"] >= 65
        (starts if e["event_name"] == "booking_start" else done)[affected] += 1
    r, lo, hi = ratio_ci(done[True], starts[True], done[False], starts[False])
    assert lo <= sc["senior_mobile_booking_abandon"].effect.conversion <= hi, (r, lo, hi)
    assert r < 0.6
    t = truth["senior_mobile_booking_abandon"]["realised"]
    assert t["affected"]["n"] > 0 and abs(t["rate_ratio"] - r) < 0.15


def test_weekend_leads_called_back_late_and_convert_less(raw, sc):
    root, truth, _ = raw
    leads = pd.read_csv(root / "crm" / "leads.csv", parse_dates=["created_at", "first_contact_at"])
    leads = leads[leads["first_contact_at"].notna()]
    weekend = leads["created_at"].dt.day_of_week >= 5
    hours = (leads["first_contact_at"] - leads["created_at"]).dt.total_seconds() / 3600
    assert hours[weekend].median() - hours[~weekend].median() == pytest.approx(
        sc["weekend_lead_callback"].effect.delay_hours, abs=12)
    assert 36 <= hours[weekend].median() <= 72  # "called back after ~48 h"
    booked = leads["status"] == "booked"
    r, lo, hi = ratio_ci(booked[weekend].sum(), weekend.sum(), booked[~weekend].sum(), (~weekend).sum())
    assert lo <= sc["weekend_lead_callback"].effect.conversion <= hi and r < 0.85, (r, lo, hi)
    assert truth["weekend_lead_callback"]["realised"]["value_difference"] > 30


def test_eastgate_referrals_sit_unscheduled(raw, sc):
    root, truth, _ = raw
    cutoff = datetime(2026, 1, 1) - timedelta(days=90)
    booked = {a["basedOn"][0]["reference"].split("/")[1] for a in ndjson(root, "Appointment") if a.get("basedOn")}
    k, n = defaultdict(int), defaultdict(int)
    for s in ndjson(root, "ServiceRequest"):
        if ts(s["authoredOn"]) >= cutoff:
            continue
        east = s["locationCode"][0]["coding"][0]["code"] == "eastgate"
        n[east] += 1
        k[east] += s["id"] in booked
    r, lo, hi = ratio_ci(k[True], n[True], k[False], n[False])
    assert lo <= sc["eastgate_referrals_unscheduled"].effect.conversion <= hi, (r, lo, hi)
    tasks = [t for t in ndjson(root, "Task") if "eastgate" in t["owner"]["display"]]
    assert sum(t["status"] != "completed" for t in tasks) > len(tasks) / 2


def test_spanish_speakers_stall_at_intake(raw, sc):
    root, truth, _ = raw
    lang = {p["id"]: p["communication"][0]["language"]["coding"][0]["code"] for p in ndjson(root, "Patient")}
    k, n = defaultdict(int), defaultdict(int)
    for q in ndjson(root, "QuestionnaireResponse"):
        assert q["questionnaire"].endswith("/intake")
        es = lang[q["subject"]["reference"].split("/")[1]] == "es"
        n[es] += 1
        k[es] += q["status"] == "completed"
    r, lo, hi = ratio_ci(k[True], n[True], k[False], n[False])
    assert lo <= sc["spanish_intake_stall"].effect.conversion <= hi, (r, lo, hi)
    stalled = {q["status"] for q in ndjson(root, "QuestionnaireResponse")} - {"completed"}
    assert stalled == {"in-progress", "stopped"}


def test_billing_confusion_after_elective_procedures(raw, sc):
    root, truth, _ = raw
    surveys = pd.read_csv(root / "surveys" / "responses.csv", keep_default_na=False, dtype={"mrn": str})
    mrn = {p["id"]: p["identifier"][0]["value"] for p in ndjson(root, "Patient")}
    procedures = {(mrn[e["subject"]["reference"].split("/")[1]], e["period"]["start"][:10])
                  for e in ndjson(root, "Encounter") if e["type"][0]["coding"][0]["code"] == "387713003"}
    surveys = surveys[surveys["comment"] != ""]
    after_proc = pd.Series([(m, d) in procedures for m, d in zip(surveys["mrn"], surveys["visit_date"])],
                           index=surveys.index)
    billing = surveys["comment"].str.contains("bill", case=False)
    assert billing[after_proc].mean() > 4 * billing[~after_proc].mean(), (billing[after_proc].mean(),
                                                                          billing[~after_proc].mean())
    assert surveys.loc[after_proc, "nps"].mean() < surveys.loc[~after_proc, "nps"].mean() - 0.5
    t = truth["elective_billing_confusion"]["realised"]
    assert t["affected"]["rate"] == pytest.approx(sc["elective_billing_confusion"].effect.rate, abs=0.1)
    assert t["value_difference"] < -1  # NPS lower after a surprise bill
    portal = pd.read_csv(root / "portal" / "messages.csv")
    assert (portal["topic"] == "billing").any()
    calls = pd.read_csv(root / "calls" / "calls.csv")
    assert (calls["queue"] == "billing").any()


def test_long_cardiology_waits_raise_no_shows(raw, sc):
    root, truth, _ = raw
    k, n = defaultdict(int), defaultdict(int)
    for a in ndjson(root, "Appointment"):
        if a["status"] not in ("fulfilled", "noshow") or a["serviceType"][0]["coding"][0]["code"] != "cardiology":
            continue
        wait = (ts(a["start"]) - ts(a["created"])).days
        if wait > 28:  # both groups carry the lead-time odds ratio; only > 42 days carries the friction
            long = wait > 42
            n[long] += 1
            k[long] += a["status"] == "noshow"
    odds = lambda kk, nn: kk / (nn - kk)  # noqa: E731
    log_or = math.log(odds(k[True], n[True]) / odds(k[False], n[False]))
    se = math.sqrt(1 / k[True] + 1 / (n[True] - k[True]) + 1 / k[False] + 1 / (n[False] - k[False]))
    assert abs(log_or - math.log(sc["cardiology_long_wait_noshow"].effect.odds_ratio)) <= 3 * se, (k, n)
    assert log_or > 0


def test_friction_fixed_from_a_date(tmp_path):
    """A friction with `end:` stops: affected only before, 'inactive' after (before/after checks)."""
    scen = tmp_path / "s.yml"
    scen.write_text("frictions:\n  - id: spanish_intake_stall\n    end: 2025-07-01\n")
    s = synthesize(tmp_path / "out", people=2500, seed=3, scenario=scen, workers=1)
    f = json.loads(s.truth_path.read_text())["frictions"]
    assert [x["id"] for x in f] == ["spanish_intake_stall"] and f[0]["end"] == "2025-07-01"
    real = f[0]["realised"]
    assert real["inactive"]["rate"] > real["affected"]["rate"] + 0.25
    assert abs(real["inactive"]["rate"] - real["others"]["rate"]) < 0.1
    qr = ndjson(s.out_dir, "QuestionnaireResponse")
    lang = {p["id"]: p["communication"][0]["language"]["coding"][0]["code"] for p in ndjson(s.out_dir, "Patient")}
    es = [q for q in qr if lang[q["subject"]["reference"].split("/")[1]] == "es"]
    before = [q["status"] == "completed" for q in es if ts(q["authored"]).date() < date(2025, 7, 1)]
    after = [q["status"] == "completed" for q in es if ts(q["authored"]).date() >= date(2025, 7, 1)]
    assert sum(after) / len(after) > sum(before) / len(before) + 0.25


def test_no_friction_scenario_plants_nothing(tmp_path):
    s = synthesize(tmp_path, people=1500, seed=2, scenario="none", workers=1)
    truth = json.loads(s.truth_path.read_text())
    assert truth["frictions"] == [] and s.frictions == []
    leads = pd.read_csv(tmp_path / "crm" / "leads.csv", parse_dates=["created_at", "first_contact_at"])
    leads = leads[leads["first_contact_at"].notna()]
    hours = (leads["first_contact_at"] - leads["created_at"]).dt.total_seconds() / 3600
    weekend = leads["created_at"].dt.day_of_week >= 5
    assert median(hours[weekend]) < 24  # no weekend callback delay without the friction
