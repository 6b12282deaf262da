"""Delays: how long people wait between two points of the journey.

Kind ``timing`` measures one delay: for each person, ``from`` is their **first** occurrence
of the start touchpoint (or stage) and the delay ends at the first occurrence of ``to`` that
comes after it (events are ordered by time, then by the touchpoint's position in the journey
definition, so a ``to`` at the same instant but later in the design counts, with delay 0;
an event of the very same touchpoint at the same instant as the start does not). Per group (everyone, the journey's segments,
or a person attribute) it reports:

- ``started`` people with the start point; ``people`` those who also reached the end point;
- ``median_seconds``, ``p75_seconds``, ``p90_seconds`` over those people's delays;
- ``over_target``: people whose delay is longer than ``target``; ``share_over_target`` of ``people``.

Kind ``delays`` runs the same for every named delay in the journey's ``delays:`` (speed to
lead, referral → booking, booking → visit lead time, visit → results, visit → bill, bill →
payment…) with each delay's own target (its SLA's ``within``, else its median target), and
adds two rows from call events (``source_event`` ``call_inbound``, or phone events with a call
outcome status): ``call_wait`` (the wait in seconds from the call's ``value``; percentiles over
calls, ``over_target`` = callers with a call waiting longer than ``call_wait_target``) and
``call_abandonment`` (``over_target`` = callers with an ``abandoned`` call).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field

from ..errors import SpecError
from ..model.base import Duration
from ..model.events import PERSON_ATTRIBUTES
from ..model.journey import DelaySpec, Journey, did_you_mean
from ..privacy.suppression import CellRules
from .base import Analysis, Spec, register
from .context import AnalysisContext
from .paths import ordered
from .process_map import seconds_between

__all__ = ["TimingSpec", "Timing", "DelaysSpec", "Delays", "CALL_STATUSES"]

#: Call outcome statuses (raw-formats.md vocabulary) that mark a phone event as a call.
CALL_STATUSES = ("answered", "abandoned", "voicemail", "no_answer")

STAT_COLS = ("started", "people", "median_seconds", "p75_seconds", "p90_seconds",
             "target_seconds", "over_target", "share_over_target")


def _endpoint(journey: Journey, ev: ir.Table | None, point: str, field: str) -> ir.BooleanValue | None:
    """``ev``'s events of ``point`` (a touchpoint or stage); with ``ev`` None, only the check."""
    if point in {t.id for t in journey.touchpoints}:
        return None if ev is None else ev.touchpoint == point
    if point in {s.id for s in journey.stages}:
        return None if ev is None else ev.stage == point
    options = [t.id for t in journey.touchpoints] + [s.id for s in journey.stages]
    raise SpecError(f"{field}: '{point}' is not a touchpoint or stage of journey '{journey.journey}'"
                    f"{did_you_mean(point, options)}")


def with_group(ctx: AnalysisContext, journey: Journey, t: ir.Table, by: str | None) -> ir.Table:
    """Add a ``group`` column: 'all', the person's journey segment, or a person attribute."""
    if by is None:
        return t.mutate(group=ibis.literal("all"))
    if by == "segment":
        return ctx.with_segments(t, journey, "group")
    if by not in PERSON_ATTRIBUTES:
        raise SpecError(f"by: '{by}' is not 'segment' or a person attribute{did_you_mean(by, PERSON_ATTRIBUTES)}"
                        f" (attributes: {', '.join(PERSON_ATTRIBUTES)})")
    p = ctx.persons.select("person_key", group=ctx.persons[by].cast("string"))
    j = t.left_join(p, t.person_key == p.person_key).drop("person_key_right")
    return j.mutate(group=ibis.coalesce(j.group, "(unknown)"))


def _quantiles(x: ir.NumericColumn, approx: bool) -> dict:
    if approx:
        return {"median_seconds": x.approx_median(), "p75_seconds": x.approx_quantile(0.75),
                "p90_seconds": x.approx_quantile(0.9)}
    return {"median_seconds": x.median(), "p75_seconds": x.quantile(0.75), "p90_seconds": x.quantile(0.9)}


