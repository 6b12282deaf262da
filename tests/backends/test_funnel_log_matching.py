"""Funnels on the journey log match steps two ways — inside each person's lists, or by ASOF joins
for people with more events than ``HEAVY_UNIT_EVENTS`` (a kiosk, a shared phone number,
a crawler: list matching costs attempts × candidates per person). Every way must give the rows
of the reference plan (per-query ordering, a window per step; itself checked against a
plain-Python reading of the rules in test_funnel_oracle.py).

DuckDB only: only DuckDB stores keep a journey log.
"""

from __future__ import annotations

import dataclasses
import random

import ibis
import pandas as pd
import pytest

from carejourney.analyses import _funnel_attempts
from carejourney.analyses.base import execute, parse_spec

LATE = "2027-06-01T00:00:00"
TPS = ["site_visit", "referral_received", "appointment_booked", "intake_completed", "visit_completed", "bill_sent"]
SPECS = [
    {},  # the key-step funnel: referral → booking → visit
    {"steps_kind": "stage", "steps": ["awareness", "access", "pre_visit", "care"], "window": "14d"},
    {"open": True, "date_from": "2026-01-20", "date_to": "2026-04-30", "window": "30d"},
    {"steps": ["site_visit", "appointment_booked", "visit_completed"], "max_gap": {"visit_completed": "3d"},
     "window": "60d"},
]


@pytest.fixture
def con():
    """DuckDB with contexts that read the stored journey log (as ``duckdb-log`` in conftest)."""
    c = ibis.duckdb.connect()
    c._cj_journey_log = True
    yield c
    c.disconnect()


def people() -> dict:
    """60 people from 1 to 80 events, repeated steps and equal timestamps included."""
    rng = random.Random(7)
    out = {}
    for i in range(60):
        t = pd.Timestamp("2026-01-01")
        events = []
        for _ in range(rng.choice([1, 2, 3, 5, 8, 13, 30, 80])):
            t += pd.Timedelta(hours=rng.choice([0, 0, 1, 5, 30, 200, 900]))
            events.append((rng.choice(TPS), str(t)))
        out[f"p{i}"] = events
    return out


@pytest.mark.parametrize("fields", SPECS, ids=["key_steps", "stages", "open_date_range", "max_gap"])
def test_list_and_asof_matching_give_the_reference_rows(events_for, monkeypatch, fields):
    data = people()
    most = max(len(events) for events in data.values())
    spec = parse_spec({"kind": "funnel", "as_of": LATE, **fields})

    def funnel(limit: int | None) -> pd.DataFrame:
        ctx = events_for(data)  # new tables, a new data version: nothing shared between the runs
        if limit is None:  # the reference: no journey log, per-query ordering and join + min
            ctx = dataclasses.replace(ctx, data_version=None)
        else:
            monkeypatch.setattr(_funnel_attempts, "HEAVY_UNIT_EVENTS", limit)
            assert ctx.journey_log(None) is not None
        df, sql, _ = execute(spec, ctx)
        # the ASOF branch exists only where the log has someone over the limit
        assert ("ASOF" in sql.upper()) == (limit is not None and most > limit)
        return df

    reference = funnel(None)
    assert reference["reached"].iloc[0] > 0
    for limit in (10**9, 0, 6):  # lists only, ASOF joins only, some people each way
        pd.testing.assert_frame_equal(funnel(limit), reference, check_dtype=False)


def test_mixed_split_really_splits():
    """The limit used above puts people on both sides."""
    counts = [len(events) for events in people().values()]
    assert any(n <= 6 for n in counts) and any(n > 6 for n in counts)


@pytest.mark.parametrize("case", ["step_sets", "overlapping_sets", "strict", "unordered", "gap_and_exclusion"])
def test_join_plan_when_the_log_shows_no_heavy_people(events_for, monkeypatch, case):
    """Funnels the log cannot serve use one join + ``min`` per step when the log shows nobody
    over the limit (cheaper for the usual few events per person): the same counts as the
    definition's (``test_funnel_oracle``)."""
    from test_funnel_oracle import CASES, expected_reached
    from test_funnel_oracle import people as oracle_people
    monkeypatch.setattr(_funnel_attempts, "HEAVY_UNIT_EVENTS", 10**9)
    data = oracle_people()
    spec = parse_spec({"kind": "funnel", "as_of": LATE, **CASES[case]})
    df, sql, _ = execute(spec, events_for(data))
    assert "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING" not in sql.upper()  # not the window plan
    assert list(df["reached"]) == expected_reached(data, spec)
