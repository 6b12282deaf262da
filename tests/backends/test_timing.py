"""Delays between journey points (kinds ``timing`` and ``delays``), on DuckDB and Spark."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carejourney.analyses.base import execute, parse_spec, run
from carejourney.errors import SpecError
from carejourney.project import load_project
from tests.conftest import MINI_JOURNEY

DAY = 86400.0


def frame(ctx, **spec):
    df, _, _ = execute(parse_spec(spec), ctx)
    return df


@pytest.fixture
def log(events_for):
    people = {}
    for i in range(12):  # first referral anchors; the first booking after it ends the delay
        people[f"a{i}"] = {"attrs": {"age_band": "65-74"}, "events": [
            ("referral_received", "2026-01-01 00:00"), ("referral_received", "2026-01-01 06:00"),
            ("appointment_booked", pd.Timestamp("2026-01-01") + pd.Timedelta(days=i + 1)),
            ("appointment_booked", "2026-03-01")]}
    for i in range(11):  # booked only before the referral: started, never reached
        people[f"b{i}"] = [("appointment_booked", "2025-12-30"), ("referral_received", "2026-01-01")]
    for i in range(11):  # equal timestamps: booking after referral by journey order → delay 0
        people[f"c{i}"] = [("appointment_booked", "2026-01-05 10:00"), ("referral_received", "2026-01-05 10:00")]
    return events_for(people)


def test_first_b_after_first_a_with_quantiles_and_target(log):
    df = frame(log, kind="timing", **{"from": "referral_received"}, to="appointment_booked", target="3d")
    assert len(df) == 1
    r = df.iloc[0]
    secs = [DAY * (i + 1) for i in range(12)] + [0.0] * 11
    assert (r.group, r.started, r.people) == ("all", 34, 23)
    assert r.median_seconds == pytest.approx(np.median(secs)) == pytest.approx(DAY)
    assert r.p75_seconds == pytest.approx(np.quantile(secs, 0.75))
    assert r.p90_seconds == pytest.approx(np.quantile(secs, 0.9))
    assert (r.target_seconds, r.over_target) == (3 * DAY, 9)
    assert r.share_over_target == pytest.approx(9 / 23)


def test_by_person_attribute_and_stage_endpoints(log):
    df = frame(log, kind="timing", **{"from": "access"}, to="appointment_booked", by="age_band")
    got = {r.group: (r.started, r.people) for r in df.itertuples()}
    # stage 'access' starts at the first access event (a referral or an earlier booking)
    assert got == {"65-74": (12, 12), "(unknown)": (22, 11)}
    assert df.over_target.isna().all() and df.share_over_target.isna().all()


def test_run_suppresses_small_groups(log):
    recs = run(parse_spec({"kind": "timing", "from": "referral_received", "to": "appointment_booked",
                           "target": "3d"}), log).records()
    assert recs[0]["people"] == 23 and recs[0]["over_target"] == "<11" and recs[0]["share_over_target"] == "<11"


def test_unknown_endpoint_is_a_spec_error(log):
    with pytest.raises(SpecError, match="did you mean 'appointment_booked'"):
        frame(log, kind="timing", **{"from": "referral_received"}, to="appointment_boked")
    with pytest.raises(SpecError, match="person attribute"):
        frame(log, kind="timing", **{"from": "referral_received"}, to="appointment_booked", by="shoe_size")


DELAY_JOURNEY = MINI_JOURNEY.replace("segments:", """\
  - {id: call_inbound, stage: access, channel: phone, repeatable: true}
delays:
  - {id: referral_to_booking, label: Referral to booking, from: referral_received, to: appointment_booked,
     target: {sla: {within: 3d, share: 0.9}}}
  - {id: lead_time, from: appointment_booked, to: care}
segments:""")


def test_delays_runs_named_delays_and_call_metrics(events_for, make_project):
    project = load_project(make_project({"journeys/care.yml": DELAY_JOURNEY}))
    people = {}
    for i in range(12):
        calls = [("call_inbound", "2026-01-01 08:00", {"source_event": "call_inbound", "status": "answered",
                                                        "value": 30 + 10 * i})]
        if i < 6:
            calls.append(("call_inbound", "2026-01-01 09:00", {"source_event": "call_inbound",
                                                               "status": "abandoned", "value": 200}))
        people[f"k{i}"] = calls + [("referral_received", "2026-01-02"),
                                   ("appointment_booked", pd.Timestamp("2026-01-02") + pd.Timedelta(days=i)),
                                   ("visit_completed", "2026-02-01")]
    ctx = events_for(people, project=project)
    df = frame(ctx, kind="delays").set_index("delay")
    assert list(df.index) == ["referral_to_booking", "lead_time", "call_wait", "call_abandonment"]
    r = df.loc["referral_to_booking"]
    assert (r.label, r["from"], r.to, r.people, r.target_seconds) == ("Referral to booking", "referral_received",
                                                                      "appointment_booked", 12, 3 * DAY)
    assert r.over_target == 8  # days 4..11
    assert df.loc["lead_time"].median_seconds == pytest.approx(np.median([(30 - i) * DAY for i in range(12)]))
    waits = [30 + 10 * i for i in range(12)] + [200] * 6
    w = df.loc["call_wait"]
    assert (w.started, w.people, w.target_seconds) == (12, 12, 120.0)
    assert w.median_seconds == pytest.approx(np.median(waits))
    assert w.p90_seconds == pytest.approx(np.quantile(waits, 0.9))
    assert w.over_target == 8  # 130 s, 140 s, and the six 200 s abandoned calls
    a = df.loc["call_abandonment"]
    assert (a.started, a.over_target) == (12, 6) and a.share_over_target == pytest.approx(0.5)
