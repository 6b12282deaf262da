"""The funnel against a plain-Python reading of its documented semantics (``_funnel_attempts``),
on random people — repeated steps, equal timestamps, a few people with hundreds of events —
for every order mode, step sets, gaps and exclusions. The engine plans (a window per step
instead of a join per attempt and candidate; lists or ASOF joins on the journey log) must
count exactly what the definition says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pandas as pd
import pytest

from carejourney.analyses.base import execute, parse_spec

LATE = "2027-06-01T00:00:00"
TPS = ["site_visit", "referral_received", "appointment_booked", "appointment_cancelled", "intake_completed",
       "visit_completed", "bill_sent"]
DAY_US = 86_400 * 10**6
CASES = {
    "ordered": {"steps": ["referral_received", "appointment_booked", "visit_completed"], "window": "20d"},
    "step_sets": {"steps": ["site_visit|referral_received", "appointment_booked", "intake_completed|visit_completed"],
                  "window": "30d"},
    "strict": {"order": "strict", "steps": ["site_visit", "appointment_booked", "intake_completed"], "window": "30d"},
    "unordered": {"order": "unordered", "steps": ["referral_received", "appointment_booked", "visit_completed"],
                  "window": "15d"},
    # a site visit is a candidate of the step it entered: it must not fill both
    "overlapping_sets": {"steps": ["site_visit", "site_visit|appointment_booked", "visit_completed"], "window": "30d"},
    "gap_and_exclusion": {"steps": ["site_visit", "appointment_booked", "visit_completed"], "window": "40d",
                          "max_gap": {"visit_completed": "4d"},
                          "exclusions": ["appointment_cancelled:appointment_booked", "bill_sent"]},
}


@dataclass(frozen=True)
class Ev:
    us: int
    tp: str
    eid: int


def people(seed: int = 11) -> dict:
    rng = random.Random(seed)
    out = {}
    for i in range(50):
        n = rng.choice([1, 2, 4, 6, 10, 20]) if i >= 3 else 300  # three heavy people
        t = pd.Timestamp("2026-02-01")
        events = []
        for _ in range(n):
            t += pd.Timedelta(hours=rng.choice([0, 0, 2, 12, 48, 150]))
            events.append((rng.choice(TPS), str(t)))
        out[f"q{i}"] = events
    for i in range(3):  # an exclusion at the very time of the step it counts after ends the attempt
        t = pd.Timestamp("2026-03-01") + pd.Timedelta(days=i)
        out[f"tie{i}"] = [("site_visit", str(t)), ("appointment_booked", str(t + pd.Timedelta(hours=1))),
                          ("appointment_cancelled", str(t + pd.Timedelta(hours=1))),
                          ("visit_completed", str(t + pd.Timedelta(days=2)))]
    return out


def reached(evs: list[Ev], spec) -> int | None:
    """The furthest step (0-based) of the person's best attempt, or None (never entered)."""
    sets = [s.split("|") for s in spec.steps]
    n = len(sets)
    window = int(spec.window.total_seconds() * 10**6)
    gaps = {k: int(spec.max_gap[s].total_seconds() * 10**6) for k, s in enumerate(spec.steps) if s in spec.max_gap}
    after: dict[int, set] = {}
    for x in spec.exclusions:
        after.setdefault(spec.steps.index(x.after) if x.after else 0, set()).add(x.event)
    excluded = set().union(*after.values()) if after else set()

    def rank(tp: str) -> int:
        return next((i for i, s in enumerate(sets) if tp in s), n)
    # the unit's sequence: every event for strict funnels, else the steps' and exclusions' events
    keep = [e for e in evs if spec.order == "strict" or rank(e.tp) < n or e.tp in excluded]
    seq = sorted(keep, key=lambda e: (e.us, rank(e.tp), e.eid))
    best = None
    for i, e in enumerate(seq):
        if e.tp not in sets[0]:
            continue
        s, u, cap = {0: i}, {0: e.us}, None

        def lower_cap(m: int) -> None:
            nonlocal cap
            hits = [x.us for x in seq if x.tp in after[m] and x.us >= u[m]]
            if hits and (cap is None or min(hits) < cap):
                cap = min(hits)
        if 0 in after:
            lower_cap(0)
        for k in range(1, n):
            prev = s[0] if spec.order == "unordered" else s.get(k - 1)
            if prev is not None:
                ok = [j for j, c in enumerate(seq) if c.tp in sets[k]
                      and (j == prev + 1 if spec.order == "strict" else j > prev)
                      and c.us <= e.us + window and (cap is None or c.us < cap)
                      and (k not in gaps or c.us <= u[k - 1] + gaps[k])]
                if ok:
                    s[k], u[k] = ok[0], seq[ok[0]].us
            if k in after and k in u:
                lower_cap(k)
        furthest = 0
        while furthest + 1 in s:
            furthest += 1
        if best is None or furthest > best:
            best = furthest
    return best


def expected_reached(data: dict, spec) -> list[int]:
    """People reaching each step by :func:`reached`, events numbered in ``events_for``'s order."""
    expected = [0] * len(spec.steps)
    eid = 0
    for events in data.values():
        evs = []
        for tp, ts in events:  # events_for numbers events in this order too; only their order matters
            evs.append(Ev(int(pd.Timestamp(ts).value // 1000), tp, eid))
            eid += 1
        furthest = reached(evs, spec)
        for k in range(0 if furthest is None else furthest + 1):
            expected[k] += 1
    return expected


@pytest.mark.parametrize("case", list(CASES))
def test_funnel_counts_what_the_definition_says(events_for, case):
    data = people()
    spec = parse_spec({"kind": "funnel", "as_of": LATE, **CASES[case]})
    expected = expected_reached(data, spec)
    df, _, _ = execute(spec, events_for(data))
    assert list(df["reached"]) == expected
    assert expected[-1] > 0 and expected[0] > expected[-1]  # the case exercises the steps
