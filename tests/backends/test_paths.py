"""Variants and after-dropout paths, on DuckDB and Spark (identical results)."""

from __future__ import annotations

import pytest

from carejourney.analyses.base import execute, parse_spec, run
from carejourney.errors import SpecError

V_LONG = "site_visit > referral_received > appointment_booked > visit_completed"
V_SHORT = "referral_received > appointment_booked > visit_completed"


def people(prefix: str, n: int, events: list) -> dict:
    return {f"{prefix}{i}": list(events) for i in range(n)}


def rows(ctx, **spec):
    df, _, _ = execute(parse_spec(spec), ctx)
    return [tuple(None if v != v else v for v in r) for r in df.itertuples(index=False)]


@pytest.fixture
def log(events_for):
    return events_for({
        # repeats of site_visit collapse into one step
        **people("a", 12, [("site_visit", "2026-01-01 09:00"), ("site_visit", "2026-01-01 09:05"),
                           ("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03"),
                           ("visit_completed", "2026-01-10")]),
        # equal timestamps: booked listed first but referral comes first in the journey definition
        **people("b", 11, [("appointment_booked", "2026-01-02 10:00"), ("referral_received", "2026-01-02 10:00"),
                           ("visit_completed", "2026-01-09")]),
        # a variant shared by fewer than min_cell people is folded into (other)
        **people("c", 2, [("referral_received", "2026-01-02")]),
    })


def test_variants_collapse_repeats_and_fold_rare(log):
    got = rows(log, kind="paths")
    assert [(v, s, p) for v, s, p, _ in got] == [(V_LONG, 4, 12), (V_SHORT, 3, 11), ("(other)", None, 2)]
    assert [round(sh, 6) for *_, sh in got] == [round(12 / 25, 6), round(11 / 25, 6), round(2 / 25, 6)]


def test_variants_top_n_plus_other_sums_to_total(log):
    got = rows(log, kind="paths", top=1)
    assert [(v, p) for v, _, p, _ in got] == [(V_LONG, 12), ("(other)", 13)]
    assert sum(sh for *_, sh in got) == pytest.approx(1.0)


def test_variants_without_collapse_keep_repeats(log):
    got = rows(log, kind="paths", collapse_repeats=False)
    assert got[0][:3] == ("site_visit > " + V_LONG, 5, 12)


def test_variants_by_stage(log):
    got = rows(log, kind="paths", level="stage")
    assert [(v, p) for v, _, p, _ in got] == [("awareness > access > care", 12), ("access > care", 11),
                                              ("(other)", 2)]


def test_paths_run_suppresses_small_cells(log):
    res = run(parse_spec({"kind": "paths"}), log)
    recs = res.records()
    assert recs[-1]["variant"] == "(other)" and recs[-1]["people"] == "<11" and recs[-1]["share"] == "<11"
    assert res.suppressed >= 2


@pytest.fixture
def dropouts(events_for):
    return events_for({
        # dropped at step 1 (referral), then went back to the website
        **people("a", 12, [("referral_received", "2026-01-02"), ("site_visit", "2026-01-05"),
                           ("site_visit", "2026-01-06")]),
        # dropped at step 1; a repeat of the step itself is not "what they did next"
        **people("b", 11, [("referral_received", "2026-01-02"), ("referral_received", "2026-01-09")]),
        # booked before the referral does not count as step 2 (steps are ordered)
        **people("c", 11, [("appointment_booked", "2026-01-01"), ("referral_received", "2026-01-02"),
                           ("bill_sent", "2026-02-01")]),
        # dropped at step 2 after a cancellation
        **people("d", 13, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03"),
                           ("appointment_cancelled", "2026-01-04")]),
        # completed everything
        **people("e", 14, [("referral_received", "2026-01-02"), ("appointment_booked", "2026-01-03"),
                           ("visit_completed", "2026-01-10")]),
    })


def test_after_dropout_next_events_including_leaving(dropouts):
    got = rows(dropouts, kind="after_dropout")
    assert [(s, a, d, n, p) for s, a, d, n, p, _ in got] == [
        (1, "referral_received", 34, "(left the journey)", 11),
        (1, "referral_received", 34, "site_visit", 12),
        (1, "referral_received", 34, "bill_sent", 11),
        (2, "appointment_booked", 13, "appointment_cancelled", 13),
    ]
    assert got[1][5] == pytest.approx(12 / 34)


def test_after_dropout_one_step_and_top(dropouts):
    got = rows(dropouts, kind="after_dropout", step=1, top=1, steps="referral_received,appointment_booked,visit_completed")
    assert [(n, p) for *_, n, p, _ in got] == [("(left the journey)", 11), ("site_visit", 12), ("(other)", 11)]


def test_after_dropout_rejects_bad_steps(dropouts):
    with pytest.raises(SpecError, match="did you mean 'referral_received'"):
        rows(dropouts, kind="after_dropout", steps=["referal_received", "visit_completed"])
    with pytest.raises(SpecError, match="last of 3 steps"):
        rows(dropouts, kind="after_dropout", step=3)
