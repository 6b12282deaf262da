"""Delays: the journey's named waits (speed to lead, referral to booking, …) against targets."""

from __future__ import annotations

from .. import charts
from ..format import to_number
from ..journey_map import status_for
from ..theme import STATUS
from .base import ReportContext, Section, Table, Unavailable, View, section, unavailable_view

DAY = 86400.0


def _days(v):
    n = to_number(v)
    return None if n is None else n / DAY


@section(40)
def timing_section(ctx: ReportContext) -> Section:
    r = ctx.fetch("delays")
    title = "Waiting times"
    intro = ("How long people wait between two points of the journey. Each box spans the median to the "
             "75th percentile; the whisker reaches the 90th percentile (one in ten waited longer).")
    if isinstance(r, Unavailable):
        return Section("timing", "Waiting times", "", [unavailable_view("delays", title, r, intro)])
    if not ctx.journey.delays:
        intro += " This journey names no delays (add `delays:` to the journey file); only call waits are shown."
    fmt = ctx.fmt
    recs = [x for x in r.records() if x.get("group") in (None, "all")]
    boxes, rows, summary = [], [], []
    for x in recs:
        # a journey's delay by its label (else its id made readable); the built-in call waits by theirs
        named = ctx.names.delay(x.get("delay"))
        label = named if named != x.get("delay") else (x.get("label") or x.get("delay"))
        if x.get("delay") == "call_abandonment":
            share = x.get("share_over_target")
            rows.append([label, fmt.people(x.get("started")), fmt.people(x.get("people")), "—", "—", "—",
                         "—", fmt.people(x.get("over_target")), fmt.rate(share, 1)])
            continue
        med, p75, p90 = (to_number(x.get(c)) for c in ("median_seconds", "p75_seconds", "p90_seconds"))
        conv = (lambda s: None if s is None else s / DAY)
        boxes.append({"label": label, "median": conv(med), "p75": conv(p75), "p90": conv(p90),
                      "target": _days(x.get("target_seconds"))})
        status = status_for(_days(x.get("median_seconds")), _days(x.get("target_seconds")), higher_is_better=False)
        badge = STATUS[status][2]
        rows.append([label, fmt.people(x.get("started")), fmt.people(x.get("people")),
                     fmt.days(_days(x.get("median_seconds")) if med is not None else x.get("median_seconds")),
                     fmt.days(_days(x.get("p90_seconds")) if p90 is not None else x.get("p90_seconds")),
                     fmt.days(_days(x.get("target_seconds"))) if x.get("target_seconds") is not None else "—",
                     badge, fmt.people(x.get("over_target")), fmt.rate(x.get("share_over_target"), 1)])
        if med is not None:
            summary.append(f"{label}: median {fmt.days_text(med / DAY)}, 90th percentile "
                           f"{fmt.days_text(p90 / DAY if p90 is not None else None)} ({badge}).")
    table = Table(caption="Waiting times against targets",
                  columns=["Delay", "People starting", "People reaching the end", "Median", "90th percentile",
                           "Target", "Status (median vs target)", "People over target", "Share over target"],
                  rows=rows)
    view = View(id="delays", title=title, intro=intro, result=r, table=table,
                figure=charts.delays(fmt, boxes) if any(b["median"] is not None for b in boxes) else None,
                chart_label="Box plots of waiting times per delay, in days, with targets", summary=summary)
    return Section("timing", "Waiting times", "Where people wait, and for how long.", [view])
