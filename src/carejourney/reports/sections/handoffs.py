"""Handoffs between teams (where one team's step leads to another team's) and re-contact: people
contacting us again about the same thing, or soon after their visit (failure demand)."""

from __future__ import annotations

from markupsafe import escape

from ...model.names import spoken_duration
from .. import charts
from ..format import to_number
from .base import ReportContext, Section, Table, Unavailable, View, result_table, section, unavailable_view
from .evidence import team_label



def _days(hours):
    n = to_number(hours)
    return hours if n is None else n / 24


def handoffs_view(ctx: ReportContext) -> View:
    title = "Handoffs between teams"
    intro = ("Each key step of the journey that passes the person from one team to another: how many "
             "people one team handed over, how many reached the next team's step within the window, "
             "and how long that took. People still inside the window are left out.")
    # the designed chain only: its rows read the report's shared pair rows (the team changes seen in
    # every person's history order every event, and stay in `carejourney analyze handoffs`)
    r = ctx.fetch("handoffs", observed=False)
    if isinstance(r, Unavailable):
        return unavailable_view("handoffs", title, r, intro)
    recs = [x for x in r.records() if x.get("kind") == "designed"]
    if not recs:
        return unavailable_view("handoffs", title, Unavailable(
            "no key step of this journey passes to another team (owners are set per stage and touchpoint)"), intro)
    fmt, names = ctx.fmt, ctx.names
    labels = [f"{team_label(x.get('from_owner')) or '—'} → {team_label(x.get('to_owner')) or '—'}" for x in recs]
    steps = [f"{names.touchpoint(x.get('from'))} → {names.touchpoint(x.get('to'))}" for x in recs]
    rows = [[lab, step, fmt.people(x.get("n")), fmt.people(x.get("converted")), fmt.rate(x.get("dropout"), 1),
             fmt.days(_days(x.get("median_hours"))), fmt.days(_days(x.get("p90_hours")))]
            for lab, step, x in zip(labels, steps, recs)]
    table = Table(caption="Handoffs between teams, on the journey's key steps",
                  columns=["Handoff", "Step", "People handed over", "Reached the next team's step",
                           "Did not get there", "Median wait", "90th percentile wait"], rows=rows)
    # (Markup + str escapes the str: the labels are the journey file's words)
    summary = [escape(f"{lab} ({step}): ") + fmt.people(x.get("n"))
               + f" people handed over, {fmt.rate_text(x.get('dropout'))} did not get there, median wait "
                 f"{fmt.days_text(_days(x.get('median_hours')))}."
               for lab, step, x in zip(labels, steps, recs)]
    figure = charts.segment_bars(fmt, [f"{lab}<br>{step}" for lab, step in zip(labels, steps)],
                                 {"Did not get there": [x.get("dropout") for x in recs]},
                                 axis="did not get there")
    return View(id="handoffs", title=title, intro=intro, result=r, table=table, figure=figure, summary=summary,
                chart_label="Bar chart: share of people who did not reach the next team's step, per handoff")


def recontact_view(ctx: ReportContext) -> View:
    title = "Contacting us again"
    from ...analyses.handoffs import HandoffsSpec
    from ...findings import FindingsConfig, recontact_phrase  # the findings' question: one query for both
    limit, within = FindingsConfig().max_recontact_share, spoken_duration(HandoffsSpec().within)
    intro = (f"Failure demand: people who called or messaged again about the same thing within {within}, or "
             f"within {within} after their visit, out of everyone who contacted us about it (or had a visit). "
             f"A row is flagged when even the low end of its 95% interval is above {limit:.0%}.")
    kinds = {k: recontact_phrase(k).capitalize() for k in ("repeat", "after_visit")}
    r = ctx.fetch("handoffs", view="recontact", max_share=limit)
    if isinstance(r, Unavailable):
        return unavailable_view("recontact", title, r, intro)
    if not r.records():
        return unavailable_view("recontact", title, Unavailable(
            "no inbound calls or portal messages in this journey's data"), intro)
    names = ctx.names
    return View(id="recontact", title=title, intro=intro, result=r, table=result_table(
        ctx, r, "Contacts about the same thing, by touchpoint and topic", limit=30,
        columns=["kind", "touchpoint", "detail", "converted", "n", "share", "flagged"],
        labels={"kind": "What happened", "detail": "About", "converted": "People", "n": "Out of",
                "share": "Share", "flagged": "Too high?"},
        values={"kind": kinds.get, "touchpoint": names.touchpoint}))


@section(55)
def handoffs_section(ctx: ReportContext) -> Section:
    return Section("handoffs", "Handoffs between teams", "Where one team passes people to the next, and who "
                   "has to contact us again.", [handoffs_view(ctx), recontact_view(ctx)])
