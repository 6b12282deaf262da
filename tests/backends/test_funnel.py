"""Funnel semantics, pinned on DuckDB and PySpark with identical expected numbers.

Each test builds a few people with ``events_for`` and asserts exact counts and times. Several
rules share one test (and one engine round trip) to keep the Spark run short.
"""

from __future__ import annotations

import pandas as pd
import pytest

from carejourney.analyses.base import execute, parse_spec, run
from carejourney.errors import SpecError
from carejourney.project import load_project
from tests.conftest import MINI_JOURNEY

DAY = 86_400.0
LATE = "2027-06-01T00:00:00"  # an as_of after every window: nothing is in progress


def funnel(ctx, **fields) -> pd.DataFrame:
    fields.setdefault("as_of", LATE)
    df, _, _ = execute(parse_spec({"kind": "funnel", **fields}), ctx)
    return df


def col(df: pd.DataFrame, name: str) -> list:
    return [None if pd.isna(v) else v for v in df[name]]


def test_counts_conversions_and_times(events_for):
    ctx = events_for({
        "p1": [("referral_received", "2026-01-03"), ("appointment_booked", "2026-01-05"),
               ("visit_completed", "2026-01-20")],
        "p2": [("referral_received", "2026-01-03"), ("appointment_booked", "2026-01-09")],
        "p3": [("referral_received", "2026-01-03"), ("site_visit", "2026-01-04")],
        "p4": [("site_visit", "2026-01-02")],  # never enters
    })
    df = funnel(ctx)
    assert col(df, "step") == ["referral_received", "appointment_booked", "visit_completed"]
    assert col(df, "entered") == [3, 0, 0]
    assert col(df, "reached") == [3, 2, 1]
    assert col(df, "previous") == [None, 3, 2]
    assert col(df, "dropped") == [None, 1, 1]
    assert col(df, "in_progress") == [None, 0, 0]
    assert col(df, "conversion_from_previous") == [None, pytest.approx(2 / 3), 0.5]
    assert col(df, "conversion_from_first") == [1.0, pytest.approx(2 / 3), pytest.approx(1 / 3)]
    # referral -> booking took 2 and 6 days: median 4, p90 5.6 (linear interpolation on both engines)
    assert col(df, "median_days") == [None, 4.0, 15.0]
    assert col(df, "p90_seconds") == [None, pytest.approx(5.6 * DAY), 15 * DAY]


def test_window_is_inclusive_and_anchored_on_the_attempt_start(events_for):
    ctx = events_for({
        "edge": [("referral_received", "2026-01-01 08:00"), ("appointment_booked", "2026-01-31 08:00")],
        "late": [("referral_received", "2026-01-01 08:00"), ("appointment_booked", "2026-01-31 08:00:01")],
        # re-entry: the second referral starts a new attempt that converts; counted once, with its time
        "again": [("referral_received", "2026-01-01"), ("referral_received", "2026-03-01"),
                  ("appointment_booked", "2026-03-03"), ("visit_completed", "2026-03-04")],
    })
    df = funnel(ctx, window="30d")
    assert col(df, "reached") == [3, 2, 1]
    assert col(df, "median_seconds") == [None, pytest.approx((30 * DAY + 2 * DAY) / 2), DAY]


def test_equal_timestamps_take_step_order_and_one_event_fills_one_step(events_for):
    ctx = events_for({
        "same": [("appointment_booked", "2026-01-05 09:00"), ("referral_received", "2026-01-05 09:00")],
        "before": [("appointment_booked", "2026-01-05 08:00"), ("referral_received", "2026-01-05 09:00")],
        "once": [("visit_completed", "2026-02-01")],
        "twice": [("visit_completed", "2026-02-01"), ("visit_completed", "2026-02-01")],
    })
    df = funnel(ctx, steps="referral_received,appointment_booked")
    assert col(df, "reached") == [2, 1]
    assert col(df, "median_seconds") == [None, 0.0]
    repeat = funnel(ctx, steps=["visit_completed", "visit_completed"])  # a return-visit funnel
    assert col(repeat, "reached") == [2, 1]


