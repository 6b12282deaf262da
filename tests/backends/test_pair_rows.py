"""Step pairs — the person-level rows drivers, equity, handoffs and targets count — on DuckDB
(with and without shared tables) and Spark."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from carejourney.analyses._steps import journey_pair_rows, pair_rows
from tests.conftest import key_of

PEOPLE = {
    # a booking before the referral does not answer it: the first booking at or after it does
    "before": [("appointment_booked", "2026-01-01"), ("referral_received", "2026-01-03"),
               ("appointment_booked", "2026-01-05")],
    "same_time": [("referral_received", "2026-01-10 09:00"), ("appointment_booked", "2026-01-10 09:00")],
    "no_referral": [("appointment_booked", "2026-01-02"), ("visit_completed", "2026-01-04")],
    "too_late": [("referral_received", "2026-01-01"), ("appointment_booked", "2026-03-01")],
    "web_first": [("site_visit", "2025-12-20"), ("referral_received", "2026-01-02"), ("visit_completed", "2026-01-09")],
}
PAIRS = [("referral_received", "appointment_booked"), ("appointment_booked", "visit_completed"),
         (["site_visit", "referral_received"], "visit_completed")]


def _rows(table, ctx) -> dict:
    df = ctx.to_pandas(table)  # writes the shared tables it reads first
    names = {key_of(n): n for n in PEOPLE}
    out = {}
    for r in df.itertuples():
        b = None if pd.isna(r.b_ts) else str(pd.Timestamp(r.b_ts))
        out[(names[r.person_key], r.pair)] = (str(pd.Timestamp(r.a_ts)), b, bool(r.converted))
    return out


EXPECTED = {
    ("before", 0): ("2026-01-03 00:00:00", "2026-01-05 00:00:00", True),
    ("before", 1): ("2026-01-01 00:00:00", None, False),
    ("same_time", 0): ("2026-01-10 09:00:00", "2026-01-10 09:00:00", True),
    ("same_time", 1): ("2026-01-10 09:00:00", None, False),
    ("no_referral", 1): ("2026-01-02 00:00:00", "2026-01-04 00:00:00", True),
    ("too_late", 0): ("2026-01-01 00:00:00", "2026-03-01 00:00:00", False),  # after the 30-day window
    ("too_late", 1): ("2026-03-01 00:00:00", None, False),
    ("before", 2): ("2026-01-03 00:00:00", None, False),
    ("same_time", 2): ("2026-01-10 09:00:00", None, False),
    ("too_late", 2): ("2026-01-01 00:00:00", None, False),
    ("web_first", 0): ("2026-01-02 00:00:00", None, False),
    ("web_first", 2): ("2025-12-20 00:00:00", "2026-01-09 00:00:00", True),  # entered at the site visit
}


def test_each_pair_starts_at_the_first_a_and_ends_at_the_first_b_not_before_it(events_for):
    ctx = events_for(PEOPLE)
    ev = ctx.journey_events(None)
    got = _rows(pair_rows(ev, PAIRS, timedelta(days=30)), ctx)
    assert got == EXPECTED


def test_the_journeys_own_pairs_give_the_same_rows_from_the_shared_table(events_for):
    ctx = events_for(PEOPLE)
    own = PAIRS[:2]  # two of the journey's default steps (shared when the context shares tables)
    got = _rows(journey_pair_rows(ctx, None, None, own, timedelta(days=30)), ctx)
    assert got == {k: v for k, v in EXPECTED.items() if k[1] < 2}
