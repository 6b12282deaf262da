"""Shared engine-side building blocks of the friction analyses (drivers, equity, targets, handoffs).

A *step* is a pair of touchpoints ``(a, b)``: a person *enters* the step at their first ``a``
event and *converts* when their first ``b`` event at or after that comes within the window;
the *delay* is the time between the two. Everything here builds lazy Ibis expressions only
(nothing is executed), so the same code runs on DuckDB and Spark.

*Dimensions* describe a person (or their step) as strings, so that every dimension can be
stacked into one long ``(step, dimension, value)`` table with a single cross join instead of
one scan per dimension.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import ibis
import ibis.expr.types as ir

from ..model.events import NEEDS
from ..model.journey import Journey
from ._checks import target_checks

__all__ = ["resolve_steps", "step_key", "pair_rows", "pair_base", "journey_pairs", "journey_pair_rows",
           "journey_step_table", "person_dims", "stack_dims",
           "dim_name", "delay_bin", "BINS_PER_DOUBLING", "PERSON_DIMS", "STEP_DIMS", "ALL_DIMS", "local_ts",
           "LEAD_TIME_BUCKETS", "US_PER_HOUR", "weekday_name", "booked_outcome_statuses"]

US_PER_HOUR = 3_600_000_000
#: Delay histogram resolution: bin = floor(8 * log2(1 + hours)), i.e. bins ~9% wide.
BINS_PER_DOUBLING = 8
#: Person attributes used as dimensions (needs become "yes"/"no").
PERSON_DIMS = ("segment", "age_band", "sex", "language", "payer_type", "zip3", *NEEDS,
               "first_channel", "traffic_source", "first_weekday", "first_hour", "lead_time")
#: Attributes of the event that starts the step.
STEP_DIMS = ("location", "device", "channel", "service_line", "weekday", "weekend")
ALL_DIMS = PERSON_DIMS + STEP_DIMS
#: Lead time (booking → appointment) buckets, upper bounds in days.
LEAD_TIME_BUCKETS = ((2, "0-2d"), (7, "3-7d"), (14, "8-14d"), (28, "15-28d"), (42, "29-42d"))
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_OUTCOMES = ("fulfilled", "noshow", "no_show", "cancelled", "arrived", "checked-in", "completed", "finished")
_TRAFFIC_KEYS = ("traffic_source", "utm_source", "source_medium", "lead_source", "manual_source", "medium")


def booked_outcome_statuses() -> tuple[str, ...]:
    return _OUTCOMES


def step_key(a: str, b: str) -> str:
    return f"{a}>{b}"


def resolve_steps(journey: Journey, steps: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """The steps to analyse: the given pairs, else the journey's default step set.

    Default (deduplicated, in this order): consecutive key steps (else consecutive required
    touchpoints); each named delay between two touchpoints (``delays:``); each
    ``<x>_started → <x>_completed|_submitted`` pair; and, for each optional pre-visit
    ``*_completed`` touchpoint (intake forms), the last key step before it → it.
    """
    if steps:
        return [(a, b) for a, b in steps]
    tps = [t.id for t in journey.touchpoints]
    order = {t: i for i, t in enumerate(tps)}
    chain = journey.key_steps()
    if len(chain) < 2:
        chain = [t.id for t in journey.touchpoints if not t.optional]
    out = list(zip(chain, chain[1:]))
    out += [(d.from_, d.to) for d in journey.delays if d.from_ in order and d.to in order]
    for t in tps:
        if t.endswith("_started"):
            stem = t[: -len("_started")]
            out += [(t, stem + end) for end in ("_completed", "_submitted") if stem + end in order]
    for t in journey.touchpoints:
        if t.optional and t.stage == "pre_visit" and t.id.endswith("_completed"):
            before = [c for c in chain if order[c] < order[t.id]]
            if before:
                out.append((before[-1], t.id))
    seen, result = set(), []
    for a, b in out:
        if a != b and (a, b) not in seen:
            seen.add((a, b))
            result.append((a, b))
    return result


#: Fields of the event that enters a step, kept as ``a_<field>``.
_ENTRY_FIELDS = ("location", "device", "channel", "service_line")


def pair_rows(ev: ir.Table, pairs: list[tuple[str | list[str], str | list[str]]], window: timedelta | None,
              data_end: ir.Value | None = None) -> ir.Table:
    """Per person entering a pair's ``a``, for every ``(a, b)`` pair (its position in ``pair``): a_ts,
    the entry event's fields (``a_location``, ``a_device``, ``a_channel``, ``a_service_line``),
    b_ts (first ``b`` at/after a_ts), delay_us, converted, censored.

    ``censored`` marks people whose window had not closed when the data ends (converted or not:
    keeping early converters but not the others would bias rates upward), so analyses leave them out.
    """
    return _outcome(pair_base(ev, pairs), window, data_end)


def pair_base(ev: ir.Table, pairs: list[tuple[str | list[str], str | list[str]]]) -> ir.Table:
    """:func:`pair_rows` before the window: person_key, pair, a_ts, the entry fields and b_ts.

    Computed in one pass however many pairs: one group-by over the ``a`` and ``b`` events finds
    each person's entry into every distinct ``a`` (aggregates filtered to it; the entry event's
    fields as one struct) and collects the times of every distinct ``b``; the first ``b`` at or
    after a pair's entry is the smallest of those times not before it, and a small cross join
    makes the rows. Pair by pair (a group-by, a join and a group-by each) took the friction
    analyses some fifteen passes over the events; joining the ``b`` events to the entries and
    grouping again took a second pass.
    """
    sets = [_as_sets(p) for p in pairs]
    a_sets = list(dict.fromkeys(a for a, _ in sets))
    b_sets = list(dict.fromkeys(b for _, b in sets))
    ea = ev.filter(ev.touchpoint.isin(list(dict.fromkeys(t for tps in a_sets + b_sets for t in tps))))
    entry = ibis.struct({c: ea[c] for c in _ENTRY_FIELDS})
    aggs = {}
    for i, a in enumerate(a_sets):
        hit = ea.touchpoint.isin(list(a))
        aggs[f"ts_{i}"] = ea.ts.min(where=hit)
        aggs[f"en_{i}"] = entry.argmin(ea.ts, where=hit)
    for i, b in enumerate(b_sets):
        aggs[f"lb_{i}"] = ea.ts.collect(where=ea.touchpoint.isin(list(b)))
    per = ea.group_by("person_key").aggregate(**aggs)
    per = per.filter(ibis.or_(*[per[f"ts_{i}"].notnull() for i in range(len(a_sets))]))

    def first_b(a, b):
        entered = per[f"ts_{a_sets.index(a)}"]
        return per[f"lb_{b_sets.index(b)}"].filter(lambda t: t >= entered).mins()
    both = per.mutate(**{f"b_{k}": first_b(a, b) for k, (a, b) in enumerate(sets)})
    both = both.drop(*[f"lb_{i}" for i in range(len(b_sets))])
    x = both.cross_join(ibis.memtable({"pair": list(range(len(sets)))}))

    def pick(col):
        return ibis.cases(*[(x.pair == k, x[col(k, a_sets.index(a))]) for k, (a, _) in enumerate(sets)])
    en = pick(lambda k, i: f"en_{i}")
    rows = x.select("person_key", "pair", a_ts=pick(lambda k, i: f"ts_{i}"),
                    **{f"a_{c}": en[c] for c in _ENTRY_FIELDS}, b_ts=pick(lambda k, i: f"b_{k}"))
    return rows.filter(rows.a_ts.notnull())


def _as_sets(pair) -> tuple[tuple[str, ...], tuple[str, ...]]:
    a, b = pair
    return tuple([a] if isinstance(a, str) else a), tuple([b] if isinstance(b, str) else b)


def journey_pairs(journey: Journey) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The pairs a report asks of a journey: its default steps (drivers, equity, handoffs) and its
    target checks (targets), as (from-set, to-set), deduplicated."""
    steps = [((a,), (b,)) for a, b in resolve_steps(journey)]
    checks = [(tuple(c["from"]), tuple(c["to"])) for c in target_checks(journey)]
    return list(dict.fromkeys(steps + checks))


