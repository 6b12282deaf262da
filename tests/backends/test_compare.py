"""Segment comparison on DuckDB and PySpark: the wrapped analysis per segment, side by side."""

from __future__ import annotations

import pytest

from carejourney.analyses.base import execute, parse_spec, run
from carejourney.errors import SpecError

LATE = "2027-06-01T00:00:00"


def people(n_senior_booked: int, n_senior: int, n_adult_booked: int, n_adult: int) -> dict:
    out = {}
    for seg, band, n, booked in (("s", "75-89", n_senior, n_senior_booked), ("a", "35-49", n_adult, n_adult_booked)):
        for i in range(n):
            ev = [("referral_received", "2026-01-01")] + ([("appointment_booked", "2026-01-04")] if i < booked else [])
            out[f"{seg}{i}"] = {"events": ev, "attrs": {"age_band": band}}
    out["kid"] = {"events": [("referral_received", "2026-01-01")], "attrs": {"age_band": "0-17"}}
    return out


def test_funnel_side_by_side_with_overall(events_for):
    ctx = events_for(people(2, 3, 1, 2))
    spec = parse_spec({"kind": "compare", "overall": True, "analysis": {
        "kind": "funnel", "steps": "referral_received,appointment_booked", "as_of": LATE}})
    df, _, _ = execute(spec, ctx)
    assert list(df.columns[:3]) == ["segment", "step_index", "step"]
    got = {(r.segment, r.step_index): (r.reached, r.median_days) for r in df.itertuples()}
    assert got[("(all)", 1)][0] == 6 and got[("(all)", 2)] == (3, 3.0)
    assert got[("senior", 1)][0] == 3 and got[("senior", 2)] == (2, 3.0)
    assert got[("adult", 1)][0] == 2 and got[("adult", 2)] == (1, 3.0)
    assert list(df.segment.unique()) == ["(all)", "senior", "adult"]
    # the same numbers as running the funnel on one segment
    alone, _, _ = execute(parse_spec({"kind": "funnel", "segment": "adult", "as_of": LATE,
                                      "steps": "referral_received,appointment_booked"}), ctx)
    assert list(alone.reached) == list(df[df.segment == "adult"].reached)


def test_suppressed_per_segment_and_any_kind_wraps(events_for):
    ctx = events_for(people(11, 14, 0, 12))
    spec = parse_spec({"kind": "compare", "segments": "senior,adult", "analysis": {
        "kind": "funnel", "steps": "referral_received,appointment_booked", "as_of": LATE}})
    rec = run(spec, ctx).records()
    got = {(r["segment"], r["step_index"]): (r["reached"], r["dropped"]) for r in rec}
    # senior: 14 -> 11 (3 dropped: hidden, and so is 11 which would reveal them); adult: 12 -> 0
    assert got == {("senior", 1): (14, None), ("senior", 2): ("<11", "<11"),
                   ("adult", 1): (12, None), ("adult", 2): (0, 12)}
    ret = parse_spec({"kind": "compare", "segments": ["senior"], "analysis": {
        "kind": "retention", "start": "referral_received", "returns": "appointment_booked",
        "periods": 0, "as_of": LATE}})
    df, _, _ = execute(ret, ctx)
    assert df[["segment", "cohort_size", "returned"]].values.tolist() == [["senior", 14, 11]]


def test_compare_errors(events_for):
    ctx = events_for({"p": [("referral_received", "2026-01-01")]})
    with pytest.raises(SpecError, match="did you mean 'senior'"):
        execute(parse_spec({"kind": "compare", "segments": ["senoir"], "analysis": {"kind": "funnel"}}), ctx)
    with pytest.raises(SpecError, match="breakdown by segment"):
        execute(parse_spec({"kind": "compare", "analysis": {"kind": "funnel", "by": "segment"}}), ctx)
    with pytest.raises(SpecError, match="sets segment"):
        execute(parse_spec({"kind": "compare", "analysis": {"kind": "funnel", "segment": "adult"}}), ctx)
