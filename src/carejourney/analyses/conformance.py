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


def _event_deviations(ev: ir.Table, j: Journey, spec: ConformanceSpec, as_of, designed_stages: bool) -> ir.Table:
    """Loops, out-of-order first occurrences and stalls; ``n`` = occurrences per row.

    The sequence gives each event's furthest earlier position (``prev_max``); per-touchpoint
    counts and first occurrences come from aggregates, which are far cheaper at scale than windows.
    With ``designed_stages`` (every event in its touchpoint's stage) they are grouped by person and
    touchpoint position only, the stage named after: two integer keys, not a string as well.
    """
    # touchpoints by their position in the journey (every event is of one of its touchpoints): integers
    # are cheaper to group by than ids, named again on the loops found
    names = [t.id for t in j.touchpoints]
    repeatable = [i for i, t in enumerate(j.touchpoints) if t.repeatable]
    e = ev.mutate(next_ts=ibis.coalesce(ev.next_ts, as_of))
    e = e.mutate(gap=seconds_between(e.next_ts, e.ts))
    if designed_stages:
        per_tp = ev.group_by("person_key", "tp_pos").aggregate(count=ev.count(), first=ev.seq.min())
        per_tp = per_tp.mutate(stage=per_tp.tp_pos.substitute({i: t.stage for i, t in enumerate(j.touchpoints)},
                                                              else_=ibis.null("string")))
    else:
        per_tp = ev.group_by("person_key", "stage", "tp_pos").aggregate(count=ev.count(), first=ev.seq.min())
    loops = per_tp.filter((per_tp["count"] > 1) & ~per_tp.tp_pos.isin(repeatable or [-1]))
    loops = loops.mutate(touchpoint=loops.tp_pos.substitute(dict(enumerate(names)), else_=ibis.null("string")))
    late = e.filter((e.tp_pos < e.prev_max).fill_null(False))
    late = late.semi_join(per_tp, (late.person_key == per_tp.person_key) & (late.tp_pos == per_tp.tp_pos)
                          & (late.seq == per_tp["first"]))
    stall = (e.stage != j.stages[-1].id).fill_null(True) & (e.gap > spec.stall_after.total_seconds()).fill_null(False)
    one = ibis.literal(1, "int64")
    return ibis.union(
        loops.select("person_key", "stage", "touchpoint", deviation=ibis.literal("loop"),
                     n=(loops["count"] - 1).cast("int64")),
        late.select("person_key", "stage", "touchpoint", deviation=ibis.literal("out_of_order"), n=one),
        e.filter(stall).select("person_key", "stage", "touchpoint", deviation=ibis.literal("stall"), n=one))


def _skips(ev: ir.Table, j: Journey) -> ir.Table | None:
    tp_pos = {t.id: i for i, t in enumerate(j.touchpoints)}
    st_pos = {s.id: i for i, s in enumerate(j.stages)}
    required = [t for t in j.touchpoints if not t.optional]
    stages = [s.id for s in j.stages if any(t.stage == s.id for t in required)]
    if not required:
        return None
    # by position (an event's touchpoint / journey stage is the one at its tp_pos / stage_pos): integers
    # compare faster than the ids, and on the journey log the ids are decoded from codes
    aggs = {f"t{i}": (ev.tp_pos == tp_pos[t.id]).any() for i, t in enumerate(required)}
    aggs |= {f"s{i}": (ev.stage_pos == st_pos[s]).any() for i, s in enumerate(stages)}
    p = ev.group_by("person_key").aggregate(entry=ev.tp_pos.min(), furthest=ev.tp_pos.max(),
                                            entry_stage=ev.stage_pos.min(), furthest_stage=ev.stage_pos.max(), **aggs)
    nothing = ibis.null("string")
    parts = []
    for i, s in enumerate(stages):
        hit = (p.entry_stage < st_pos[s]) & (p.furthest_stage > st_pos[s]) & ~p[f"s{i}"]
        parts.append(p.filter(hit).select("person_key", stage=ibis.literal(s), touchpoint=nothing,
                                          deviation=ibis.literal("skipped_stage"), n=ibis.literal(1, "int64")))
    for i, t in enumerate(required):
        visited = p[f"s{stages.index(t.stage)}"]
        hit = (p.entry < tp_pos[t.id]) & (p.furthest > tp_pos[t.id]) & ~p[f"t{i}"] & visited
        parts.append(p.filter(hit).select("person_key", stage=ibis.literal(t.stage), touchpoint=ibis.literal(t.id),
                                          deviation=ibis.literal("skipped_touchpoint"), n=ibis.literal(1, "int64")))
    return ibis.union(*parts)


@register
class Conformance(Analysis):
    kind = "conformance"
    spec = ConformanceSpec
    title = "Conformance to the designed journey"

    def build(self, spec: ConformanceSpec, ctx: AnalysisContext) -> ir.Table:
        j = ctx.journey(spec.journey)
        seq = sequence(ctx, j, spec.segment)
        ev = seq.table
        as_of = ibis.literal(spec.as_of, "timestamp") if spec.as_of else ctx.events.ts.max()
        devs = _event_deviations(ev, j, spec, as_of, seq.designed_stages)
        skips = _skips(ev, j)
        if skips is not None:
            devs = ibis.union(devs, skips)
        total = ev.person_key.nunique()
        deviating = devs.person_key.nunique()
        summary = ev.aggregate(total=total).cross_join(devs.aggregate(bad=deviating))
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
