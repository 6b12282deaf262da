"""Findings (ranked problems, with owner teams) and the action backlog."""

from __future__ import annotations

from markupsafe import Markup

from ..format import is_suppressed, to_number
from ..journey_map import TEAM_LABELS
from .base import ReportContext, Section, Table, Unavailable, View, section, unavailable_view
from .evidence import actions, findings

STATUS_LABELS = {"open": "Open", "in_progress": "In progress", "done": "Done", "wont_fix": "Won't fix",
                 "blocked": "Blocked"}


def _evidence(ctx: ReportContext, r: dict) -> Markup:
    """'a of n (rate) vs b of m (rate)' rebuilt from the suppressed cells, people marked up."""
    f = ctx.fmt
    if r.get("n") is None and r.get("affected") is None:
        return Markup("—")
    mine = (f.people(r.get("affected")) + Markup(" of ") + f.people(r.get("n")) + Markup(" (")
            + f.rate(r.get("rate"), 1) + Markup(")"))
    if r.get("rest_n") is None:  # no comparison group (a target, re-contact): nothing to set against
        return mine
    return (mine + Markup(" vs ") + f.people(r.get("rest_affected")) + Markup(" of ")
            + f.people(r.get("rest_n")) + Markup(" (") + f.rate(r.get("rest_rate"), 1) + Markup(") for everyone else"))


def _q(ctx: ReportContext, v):
    """A q-value as people can read it: "<0.001" rather than "0.000"; a hidden one marked up as
    every suppressed cell is (``Fmt.number``)."""
    n = to_number(v)
    if is_suppressed(v) or n is None or n >= 0.001:
        return ctx.fmt.number(v, 3)
    return "<0.001"


def findings_view(ctx: ReportContext) -> View:
    title = "Ranked findings"
    intro = ("Problems the data shows, most important first (impact = people affected × size of the effect), "
             "each with the team that owns it.")
    f = findings(ctx)
    if isinstance(f, Unavailable):
        return unavailable_view("findings", title, f, intro)
    recs = f.records()
    rows = [[str(r.get("rank")), str(r.get("title") or ""), str(ctx.names.stage(r.get("stage")) or "—"),
             TEAM_LABELS.get(r.get("owner"), r.get("owner") or "—"), _evidence(ctx, r),
             _q(ctx, r.get("q"))] for r in recs]
    table = Table(caption="Findings, most important first",
                  columns=["Rank", "Finding", "Stage", "Owner team", "Evidence", "q (false-discovery adjusted)"],
                  rows=rows)
    summary = [Markup(f"{len(recs)} findings for this journey.")] if recs else [Markup("No findings: every tested step, "
                                                                                          "target and group is within its limits.")]
    return View(id="findings", title=title, intro=intro, result=f, table=table, summary=summary)


def actions_view(ctx: ReportContext) -> View:
    title = "Action backlog"
    intro = "Work teams have taken on to fix findings (`carejourney actions`), with owner, status and due date."
    a = actions(ctx)
    if isinstance(a, Unavailable):
        return unavailable_view("actions", title, a, intro)
    source = (f"the action backlog in the application database ({ctx.project.config.app_db}); "
              f"{len(a)} action(s) for this journey.")
    rows = [[str(x["id"]), x["title"], x.get("stage") or "—", TEAM_LABELS.get(x["owner_team"], x["owner_team"]),
             STATUS_LABELS.get(x["status"], x["status"]), x.get("due_date") or "—", x.get("updated_by") or ""]
            for x in a]
    if not rows:
        return View(id="actions", title=title, intro=intro, source=source,
                    summary=[Markup("The backlog is empty: turn findings into actions with "
                                    "<code>carejourney actions sync</code>.")])
    return View(id="actions", title=title, intro=intro, source=source,
                table=Table(caption="Actions by owner team", rows=rows,
                            columns=["#", "Action", "Stage", "Owner team", "Status", "Due", "Last updated by"]))


@section(100)
def findings_section(ctx: ReportContext) -> Section:
    return Section("findings", "Findings and actions", "What to fix, and who is fixing it.",
                   [findings_view(ctx), actions_view(ctx)])
