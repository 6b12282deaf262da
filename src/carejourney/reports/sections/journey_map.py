"""The journey map section: the designed journey with measured lanes laid over it.

Measured lanes come from one stage-level ``funnel`` run (open: people entering mid-journey
count from their first stage; 90-day window): ``reached`` per stage, the next stage's
``conversion_from_previous`` as this stage's conversion, and the median / p90 wait from the
previous stage. The funnel's steps are the stages people cannot skip (:func:`funnel_stages`):
a stage whose touchpoints are all ``optional`` (a reminder, an intake form) between two that
are not is left out, as the targets check leaves it out ("the next stage that has a required
touchpoint") — as a step it would drop everyone who skipped it from every later stage. Such a
stage's lanes show the targets check's numbers where the journey sets it a conversion target
(people entering it, and the share reaching the next required stage), else "optional stage".
Pain points come from the findings, opportunities from the action backlog, the evidence
emotion from feedback sentiment per stage.
"""

from __future__ import annotations

import jinja2
from markupsafe import Markup

from ...analyses.base import Result
from ...findings import FindingsConfig
from ...model.journey import Journey, Target
from ..journey_map import MOOD_LABELS, StageMeasure, build_map, mood_curve
from .base import ReportContext, Section, Unavailable, View, section
from .evidence import actions_by_stage, findings_by_stage, sentiment_by_stage

__all__ = ["journey_map_section", "stage_measures", "funnel_stages"]


#: Conversion window of the stage funnel (the same default as the targets check).
WINDOW = "90d"


def funnel_stages(journey: Journey) -> list[str]:
    """The stages the stage funnel steps through: those with touchpoints, less the ones whose
    touchpoints are all optional and that lie between two with a required touchpoint (people may
    skip them). Optional stages before the first or after the last required one stay (skipping
    them loses nobody: the funnel is open, and nothing follows the last). Every stage with
    touchpoints when fewer than two have a required one."""
    staged = [s.id for s in journey.stages if journey.touchpoints_in(s.id)]
    required = [i for i, sid in enumerate(staged) if any(not t.optional for t in journey.touchpoints_in(sid))]
    if len(required) < 2:
        return staged
    return [sid for i, sid in enumerate(staged) if i in required or i < required[0] or i > required[-1]]


def stage_params(ctx: ReportContext) -> dict:
    """The map's stage-level funnel (one run; the equity and segment views compare key steps)."""
    return {"steps": funnel_stages(ctx.journey), "steps_kind": "stage", "open": True, "window": WINDOW}


def stage_measures(ctx: ReportContext) -> tuple[dict[str, StageMeasure], list[Result], str | None]:
    """Per-stage reach, conversion to the next stage and waits, from the stage funnel; for a stage
    left out of it (:func:`funnel_stages`), from its conversion target's check, if it has one."""
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
    used = [r]
    # (a stage without touchpoints is not measured at all: no numbers, and not called optional)
    skipped = [s.id for s in ctx.journey.stages if s.id not in measures and ctx.journey.touchpoints_in(s.id)]
    for sid in skipped:
        measures[sid] = StageMeasure(optional=True)
    if any((ctx.journey.stage(sid).target or Target()).conversion is not None for sid in skipped):
        # the findings' very check (their fdr too), so the second of the two runs reads kept results
        t = ctx.fetch("targets", fdr=FindingsConfig().fdr)
        if not isinstance(t, Unavailable):
            used.append(t)
            for rec in t.records():
                if rec.get("level") == "stage" and rec.get("metric") == "conversion" and rec.get("where") in skipped:
                    measures[rec["where"]] = StageMeasure(reached=rec.get("n"), conversion=rec.get("actual"),
                                                          optional=True)
    return measures, used, None


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
    skippable = [ctx.journey.stage(sid).title for sid, m in measures.items() if m.optional]
    if skippable:
        intro += (f" Optional stages ({', '.join(skippable)}: every touchpoint in them is optional) are not steps "
                  "of the stage funnel, so people who skip them still count in later stages; their numbers, "
                  "where shown, come from their conversion target's check.")
    if why:
        intro += f" Measured lanes are not available: {why}."
    view = View(id="map", title=f"Journey map — {ctx.journey.name}", intro=intro, html=Markup(html),
                results=used + pain_results + ([fb_result] if fb_result else []))
    return Section(id="map", title="Journey map", intro="", views=[view])


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("carejourney.reports", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)


_MAP_TEMPLATE = '{% include "partials/map.html.j2" %}'