def test_order_modes(events_for):
    ctx = events_for({
        "gap": [("referral_received", "2026-01-01"), ("reminder_sent", "2026-01-02"),
                ("intake_completed", "2026-01-03")],
        "direct": [("referral_received", "2026-01-01"), ("intake_completed", "2026-01-02")],
        "swapped": [("referral_received", "2026-01-01"), ("reminder_sent", "2026-01-02"),
                    ("intake_completed", "2026-01-03")],
    })
    steps = "referral_received,intake_completed"
    assert col(funnel(ctx, steps=steps), "reached") == [3, 3]
    assert col(funnel(ctx, steps=steps, order="strict"), "reached") == [3, 1]
    three = "referral_received,intake_completed,reminder_sent"
    assert col(funnel(ctx, steps=three), "reached") == [3, 3, 0]
    unordered = funnel(ctx, steps=three, order="unordered")
    assert col(unordered, "reached") == [3, 3, 2]
    # unordered reach time = when the last step so far was done: reminder (day 2) waits for intake (day 3)
    assert col(unordered, "median_days") == [None, 2.0, 0.0]


def test_max_gap_per_step(events_for):
    ctx = events_for({
        "quick": [("referral_received", "2026-01-01"), ("appointment_booked", "2026-01-11"),
                  ("visit_completed", "2026-01-29")],
        "slow": [("referral_received", "2026-01-01"), ("appointment_booked", "2026-01-16"),
                 ("visit_completed", "2026-01-20")],
    })
    df = funnel(ctx, max_gap={"appointment_booked": "14d"})
    assert col(df, "reached") == [2, 1, 1]
    both = funnel(ctx, max_gap="appointment_booked=14d,visit_completed=7d")
    assert col(both, "reached") == [2, 1, 0]


def test_exclusions_end_the_attempt_but_a_later_attempt_may_convert(events_for):
    ctx = events_for({
        "cancelled": [("referral_received", "2026-01-01"), ("appointment_booked", "2026-01-02"),
                      ("appointment_cancelled", "2026-01-03"), ("visit_completed", "2026-01-04")],
        "retried": [("referral_received", "2026-01-01"), ("appointment_booked", "2026-01-02"),
                    ("appointment_cancelled", "2026-01-03"), ("referral_received", "2026-01-05"),
                    ("appointment_booked", "2026-01-06"), ("visit_completed", "2026-01-07")],
        "cancel_first": [("referral_received", "2026-01-01"), ("appointment_cancelled", "2026-01-02"),
                         ("appointment_booked", "2026-01-03"), ("visit_completed", "2026-01-04")],
    })
    after_booking = funnel(ctx, exclusions="appointment_cancelled:appointment_booked")
    assert col(after_booking, "reached") == [3, 3, 2]
    after_entry = funnel(ctx, exclusions=[{"event": "appointment_cancelled"}])
    assert col(after_entry, "reached") == [3, 2, 1]


def test_date_range_filters_entry_only_and_open_windows_are_in_progress(events_for):
    ctx = events_for({
        # late-arriving: listed booking-first, counted by event time
        "inside": [("appointment_booked", "2026-02-05"), ("referral_received", "2026-01-30")],
        "outside": [("referral_received", "2026-02-02"), ("appointment_booked", "2026-02-03")],
        "stale": [("referral_received", "2026-01-02")],
        "fresh": [("referral_received", "2026-01-28")],
    })
    ranged = funnel(ctx, steps="referral_received,appointment_booked", date_to="2026-01-31")
    assert col(ranged, "reached") == [3, 1]
    assert col(ranged, "dropped") == [None, 2]
    # as_of = the newest event (2026-02-05): 'fresh' may still book, 'stale' (window over) dropped
    live = parse_spec({"kind": "funnel", "steps": "referral_received,appointment_booked", "date_to": "2026-01-31"})
    df, _, _ = execute(live, ctx)
    assert col(df, "in_progress") == [None, 1]
    assert col(df, "dropped") == [None, 1]
    assert df.attrs["notes"] == ["as_of 2026-02-05T00:00:00 UTC"]


def test_open_funnel_counts_people_from_the_step_they_enter(events_for):
    ctx = events_for({
        "full": [("referral_received", "2026-01-01"), ("appointment_booked", "2026-01-02"),
                 ("visit_completed", "2026-01-03")],
        "walk_in": [("appointment_booked", "2026-01-05"), ("visit_completed", "2026-01-06")],
        "visit_only": [("visit_completed", "2026-01-07")],
    })
    assert col(funnel(ctx), "reached") == [1, 1, 1]
    df = funnel(ctx, open=True)
    assert col(df, "entered") == [1, 1, 1]
    assert col(df, "reached") == [1, 2, 3]
    assert col(df, "continued") == [None, 1, 2]
    assert col(df, "dropped") == [None, 0, 0]
    assert col(df, "conversion_from_first") == [1.0, 1.0, 1.0]


