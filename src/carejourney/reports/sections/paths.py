"""Paths: the most common journeys people actually took (Sankey + table)."""

from __future__ import annotations

from .. import charts
from .base import ReportContext, Section, Unavailable, View, result_table, section, unavailable_view

TOP = 15


@section(30)
def paths_section(ctx: ReportContext) -> Section:
    r = ctx.fetch("paths", level="touchpoint", top=TOP)
    title = "Most common paths"
    intro = (f"The {TOP} most common sequences of touchpoints (repeats in a row count once). "
             "Band width is the number of people; paths shared by too few people are grouped as '(other)'.")
    if isinstance(r, Unavailable):
        return Section("paths", "Paths", "", [unavailable_view("paths", title, r, intro)])
    recs = [x for x in r.records() if x.get("variant") and x["variant"] != "(other)"]
    variants = [(x["variant"].split(" > "), x.get("people")) for x in recs]
    fmt, names = ctx.fmt, ctx.names
    summary = [f"{len(recs)} distinct paths are shown."]
    for x in recs[:3]:
        summary.append(fmt.people(x.get("people")) + f" people: {names.path(x['variant'])}")
    view = View(id="paths", title=title, intro=intro, result=r,
                figure=charts.sankey_paths(fmt, variants, label=names.event) if variants else None,
                chart_label="Sankey diagram of the most common paths through the journey",
                summary=summary,
                table=result_table(ctx, r, "Paths, most common first", columns=["variant", "steps", "people", "share"],
                                   labels={"variant": "Path", "share": "Share of people"},
                                   values={"variant": names.path}))
    views = [view]
    d = ctx.fetch("after_dropout", top=5)
    if not isinstance(d, Unavailable):
        views.append(View(id="after-dropout", title="What people did after dropping out", result=d,
                          intro="For people who reached a key step but not the next one: what they did next.",
                          table=result_table(ctx, d, "Next activity after dropping out at each key step",
                                             columns=["step_activity", "dropped", "next", "people", "share"],
                                             labels={"step_activity": "Dropped out after",
                                                     "dropped": "People who dropped out",
                                                     "next": "What they did next",
                                                     "share": "Share of those who dropped out"},
                                             values={"step_activity": names.event, "next": names.event})))
    return Section("paths", "Paths", "How people actually moved through the journey.", views)
