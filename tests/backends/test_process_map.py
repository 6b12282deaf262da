"""Directly-follows graph with frequency and performance, on DuckDB and Spark."""

from __future__ import annotations

import pytest

from carejourney.analyses.base import execute, parse_spec, run


def rows(ctx, **spec):
    df, _, _ = execute(parse_spec({"kind": "process_map", **spec}), ctx)
    return df


@pytest.fixture
def log(events_for):
    people = {}
    for i in range(12):  # referral → booked after i+1 hours, booked → visit after 2 days
        people[f"a{i}"] = [("referral_received", "2026-01-02 08:00"),
                           ("appointment_booked", f"2026-01-02 {9 + i:02d}:00"),
                           ("visit_completed", f"2026-01-04 {9 + i:02d}:00")]
    for i in range(11):  # equal timestamps: ordered by journey position; a repeated booking (self-loop)
        people[f"b{i}"] = [("appointment_booked", "2026-01-03 10:00"), ("referral_received", "2026-01-03 10:00"),
                           ("appointment_booked", "2026-01-03 10:30")]
    return events_for(people)


def _edges(df):
    e = df[df.element == "edge"]
    return {(r.source, r.target): (r.events, r.people) for r in e.itertuples()}


def test_edges_count_every_occurrence_and_distinct_people(log):
    df = rows(log)
    assert _edges(df) == {
        ("referral_received", "appointment_booked"): (23, 23),
        ("appointment_booked", "visit_completed"): (12, 12),
        ("appointment_booked", "appointment_booked"): (11, 11),
    }
    starts = df[df.element == "start"].set_index("source").events.to_dict()
    ends = df[df.element == "end"].set_index("source").events.to_dict()
    assert starts == {"referral_received": 23}
    assert ends == {"visit_completed": 12, "appointment_booked": 11}
    assert list(df.element) == ["edge"] * 3 + ["start"] + ["end"] * 2


def test_edge_performance_median_and_p90(log):
    df = rows(log).set_index(["source", "target"])
    # referral → booked: 12 people after 1..12 hours, 11 people after 0 s (equal timestamps)
    import numpy as np
    secs = [h * 3600.0 for h in range(1, 13)] + [0.0] * 11
    r = df.loc[("referral_received", "appointment_booked")]
    assert r.median_seconds == pytest.approx(np.median(secs))
    assert r.p90_seconds == pytest.approx(np.quantile(secs, 0.9))
    assert df.loc[("appointment_booked", "visit_completed")].median_seconds == pytest.approx(2 * 86400)
    assert df.loc[("appointment_booked", "appointment_booked")].median_seconds == pytest.approx(1800)


def test_collapse_repeats_and_stage_level(log):
    assert ("appointment_booked", "appointment_booked") not in _edges(rows(log, collapse_repeats=True))
    stage = _edges(rows(log, level="stage"))
    assert stage == {("access", "access"): (23 + 11, 23), ("access", "care"): (12, 12)}


def test_approx_is_close(log):
    df = rows(log, approx=True).set_index(["source", "target"])
    assert df.loc[("appointment_booked", "visit_completed")].median_seconds == pytest.approx(2 * 86400)


def test_run_suppresses_edges_of_few_people(events_for):
    ctx = events_for({f"p{i}": [("referral_received", "2026-01-02"), ("visit_completed", "2026-01-05")]
                      for i in range(12)} | {"q": [("site_visit", "2026-01-01"), ("referral_received", "2026-01-02")]})
    recs = run(parse_spec({"kind": "process_map"}), ctx).records()
    small = next(r for r in recs if r["source"] == "site_visit" and r["element"] == "edge")
    assert small["people"] == "<11" and small["events"] == "<11" and small["median_seconds"] == "<11"
    big = next(r for r in recs if r["source"] == "referral_received" and r["element"] == "edge")
    assert big["people"] == 12 and big["median_seconds"] == 3 * 86400
