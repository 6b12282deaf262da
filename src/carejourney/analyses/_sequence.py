"""Each person's journey events as one ordered sequence (paths, process map, conformance, exports).

The order: time, then (for equal timestamps) the touchpoint's position in the journey
definition, then ``event_id`` — so ties resolve the same way on every engine.

:func:`sequence` takes the events from the stored journey log when the context has one
(:mod:`carejourney.analyses._log`: ordered once per data version, activities as small integer
codes) and otherwise orders them in the query with a window. Both give the same rows; the
analyses aggregate on ``act`` / ``next_act`` and turn codes into ids only at the end with
:meth:`Sequence.decode` (the identity on the window path, where they already are ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import ibis
import ibis.expr.types as ir

from ..model.journey import Journey

__all__ = ["Level", "Sequence", "sequence", "sequenced", "ordered", "ordered_keys", "Keyed", "sequence_window",
           "position_expr",
           "collapse", "variant_lists", "BASE_COLUMNS"]

Level = Literal["touchpoint", "stage"]
BASE_COLUMNS = ("person_key", "event_id", "ts", "touchpoint", "stage")


def position_expr(col: ir.StringColumn, order: list[str]) -> ir.IntegerColumn:
    """The index of ``col`` in ``order`` (unknown values sort last)."""
    return col.substitute({v: i for i, v in enumerate(order)}, else_=len(order)).cast("int64")


def sequence_window(ev: ir.Table, **frame) -> ibis.expr.builders.LegacyWindowBuilder:
    """Each person's events in journey order: time, then design position, then event id."""
    return ibis.window(group_by=ev.person_key, order_by=[ev.ts, ev.tp_pos, ev.event_id], **frame)


@dataclass(frozen=True)
class Sequence:
    """Sequenced events and how to name their activity codes.

    ``table`` columns: ``person_key`` (an opaque per-person key: only group or count by it),
    ``ts``, ``seq``, ``tp_pos``, ``stage_pos``, ``act`` / ``prev_act`` / ``next_act`` (the
    activity of this, the previous and the next event, as codes), ``next_ts``, ``touchpoint`` and
    ``stage`` (ids).
    """

    table: ir.Table
    decode: Callable[[ir.Value], ir.Value]
    stored: bool
    #: Every event's stage is its touchpoint's stage in the journey (``stage`` follows from ``tp_pos``).
    designed_stages: bool = False


def _identity(v):
    return v


def sequence(ctx, journey: Journey, segment: str | None, level: Level = "touchpoint") -> Sequence:
    """The journey's events of everyone (or one segment) in sequence; see :class:`Sequence`."""
    log = ctx.journey_log(journey.journey)
    if log is not None and not (level == "stage" and log.null_stages):
        ev = ctx.log_events(log, journey, segment)
        n_stages = len(journey.stages)
        act, prev, nxt = ("tp", "prev_tp", "next_tp") if level == "touchpoint" else ("st", "prev_st", "next_st")
        t = ev.select(person_key=ev.pid, ts=ev.ts, seq=ev.seq, tp_pos=ev.tp.cast("int64"),
                      stage_pos=ibis.ifelse(ev.st < n_stages, ev.st, n_stages).fill_null(n_stages).cast("int64"),
                      act=ev[act], prev_act=ev[prev], next_act=ev[nxt], next_ts=ev.next_ts,
                      touchpoint=log.decode(ev.tp, "touchpoint"), stage=log.decode(ev.st, "stage"))
        if level == "stage":
            t = t.filter(t.act.notnull())
        return Sequence(t, lambda v: log.decode(v, level), stored=True, designed_stages=log.designed_stages)
    ev = _windowed(ctx, journey, segment, level, ())
    t = ev.select("person_key", "ts", "seq", "tp_pos", "stage_pos", "touchpoint", "stage", "next_ts",
                  act=ev.activity, prev_act=ev.prev_activity, next_act=ev.target)
    return Sequence(t, _identity, stored=False)


def _windowed(ctx, journey: Journey, segment: str | None, level: Level, columns: tuple[str, ...]) -> ir.Table:
    ev = ctx.journey_events(journey.journey, segment)
    # only the columns needed: engines materialise this table when several branches reuse it
    ev = ev.select(*BASE_COLUMNS, *[c for c in columns if c not in BASE_COLUMNS])
    ev = ev.mutate(tp_pos=position_expr(ev.touchpoint, [t.id for t in journey.touchpoints]),
                   stage_pos=position_expr(ev.stage, [s.id for s in journey.stages]),
                   activity=ev.touchpoint if level == "touchpoint" else ev.stage)
    ev = ev.filter(ev.activity.notnull())
    w = sequence_window(ev)
    return ev.mutate(seq=ibis.row_number().over(w), prev_activity=ev.activity.lag().over(w),
                     target=ev.activity.lead().over(w), next_ts=ev.ts.lead().over(w))


