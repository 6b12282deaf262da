"""Equity view on DuckDB and Spark: rates, gaps to the overall rate with intervals, suppression."""

from __future__ import annotations

import pandas as pd
import pytest

from carejourney.analyses.base import execute, run
from carejourney.analyses.equity import EquitySpec


def _people():
    people = {}
    for i in range(100):
        payer = "medicaid" if i < 40 else "commercial"
        booked = (i % 2 == 0) if payer == "medicaid" else (i % 10 < 8)
        start = pd.Timestamp("2026-02-01 09:00") + pd.Timedelta(hours=i)
        ev = [("referral_received", str(start))]
        if booked:
            ev.append(("appointment_booked", str(start + pd.Timedelta(days=4 if payer == "medicaid" else 1))))
        people[f"p{i:03d}"] = {"events": ev, "attrs": {"payer_type": payer, "language": "en" if i >= 5 else "vi"}}
    return people


def test_equity_rates_and_gap_to_overall(events_for):
    ctx = events_for(_people())
    df, _, _ = execute(EquitySpec(steps=[("referral_received", "appointment_booked")],
                                  dimensions=["payer_type", "language"], censor=False), ctx)
    med = df[(df.dimension == "payer_type") & (df.value == "medicaid")].iloc[0]
    com = df[(df.dimension == "payer_type") & (df.value == "commercial")].iloc[0]
    assert (med.n, med.converted, com.n, com.converted) == (40, 20, 60, 48)
    assert med.overall_rate == pytest.approx(68 / 100)
    # gap to the overall rate = rate − overall rate, interval around it
    assert med.gap == pytest.approx(0.5 - 0.68)
    assert med.gap_lo < med.gap < med.gap_hi < 0
    assert med.rate_lo < 0.5 < med.rate_hi
    assert med.median_hours == pytest.approx(96, rel=0.1) and com.median_hours == pytest.approx(24, rel=0.1)


def test_equity_suppresses_groups_under_k(events_for):
    ctx = events_for(_people())
    res = run(EquitySpec(steps=[("referral_received", "appointment_booked")], dimensions=["language"],
                         censor=False), ctx)
    rec = {r["value"]: r for r in res.records()}
    assert rec["vi"]["n"] == "<11" and rec["vi"]["rate"] == "<11" and rec["vi"]["gap"] == "<11"
    # the complement would reveal the small group by subtraction from overall_n
    assert rec["en"]["n"] == "<11"
    assert res.suppressed >= 2


def test_equity_with_no_step_rows_is_empty_not_an_error(events_for):
    # people who never start the step (e.g. a segment of anonymous browsers): no counts at all
    people = {f"q{i:03d}": {"events": [("appointment_booked", str(pd.Timestamp("2026-02-01 09:00") + pd.Timedelta(hours=i)))],
                            "attrs": {"payer_type": "medicaid"}} for i in range(30)}
    ctx = events_for(people)
    spec = EquitySpec(steps=[("referral_received", "appointment_booked")], dimensions=["payer_type"], censor=False)
    df, _, _ = execute(spec, ctx)
    assert df.empty and {"step", "dimension", "value", "n", "gap"} <= set(df.columns)
    res = run(spec, ctx)
    assert res.records() == [] and res.suppressed == 0
