"""Segment comparison: the key-step funnel side by side for every segment of the journey."""

from __future__ import annotations

from .. import charts
from .base import ReportContext, Unavailable, View, result_table, unavailable_view


def compare_view(ctx: ReportContext) -> View:
    title = "Segments compared"
    intro = ("The funnel of key steps for each segment of the journey and for everyone ('(all)'): the share of "
             "people who entered the funnel and reached each step.")
    if not ctx.journey.segments:
        return unavailable_view("compare", title, Unavailable(
            "this journey defines no segments (add `segments:` to the journey file)"), intro)
    r = ctx.fetch("compare", analysis={"kind": "funnel", "journey": ctx.journey.journey}, overall=True,
                  scoped=False)
    if isinstance(r, Unavailable):
        return unavailable_view("compare", title, r, intro)
    recs = r.records()
    segments = list(dict.fromkeys(x["segment"] for x in recs))
    steps = list(dict.fromkeys(x["step"] for x in recs))
    series = {s: [next((x.get("conversion_from_first") for x in recs if x["segment"] == s and x["step"] == st), None)
                  for st in steps] for s in segments}
    fmt, names = ctx.fmt, ctx.names
    last = names.step(steps[-1]) if steps else None
    summary = [f"{names.segment(s)}: {fmt.rate_text(series[s][-1])} reached {last}." for s in segments if steps]
    shown = {names.segment(s): v for s, v in series.items()}
    return View(id="compare", title=title, intro=intro, result=r, summary=summary,
                figure=charts.segment_bars(fmt, [names.step(st) for st in steps], shown,
                                           axis="share of people reaching the step"),
                chart_label="Grouped bar chart: share reaching each key step, per segment",
                table=result_table(ctx, r, "Funnel per segment", limit=60,
                                   columns=["segment", "step_index", "step", "reached", "conversion_from_previous",
                                            "conversion_from_first", "median_days"],
                                   labels={"step_index": "#", "conversion_from_previous": "Conversion from previous",
                                           "conversion_from_first": "Conversion from first",
                                           "median_days": "Median wait"},
                                   values={"segment": names.segment, "step": names.step}))
