"""Equity: conversion at each key step by language, payer, age band, access needs and area."""

from __future__ import annotations

from ...model.names import DIMENSION_LABELS as DIM_LABELS
from .. import charts
from ..format import to_number
from .base import ReportContext, Section, Table, Unavailable, View, section, unavailable_view


def equity_view(ctx: ReportContext) -> View:
    r = ctx.fetch("equity")
    title = "Equity: who converts at each step"
    intro = ("Conversion from one key step to the next, by population group. The gap is how far a group's "
             "rate is from everyone else's, in percentage points (with a 95% interval).")
    if isinstance(r, Unavailable):
        return unavailable_view("equity", title, r, intro)
    fmt, names = ctx.fmt, ctx.names
    recs = r.records()
    shown = [x for x in recs if to_number(x.get("gap")) is not None and x.get("value") != "(unknown)"]
    shown.sort(key=lambda x: -abs(to_number(x["gap"])))
    top = shown[:15]
    rows = [[f"{names.event(x.get('from'))} → {names.event(x.get('to'))}",
             DIM_LABELS.get(x["dimension"], x["dimension"]), str(x.get("value")),
             fmt.people(x.get("n")), fmt.people(x.get("converted")), fmt.rate(x.get("rate"), 1),
             fmt.rate(x.get("overall_rate"), 1), _pp(x.get("gap")),
             f"{_pp(x.get('gap_lo'))} to {_pp(x.get('gap_hi'))}"] for x in top]
    table = Table(caption="Largest equity gaps (groups too small to show are hidden)",
                  columns=["Step", "Dimension", "Group", "People entering", "People converting", "Rate",
                           "Everyone", "Gap (points)", "95% interval"], rows=rows,
                  note=None if len(shown) <= 15 else f"Showing the 15 largest of {len(shown)} gaps.")
    figure, summary = None, []
    if top:
        step, dim = top[0].get("step"), top[0]["dimension"]
        group = [x for x in recs if x.get("step") == step and x["dimension"] == dim]
        cats = [str(x.get("value")) for x in group]
        figure = charts.segment_bars(fmt, cats, {"Conversion": [x.get("rate") for x in group]}, axis="conversion")
        overall = fmt.rate_text(group[0].get("overall_rate"), 1) if group else "—"
        summary = [f"Step {names.event(top[0].get('from'))} → {names.event(top[0].get('to'))}, "
                   f"by {DIM_LABELS.get(dim, dim).lower()}: "
                   f"everyone converts at {overall}."]
        summary += [f"{c}: {fmt.rate_text(x.get('rate'), 1)}" for c, x in zip(cats, group)]
    return View(id="equity", title=title, intro=intro, result=r, table=table, figure=figure,
                chart_label="Bar chart of conversion by group for the step with the largest gap", summary=summary)


def _pp(v) -> str:
    n = to_number(v)
    return "—" if n is None else f"{n * 100:+.1f}"


@section(70)
def equity_section(ctx: ReportContext) -> Section:
    views = [equity_view(ctx)]
    from .compare import compare_view
    views.insert(0, compare_view(ctx))
    return Section("equity", "Segments and equity", "Whether the journey works as well for everyone.", views)