@dataclass(frozen=True)
class Points:
    """The journey's events as delays read them: ``table`` has ``person_key``, ``ts`` and the order
    key ``okey`` (see :func:`paths.ordered`); ``where(point, field)`` selects a touchpoint's or a
    stage's events; ``persons(t)`` gives a table of ``table``'s person keys the store's keys."""

    table: ir.Table
    where: Callable[[str, str], ir.BooleanValue]
    persons: Callable[[ir.Table], ir.Table]


def points(ctx: AnalysisContext, journey: Journey, segment: str | None) -> Points:
    """The journey's (segment's) events for delays: the journey log's where there is one (integer
    person numbers and codes, no per-query filtering of every event), else :func:`paths.ordered`."""
    log = ctx.journey_log(journey.journey)
    if log is None:
        ev = ordered(ctx, journey, segment)
        return Points(ev, lambda point, field: _endpoint(journey, ev, point, field), lambda t: t)
    ev = ctx.log_events(log, journey, segment)
    us = ev.ts.delta(ibis.timestamp("1970-01-01 00:00:00"), unit="microsecond").cast("int64")
    t = ev.select(person_key=ev.pid, ts=ev.ts, okey=us * (len(journey.touchpoints) + 1) + ev.tp.cast("int64"),
                  tp=ev.tp, st=ev.st)

    def where(point: str, field: str) -> ir.BooleanValue:
        _endpoint(journey, None, point, field)  # (the same error for an unknown point)
        if point in {tp.id for tp in journey.touchpoints}:
            return t.tp == log.code(point, "touchpoint")
        return t.st == log.code(point, "stage")

    def persons(rows: ir.Table) -> ir.Table:
        j = rows.inner_join(log.people.select("pid", pk="person_key"), rows.person_key == log.people.pid)
        return j.drop("person_key", "pid").rename(person_key="pk")
    return Points(t, where, persons)


def delay_stats(ctx: AnalysisContext, journey: Journey, ev: Points, start: str, end: str,
                target: timedelta | None, by: str | None, approx: bool) -> ir.Table:
    """Per group: started, people, quantiles, over target — for first ``end`` after first ``start``."""
    t = ev.table
    a = t.filter(ev.where(start, "from"))
    a = a.group_by("person_key").aggregate(a_key=a.okey.min(), a_ts=a.ts.min())
    b = t.filter(ev.where(end, "to")).select("person_key", b_key="okey", b_ts="ts")
    jn = a.left_join(b, (a.person_key == b.person_key) & (b.b_key > a.a_key))
    per = jn.group_by("person_key", "a_ts").aggregate(b_ts=jn.b_ts.min())
    per = per.mutate(seconds=seconds_between(per.b_ts, per.a_ts))
    if by is not None:  # groups are of the store's persons
        per = ev.persons(per)
    per = with_group(ctx, journey, per, by)
    tsec = target.total_seconds() if target is not None else None
    over = (per.seconds > tsec) if tsec is not None else ibis.literal(False)
    out = per.group_by("group").aggregate(
        started=per.count(), people=per.seconds.count(), **_quantiles(per.seconds, approx),
        over_target=over.fill_null(False).cast("int64").sum() if tsec is not None else ibis.null("int64"))
    return out.mutate(target_seconds=ibis.literal(tsec, "float64"),
                      share_over_target=out.over_target.cast("float64") / out.people.nullif(0))


class TimingSpec(Spec):
    kind: Literal["timing"] = "timing"
    from_: str = Field(alias="from", description="start touchpoint or stage (its first occurrence)")
    to: str = Field(description="end touchpoint or stage (first occurrence after the start)")
    target: Duration | None = Field(default=None, description="SLA: delays longer than this are over target")
    by: str | None = Field(default=None, description="'segment' or a person attribute (age_band, payer_type…)")
    approx: bool = Field(default=False, description="approximate quantiles (much faster on Spark)")


@register
class Timing(Analysis):
    kind = "timing"
    spec = TimingSpec
    title = "Time between two journey points"

    def build(self, spec: TimingSpec, ctx: AnalysisContext) -> ir.Table:
        j = ctx.journey(spec.journey)
        out = delay_stats(ctx, j, points(ctx, j, spec.segment), spec.from_, spec.to, spec.target, spec.by, spec.approx)
        return out.order_by("group").select("group", *STAT_COLS)

    def rules(self, spec: TimingSpec) -> CellRules:
        return _rules()


