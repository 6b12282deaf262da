"""The journey map section: the designed journey with measured lanes laid over it.

Measured lanes come from one stage-level ``funnel`` run (open: people entering mid-journey
count from their first stage; 90-day window): ``reached`` per stage, the next stage's
``conversion_from_previous`` as this stage's conversion, and the median / p90 wait from the
previous stage. Pain points come from the findings, opportunities from the
action backlog, the evidence emotion from feedback sentiment per stage.
"""

from __future__ import annotations

import jinja2
from markupsafe import Markup

from ...analyses.base import Result
from ..journey_map import MOOD_LABELS, StageMeasure, build_map, mood_curve
from .base import ReportContext, Section, Unavailable, View, section
from .evidence import actions_by_stage, findings_by_stage, sentiment_by_stage

__all__ = ["journey_map_section", "stage_measures"]


#: Conversion window of the stage funnel (the same default as the targets check).
WINDOW = "90d"


def stage_params(ctx: ReportContext) -> dict:
    """The stage-level funnel the map and the funnel section share (one run)."""
    return {"steps": [s.id for s in ctx.journey.stages], "steps_kind": "stage", "open": True, "window": WINDOW}


def stage_measures(ctx: ReportContext) -> tuple[dict[str, StageMeasure], list[Result], str | None]:
    """Per-stage reach, conversion to the next stage and waits, from the stage funnel."""
    r = ctx.fetch("funnel", **stage_params(ctx))
    if isinstance(r, Unavailable):
        return {}, [], r.reason
    recs = [x for x in r.records() if x.get("step") is not None]
    measures = {}
    for i, rec in enumerate(recs):
        nxt = recs[i + 1] if i + 1 < len(recs) else {}
        measures[rec["step"]] = StageMeasure(
            reached=rec.get("reached"), conversion=nxt.get("conversion_from_previous"),
            median_days=rec.get("median_days"), p90_days=rec.get("p90_days"))
    return measures, [r], None


@section(10)
def journey_map_section(ctx: ReportContext) -> Section:
    measures, used, why = stage_measures(ctx)
    pains, pain_results = findings_by_stage(ctx)
    actions = actions_by_stage(ctx)
    sentiment, fb_result = sentiment_by_stage(ctx)
    for stage, value in sentiment.items():
        measures.setdefault(stage, StageMeasure()).sentiment = value
    columns = build_map(ctx.journey, ctx.fmt, measures if used else None, pains, actions)
    html = _env().from_string(_MAP_TEMPLATE).render(
        columns=columns, measured=bool(used), curve=mood_curve(columns), mood_labels=MOOD_LABELS)
    intro = ("Each column is a stage of the journey. The top lanes describe what the team designed and "
             "learned from research; the measured lanes show what the data says for "
             + (f"the segment '{ctx.segment}'." if ctx.segment else "everyone in the journey."))
    if why:
        intro += f" Measured lanes are not available: {why}."
    view = View(id="map", title=f"Journey map — {ctx.journey.name}", intro=intro, html=Markup(html),
                results=used + pain_results + ([fb_result] if fb_result else []))
    return Section(id="map", title="Journey map", intro="", views=[view])


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("carejourney.reports", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)


_MAP_TEMPLATE = '{% include "partials/map.html.j2" %}'