def test_open_funnel_enters_at_the_first_step_with_a_start_in_range_and_keeps_the_best_attempt(events_for):
    ctx = events_for({
        # the referral is before the range: the person enters at the booking, the next step in range
        "early_ref": [("referral_received", "2025-12-20"), ("appointment_booked", "2026-01-05"),
                      ("visit_completed", "2026-01-06")],
        # two attempts: the first books within the window, the second goes nowhere; the first counts
        "two": [("referral_received", "2026-01-01"), ("appointment_booked", "2026-01-10"),
                ("referral_received", "2026-01-20")],
        # a booking before the second referral does not serve it: the first attempt's window is over
        "slow": [("referral_received", "2026-01-02"), ("referral_received", "2026-03-01"),
                 ("appointment_booked", "2026-03-04"), ("visit_completed", "2026-03-05")],
    })
    df = funnel(ctx, open=True, date_from="2026-01-01", window="30d")
    assert col(df, "entered") == [2, 1, 0]
    assert col(df, "reached") == [2, 3, 2]
    assert col(df, "median_seconds") == [None, pytest.approx((9 * DAY + 3 * DAY) / 2), DAY]


def test_episode_unit_keeps_episode_constant(events_for):
    ctx = events_for({
        "p1": [("referral_received", "2026-01-01", {"episode_id": "knee"}),
               ("appointment_booked", "2026-01-02", {"episode_id": "knee"}),
               ("referral_received", "2026-01-03", {"episode_id": "heart"}),
               ("visit_completed", "2026-01-04", {"episode_id": "knee"}),
               ("appointment_booked", "2026-01-05", {"episode_id": "other"})],
    })
    assert col(funnel(ctx), "reached") == [1, 1, 1]
    assert col(funnel(ctx, unit="episode"), "reached") == [2, 1, 1]


def test_breakdowns_top_n_other_and_unknown_sum_to_the_total(events_for):
    people = {}
    for i, band in enumerate(["18-34"] * 3 + ["35-49"] * 2 + ["50-64"] + [None]):
        events = [("referral_received", "2026-01-01", {"channel": "fax" if i % 2 else "portal"})]
        if i < 4:
            events.append(("appointment_booked", "2026-01-03"))
        people[f"p{i}"] = {"events": events, "attrs": {"age_band": band}}
    ctx = events_for(people)
    total = funnel(ctx, steps="referral_received,appointment_booked")
    df = funnel(ctx, steps="referral_received,appointment_booked", by="age_band", top=2)
    assert col(df, "age_band") == ["18-34", "18-34", "35-49", "35-49", "Other", "Other"]
    by = df.groupby("step_index")[["reached", "entered"]].sum()
    assert list(by["reached"]) == col(total, "reached") == [7, 4]
    assert df.set_index(["age_band", "step_index"]).loc[("18-34", 2), "reached"] == 3
    assert col(df[df.age_band == "Other"], "reached") == [2, 0]  # 50-64 and the unknown band
    top4 = funnel(ctx, steps="referral_received,appointment_booked", by="age_band", top=4)
    assert set(top4.age_band) == {"18-34", "35-49", "50-64", "(unknown)"}
    assert list(top4.groupby("step_index")["reached"].sum()) == [7, 4]
    ch = funnel(ctx, steps="referral_received,appointment_booked", by="channel")
    assert dict(zip(ch[ch.step_index == 2].channel, ch[ch.step_index == 2].reached)) == {"portal": 2, "fax": 2}
    assert dict(zip(ch[ch.step_index == 1].channel, ch[ch.step_index == 1].reached)) == {"portal": 4, "fax": 3}


