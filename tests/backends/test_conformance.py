"""Conformance to the designed journey, on DuckDB and Spark."""

from __future__ import annotations

import pytest

from carejourney.analyses.base import execute, parse_spec, run


def people(prefix: str, n: int, events: list) -> dict:
    return {f"{prefix}{i}": list(events) for i in range(n)}


def table(ctx, **spec):
    df, _, _ = execute(parse_spec({"kind": "conformance", **spec}), ctx)
    return [(r.deviation, None if r.stage != r.stage else r.stage,
             None if r.touchpoint != r.touchpoint else r.touchpoint, r.people) for r in df.itertuples()], df


@pytest.fixture
def log(events_for):
    return events_for({
        # conforming: repeatable site visits, an optional reminder, every required step in order
        **people("a", 12, [("site_visit", "2026-01-01"), ("site_visit", "2026-01-02"), ("referral_received", "2026-01-03"),
                           ("appointment_booked", "2026-01-04"), ("reminder_sent", "2026-01-08"),
                           ("visit_completed", "2026-01-10"), ("bill_sent", "2026-01-25")]),
        # skipped the booking (its stage was visited); 41 days from visit to bill is a stall in care
        **people("b", 11, [("referral_received", "2026-01-02"), ("visit_completed", "2026-01-10"),
                           ("bill_sent", "2026-02-20")]),
        # cancelled and re-booked: a loop on a touchpoint that is not repeatable
        **people("c", 11, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03"),
                           ("appointment_cancelled", "2026-01-04"), ("appointment_booked", "2026-01-05"),
                           ("visit_completed", "2026-01-10"), ("bill_sent", "2026-01-15")]),
        # reminder after the visit: out of order
        **people("d", 12, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03"),
                           ("intake_completed", "2026-01-05"), ("visit_completed", "2026-01-10"),
                           ("reminder_sent", "2026-01-11"), ("bill_sent", "2026-01-15")]),
        # from the website straight to a visit: the access stage was skipped
        **people("e", 13, [("site_visit", "2026-01-01"), ("visit_completed", "2026-01-10"), ("bill_sent", "2026-01-15")]),
        # booked and nothing since: stalls once as_of is more than 30 days later
        **people("f", 14, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03")]),
    })


def test_share_conforming_and_ranked_deviations(log):
    got, df = table(log, as_of="2026-03-01")
    assert got == [
        ("(conforming)", None, None, 12),
        ("(not conforming)", None, None, 61),
        ("stall", "access", "appointment_booked", 14),
        ("skipped_stage", "access", None, 13),
        ("out_of_order", "pre_visit", "reminder_sent", 12),
        ("loop", "access", "appointment_booked", 11),
        ("skipped_touchpoint", "access", "appointment_booked", 11),
        ("stall", "care", "visit_completed", 11),
    ]
    assert df.share.iloc[0] == pytest.approx(12 / 73)
    assert df.set_index("deviation").loc["loop"].occurrences == 11
    assert list(df.section) == ["summary"] * 2 + ["deviation"] * 6


def test_trailing_stall_measured_to_newest_event_by_default(log):
    got, _ = table(log)  # newest event is 2026-02-20: 48 days after f's booking, still a stall
    assert ("stall", "access", "appointment_booked", 14) in got
    got, _ = table(log, as_of="2026-01-20")
    assert not any(d == "stall" and tp == "appointment_booked" for d, _, tp, _ in got)
    got, _ = table(log, as_of="2026-03-01", stall_after="60d")
    assert not any(d == "stall" for d, *_ in got)
    assert got[0] == ("(conforming)", None, None, 26)


def test_equal_timestamps_follow_the_design_order(events_for):
    ctx = events_for(people("p", 12, [("appointment_booked", "2026-01-03"), ("referral_received", "2026-01-03"),
                                      ("visit_completed", "2026-01-05"), ("bill_sent", "2026-01-06")]))
    got, _ = table(ctx)
    assert got == [("(conforming)", None, None, 12), ("(not conforming)", None, None, 0)]


def test_run_suppresses_small_deviation_counts(events_for):
    ctx = events_for({**people("a", 12, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03"),
                                         ("visit_completed", "2026-01-05"), ("bill_sent", "2026-01-06")]),
                      **people("l", 11, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03"),
                                         ("appointment_booked", "2026-01-04"), ("visit_completed", "2026-01-05"),
                                         ("bill_sent", "2026-01-06")]),
                      **people("b", 3, [("referral_received", "2026-01-02"), ("visit_completed", "2026-01-05"),
                                        ("bill_sent", "2026-01-06")])})
    recs = run(parse_spec({"kind": "conformance"}), ctx).records()
    assert [r["deviation"] for r in recs] == ["(conforming)", "(not conforming)", "loop", "skipped_touchpoint"]
    assert [r["people"] for r in recs[:2]] == [12, 14]
    # deviations overlap (no total to subtract from): only the small one is hidden
    assert recs[2]["people"] == 11 and recs[3]["people"] == "<11" and recs[3]["share"] == "<11"


def test_run_complements_the_summary(events_for):
    ctx = events_for({**people("a", 12, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03"),
                                         ("visit_completed", "2026-01-05"), ("bill_sent", "2026-01-06")]),
                      **people("b", 3, [("referral_received", "2026-01-02"), ("visit_completed", "2026-01-05"),
                                        ("bill_sent", "2026-01-06")])})
    recs = run(parse_spec({"kind": "conformance"}), ctx).records()
    # 3 not conforming is hidden, so 12 conforming is too: the two add up to everyone
    assert [r["people"] for r in recs[:2]] == ["<11", "<11"]


def test_loops_and_late_firsts_land_in_the_stage_the_events_carry(events_for):
    """Events recorded in another stage than their touchpoint's: the journey log then cannot name
    stages from touchpoints, and deviations are reported in the stage each event carries."""
    ctx = events_for({
        # a booking logged under pre_visit, then again under access: a loop per stage, not one loop
        **people("g", 11, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03", {"stage": "pre_visit"}),
                           ("appointment_booked", "2026-01-04"), ("appointment_booked", "2026-01-05"),
                           ("visit_completed", "2026-01-10"), ("bill_sent", "2026-01-15")]),
        # the reminder after the visit, logged in care: out of order, in care
        **people("h", 12, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03"),
                           ("visit_completed", "2026-01-10"), ("reminder_sent", "2026-01-11", {"stage": "care"}),
                           ("bill_sent", "2026-01-15")]),
    })
    got, df = table(ctx, as_of="2026-01-20")
    assert ("loop", "access", "appointment_booked", 11) in got
    assert not any(d == "loop" and s == "pre_visit" for d, s, *_ in got)  # one booking there: no loop
    assert ("out_of_order", "care", "reminder_sent", 12) in got
    assert ("out_of_order", "pre_visit", "appointment_booked", 11) not in got  # its first occurrence came in order
    assert df.set_index("deviation").loc["loop"].occurrences == 11
