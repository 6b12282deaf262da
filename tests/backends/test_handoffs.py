"""Handoffs between owner teams and re-contact (failure demand), on DuckDB and Spark."""

from __future__ import annotations

import pandas as pd
import pytest

from carejourney.analyses.base import execute
from carejourney.analyses.handoffs import HandoffsSpec


def _handoff_people():
    people = {}
    for i in range(30):
        t0 = pd.Timestamp("2026-03-02 08:00") + pd.Timedelta(hours=i)
        ev = [("referral_received", str(t0)), ("appointment_booked", str(t0 + pd.Timedelta(days=2)))]
        if i < 24:  # 6 of 30 never get from booking (patient access) to the visit (clinical)
            ev.append(("visit_completed", str(t0 + pd.Timedelta(days=12))))
        people[f"h{i}"] = ev
    return people


def test_designed_and_observed_handoffs(events_for):
    ctx = events_for(_handoff_people())
    df, _, _ = execute(HandoffsSpec(censor=False), ctx)
    des = df[df.kind == "designed"].set_index("step")
    row = des.loc["appointment_booked>visit_completed"]
    assert (row.n, row.converted) == (30, 24)
    assert row.dropout == pytest.approx(0.2)
    assert (row.from_owner, row.to_owner) == ("patient_access", "clinical")
    assert row.median_hours == pytest.approx(240)
    # referral_received → appointment_booked stays within patient access: not a handoff
    assert "referral_received>appointment_booked" not in des.index
    obs = df[df.kind == "observed"].set_index("step")
    assert obs.loc["appointment_booked>visit_completed"].n == 24
    assert obs.loc["appointment_booked>visit_completed"].median_hours == pytest.approx(240)
    # the designed chain alone (what the report shows): the same designed rows, no observed ones
    only, _, _ = execute(HandoffsSpec(censor=False, observed=False), ctx)
    assert set(only.kind) == {"designed"}
    pd.testing.assert_frame_equal(only.reset_index(drop=True), df[df.kind == "designed"].reset_index(drop=True))


def _contact_people():
    people = {}
    for i in range(40):
        t0 = pd.Timestamp("2026-04-01 09:00") + pd.Timedelta(hours=i)
        call = {"source_event": "call_inbound", "detail": "billing"}
        ev = [("visit_completed", str(t0)), ("bill_sent", str(t0 + pd.Timedelta(days=1)), call)]
        if i < 20:  # half call again about the same thing within 7 days
            ev.append(("bill_sent", str(t0 + pd.Timedelta(days=4)), call))
        if i % 4 == 0:  # a repeat outside the window does not count
            ev.append(("bill_sent", str(t0 + pd.Timedelta(days=30)), call))
        people[f"c{i}"] = ev
    return people


def test_recontact_and_after_visit_contacts(events_for):
    ctx = events_for(_contact_people())
    df, _, _ = execute(HandoffsSpec(view="recontact", within="7d", max_share=0.3), ctx)
    rep = df[df.kind == "repeat"].iloc[0]
    assert (rep.touchpoint, rep.detail, rep.n, rep.converted) == ("bill_sent", "billing", 40, 20)
    assert rep.share == pytest.approx(0.5) and rep.share_lo > 0.3 and rep.flagged
    assert rep.owner == "billing"
    after = df[df.kind == "after_visit"].iloc[0]
    assert (after.n, after.converted) == (40, 40)


def test_after_visit_contacts_need_a_visit_strictly_before_within_the_window(events_for):
    call = {"source_event": "call_inbound", "detail": "billing"}
    t = pd.Timestamp("2026-05-04 10:00")

    def at(days: float) -> str:
        return str(t + pd.Timedelta(days=days))
    ctx = events_for({
        "same_instant": [("visit_completed", at(0)), ("bill_sent", at(0), call)],  # not after the visit
        "before": [("bill_sent", at(-1), call), ("visit_completed", at(0))],
        "latest_visit": [("visit_completed", at(-30)), ("visit_completed", at(0)), ("bill_sent", at(2), call)],
        "too_late": [("visit_completed", at(0)), ("bill_sent", at(7.5), call)],
        "twice": [("visit_completed", at(0)), ("bill_sent", at(1), call), ("bill_sent", at(2), call)],
        # 100 visits and 100 calls, each call half a day after a visit (pairs: 10,000)
        "busy": [(tp, at(d / 2), call if tp == "bill_sent" else {}) for d in range(200)
                 for tp in ("visit_completed", "bill_sent") if (d % 2 == 0) == (tp == "visit_completed")],
    })
    df, _, _ = execute(HandoffsSpec(view="recontact", within="7d"), ctx)
    after = df[df.kind == "after_visit"].iloc[0]
    assert (after.touchpoint, after.detail) == ("bill_sent", "billing")
    assert (after.n, after.converted, after.contacts) == (6, 3, 1 + 2 + 100)