def journey_pair_rows(ctx, journey_id: str | None, segment: str | None,
                      pairs: list[tuple[str | list[str], str | list[str]]], window: timedelta | None,
                      data_end: ir.Value | None = None) -> ir.Table:
    """:func:`pair_rows` over the journey's events (of ``segment``), ``pair`` numbering ``pairs``.

    When every pair is one of the journey's own (:func:`journey_pairs`) and the context shares
    tables, the person-level rows come from one table of all of them (``AnalysisContext.shared``):
    drivers, equity, handoffs and targets then read it instead of each going over the events.
    A pair's rows do not depend on the other pairs computed with it, so the rows are the same;
    nor on other people, so a segment's rows are everyone's rows of the segment's people (a
    segment's first report reads the table kept by everyone's)."""
    j = ctx.journey(journey_id)
    wanted = [_as_sets(p) for p in pairs]
    common = journey_pairs(j)
    if not ctx.shares_tables or not all(p in common for p in wanted):
        return pair_rows(ctx.journey_events(journey_id, segment), pairs, window, data_end)
    everyone = ctx.journey_events(journey_id)
    base = ctx.shared("pair_base", [j.measured()], lambda: pair_base(everyone, common))
    if segment is not None:
        base = base.semi_join(ctx.segment_members(j, segment), "person_key")
    index = {p: i for i, p in enumerate(common)}
    pick = ibis.memtable({"_common": [index[p] for p in wanted], "_pair": list(range(len(wanted)))})
    rows = base.inner_join(pick, base.pair == pick._common)
    rows = rows.mutate(pair=rows._pair).drop("_common", "_pair")
    return _outcome(rows, window, data_end)


