"""Return care / retention, pinned on DuckDB and PySpark with identical expected numbers."""

from __future__ import annotations

import pandas as pd

from carejourney.analyses.base import execute, parse_spec, run
from carejourney.project import load_project
from tests.conftest import MINI_JOURNEY

V = "visit_completed"
PEOPLE = {
    "a": [(V, "2026-01-05"), (V, "2026-01-20"), (V, "2026-03-03")],
    "b": [(V, "2026-01-10"), (V, "2026-02-01")],
    "c": [(V, "2026-01-31 23:00")],
    "d": [(V, "2026-02-02"), (V, "2026-03-01", {"status": "cancelled"}), (V, "2026-04-02")],
    "e": [(V, "2025-12-02"), (V, "2026-01-15")],  # a returning patient
    "f": [("referral_received", "2026-01-02")],     # never visits
}


def retention(ctx, **fields) -> pd.DataFrame:
    df, _, _ = execute(parse_spec({"kind": "retention", **fields}), ctx)
    return df


def table(df: pd.DataFrame) -> dict:
    return {(str(r.cohort), r.period): (r.cohort_size, None if pd.isna(r.returned) else r.returned, r.complete)
            for r in df.itertuples()}


def test_cohorts_modes_incomplete_periods_and_entry(events_for):
    ctx = events_for(PEOPLE)
    base = dict(date_from="2026-01-01", as_of="2026-03-15T00:00:00", periods=3)
    on = retention(ctx, **base)
    assert table(on) == {
        ("2026-01-01", 0): (3, 1, True),     # a came back later in January
        ("2026-01-01", 1): (3, 1, True),     # b in February
        ("2026-01-01", 2): (3, None, False),  # March has not ended: masked, not a drop
        ("2026-02-01", 0): (1, 0, True),
        ("2026-02-01", 1): (1, None, False),  # d's cancelled visit never counts
    }
    assert list(on.columns) == ["cohort", "period", "period_start", "cohort_size", "returned", "rate", "complete"]
    assert on.rate.iloc[0] == 1 / 3 and pd.isna(on.rate.iloc[2])
    later = retention(ctx, mode="on_or_after", **base)
    assert [later.returned.iloc[i] for i in (0, 1)] == [2, 2]  # a (last back in March) and b
    assert later.prev_returned.iloc[1] == 2 and pd.isna(later.prev_returned.iloc[0])
    ranged = retention(ctx, entry="first_in_range", **base)
    assert table(ranged)[("2026-01-01", 0)] == (4, 1, True)  # e's first visit in range is 15 Jan
    full = retention(ctx, as_of="2026-05-01T00:00:00", periods=3)
    assert table(full)[("2026-02-01", 2)] == (1, 1, True)  # d back in April
    assert ("2025-12-01", 1) in table(full)


def test_weekly_cohorts_in_the_project_timezone(events_for, make_project):
    project = load_project(make_project({
        "carejourney.yml": "name: ny\ntimezone: America/New_York\n", "journeys/care.yml": MINI_JOURNEY}, name="ny"))
    ctx = events_for({
        # 2026-03-09 03:30 UTC is Sunday 8 March 23:30 EDT: the week of Monday 2 March
        "g": [(V, "2026-03-09 03:30"), (V, "2026-03-09 04:30")],  # 00:30 Monday 9 March: next week
        "h": [(V, "2026-03-09 04:30"), (V, "2026-03-20")],
    }, project=project)
    df = retention(ctx, period="week", periods=2, as_of="2026-04-01T00:00:00")
    assert table(df) == {
        ("2026-03-02", 0): (1, 0, True), ("2026-03-02", 1): (1, 1, True), ("2026-03-02", 2): (1, 0, True),
        ("2026-03-09", 0): (1, 0, True), ("2026-03-09", 1): (1, 1, True), ("2026-03-09", 2): (1, 0, True),
    }


def test_small_cells_are_suppressed(events_for):
    people = {f"p{i}": [(V, "2026-01-05")] + ([(V, "2026-02-05")] if i < 3 else []) for i in range(15)}
    result = run(parse_spec({"kind": "retention", "periods": 1, "as_of": "2026-06-01T00:00:00"}), events_for(people))
    rec = result.records()
    assert [(r["period"], r["cohort_size"], r["returned"], r["rate"]) for r in rec] == [
        (0, 15, 0, 0.0), (1, 15, "<11", "<11")]