def test_breakdown_by_journey_segment(events_for):
    ctx = events_for({
        "old": {"events": [("referral_received", "2026-01-01"), ("appointment_booked", "2026-01-02")],
                "attrs": {"age_band": "75-89"}},
        "young": {"events": [("referral_received", "2026-01-01")], "attrs": {"age_band": "35-49"}},
    })
    df = funnel(ctx, steps="referral_received,appointment_booked", by="segment")
    got = {(r.segment, r.step_index): r.reached for r in df.itertuples()}
    assert got == {("senior", 1): 1, ("senior", 2): 1, ("adult", 1): 1, ("adult", 2): 0}
    only = funnel(ctx, steps="referral_received,appointment_booked", segment="senior")
    assert col(only, "reached") == [1, 1]


def test_trend_by_entry_period_is_dst_correct(events_for, make_project):
    project = load_project(make_project({
        "carejourney.yml": "name: ny\ntimezone: America/New_York\n", "journeys/care.yml": MINI_JOURNEY}, name="ny"))
    ctx = events_for({
        # 2026-03-08 is the spring-forward day in New York: 04:30 UTC is 23:30 on the 7th (EST)
        "a": [("referral_received", "2026-03-08 04:30"), ("appointment_booked", "2026-03-10")],
        # 2026-03-09 04:30 UTC is 00:30 on the 9th (EDT, UTC-4); a fixed -5h offset would say the 8th
        "b": [("referral_received", "2026-03-09 04:30")],
        # 2026-11-01 05:30 UTC is 00:30 on Nov 1 (still EDT); 2026-11-02 04:30 UTC is 23:30 on Nov 1 (EST)
        "c": [("referral_received", "2026-11-01 05:30")],
        "d": [("referral_received", "2026-11-02 04:30")],
    }, project=project)
    df = funnel(ctx, steps="referral_received,appointment_booked", trend="day", as_of="2026-11-20T00:00:00")
    first = df[df.step_index == 1]
    assert [str(p) for p in first.period] == ["2026-03-07", "2026-03-09", "2026-11-01"]
    assert col(first, "reached") == [1, 1, 2]
    assert col(df[df.step_index == 2], "reached") == [1, 0, 0]
    assert col(first, "complete") == [True, True, False]
    monthly = funnel(ctx, steps="referral_received,appointment_booked", trend="month", as_of="2026-11-20T00:00:00")
    assert [str(p) for p in monthly[monthly.step_index == 1].period] == ["2026-03-01", "2026-11-01"]


def test_results_are_suppressed_across_steps(events_for):
    people = {f"p{i}": [("referral_received", "2026-01-01")] + (
        [("appointment_booked", "2026-01-02")] if i < 13 else []) + (
        [("visit_completed", "2026-01-03")] if i < 3 else []) for i in range(20)}
    ctx = events_for(people)
    result = run(parse_spec({"kind": "funnel", "as_of": LATE}), ctx)
    rec = result.records()
    # 20 -> 13 reveals the 7 who dropped, so booking's counts hide (and so does the next step's
    # 'previous', which repeats booking's 'reached'); the referral count of 20 stays
    assert [r["reached"] for r in rec] == [20, "<11", "<11"]
    assert [r["previous"] for r in rec] == [None, 20, "<11"]
    assert rec[1]["dropped"] == rec[1]["continued"] == rec[1]["conversion_from_previous"] == "<11"
    assert rec[1]["in_progress"] == 0 and rec[2]["median_seconds"] == "<11"
    assert result.suppressed > 0 and result.engine in ("duckdb", "pyspark")
    assert "referral_received" in result.sql or "SQL not available" in result.sql


def test_spec_errors_name_the_field_and_the_fix(events_for):
    ctx = events_for({"p1": [("referral_received", "2026-01-01")]})
    with pytest.raises(SpecError, match="did you mean 'appointment_booked'"):
        funnel(ctx, steps="referral_received,apointment_booked")
    with pytest.raises(SpecError, match="max_gap"):
        funnel(ctx, steps="referral_received,appointment_booked", max_gap={"visit_completed": "3d"})
    with pytest.raises(SpecError, match="by"):
        parse_spec({"kind": "funnel", "by": "age"})
    with pytest.raises(SpecError, match="at least two"):
        funnel(ctx, steps="referral_received")


def test_no_entries_give_zero_counts_not_errors(events_for):
    ctx = events_for({"p": [("site_visit", "2026-01-01")]})
    df = funnel(ctx)
    assert col(df, "reached") == [0, 0, 0] and col(df, "dropped") == [None, 0, 0]
    assert funnel(ctx, by="age_band", trend="week").empty