def _rules() -> CellRules:
    q = ("people",)
    return CellRules(counts=("started", "people", "over_target"),
                     derived={"median_seconds": q, "p75_seconds": q, "p90_seconds": q,
                              "share_over_target": ("over_target", "people")},
                     pairs=(("started", "people"), ("people", "over_target")))


class DelaysSpec(Spec):
    kind: Literal["delays"] = "delays"
    by: str | None = Field(default=None, description="'segment' or a person attribute")
    call_wait_target: Duration = Field(default=timedelta(minutes=2), description="call wait SLA")
    approx: bool = Field(default=False, description="approximate quantiles (much faster on Spark)")


def _delay_target(d: DelaySpec) -> timedelta | None:
    if d.target is None:
        return None
    if d.target.sla is not None:
        return d.target.sla.within
    return d.target.median


@register
class Delays(Analysis):
    kind = "delays"
    spec = DelaysSpec
    title = "The journey's named delays"

    def build(self, spec: DelaysSpec, ctx: AnalysisContext) -> ir.Table:
        j = ctx.journey(spec.journey)
        pts = points(ctx, j, spec.segment)
        parts = []
        for i, d in enumerate(j.delays):
            stats = delay_stats(ctx, j, pts, d.from_, d.to, _delay_target(d), spec.by, spec.approx)
            parts.append(stats.mutate(order=ibis.literal(i, "int64"), delay=ibis.literal(d.id), label=ibis.literal(d.label or d.id),
                                      **{"from": ibis.literal(d.from_), "to": ibis.literal(d.to)}))
        ev = ctx.journey_events(j.journey, spec.segment)
        parts.extend(self._calls(spec, ctx, j, ev, len(parts)))
        cols = ["delay", "label", "from", "to", "group", *STAT_COLS]
        out = ibis.union(*[p.select(*cols, "order").cast({"over_target": "int64", "target_seconds": "float64"})
                           for p in parts])
        return out.order_by(["order", "group"]).select(*cols)

    def _calls(self, spec: DelaysSpec, ctx, j: Journey, ev: ir.Table, order: int) -> list[ir.Table]:
        calls = ev.filter((ev.source_event == "call_inbound").fill_null(False)
                          | ((ev.channel == "phone") & ev.status.isin(CALL_STATUSES)).fill_null(False))
        calls = with_group(ctx, j, calls, spec.by)
        tsec = spec.call_wait_target.total_seconds()
        per = calls.group_by("group", "person_key").aggregate(
            waited=calls.value.count(), over=(calls.value > tsec).fill_null(False).any(),
            abandoned=(calls.status == "abandoned").fill_null(False).any())
        waits = calls.group_by("group").aggregate(**_quantiles(calls.value, spec.approx))
        people = per.group_by("group").aggregate(
            started=per.count(), waited=(per.waited > 0).cast("int64").sum(),
            over=(per.over & (per.waited > 0)).cast("int64").sum(), abandoned=per.abandoned.cast("int64").sum())
        wait = people.left_join(waits, people.group == waits.group).drop("group_right")
        wait = wait.mutate(order=ibis.literal(order, "int64"), delay=ibis.literal("call_wait"), label=ibis.literal("Call wait"),
                           people=wait.waited, target_seconds=ibis.literal(tsec, "float64"), over_target=wait.over,
                           share_over_target=wait.over.cast("float64") / wait.waited.nullif(0))
        nothing = ibis.null("float64")
        aband = people.mutate(order=ibis.literal(order + 1, "int64"), delay=ibis.literal("call_abandonment"),
                              label=ibis.literal("Calls abandoned"), people=people.started,
                              median_seconds=nothing, p75_seconds=nothing, p90_seconds=nothing,
                              target_seconds=nothing, over_target=people.abandoned,
                              share_over_target=people.abandoned.cast("float64") / people.started.nullif(0))
        lit = {"from": ibis.literal("call", "string"), "to": ibis.literal("call", "string")}
        return [wait.mutate(**lit), aband.mutate(**lit)]

    def rules(self, spec: DelaysSpec) -> CellRules:
        return _rules()
