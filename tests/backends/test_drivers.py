"""Drivers of drop-off and delay, on DuckDB and Spark: planted effects are found, others are not."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from carejourney.analyses import _stats as st
from carejourney.analyses.base import execute, run
from carejourney.analyses.drivers import DriversSpec
from carejourney.errors import SpecError
from carejourney.project import load_project
from tests.conftest import MINI_JOURNEY


def _people():
    """60 Spanish speakers book 30% of the time, 60 English speakers 90%; L2 books after 10 days, L1 after 2."""
    people = {}
    for i in range(120):
        lang = "es" if i < 60 else "en"
        loc = "L2" if i % 2 else "L1"
        booked = (i % 10 < 3) if lang == "es" else (i % 10 < 9)
        start = pd.Timestamp("2026-01-01 10:00") + pd.Timedelta(days=i % 28)
        ev = [("referral_received", str(start), {"location": loc})]
        if booked:
            wait = pd.Timedelta(days=10 if loc == "L2" else 2, hours=i % 5)
            ev.append(("appointment_booked", str(start + wait), {"location": loc, "status": "booked"}))
        people[f"p{i:03d}"] = {"events": ev, "attrs": {"language": lang, "age_band": "35-49" if i % 3 else "65-74"}}
    # a small group below the minimum support
    for i in range(12):
        people[f"z{i:02d}"] = {"events": [("referral_received", "2026-01-05 10:00", {"location": "L9"})],
                               "attrs": {"language": "zh", "age_band": "35-49"}}
    return people


def test_drivers_find_planted_conversion_and_delay(events_for):
    ctx = events_for(_people())
    df, sql, _ = execute(DriversSpec(steps=[("referral_received", "appointment_booked")], censor=False), ctx)
    row = lambda d, v: df[(df.dimension == d) & (df.value == v)].iloc[0]  # noqa: E731
    es = row("language", "es")
    assert (es.n, es.converted, es.rest_n, es.rest_converted) == (60, 18, 72, 54)
    assert es.rate == pytest.approx(0.3) and es.rest_rate == pytest.approx(54 / 72)
    assert es["diff"] == pytest.approx(0.3 - 0.75)
    assert es.diff_lo < es["diff"] < es.diff_hi < 0
    assert es.friction_conversion and not row("language", "en").friction_conversion
    assert es.q_conversion >= es.p_conversion and es.q_conversion < 0.05
    l2 = row("location", "L2")
    assert l2.ratio > 3 and l2.ratio_lo > 1.25 and l2.friction_delay
    assert l2.median_hours == pytest.approx(242, rel=0.1) and l2.rest_median_hours == pytest.approx(50, rel=0.1)
    # zh (12 people) is below min_support: reported, not tested
    zh = row("language", "zh")
    assert zh.n == 12 and math.isnan(zh.p_conversion) and not zh.friction_conversion
    # the owner team comes from the step's target touchpoint
    assert es.owner == "patient_access" and es.stage == "access"
    assert "referral_received" in sql


def test_drivers_run_suppresses_small_cells(events_for):
    ctx = events_for(_people())
    res = run(DriversSpec(steps=[("referral_received", "appointment_booked")], dimensions=["language"],
                          features=[], censor=False), ctx)
    rec = {r["value"]: r for r in res.records()}
    assert rec["zh"]["n"] == "<11" or rec["zh"]["converted"] == 0
    assert rec["zh"]["rate"] in ("<11", 0.0)
    assert res.rows.cells >= 1


def test_drivers_weekday_in_project_timezone_and_lead_time(events_for, make_project):
    tz_project = load_project(make_project({"carejourney.yml": "name: tz\ntimezone: America/New_York\n",
                                            "journeys/care.yml": MINI_JOURNEY}, name="tz"))
    people = {}
    for i in range(40):
        # 03:00 UTC on Monday 5 January is Sunday 22:00 in New York
        ev = [("appointment_booked", "2026-01-05 03:00", {"status": "booked"}),
              ("visit_completed", f"2026-{'01-08' if i < 20 else '03-01'} 10:00", {"status": "completed"})]
        people[f"p{i}"] = ev
    ctx = events_for(people, project=tz_project)
    df, _, _ = execute(DriversSpec(steps=[("appointment_booked", "visit_completed")],
                                   dimensions=["first_weekday", "first_hour", "weekday", "weekend", "lead_time"],
                                   features=[], censor=False, min_support=10), ctx)
    vals = {(r.dimension, r.value): r.n for r in df.itertuples()}
    assert vals[("first_weekday", "Sun")] == 40 and vals[("first_hour", "22")] == 40
    assert vals[("weekend", "yes")] == 40
    assert vals[("lead_time", "3-7d")] == 20 and vals[("lead_time", ">42d")] == 20
    # lead time is part of this step's delay: compared on conversion only
    assert df[df.dimension == "lead_time"].p_delay.isna().all()


def test_drivers_reject_unknown_names(events_for):
    ctx = events_for({"p1": [("referral_received", "2026-01-01")]})
    with pytest.raises(SpecError, match="did you mean 'appointment_booked'"):
        execute(DriversSpec(steps=[("referral_received", "appointment_bookd")]), ctx)
    with pytest.raises(SpecError, match="unknown dimension 'langauge'"):
        execute(DriversSpec(dimensions=["langauge"]), ctx)


def test_binned_mann_whitney_matches_scipy():
    h1, h2 = np.array([3, 0, 5, 2, 7]), np.array([1, 4, 4, 6, 0])
    x = np.repeat(np.arange(5), h1)
    y = np.repeat(np.arange(5), h2)
    ref = stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=False)
    u, p = st.mw_binned(h1, h2)
    assert u == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)


def test_newcombe_interval_matches_published_example():
    # Newcombe (1998) Table II, example (a): 56/70 vs 48/80 → 0.2000 (0.0524, 0.3339)
    d, lo, hi = st.newcombe(56, 70, 48, 80)
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (0.2, 0.0524, 0.3339)


def test_fisher_for_small_expected_counts_and_bh():
    assert st.prop_test(1, 10, 8, 10)[1] == "fisher"
    assert st.prop_test(300, 1000, 400, 1000)[1] == "z"
    q = st.bh([0.01, 0.04, np.nan, 0.03])
    assert np.isnan(q[2]) and q[0] == pytest.approx(0.03) and q[1] == pytest.approx(0.04)
