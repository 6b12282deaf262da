"""The funnel: people reaching each key step, with the drop-off between steps."""

from __future__ import annotations

from .. import charts
from .base import ReportContext, Section, Unavailable, View, result_table, section, unavailable_view

COLUMNS = ["step_index", "step", "entered", "reached", "continued", "dropped", "in_progress",
           "conversion_from_previous", "conversion_from_first", "median_days", "p90_days"]
LABELS = {"step_index": "#", "entered": "Entered here", "reached": "Reached",
          "continued": "Came from the previous step", "dropped": "Dropped out",
          "in_progress": "Still within the window", "conversion_from_previous": "Conversion from previous",
          "conversion_from_first": "Conversion from first", "median_days": "Median wait",
          "p90_days": "90th percentile wait"}


def _touchpoint(ctx: ReportContext, tp_id: str):
    """The journey's touchpoint ``tp_id``, or None (a stage step, or an id the journey lacks)."""
    return next((t for t in ctx.journey.touchpoints if t.id == tp_id), None)


def _label(ctx: ReportContext, step: str) -> str:
    names = []
    for part in str(step).split("|"):
        tp = _touchpoint(ctx, part)
        st = next((s for s in ctx.journey.stages if s.id == part), None)
        names.append(tp.title if tp else st.title if st else part)
    return " or ".join(names)


def _unfollowed(ctx: ReportContext, recs: list[dict]) -> list[str]:
    """A note for each step that nobody reached from the previous one although many reached that:
    most often not a drop-out but two systems with no identifier in common (an anonymous online
    booking and the EHR visit), so the people cannot be followed from one to the other."""
    notes = []
    for prev, x in zip(recs, recs[1:]):
        came, before = x.get("continued"), prev.get("reached")
        if not (isinstance(came, (int, float)) and came == 0 and isinstance(before, (int, float))
                and before >= ctx.fmt.k):
            continue
        a, b = _label(ctx, prev["step"]), _label(ctx, x["step"])
        tps = [_touchpoint(ctx, str(s).split("|")[0]) for s in (prev["step"], x["step"])]
        where = ""
        if all(tps) and tps[0].is_online != tps[1].is_online:
            where = f" ('{a}' is recorded online, '{b}' offline)"
        notes.append(f"Nobody who reached '{a}' was seen at '{b}' afterwards. When the two are recorded by "
                     f"systems that share no identifier{where}, the people at '{a}' cannot be followed "
                     "and the 0 % says nothing about them. Link the systems (an online booking's confirmation "
                     "sent to web analytics as booking_id links the visitor to the appointment; "
                     "docs/connectors.md) or check how the journey maps these events.")
    return notes


@section(20)
def funnel_section(ctx: ReportContext) -> Section:
    title = "Funnel of key steps"
    days = f"{ctx.journey.conversion_window.total_seconds() / 86400:g}"
    intro = (f"People reaching each key step of the journey (within {days} days of the first), and how many "
             f"dropped out before it. People still inside the {days}-day window are not counted as dropped.")
    r = ctx.fetch("funnel")
    if isinstance(r, Unavailable):
        return Section("funnel", "Funnel", "", [unavailable_view("funnel", title, r, intro)])
    fmt = ctx.fmt
    recs = r.records()
    labels = [f"{x['step_index']}. {_label(ctx, x['step'])}" for x in recs]
    fig = charts.funnel(fmt, labels, [x.get("reached") for x in recs],
                        [x.get("conversion_from_previous") for x in recs], [x.get("dropped") for x in recs])
    summary = []
    for lab, x in zip(labels, recs):
        line = lab + ": " + fmt.people(x.get("reached")) + " people reached it"
        if x.get("step_index", 1) > 1:
            line += (", " + fmt.rate_text(x.get("conversion_from_previous")) + " of the previous step; "
                     + fmt.people(x.get("dropped")) + " dropped out")
        summary.append(line + ".")
    table = result_table(ctx, r, "Funnel of key steps", columns=COLUMNS, labels=LABELS)
    for row, x in zip(table.rows, recs):
        row[1] = _label(ctx, x["step"])
    intro += "".join(" " + note for note in _unfollowed(ctx, recs))
    view = View(id="funnel", title=title, intro=intro, result=r, figure=fig, summary=summary, table=table,
                chart_label="Funnel bar chart: people reaching each key step and people dropping out")
    return Section("funnel", "Funnel", "Where people drop out of the journey.", [view])
