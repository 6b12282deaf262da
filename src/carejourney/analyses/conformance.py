"""Conformance: each person's history against the designed journey.

The journey definition's order of stages and touchpoints *is* the designed path. People
may enter anywhere (a referral that lands straight at booking is fine); from their entry
point on, their events (ordered as in :mod:`carejourney.analyses._sequence`) are
checked for these deviations, each located at a stage and touchpoint:

- ``skipped_stage``: a stage with at least one required (non-``optional``) touchpoint lies
  strictly between the person's entry stage and the furthest stage they reached, and they
  have no event in it;
- ``skipped_touchpoint``: a required touchpoint lies strictly between the person's entry
  touchpoint and their furthest touchpoint, in a stage they did visit, and never happened;
- ``out_of_order``: the first occurrence of a touchpoint comes after an event of a touchpoint
  that is later in the design;
- ``loop``: a touchpoint that is not ``repeatable`` happens again;
- ``stall``: after an event outside the final stage, no next event for longer than
  ``stall_after`` (the last event is measured up to ``as_of``, default the newest event).

A person *conforms* when none of these apply. Output: two summary rows (``(conforming)``,
``(not conforming)``, shares of all people, ``rank`` 0) and the deviations ranked 1, 2, … by
people (then occurrences). A person can have several deviations, so deviation rows overlap.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field

from ..model.base import Duration
from ..model.journey import Journey
from ..privacy.suppression import CellRules
from .base import Analysis, Spec, register
from .context import AnalysisContext
from ._sequence import sequence
from .process_map import seconds_between

__all__ = ["ConformanceSpec", "Conformance", "DEVIATIONS"]

DEVIATIONS = ("skipped_stage", "skipped_touchpoint", "out_of_order", "loop", "stall")
CONFORMING, NOT_CONFORMING = "(conforming)", "(not conforming)"


class ConformanceSpec(Spec):
    kind: Literal["conformance"] = "conformance"
    stall_after: Duration = Field(default=timedelta(days=30), description="a gap longer than this "
                                  "after a non-final stage is a stall")
    as_of: datetime | None = Field(default=None, description="end of observation for trailing stalls "
                                   "(default: the newest event in the store)")


def _summary(ev: ir.Table, j: Journey) -> ir.Table:
    """One row per person, by position in the design (integers compare and group faster than ids,
    and on the journey log the ids are decoded from codes): the entry and furthest touchpoint and
    stage; per touchpoint ``c<i>`` how often and ``f<i>`` at which ``seq`` it first happened; per
    journey stage ``s<k>`` whether any event was in it."""
    aggs = {}
    for i in range(len(j.touchpoints)):
        aggs[f"c{i}"] = ev.count(where=ev.tp_pos == i)
        aggs[f"f{i}"] = ev.seq.min(where=ev.tp_pos == i)
    aggs |= {f"s{k}": (ev.stage_pos == k).any() for k in range(len(j.stages))}
    return ev.group_by("person_key").aggregate(entry=ev.tp_pos.min(), furthest=ev.tp_pos.max(),
                                               entry_stage=ev.stage_pos.min(), furthest_stage=ev.stage_pos.max(), **aggs)


def _later_first(t: ir.Table, n: int, i) -> ir.Value:
    """The earliest first ``seq`` of any touchpoint after position ``i`` (``f<k>`` columns of ``t``;
    ``least`` skips the ones that never happened). ``i``: a position, or a column of them."""
    def earliest(k: int) -> ir.Value:
        cols = [t[f"f{m}"] for m in range(k + 1, n)]
        return cols[0] if len(cols) == 1 else ibis.least(*cols)  # (Spark's least() takes two or more)
    if isinstance(i, int):
        return earliest(i) if i < n - 1 else ibis.null("int64")
    return ibis.cases(*[(i == k, earliest(k)) for k in range(n - 1)], else_=ibis.null("int64")) if n > 1 \
        else ibis.null("int64")


def _event_deviations(ev: ir.Table, summary: ir.Table, j: Journey, spec: ConformanceSpec, as_of,
                      designed_stages: bool) -> ir.Table:
    """Loops, out-of-order first occurrences and stalls; ``n`` = occurrences per row.

    A touchpoint's first occurrence is out of order when some later touchpoint of the design
    happened before it. Counts and first occurrences come from aggregates, far cheaper at scale
    than windows: with ``designed_stages`` (every event in its touchpoint's stage, as on most
    journey logs) from the per-person summary alone; otherwise per (person, stage, touchpoint),
    since a loop is reported in the stage it happened in.
    """
    names = [t.id for t in j.touchpoints]
    n = len(names)
    repeatable = {i for i, t in enumerate(j.touchpoints) if t.repeatable}
    one = ibis.literal(1, "int64")
    parts = []
    if designed_stages:
        for i, t in enumerate(j.touchpoints):
            row = dict(stage=ibis.literal(t.stage), touchpoint=ibis.literal(t.id))
            if i not in repeatable:
                loop = summary.filter(summary[f"c{i}"] > 1)
                parts.append(loop.select("person_key", **row, deviation=ibis.literal("loop"),
                                         n=(loop[f"c{i}"] - 1).cast("int64")))
            if i < n - 1:
                late = summary.filter((summary[f"f{i}"] > _later_first(summary, n, i)).fill_null(False))
                parts.append(late.select("person_key", **row, deviation=ibis.literal("out_of_order"), n=one))
    else:
        per_tp = ev.group_by("person_key", "stage", "tp_pos").aggregate(count=ev.count(), first=ev.seq.min())
        per_tp = per_tp.mutate(touchpoint=per_tp.tp_pos.substitute(dict(enumerate(names)), else_=ibis.null("string")))
        loops = per_tp.filter((per_tp["count"] > 1) & ~per_tp.tp_pos.isin(sorted(repeatable) or [-1]))
        parts.append(loops.select("person_key", "stage", "touchpoint", deviation=ibis.literal("loop"),
                                  n=(loops["count"] - 1).cast("int64")))
        x = per_tp.inner_join(summary.select("person_key", *[f"f{k}" for k in range(n)]), "person_key")
        late = x.filter((x["first"] > _later_first(x, n, x.tp_pos)).fill_null(False))
        parts.append(late.select("person_key", "stage", "touchpoint", deviation=ibis.literal("out_of_order"), n=one))
    e = ev.mutate(next_ts=ibis.coalesce(ev.next_ts, as_of))
    e = e.mutate(gap=seconds_between(e.next_ts, e.ts))
    stall = (e.stage != j.stages[-1].id).fill_null(True) & (e.gap > spec.stall_after.total_seconds()).fill_null(False)
    parts.append(e.filter(stall).select("person_key", "stage", "touchpoint", deviation=ibis.literal("stall"), n=one))
    return ibis.union(*parts)


def _skips(p: ir.Table, j: Journey) -> ir.Table | None:
    """Skipped stages and touchpoints, from the per-person summary."""
    tp_pos = {t.id: i for i, t in enumerate(j.touchpoints)}
    st_pos = {s.id: i for i, s in enumerate(j.stages)}
    required = [t for t in j.touchpoints if not t.optional]
    stages = [s.id for s in j.stages if any(t.stage == s.id for t in required)]
    if not required:
        return None
    nothing = ibis.null("string")
    parts = []
    for s in stages:
        hit = (p.entry_stage < st_pos[s]) & (p.furthest_stage > st_pos[s]) & ~p[f"s{st_pos[s]}"]
        parts.append(p.filter(hit).select("person_key", stage=ibis.literal(s), touchpoint=nothing,
                                          deviation=ibis.literal("skipped_stage"), n=ibis.literal(1, "int64")))
    for t in required:
        i = tp_pos[t.id]
        hit = (p.entry < i) & (p.furthest > i) & (p[f"c{i}"] == 0) & p[f"s{st_pos[t.stage]}"]
        parts.append(p.filter(hit).select("person_key", stage=ibis.literal(t.stage), touchpoint=ibis.literal(t.id),
                                          deviation=ibis.literal("skipped_touchpoint"), n=ibis.literal(1, "int64")))
    return ibis.union(*parts)


def _deviations(ctx: AnalysisContext, j: Journey, spec: ConformanceSpec, segment: str | None, as_of) -> ir.Table:
    """Every deviation of every person (of ``segment``): ``person_key``, ``stage``, ``touchpoint``,
    ``deviation``, ``n`` (occurrences)."""
    seq = sequence(ctx, j, segment)
    summary = _summary(seq.table, j)
    devs = _event_deviations(seq.table, summary, j, spec, as_of, seq.designed_stages)
    skips = _skips(summary, j)
    return devs if skips is None else ibis.union(devs, skips)


@register
class Conformance(Analysis):
    kind = "conformance"
    spec = ConformanceSpec
    title = "Conformance to the designed journey"

    def build(self, spec: ConformanceSpec, ctx: AnalysisContext) -> ir.Table:
        j = ctx.journey(spec.journey)
        as_of = ibis.literal(spec.as_of, "timestamp") if spec.as_of else ctx.events.ts.max()
        log = ctx.journey_log(j.journey) if ctx.shares_tables else None
        if log is None:
            ev = sequence(ctx, j, spec.segment).table
            devs, people = _deviations(ctx, j, spec, spec.segment, as_of), ev.select("person_key")
        else:
            # a person's deviations depend on their own events alone (and the data's end): everyone's,
            # kept (analyses._shared), and a segment's are those of its people — the segment's
            # report does not go over its people's events again
            key = [j.measured(), spec.stall_after.total_seconds(), str(spec.as_of)]
            devs = ctx.shared("conformance", key, lambda: _deviations(ctx, j, spec, None, as_of))
            people = log.people.select(person_key="pid")
            if spec.segment is not None:
                people = log.people_of(ctx.segment_members(j, spec.segment)).select(person_key="pid")
                devs = devs.semi_join(people, "person_key")
        total = people.person_key.nunique()
        deviating = devs.person_key.nunique()
        summary = people.aggregate(total=total).cross_join(devs.aggregate(bad=deviating))
        cols = dict(stage=ibis.null("string"), touchpoint=ibis.null("string"), occurrences=ibis.null("int64"))
        conf = summary.select(section=ibis.literal("summary"), deviation=ibis.literal(CONFORMING),
                              people=summary.total - summary.bad, total=summary.total, rank=ibis.literal(0, "int64"), **cols)
        nonc = summary.select(section=ibis.literal("summary"), deviation=ibis.literal(NOT_CONFORMING),
                              people=summary.bad, total=summary.total, rank=ibis.literal(0, "int64"), **cols)
        per = devs.group_by("deviation", "stage", "touchpoint").aggregate(
            people=devs.person_key.nunique(), occurrences=devs.n.sum())
        per = per.cross_join(summary.select("total"))
        per = per.mutate(section=ibis.literal("deviation"), rank=ibis.row_number().over(
            ibis.window(order_by=[per.people.desc(), per.occurrences.desc(), per.deviation, per.stage, per.touchpoint])).cast("int64") + 1)
        order = ["section", "deviation", "stage", "touchpoint", "people", "occurrences", "total", "rank"]
        out = ibis.union(conf.select(*order), nonc.select(*order), per.select(*order))
        out = out.mutate(share=out.people.cast("float64") / out.total.nullif(0))
        return out.order_by(["rank", "deviation"]).select("rank", "section", "deviation", "stage", "touchpoint",
                                                          "people", "occurrences", "share")

    def rules(self, spec: ConformanceSpec) -> CellRules:
        return CellRules(counts=("people",), derived={"share": ("people",), "occurrences": ("people",)},
                         groups=("rank",))  # summary rows (rank 0) add up to everyone; deviations overlap
