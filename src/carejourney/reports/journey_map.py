"""The journey map: stages as columns, lanes as rows — designed lanes from the journey
definition, measured lanes from suppressed analysis results.

Lanes (top to bottom): touchpoints (online/offline, channel icon, owner team); doing,
thinking, feeling, questions (the journey's research ``moments``); people reaching the
stage; conversion to the next stage; median and p90 delay against target (status colour
*and* a text label); the emotion curve (designed mood vs evidence from feedback); pain
points (findings) and opportunities (actions from the backlog).

This module only arranges numbers it is given (already suppressed and formatted through
:class:`~carejourney.reports.format.Fmt`); it computes none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from markupsafe import Markup

from ..model.journey import Journey, Target
from .format import Fmt, to_number
from .icons import CHANNEL_LABELS, channel_icon
from .theme import STATUS

__all__ = ["StageMeasure", "MapItem", "build_map", "status_for", "TEAM_LABELS"]

TEAM_LABELS = {
    "marketing": "Marketing", "patient_access": "Patient access", "front_desk": "Front desk",
    "operations": "Operations", "clinical": "Clinical", "billing": "Billing", "support": "Support",
}

MOOD_LABELS = {-2: "very negative", -1: "negative", 0: "neutral", 1: "positive", 2: "very positive"}


@dataclass
class StageMeasure:
    """Measured numbers for one stage, as they came out of suppressed results (may be ``"<k"``)."""

    reached: Any = None
    conversion: Any = None          # share of people reaching the next stage
    median_days: Any = None         # delay from the previous stage
    p90_days: Any = None
    sentiment: Any = None           # mean feedback sentiment, -1..1
    feedback_n: Any = None          # people/answers behind the sentiment
    optional: bool = False          # left out of the stage funnel: people may skip it


@dataclass
class MapItem:
    """A pain point or an opportunity placed in a stage."""

    text: str
    owner: str | None = None
    status: str | None = None
    severity: str | None = None


@dataclass
class Badge:
    value: Markup
    status: str
    target: str | None = None

    @property
    def label(self) -> str:
        return STATUS[self.status][2]


@dataclass
class Column:
    id: str
    title: str
    owner: str
    touchpoints: list[dict] = field(default_factory=list)
    moment: dict = field(default_factory=dict)
    reached: Markup | None = None
    optional: bool = False          # a stage people may skip (not a step of the stage funnel)
    conversion: Badge | None = None
    median: Badge | None = None
    p90: Badge | None = None
    designed_mood: int | None = None
    evidence: float | None = None
    evidence_text: str = ""
    pains: list[MapItem] = field(default_factory=list)
    actions: list[MapItem] = field(default_factory=list)


def status_for(value, target, *, higher_is_better: bool, tolerance: float = 0.1) -> str:
    """good / close / bad against a target; ``none`` without a target, ``unknown`` without a value."""
    v, t = to_number(value), to_number(target)
    if t is None:
        return "none"
    if v is None:
        return "unknown"
    if higher_is_better:
        return "good" if v >= t else ("close" if v >= t * (1 - tolerance) else "bad")
    return "good" if v <= t else ("close" if v <= t * (1 + tolerance) else "bad")


def _days(td: timedelta | None) -> float | None:
    return None if td is None else td.total_seconds() / 86400


def build_map(journey: Journey, fmt: Fmt, measures: dict[str, StageMeasure] | None = None,
              pains: dict[str, list[MapItem]] | None = None,
              actions: dict[str, list[MapItem]] | None = None) -> list[Column]:
    """One :class:`Column` per stage, in journey order."""
    measures, pains, actions = measures or {}, pains or {}, actions or {}
    cols = []
    for stage in journey.stages:
        m = measures.get(stage.id, StageMeasure())
        target: Target = stage.target or Target()
        moment = journey.moments.get(stage.id)
        col = Column(id=stage.id, title=stage.title, owner=TEAM_LABELS.get(stage.owner, stage.owner))
        for tp in journey.touchpoints_in(stage.id):
            owner = tp.owner or stage.owner
            col.touchpoints.append({
                "title": tp.title, "channel": CHANNEL_LABELS.get(tp.channel.value, tp.channel.value),
                "icon": channel_icon(tp.channel.value), "online": tp.is_online,
                "owner": TEAM_LABELS.get(owner, owner), "optional": tp.optional, "key": tp.key_step})
        if moment is not None:
            col.moment = {"doing": moment.doing, "thinking": moment.thinking, "feeling": moment.feeling,
                          "questions": list(moment.questions)}
            col.designed_mood = moment.mood
        if measures:
            col.optional = m.optional
            col.reached = fmt.people(m.reached)
            col.conversion = Badge(fmt.rate(m.conversion), status_for(
                m.conversion, target.conversion, higher_is_better=True),
                None if target.conversion is None else fmt.rate_text(target.conversion))
            med_t, p90_t = _days(target.median), _days(target.p90)
            col.median = Badge(fmt.days(m.median_days), status_for(m.median_days, med_t, higher_is_better=False),
                               None if med_t is None else fmt.days_text(med_t))
            col.p90 = Badge(fmt.days(m.p90_days), status_for(m.p90_days, p90_t, higher_is_better=False),
                            None if p90_t is None else fmt.days_text(p90_t))
        s = to_number(m.sentiment)
        if s is not None:
            col.evidence = s
            col.evidence_text = f"{s:+.2f}" if round(s, 2) else "0.00"  # not "-0.00"
        col.pains = pains.get(stage.id, [])
        col.actions = actions.get(stage.id, [])
        cols.append(col)
    return cols


def mood_curve(columns: list[Column]) -> Markup | None:
    """An inline SVG line chart: designed mood (-2..2) vs evidence (sentiment -1..1 scaled to -2..2)."""
    designed = [c.designed_mood for c in columns]
    evidence = [None if c.evidence is None else c.evidence * 2 for c in columns]
    if all(v is None for v in designed) and all(v is None for v in evidence):
        return None
    n = len(columns)
    w, h, pad = 100 * n, 120, 10

    def xy(i, v):
        return pad + (i + 0.5) * (w - 2 * pad) / n, h / 2 - v * (h / 2 - pad) / 2

    def line(values, cls):
        pts = [xy(i, v) for i, v in enumerate(values) if v is not None]
        if not pts:
            return ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4"/>' for x, y in pts)
        return f'<polyline class="{cls}" points="{path}" fill="none"/><g class="{cls}">{dots}</g>'

    zero = f'<line class="zero" x1="0" x2="{w}" y1="{h / 2}" y2="{h / 2}"/>'
    return Markup(
        f'<svg class="mood" viewBox="0 0 {w} {h}" preserveAspectRatio="none" role="img" '
        f'aria-label="Emotion curve across stages: designed mood (solid) and feedback sentiment (dashed)">'
        f'{zero}{line(designed, "designed")}{line(evidence, "evidence")}</svg>')