def sequenced(ctx, journey: Journey, segment: str | None, level: Level = "touchpoint",
              columns: tuple[str, ...] = ()) -> ir.Table:
    """Journey events with ``activity``, ``prev_activity``, ``target`` (next activity), ``next_ts``,
    ``tp_pos``, ``stage_pos`` and ``seq`` (from 0), activities as ids.

    With ``columns`` (other event columns to keep, e.g. for exports) the events are ordered in
    the query; otherwise they come from the journey log when there is one.
    """
    if columns:
        return _windowed(ctx, journey, segment, level, columns)
    s = sequence(ctx, journey, segment, level)
    t = s.table
    if not s.stored:
        return t.mutate(activity=t.act, prev_activity=t.prev_act, target=t.next_act)
    return t.mutate(activity=s.decode(t.act), prev_activity=s.decode(t.prev_act), target=s.decode(t.next_act))


def ordered(ctx, journey: Journey, segment: str | None, columns: tuple[str, ...] = (),
            level: Level = "touchpoint") -> ir.Table:
    """Journey events with ``activity`` and ``okey``: time then design position as one sortable integer.

    Comparing keys orders events as :func:`sequenced` does, without
    sorting every person's events (a window over the whole log is the costliest step at scale).
    """
    ev = ctx.journey_events(journey.journey, segment)
    ev = ev.select(*BASE_COLUMNS, *[c for c in columns if c not in BASE_COLUMNS])
    order = [t.id for t in journey.touchpoints]
    us = ev.ts.delta(ibis.timestamp("1970-01-01 00:00:00"), unit="microsecond").cast("int64")
    return ev.mutate(okey=us * (len(order) + 1) + position_expr(ev.touchpoint, order),
                     activity=ev.touchpoint if level == "touchpoint" else ev.stage)


@dataclass(frozen=True)
class Keyed:
    """:func:`ordered_keys`' events: ``table`` (``person_key``, ``okey``, ``activity``), how to
    write an activity id as the table holds it (``encode``) and how to name a held one (``decode``)."""

    table: ir.Table
    encode: Callable[[str], ir.Value]
    decode: Callable[[ir.Value], ir.Value]


def ordered_keys(ctx, journey: Journey, segment: str | None, level: Level = "touchpoint") -> Keyed:
    """:func:`ordered`'s ``person_key``, ``okey`` and ``activity`` — from the stored journey log
    when there is one: the same keys over a compact table of integer person numbers and
    activity codes, rather than the events with text person keys."""
    log = ctx.journey_log(journey.journey)
    if log is None:
        ev = ordered(ctx, journey, segment, level=level)
        return Keyed(ev.select("person_key", "okey", "activity"), ibis.literal, _identity)
    ev = ctx.log_events(log, journey, segment)
    us = ev.ts.delta(ibis.timestamp("1970-01-01 00:00:00"), unit="microsecond").cast("int64")
    t = ev.select(person_key=ev.pid, okey=us * (len(journey.touchpoints) + 1) + ev.tp.cast("int64"),
                  activity=ev.tp if level == "touchpoint" else ev.st)
    return Keyed(t, lambda name: log.code(name, level), lambda v: log.decode(v, level))


def collapse(ev: ir.Table, neighbours: bool = True) -> ir.Table:
    """Drop events that repeat the previous event's activity (``act`` / ``prev_act`` columns).

    ``seq`` keeps its (now gapped) order; with ``neighbours``, ``prev_act`` / ``next_act`` /
    ``next_ts`` are recomputed over the kept events (a window: skip it when only the order and
    the activities are needed, as for variants).
    """
    kept = ev.filter(ev.prev_act.isnull() | (ev.prev_act != ev.act))
    if not neighbours:
        return kept
    w = ibis.window(group_by=kept.person_key, order_by=kept.seq)
    return kept.mutate(prev_act=kept.act.lag().over(w), next_act=kept.act.lead().over(w),
                       next_ts=kept.ts.lead().over(w))


def variant_lists(ev: ir.Table) -> ir.Table:
    """One row per person: ``variant`` (the list of activity codes in order) and ``steps``.

    Ordered collects do not compile on Spark, so collect (seq, act) structs, sort the array
    (structs sort by their first field) and keep the activity.
    """
    g = ev.group_by("person_key").aggregate(
        seqs=ibis.struct({"seq": ev.seq, "act": ev.act}).collect(), steps=ev.count())
    return g.select("person_key", "steps", variant=g.seqs.sort().map(lambda s: s.act))
