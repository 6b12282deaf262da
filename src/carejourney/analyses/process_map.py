"""Process map: the directly-follows graph (DFG) of the journey, with frequency and performance.

Each person's events form one sequence (see :mod:`carejourney.analyses._sequence`
for the order, including ties). Every pair of consecutive events ``a → b`` is one
*directly-follows* occurrence, exactly as in PM4Py's ``discover_dfg`` (repeats are kept, so
``a → a`` self-loops appear unless ``collapse_repeats`` is set).

Output rows (column ``element``):

- ``edge``  — ``source → target``: ``events`` (occurrences), ``people`` (distinct people with
  that transition at least once), ``median_seconds`` / ``p90_seconds`` (time between the two
  events, per occurrence, as PM4Py's performance DFG);
- ``start`` — activity that begins a person's sequence: ``events`` = ``people`` = how many;
- ``end``   — activity that ends a person's sequence.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field

from ..privacy.suppression import CellRules
from .base import Analysis, Spec, register
from .context import AnalysisContext
from ._sequence import Level, collapse, sequence

__all__ = ["ProcessMapSpec", "ProcessMap", "directly_follows", "seconds_between"]


def seconds_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """Exact seconds between two timestamps (microsecond deltas agree across engines)."""
    return later.delta(earlier, unit="microsecond").cast("float64") / 1e6


def directly_follows(ev: ir.Table) -> ir.Table:
    """Consecutive pairs of a sequence table: ``source``, ``target`` (activity codes), ``seconds``,
    ``person_key``."""
    pairs = ev.filter(ev.next_act.notnull())
    return pairs.select("person_key", source=pairs.act, target=pairs.next_act,
                        seconds=seconds_between(pairs.next_ts, pairs.ts))


class ProcessMapSpec(Spec):
    kind: Literal["process_map"] = "process_map"
    level: Level = Field(default="touchpoint", description="activities are touchpoints or stages")
    collapse_repeats: bool = Field(default=False, description="merge consecutive repeats (drops self-loops)")
    approx: bool = Field(default=False, description="approximate median / p90 (much faster on Spark)")


@register
class ProcessMap(Analysis):
    kind = "process_map"
    spec = ProcessMapSpec
    title = "Process map (directly-follows graph)"

    def build(self, spec: ProcessMapSpec, ctx: AnalysisContext) -> ir.Table:
        j = ctx.journey(spec.journey)
        seq = sequence(ctx, j, spec.segment, spec.level)
        ev = collapse(seq.table) if spec.collapse_repeats else seq.table
        df = directly_follows(ev)
        if spec.approx:
            med, p90 = df.seconds.approx_median(), df.seconds.approx_quantile(0.9)
        else:
            med, p90 = df.seconds.median(), df.seconds.quantile(0.9)
        edges = df.group_by("source", "target").aggregate(
            events=df.count(), people=df.person_key.nunique(), median_seconds=med, p90_seconds=p90)
        edges = edges.mutate(element=ibis.literal("edge"), order=0,
                             source=seq.decode(edges.source), target=seq.decode(edges.target))
        nothing = ibis.null("float64")
        parts = [edges]
        for name, order, rows in (("start", 1, ev.filter(ev.prev_act.isnull())),
                                  ("end", 2, ev.filter(ev.next_act.isnull()))):
            agg = rows.group_by(source=rows.act).aggregate(events=rows.count())
            parts.append(agg.mutate(source=seq.decode(agg.source), target=ibis.null("string"), people=agg.events,
                                    median_seconds=nothing, p90_seconds=nothing,
                                    element=ibis.literal(name), order=order))
        cols = ["element", "source", "target", "events", "people", "median_seconds", "p90_seconds"]
        out = ibis.union(*[p.select(*cols, "order") for p in parts])
        return out.order_by([out.order, out.events.desc(), out.source, out.target]).select(*cols)

    def rules(self, spec: ProcessMapSpec) -> CellRules:
        return CellRules(counts=("people",), derived={"events": ("people",), "median_seconds": ("people",),
                                                      "p90_seconds": ("people",)})