def journey_step_table(ctx, journey_id: str | None, segment: str | None, steps: list[tuple[str, str]],
                       window: timedelta | None, censor: bool = True) -> ir.Table:
    """All steps stacked: one row per (person, step) for people of the journey (of ``segment``) who
    entered the step; ``step`` is the step's key, ``step_no`` its position in ``steps`` (cheaper to
    group by). From the report's shared pair rows where it can (:func:`journey_pair_rows`)."""
    data_end = ctx.journey_end(journey_id, segment) if censor else None
    return _step_rows(journey_pair_rows(ctx, journey_id, segment, steps, window, data_end), steps)


def _step_rows(rows: ir.Table, steps: list[tuple[str, str]]) -> ir.Table:
    names = [step_key(a, b) for a, b in steps]
    rows = rows.mutate(step=ibis.cases(*[(rows.pair == k, n) for k, n in enumerate(names)]))
    return rows.select("person_key", "a_ts", *[f"a_{c}" for c in _ENTRY_FIELDS], "b_ts", "delay_us", "converted",
                       "censored", "step", step_no="pair")


def _outcome(out: ir.Table, window: timedelta | None, data_end: ir.Value | None) -> ir.Table:
    """delay_us, converted and censored from a_ts and b_ts (see :func:`pair_rows`)."""
    delay = out.b_ts.delta(out.a_ts, unit="microsecond")
    if window is not None:
        w_us = int(window.total_seconds() * 1_000_000)
        converted = out.b_ts.notnull() & (delay <= w_us)
    else:
        converted = out.b_ts.notnull()
    out = out.mutate(delay_us=ibis.ifelse(converted, delay, ibis.null("int64")), converted=converted)
    if window is not None and data_end is not None:
        open_window = out.a_ts.delta(data_end, unit="microsecond") > -int(window.total_seconds() * 1_000_000)
        out = out.mutate(censored=open_window)
    else:
        out = out.mutate(censored=ibis.literal(False))
    return out


def delay_bin(delay_us: ir.IntegerValue) -> ir.IntegerValue:
    """Log-scale histogram bin of a delay (see :data:`BINS_PER_DOUBLING`)."""
    hours = delay_us.cast("float64") / US_PER_HOUR
    return ((hours + 1).log2() * BINS_PER_DOUBLING).floor().cast("int64")


