"""Process map (directly-follows graph between stages) and conformance to the designed journey."""

from __future__ import annotations

from .. import charts
from ..format import to_number
from .base import ReportContext, Section, Unavailable, View, result_table, section, unavailable_view

#: The process map's rows: moves between steps, and the steps people start and end with.
_ELEMENTS = {"edge": "Move", "start": "First step", "end": "Last step"}


def _positions(ctx: ReportContext, names: list[str]) -> dict[str, tuple[float, float]]:
    """Touchpoints laid out by stage (x = stage column, y = order within the stage)."""
    j = ctx.journey
    stage_x = {s.id: i for i, s in enumerate(j.stages)}
    pos, per_stage = {}, {}
    for t in j.touchpoints:
        if t.id not in names:
            continue
        x = stage_x[t.stage]
        y = per_stage.get(t.stage, 0)
        per_stage[t.stage] = y + 1
        pos[t.id] = (float(x), float(y))
    return pos


@section(50)
def process_section(ctx: ReportContext) -> Section:
    views = []
    r = ctx.fetch("process_map", level="touchpoint")
    title = "Process map"
    intro = ("Which step came directly after which, drawn from what people did. Steps sit in their stage's "
             "column; thicker arrows mean more people made that move. Moves made by too few people are left out.")
    if isinstance(r, Unavailable):
        views.append(unavailable_view("process-map", title, r, intro))
    else:
        fmt = ctx.fmt
        recs = r.records()
        edges = [{"source": x["source"], "target": x["target"], "people": x.get("people"),
                  "median": fmt.days_text(to_number(x.get("median_seconds")) / 86400)
                  if to_number(x.get("median_seconds")) is not None else None}
                 for x in recs if x.get("element") == "edge"]
        edges.sort(key=lambda e: -(fmt.safe_people(e["people"]) or 0))
        edges = edges[:40]
        names = sorted({e["source"] for e in edges} | {e["target"] for e in edges})
        pos = _positions(ctx, names)
        name = ctx.names.event
        summary = [f"{len(edges)} most frequent moves between steps are drawn."]
        for e in edges[:3]:
            summary.append(f"{name(e['source'])} → {name(e['target'])}: " + fmt.people(e["people"]) + " people"
                           + (f", median wait {e['median']}" if e["median"] else ""))
        views.append(View(id="process-map", title=title, intro=intro, result=r,
                          figure=charts.process_network(fmt, pos, edges, label=name) if pos else None,
                          chart_label="Process map: network of steps with arrows for the moves people made",
                          summary=summary,
                          table=result_table(ctx, r, "Moves between steps (directly-follows), most frequent first",
                                             limit=30, labels={"element": "Kind", "source": "From", "target": "To",
                                                               "events": "Times", "median_seconds": "Median wait",
                                                               "p90_seconds": "90th percentile wait"},
                                             values={"element": _ELEMENTS.get, "source": name, "target": name})))
    c = ctx.fetch("conformance")
    ctitle = "Conformance to the designed journey"
    cintro = ("How many people followed the journey as designed, and the most common deviations "
              "(skipped stages or steps, steps out of order, repeats, long stalls).")
    if isinstance(c, Unavailable):
        views.append(unavailable_view("conformance", ctitle, c, cintro))
    else:
        fmt = ctx.fmt
        names = ctx.names
        summ = {x["deviation"]: x for x in c.records() if x.get("section") == "summary"}
        summary = [f"{names.deviation(dev)}: " + fmt.people(x.get("people")) + " people ("
                   + fmt.rate_text(x.get("share")) + ")" for dev, x in summ.items()]
        views.append(View(id="conformance", title=ctitle, intro=cintro, result=c, summary=summary,
                          table=result_table(
                              ctx, c, "Conformance summary and deviations", limit=25,
                              columns=["deviation", "stage", "touchpoint", "people", "occurrences", "share"],
                              labels={"share": "Share of people"},
                              values={"deviation": names.deviation, "stage": names.stage,
                                      "touchpoint": names.touchpoint})))
    return Section("process", "Process map and conformance", "How the real journey compares with the design.", views)
