"""The funnel's person-level work, as one lazy Ibis expression: attempts and the best attempt.

Every event of the entry step starts an *attempt*. Steps are matched one at a time: for each
attempt, step k is the earliest step-k event that comes after the event matched for step k-1
(in the unit's event sequence), within the conversion window from the attempt start, within the
step's maximum gap, and before the attempt's exclusion cap. Since those limits only bound the
candidate's time from above and time never decreases along the sequence, that is the first
candidate after step k-1's event, or none: one window per step over the unit's sequence of
attempts and candidates finds it (:func:`_first_after`), exact and identical on every engine
(no engine-specific "window funnel" function), in n log n however many attempts and
candidates a unit has. Where the journey log shows that nobody has more than
:data:`HEAVY_UNIT_EVENTS` events, one join + ``min`` per step (:func:`_extend`) is cheaper.
On the log itself the matching needs no join at all (:func:`_log_attempts`: each person's step
events as lists, one group-by), except for people with more than that many events (ASOF
joins). Every plan gives the rows of a plain-Python reading of these rules
(tests/backends/test_funnel_oracle.py).

The unit's event *sequence* (``seq``) orders events by time, then by step position, then by
event id (unique, so the order is total and the same on every engine). Ordering by step
position makes events with equal timestamps count in step order; requiring ``seq`` to grow
means one event fills at most one step. Times are epoch microseconds throughout (second-based
deltas round differently on DuckDB and Spark).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

from ..errors import SpecError
from ..model.journey import Journey, did_you_mean
from .periods import epoch_us

__all__ = ["step_sets", "unit_table", "local_day_us", "day_range_us", "EVENT_FIELDS"]

#: Event fields a funnel may break down by (their value on the entry event).
EVENT_FIELDS = ("source", "source_event", "channel", "owner", "service_line", "location", "device", "status")

_US = 1_000_000
#: On the journey log, people with more events than this are matched by ASOF joins
#: (:func:`_step_nearest`, n log n) instead of inside their lists, which is cheaper for the usual
#: few events per person but costs attempts × candidates: a kiosk, a shared phone number or a
#: crawler stitched into one person with 100,000 events took minutes (docs/benchmarks.md).
HEAVY_UNIT_EVENTS = 16


def step_sets(spec, journey: Journey) -> list[list[str]]:
    """The steps as lists of ids (``a|b`` = either), checked against the journey."""
    steps = spec.steps or journey.key_steps()
    if not steps:
        raise SpecError(f"journey '{journey.journey}' has no touchpoints marked key_step: true; "
                        "pass the funnel steps (e.g. --steps referral_received,appointment_booked)")
    if len(steps) < 2:
        raise SpecError("a funnel needs at least two steps")
    known = [s.id for s in journey.stages] if spec.steps_kind == "stage" else [t.id for t in journey.touchpoints]
    sets = []
    for step in steps:
        ids = [p.strip() for p in step.split("|") if p.strip()]
        for i in ids:
            if i not in known:
                raise SpecError(f"steps: unknown {spec.steps_kind} '{i}' in journey '{journey.journey}'"
                                f"{did_you_mean(i, known)} ({spec.steps_kind}s: {', '.join(known)})")
        sets.append(ids)
    names = ["|".join(s) for s in sets]
    for key in spec.max_gap:
        if key not in names[1:]:
            raise SpecError(f"max_gap: '{key}' is not a step after the first (steps: {', '.join(names[1:])})")
    tps = [t.id for t in journey.touchpoints]
    for x in spec.exclusions:
        if x.event not in tps:
            raise SpecError(f"exclusions: unknown touchpoint '{x.event}'{did_you_mean(x.event, tps)}")
        if x.after is not None and x.after not in names:
            raise SpecError(f"exclusions: after '{x.after}' is not a step (steps: {', '.join(names)})")
    if spec.order == "unordered":
        flat = [i for s in sets for i in s]
        if len(flat) != len(set(flat)):
            raise SpecError("an unordered funnel needs steps that do not share touchpoints or stages")
        if spec.max_gap or spec.open or any(x.after not in (None, names[0]) for x in spec.exclusions):
            raise SpecError("unordered funnels take no max_gap, no open entry and exclusions only after the first step")
    return sets


def local_day_us(day: date, tz: str) -> int:
    """Epoch microseconds (UTC) of local midnight starting ``day`` in ``tz``."""
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return int((local.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1))


def day_range_us(date_from: date | None, date_to: date | None, tz: str) -> tuple[int | None, int | None]:
    """``[lo, hi)`` in epoch microseconds: from local midnight of ``date_from`` to the local
    midnight after ``date_to`` (both days included) in ``tz``; None for an open end."""
    return (local_day_us(date_from, tz) if date_from is not None else None,
            local_day_us(date_to + timedelta(days=1), tz) if date_to is not None else None)


def _log_events(spec, ctx, sets: list[list[str]]):
    """The funnel's events from the stored journey log, when the log's order is the funnel's own.

    The log numbers each person's events by (time, design position, event id); the funnel's
    sequence is (time, step position, event id) over the step events. They agree when every step
    is one touchpoint — or one stage, the journey lists its touchpoints stage by stage and every
    event carries its touchpoint's stage — and the steps follow the design order, there are no
    exclusions (their events sort after the steps' at equal times), the unit is the person and
    the order is ``ordered`` (strict needs every event, unordered any order). Events of one stage
    at the same instant may then be numbered differently, which changes no count or time: the
    next step's candidates come after all of them either way. The funnel then needs no window of
    its own and joins on integer person numbers. Returns ``(events, log, codes)`` — ``step_col``
    holds codes, ``codes`` the steps' — or None.
    """
    log = _log_for(spec, ctx, sets)
    if log is None:
        return None
    journey = ctx.journey(spec.journey)
    ev = log.events if spec.segment is None else log.events_of(ctx.segment_members(journey, spec.segment))
    code = ev.tp if spec.steps_kind == "touchpoint" else ev.st
    ev = ev.filter(code.isin([log.code(i, spec.steps_kind) for s in sets for i in s]))
    # touchpoint: read only by exclusions, which keep a funnel off the log (not decoded for every event)
    ev = ev.select(unit_key=ev.pid, person_key=ev.pid, ts=ev.ts, us=epoch_us(ev.ts), seq=ev.seq.cast("int64"),
                   step_col=code, touchpoint=ibis.null("string"), by_value=ibis.null("string"))
    return ev, log, [[log.code(i, spec.steps_kind) for i in s] for s in sets]


def _log_for(spec, ctx, sets: list[list[str]]):
    """The journey log when the funnel can read it (see :func:`_log_events`), else None."""
    if (spec.unit != "person" or spec.order != "ordered" or spec.exclusions or spec.by in EVENT_FIELDS
            or any(len(s) != 1 for s in sets)):
        return None
    journey = ctx.journey(spec.journey)
    stage_pos = {s.id: i for i, s in enumerate(journey.stages)}
    if spec.steps_kind == "touchpoint":
        position = {t.id: i for i, t in enumerate(journey.touchpoints)}
    else:
        design = [stage_pos.get(t.stage, len(stage_pos)) for t in journey.touchpoints]
        if any(b < a for a, b in zip(design, design[1:])):
            return None
        position = stage_pos
    codes = [position[s[0]] for s in sets]
    if any(b <= a for a, b in zip(codes, codes[1:])):
        return None
    log = ctx.journey_log(spec.journey)
    if log is None or (spec.steps_kind == "stage" and not log.designed_stages):
        return None
    return log


def units_of(u: ir.Table, spec, ctx, sets: list[list[str]], members: ir.Table) -> ir.Table:
    """The rows of :func:`unit_table` ``u`` (made for everyone: ``spec`` without a segment) of the
    people in ``members`` (a table with ``person_key``)."""
    log = _log_for(spec, ctx, sets)
    if log is None:
        ids = members.select(_m=members.person_key)
    else:  # on the journey log, units are person numbers
        ids = log.people_of(members).select(_m="pid")
    return u.semi_join(ids, u.person_key == ids._m)


def _events(spec, ctx, sets: list[list[str]]) -> ir.Table:
    ev = ctx.journey_events(spec.journey, spec.segment)
    if spec.unit == "episode":
        ev = ev.filter(ev.episode_id.notnull())
    if spec.order != "strict":  # strict needs every journey event to see what comes in between
        col = ev.touchpoint if spec.steps_kind == "touchpoint" else ev.stage
        wanted = col.isin([i for s in sets for i in s])
        excl = [x.event for x in spec.exclusions]
        ev = ev.filter(wanted | ev.touchpoint.isin(excl) if excl else wanted)
    col = ev.touchpoint if spec.steps_kind == "touchpoint" else ev.stage
    key = ev.person_key.cast("string").concat("\x1f", ev.episode_id.cast("string")) if spec.unit == "episode" \
        else ev.person_key
    rank = ibis.cases(*[(col.isin(s), i) for i, s in enumerate(sets)], else_=len(sets))
    by = spec.by if spec.by in EVENT_FIELDS else None
    ev = ev.mutate(unit_key=key, us=epoch_us(ev.ts), rank=rank, step_col=col,
                   by_value=ev[by].cast("string") if by else ibis.null("string"))
    w = ibis.window(group_by=ev.unit_key, order_by=[ev.us, ev.rank, ev.event_id])
    ev = ev.mutate(seq=ibis.row_number().over(w))
    return ev.select("unit_key", "person_key", "ts", "us", "seq", "step_col", "touchpoint", "by_value")


def _starts(spec, ev: ir.Table, sets, n: int, tz: str) -> ir.Table:
    """Attempt starts: entry-step events (any step's in open funnels), date range applied."""
    parts = []
    for j, ids in enumerate(sets if spec.open else sets[:1]):
        e = ev.filter(ev.step_col.isin(ids))
        cols = {"unit_key": e.unit_key, "person_key": e.person_key, "start": ibis.literal(j, "int64"),
                "aid": e.seq, "start_us": e.us, "start_ts": e.ts, "by_value": e.by_value}
        for k in range(n):
            cols[f"s{k}"] = e.seq if k == j else ibis.null("int64")
            cols[f"u{k}"] = e.us if k == j else ibis.null("int64")
        parts.append(e.select(**cols))
    starts = parts[0] if len(parts) == 1 else ibis.union(*parts)
    lo, hi = day_range_us(spec.date_from, spec.date_to, tz)
    if lo is not None:
        starts = starts.filter(starts.start_us >= lo)
    if hi is not None:
        starts = starts.filter(starts.start_us < hi)
    if spec.open:  # only the unit's earliest funnel step counts as its entry
        entry = starts.group_by(starts.unit_key.name("e_unit")).aggregate(e_start=starts.start.min())
        starts = starts.join(entry, [starts.unit_key == entry.e_unit, starts.start == entry.e_start])
        starts = starts.drop("e_unit", "e_start")
    return starts


def _extend(a: ir.Table, c: ir.Table, cond: list, **mins) -> ir.Table:
    """Per attempt, the minimum of candidate columns over the candidates meeting ``cond``.

    The join is on the unit key alone (a hash join on every engine; extra ON conditions make
    DuckDB fall back to a nested-loop join) and ``cond`` filters inside the aggregate. Grouping
    by the attempt, instead of aggregating and joining back, references the attempts once per
    step, so the plan grows linearly with the number of steps. An attempt is its unit and the
    sequence number of its first event (``aid``): its other columns, the same on each of its
    rows, are carried with ``arbitrary`` (hashing two keys, not every column, is most of the
    saving of a step at scale).
    """
    j = a.left_join(c, a.unit_key == c.c_unit)
    ok = cond[0]
    for extra in cond[1:]:
        ok = ok & extra
    keys = ["unit_key", "aid"]  # an attempt: its unit and the sequence number of its first event
    return j.group_by(keys).aggregate(
        **{name: j[name].arbitrary() for name in a.columns if name not in keys},
        **{k: ibis.cases((ok, j[v]), else_=ibis.null(j[v].type())).min() for k, v in mins.items()})


def _first_after(a: ir.Table, after: ir.Value, c: ir.Table, key: str, inclusive: bool = False,
                 **take: str) -> ir.Table:
    """``a`` with, per attempt, ``take``'s columns of its unit's first candidate in ``c`` (columns
    ``c_unit``, ``key`` and the taken ones) whose ``key`` comes after ``after`` (or at it, when
    ``inclusive``); null where there is none or ``after`` is null.

    The attempts (with all their columns) and the candidates form one sequence per unit ordered
    by the key — at equal keys, a candidate sorts before an attempt it must come after and behind
    one it may tie with — and each attempt takes the smallest value of the rows behind it (a
    window on every engine); the attempt rows are kept. Joining every attempt to every candidate
    of its unit and keeping the minimum costs attempts × candidates per unit: a kiosk, a shared
    phone number or a crawler stitched into one unit with 20,000 events made a funnel with step
    sets 2.5× slower, and it grows with the square; this costs n log n. The first candidate
    after an attempt's step is the one a step takes, since the funnel's limits (window, gap,
    exclusion cap) only bound its time from above and time never decreases along the unit's
    sequence."""
    att = a.mutate(_k=after.cast(c[key].type()), _att=ibis.literal(True),
                   **{name: ibis.null(c[col].type()) for name, col in take.items()})
    cand = c.select(**{col: ibis.null(typ) for col, typ in a.schema().items() if col != "unit_key"},
                    unit_key=c.c_unit, _k=c[key], _att=ibis.literal(False),
                    **{name: c[col] for name, col in take.items()})
    seq = ibis.union(att, cand.select(*att.columns), distinct=False)
    # walked backwards, so that the frame grows from the unit's end (Spark evaluates a frame open
    # to the end again for every row; one open to the start, incrementally)
    w = ibis.window(group_by=seq.unit_key, order_by=[seq._k.desc(), seq._att.asc() if inclusive else seq._att.desc()],
                    rows=(None, -1))
    found = seq.mutate(**{name: ibis.ifelse(seq._k.notnull(), seq[name].min().over(w), ibis.null(seq[name].type()))
                          for name in take})
    return found.filter(found._att).drop("_k", "_att")


def _cap(a: ir.Table, ev: ir.Table, events: list[str], m: int, many: bool) -> ir.Table:
    """Lower the attempts' exclusion cap: the earliest exclusion event at/after step m's time
    (``many``: some unit may have many events, see :func:`unit_table`)."""
    anchor = ibis.cases((a.start > m, a.start_us), else_=a[f"u{m}"])
    x = ev.filter(ev.touchpoint.isin(events)).select(c_unit=ev.unit_key, x_us=ev.us)
    a = (_first_after(a, anchor, x, "x_us", inclusive=True, c_us="x_us") if many
         else _extend(a, x, [x.x_us >= anchor], c_us="x_us"))
    cap = ibis.cases((a.cap.isnull(), a.c_us), (a.c_us.isnull(), a.cap),
                     (a.c_us < a.cap, a.c_us), else_=a.cap)
    return a.mutate(cap=cap).drop("c_us")


def _take(a: ir.Table, k: int, seq: ir.Value, us: ir.Value, window_us: int, gap_us: int | None,
          capped: bool = False) -> ir.Table:
    """``a`` with step k filled from the attempt's candidate (``seq``, ``us``; null: none) when
    that event is within the window from the attempt's start, within the step's gap from step
    k-1 and (``capped``) before the attempt's exclusion cap; a step already filled (the entry
    step of an open funnel) is kept. Every plan that finds the candidate ends with this."""
    ok = us <= a.start_us + window_us
    if capped:
        ok = ok & (a.cap.isnull() | (us < a.cap))
    if gap_us is not None:
        ok = ok & (us <= a[f"u{k-1}"] + gap_us)  # (max_gap is for ordered and strict funnels)
    ok = ok.fill_null(False)
    return a.mutate(**{f"s{k}": ibis.coalesce(a[f"s{k}"], ibis.ifelse(ok, seq, ibis.null("int64"))),
                       f"u{k}": ibis.coalesce(a[f"u{k}"], ibis.ifelse(ok, us, ibis.null("int64")))})


def _step(spec, a: ir.Table, ev: ir.Table, ids: list[str], k: int, window_us: int, gap_us: int | None,
          many: bool) -> ir.Table:
    """Match step k for every attempt that can still extend: its first step-k event after step
    k-1's (after the entry's, unordered; right after it, strict) if that event is within the
    window, the step's gap and before the exclusion cap. Strict funnels join on the next
    sequence number; otherwise :func:`_first_after` when some unit may have many events
    (``many``), else one join + ``min`` per attempt over its unit's candidates (cheaper while
    attempts × candidates per unit stay small)."""
    c = ev.filter(ev.step_col.isin(ids)).select(c_unit=ev.unit_key, c_seq=ev.seq, c_us=ev.us)
    prev_s = a.s0 if spec.order == "unordered" else a[f"s{k-1}"]
    if spec.order == "strict":
        nxt = c.select(_nu=c.c_unit, _ns=c.c_seq, h_seq=c.c_seq, h_us=c.c_us)
        a = a.left_join(nxt, [a.unit_key == nxt._nu, nxt._ns == prev_s + 1]).drop("_nu", "_ns")
    elif many:
        a = _first_after(a, prev_s, c, "c_seq", h_seq="c_seq", h_us="c_us")
    else:
        a = _extend(a, c, [c.c_seq > prev_s], h_seq="c_seq", h_us="c_us")
    return _take(a, k, a.h_seq, a.h_us, window_us, gap_us, capped=True).drop("h_seq", "h_us")


def _log_attempts(spec, ev: ir.Table, log, codes: list, tz: str, window_us: int,
                  gaps: dict[int, int]) -> ir.Table:
    """The attempts of an ordered funnel on the journey log, every step matched: the columns
    :func:`_starts` + :func:`_step` give (``cap`` null: the log path has no exclusions).

    One group-by collects each unit's events of every step as lists of (seq, µs, time); the
    attempts are the entry list unnested, and step k is the element of step k's list with the
    smallest ``seq`` after step k-1's — :func:`_step`'s match. On the log, time never decreases
    as ``seq`` grows, so that earliest candidate is the one to take: when it falls outside the
    window (or the step's gap), every later one does too. No join and no sort per step (at 1M
    people the stage funnel's table took 1.8 s with one ASOF join per step, now 1.2).

    People with more than :data:`HEAVY_UNIT_EVENTS` events in the log (its ``people`` table
    counts them) take :func:`_step_nearest` instead (one ASOF join per step over their events
    only): the same match, in n log n. The log knows whether it has such people at all
    (``JourneyLog.max_events``); when not, the plan has no such branch to compile or run."""
    n = len(codes)
    hev = None
    if log.max_events > HEAVY_UNIT_EVENTS:
        people = log.people
        heavy = people.filter(people.n_events > HEAVY_UNIT_EVENTS).select(h_unit=people.pid)
        hev = ev.semi_join(heavy, ev.unit_key == heavy.h_unit)
        ev = ev.anti_join(heavy, ev.unit_key == heavy.h_unit)
    # the struct as a column: built once per event, not once in every list's argument and filter
    ev = ev.mutate(_item=ibis.struct({"s": ev.seq, "u": ev.us, "t": ev.ts}))
    per = ev.group_by("unit_key").aggregate(
        **{f"l{k}": ev._item.collect(where=ev.step_col.isin(c)) for k, c in enumerate(codes)})
    lo, hi = day_range_us(spec.date_from, spec.date_to, tz)

    def in_range(x):
        ok = x.u >= lo if lo is not None else None
        if hi is not None:
            ok = x.u < hi if ok is None else ok & (x.u < hi)
        return ok
    firsts = [per[f"l{j}"] if lo is None and hi is None else per[f"l{j}"].filter(in_range)
              for j in range(n if spec.open else 1)]
    # the entry step: the first step; in open funnels, the unit's earliest step with a start in range
    start = ibis.cases(*[(f.length() > 0, j) for j, f in enumerate(firsts)], else_=ibis.null("int64")).cast("int64")
    entries = ibis.cases(*[(start == j, f) for j, f in enumerate(firsts)], else_=ibis.null(firsts[0].type()))
    # on the log the unit is the person: unit_key and person_key are both its number
    a = per.select("unit_key", *[f"l{k}" for k in range(1, n)], person_key=per.unit_key, start=start,
                   e=entries.unnest())
    a = a.select("unit_key", "person_key", *[f"l{k}" for k in range(1, n)], "start", aid=a.e.s, start_us=a.e.u,
                 start_ts=a.e.t, by_value=ibis.null("string"), cap=ibis.null("int64"),
                 **{f"s{k}": ibis.ifelse(a.start == k, a.e.s, ibis.null("int64")) for k in range(n)},
                 **{f"u{k}": ibis.ifelse(a.start == k, a.e.u, ibis.null("int64")) for k in range(n)})
    for k in range(1, n):
        prev_s = a[f"s{k-1}"]
        a = a.mutate(_c=a[f"l{k}"].filter(lambda x: x.s > prev_s).mins())  # structs compare by their first field, s
        a = _take(a, k, a._c.s, a._c.u, window_us, gaps.get(k)).drop("_c")
    cols = ["unit_key", "person_key", "start", "aid", "start_us", "start_ts", "by_value", "cap",
            *[f"s{k}" for k in range(n)], *[f"u{k}" for k in range(n)]]
    if hev is None:
        return a.select(*cols)
    b = _starts(spec, hev, codes, n, tz).mutate(cap=ibis.null("int64"))
    for k in range(1, n):
        b = _step_nearest(b, hev, codes[k], k, window_us, gaps.get(k))
    return ibis.union(a.select(*cols), b.select(*cols))


def _step_nearest(a: ir.Table, ev: ir.Table, codes: list, k: int, window_us: int, gap_us: int | None) -> ir.Table:
    """Step k as :func:`_step` matches it, for an ordered funnel on the journey log: one ASOF join
    finds each attempt's first step-k event after its step k-1 (DuckDB's nearest-match join).

    On the log, time never decreases as ``seq`` grows, so the earliest candidate after step k-1 is
    the one to take: when it falls outside the window (or the step's gap), every later one does
    too — :func:`_step`'s match, in n log n however many attempts and candidates a unit has."""
    c = ev.filter(ev.step_col.isin(codes)).select(c_unit=ev.unit_key, c_seq=ev.seq, c_us=ev.us)
    j = a.asof_join(c, on=a[f"s{k-1}"] < c.c_seq, predicates=[a.unit_key == c.c_unit])
    return _take(j, k, j.c_seq, j.c_us, window_us, gap_us).drop("c_unit", "c_seq", "c_us")


def _may_have_many(ctx, spec) -> bool:
    """Whether a unit of this funnel may have more than :data:`HEAVY_UNIT_EVENTS` events: yes,
    unless the journey log (DuckDB stores) says nobody has that many events in the journey —
    a unit's funnel events (a segment's, an episode's, the steps') are some of its person's.
    (A DuckDB store builds the log here if it is missing, once per data version, as
    ``carejourney run`` does after ingest.)"""
    log = ctx.journey_log(spec.journey)
    return log is None or log.max_events > HEAVY_UNIT_EVENTS


def unit_table(spec, ctx, sets: list[list[str]], as_of: ir.Table) -> ir.Table:
    """One row per unit: its best attempt (furthest step, then earliest start).

    Columns: unit_key, person_key, start (0-based entry step), furthest (0-based), r0..r{n-1}
    (epoch µs at which each step was reached; the unordered reach time is the latest of the
    steps so far), start_ts, by_value (entry event's field), deadline_us, and ``as_of``'s one
    column ``as_of_us`` (a one-row table: a scalar reduction of ``ctx.events`` used inside this
    expression would be re-bound by Ibis to the filtered rows).
    """
    n = len(sets)
    names = ["|".join(s) for s in sets]
    window_us = int(spec.window.total_seconds() * _US)
    from_log = _log_events(spec, ctx, sets)
    # ``match``: what ``step_col`` holds for each step's ids (the log's codes, or the ids)
    ev, log, match = from_log if from_log is not None else (_events(spec, ctx, sets), None, sets)
    people = log.people if log is not None else None
    gaps = {k: int(spec.max_gap[names[k]].total_seconds() * _US) for k in range(1, n) if spec.max_gap.get(names[k])}
    if from_log is not None:  # an ordered funnel without exclusions (see _log_events)
        a = _log_attempts(spec, ev, log, match, ctx.timezone, window_us, gaps)
    else:
        a = _starts(spec, ev, match, n, ctx.timezone).mutate(cap=ibis.null("int64"))
        after = {}
        for x in spec.exclusions:
            after.setdefault(names.index(x.after) if x.after else 0, []).append(x.event)
        many = _may_have_many(ctx, spec)
        for k in range(n):
            if k:
                a = _step(spec, a, ev, match[k], k, window_us, gaps.get(k), many)
            if k in after:
                a = _cap(a, ev, after[k], k, many)
    # furthest step reached: the last of a run of matched steps starting at the entry step
    # (one column a step: nesting the previous step's expression twice would double the SQL per step)
    a = a.mutate(furthest=a.start)
    for k in range(1, n):
        a = a.mutate(furthest=ibis.cases((a[f"u{k}"].notnull() & (a.furthest == k - 1), k), else_=a.furthest))
    reach = {}
    for k in range(n):
        reach[f"r{k}"] = (ibis.greatest(*[a[f"u{i}"] for i in range(k + 1)]) if spec.order == "unordered" and k
                          else a[f"u{k}"])
    a = a.mutate(**reach)
    best = a.mutate(_rn=ibis.row_number().over(group_by=a.unit_key,
                                               order_by=[a.furthest.desc(), a.start_us, a.aid]))
    best = best.filter(best._rn == 0)
    # when the next step could still arrive: end of the window, the step's gap, the exclusion cap
    deadline = best.start_us + window_us
    for k in range(1, n):
        gap = spec.max_gap.get(names[k])
        if gap is not None:
            limit = best[f"r{k-1}"] + int(gap.total_seconds() * _US)
            deadline = ibis.cases((best.furthest == k - 1, ibis.least(deadline, limit)), else_=deadline)
    deadline = ibis.cases((best.cap.notnull() & (best.cap < deadline), best.cap), else_=deadline)
    best = best.select("unit_key", "person_key", "start", "furthest", *reach, "start_ts",
                       by_value=best.by_value, deadline_us=deadline)
    if people is not None and spec.by is not None:  # person numbers back to person keys, to join attributes
        keys = people.select(_pid=people.pid, _pk=people.person_key)
        best = best.join(keys, best.person_key == keys._pid)
        best = best.mutate(person_key=best._pk).drop("_pid", "_pk")
    return best.cross_join(as_of)