@lru_cache(maxsize=16)
def _tz_transitions(tz: str) -> tuple[tuple[object, int], ...]:
    """(UTC instant from which an offset applies, offset seconds) for 2000–2040."""
    import numpy as np
    import pandas as pd
    hours = pd.date_range("2000-01-01", "2041-01-01", freq="h", tz="UTC")
    naive = hours.tz_localize(None)
    off = ((hours.tz_convert(tz).tz_localize(None) - naive) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
    change = np.flatnonzero(np.diff(off)) + 1
    rows = [(naive[0].to_pydatetime(), int(off[0]))]
    rows += [(naive[i].to_pydatetime(), int(off[i])) for i in change]
    return tuple(rows)


def local_ts(ts: ir.TimestampValue, tz: str) -> ir.TimestampValue:
    """Naive UTC → naive local time in ``tz`` (DST-aware via the zone's transitions)."""
    rows = _tz_transitions(tz)
    if len(rows) == 1:
        off = rows[0][1]
        return ts if off == 0 else ts + ibis.interval(seconds=off)
    cases = [(ts < ibis.timestamp(rows[i + 1][0]), rows[i][1]) for i in range(len(rows) - 1)]
    offset = ibis.cases(*cases, else_=rows[-1][1])
    return ts + offset.as_interval("s")


def weekday_name(ts: ir.TimestampValue, tz: str) -> ir.StringValue:
    """Mon..Sun of a naive UTC timestamp in the project timezone."""
    local = local_ts(ts, tz)
    return ibis.cases(*[(local.day_of_week.index() == i, d) for i, d in enumerate(_WEEKDAYS)])


def person_dims(ev: ir.Table, persons: ir.Table, journey: Journey, tz: str, with_segments) -> ir.Table:
    """One row per person in ``ev``: every :data:`PERSON_DIMS` value as a string (or null)."""
    first = ev.group_by("person_key").aggregate(f_ts=ev.ts.min(), first_channel=ev.channel.argmin(ev.ts))
    local = local_ts(first.f_ts, tz)
    weekday = weekday_name(first.f_ts, tz)
    hour = local.hour().cast("string").lpad(2, "0")
    first = first.mutate(first_weekday=weekday, first_hour=hour).drop("f_ts")

    pattern = r'"(?:' + "|".join(_TRAFFIC_KEYS) + r')"\s*:\s*"([^"]+)"'
    tr = ev.filter(ev.attrs.notnull()).mutate(src=ev.attrs.re_extract(pattern, 1))
    tr = tr.filter(tr.src.notnull() & (tr.src != ""))
    traffic = tr.group_by(pk_t="person_key").aggregate(traffic_source=tr.src.argmin(tr.ts))

    booked = ev.filter(ev.status == "booked")
    bk = booked.group_by(pk_b="person_key").aggregate(book_ts=booked.ts.min())
    outc = ev.filter(ev.status.isin(list(_OUTCOMES))).select(pk_o="person_key", o_ts="ts")
    jo = bk.inner_join(outc, (bk.pk_b == outc.pk_o) & (outc.o_ts >= bk.book_ts))
    lead = jo.group_by("pk_b").aggregate(book_ts=jo.book_ts.min(), appt_ts=jo.o_ts.min())
    days = lead.appt_ts.delta(lead.book_ts, unit="microsecond").cast("float64") / (US_PER_HOUR * 24)
    bucket = ibis.cases(*[(days <= ub, label) for ub, label in LEAD_TIME_BUCKETS],
                        else_=f">{LEAD_TIME_BUCKETS[-1][0]}d")
    lead = lead.select(pk_l="pk_b", lead_time=bucket, book_ts="book_ts")

    p = persons
    pcols = {a: p[a].cast("string") for a in ("age_band", "sex", "language", "payer_type", "zip3")}
    pcols.update({n: ibis.cases((p[n] == True, "yes"), (p[n] == False, "no"), else_=ibis.null("string"))  # noqa: E712
                  for n in NEEDS})
    pers = p.select(pk_p=p.person_key, **pcols)

    out = first.left_join(pers, first.person_key == pers.pk_p).drop("pk_p")
    out = out.left_join(traffic, out.person_key == traffic.pk_t).drop("pk_t")
    out = out.left_join(lead, out.person_key == lead.pk_l).drop("pk_l")
    return with_segments(out, journey)


def stack_dims(table: ir.Table, dims: list[str]) -> ir.Table:
    """Long form: one row per input row and dimension, with the dimension's position in ``dims``
    as ``dim`` (numbers are cheaper to pick and group by than names: :func:`dim_name`) and its
    string ``value``."""
    x = table.cross_join(ibis.memtable({"dim": list(range(len(dims)))}))
    value = ibis.cases(*[(x.dim == i, x[d].cast("string")) for i, d in enumerate(dims)], else_=ibis.null("string"))
    return x.mutate(value=ibis.coalesce(value, "(unknown)"))


def dim_name(dim: ir.IntegerValue, dims: list[str]) -> ir.StringValue:
    """The name of a dimension :func:`stack_dims` numbered."""
    return ibis.cases(*[(dim == i, d) for i, d in enumerate(dims)], else_=ibis.null("string"))
