"""The journey model: what a team designs together and carejourney measures against.

A :class:`Journey` (one YAML file under ``journeys/``) describes one care type — primary
care, specialty with referral, urgent care, elective — as stages (columns of the map),
touchpoints inside each stage (online and offline, each with an owner team and a match
rule that maps raw events to it), the research "moments" (what people do, think, feel and
ask), segments (population variants such as pediatric or senior) and targets.

The order of ``stages`` and of ``touchpoints`` *is* the designed journey: conformance
checking compares each person's history against it (``optional`` touchpoints may be
skipped, ``repeatable`` ones may loop).
"""

from __future__ import annotations

import difflib
from datetime import timedelta
from enum import Enum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import ID_PATTERN, Duration, Strict
from .match import PERSON_MATCH_FIELDS, EVENT_MATCH_FIELDS, MatchRule

__all__ = [
    "DEFAULT_STAGES", "TEAMS", "Channel", "Target", "SLA", "Stage", "Touchpoint", "Moment",
    "Segment", "DelaySpec", "Journey", "PRESENTATION", "did_you_mean",
]

#: The seven stages of the healthcare journey, in order. Journeys may rename or drop them.
DEFAULT_STAGES = ("awareness", "consideration", "access", "pre_visit", "care", "post_visit", "loyalty")

#: Owner teams a stage or touchpoint can fall to.
TEAMS = ("marketing", "patient_access", "front_desk", "operations", "clinical", "billing", "support")


class Channel(str, Enum):
    digital = "digital"
    phone = "phone"
    in_person = "in_person"
    mail = "mail"
    referral = "referral"


def did_you_mean(value: str, options) -> str:
    """`` — did you mean 'x'?`` when a close option exists, else an empty string."""
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


class SLA(Strict):
    """Share of people who should get from A to B within ``within`` (e.g. 90% within 2 days)."""

    within: Duration
    share: float = Field(ge=0, le=1)


class Target(Strict):
    """What good looks like for a stage or touchpoint; misses become findings."""

    conversion: float | None = Field(default=None, ge=0, le=1, description="share reaching the next stage")
    median: Duration | None = Field(default=None, description="median time from the previous step")
    p90: Duration | None = Field(default=None, description="90th percentile time from the previous step")
    sla: SLA | None = None


class Stage(Strict):
    id: str = Field(pattern=ID_PATTERN)
    label: str | None = None
    owner: str
    description: str | None = None
    target: Target | None = None

    @field_validator("owner")
    @classmethod
    def _team(cls, v: str) -> str:
        if v not in TEAMS:
            raise ValueError(f"unknown owner team '{v}'{did_you_mean(v, TEAMS)} (teams: {', '.join(TEAMS)})")
        return v

    @property
    def title(self) -> str:
        return self.label or self.id.replace("_", " ").capitalize()


class Touchpoint(Strict):
    id: str = Field(pattern=ID_PATTERN)
    label: str | None = None
    stage: str
    channel: Channel
    online: bool | None = Field(default=None, description="defaults to channel == digital")
    owner: str | None = Field(default=None, description="defaults to the stage's owner")
    match: MatchRule | None = Field(default=None, description="which staged events are this touchpoint")
    optional: bool = Field(default=False, description="may be skipped without a conformance deviation")
    repeatable: bool = Field(default=False, description="may happen more than once (not a loop deviation)")
    key_step: bool = Field(default=False, description="part of the journey's default funnel")
    description: str | None = None
    target: Target | None = None

    @field_validator("owner")
    @classmethod
    def _team(cls, v: str | None) -> str | None:
        if v is not None and v not in TEAMS:
            raise ValueError(f"unknown owner team '{v}'{did_you_mean(v, TEAMS)}")
        return v

    @field_validator("match")
    @classmethod
    def _fields(cls, v: MatchRule | None) -> MatchRule | None:
        for f in (v.fields() if v else []):
            if f not in EVENT_MATCH_FIELDS:
                raise ValueError(f"cannot match on '{f}'{did_you_mean(f, EVENT_MATCH_FIELDS)}"
                                 f" (fields: {', '.join(EVENT_MATCH_FIELDS)})")
        return v

    @property
    def is_online(self) -> bool:
        return self.online if self.online is not None else self.channel == Channel.digital

    @property
    def title(self) -> str:
        return self.label or self.id.replace("_", " ").capitalize()


class Moment(Strict):
    """What people do, think, feel and ask at a stage (from research, shown on the map)."""

    doing: str | None = None
    thinking: str | None = None
    feeling: str | None = None
    mood: int | None = Field(default=None, ge=-2, le=2, description="designed emotion, -2 (very negative) .. 2")
    questions: list[str] = Field(default_factory=list)


class Segment(Strict):
    """A population variant within a journey (pediatric, senior, Spanish-speaking…)."""

    id: str = Field(pattern=ID_PATTERN)
    label: str | None = None
    where: MatchRule | None = Field(default=None, description="rule on person attributes")
    entry_touchpoint: list[str] | None = Field(default=None, description="people whose first touchpoint is one of these")

    @field_validator("where")
    @classmethod
    def _fields(cls, v: MatchRule | None) -> MatchRule | None:
        for f in (v.fields() if v else []):
            if f not in PERSON_MATCH_FIELDS:
                raise ValueError(f"cannot segment on '{f}'{did_you_mean(f, PERSON_MATCH_FIELDS)}"
                                 f" (fields: {', '.join(PERSON_MATCH_FIELDS)})")
        return v


class DelaySpec(Strict):
    """A named delay the journey cares about: first ``to`` after ``from``."""

    id: str = Field(pattern=ID_PATTERN)
    label: str | None = None
    from_: str = Field(alias="from")
    to: str
    owner: str | None = None
    target: Target | None = None


class Journey(Strict):
    journey: str = Field(pattern=ID_PATTERN, description="journey id")
    title: str | None = None
    kind: Literal["primary", "specialty", "urgent", "elective", "custom"] = "custom"
    description: str | None = None
    service_lines: list[str] = Field(default_factory=list, description="people with an event in one of these are in the journey; empty = everyone")
    conversion_window: Duration = Field(default=timedelta(days=30), description="default funnel conversion window "
                                        "from the first step (e.g. 7d for urgent care, 180d for an elective procedure)")
    stages: list[Stage]
    touchpoints: list[Touchpoint]
    moments: dict[str, Moment] = Field(default_factory=dict)
    segments: list[Segment] = Field(default_factory=list)
    delays: list[DelaySpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> "Journey":
        stage_ids = [s.id for s in self.stages]
        _unique("stages", stage_ids)
        _unique("touchpoints", [t.id for t in self.touchpoints])
        _unique("segments", [s.id for s in self.segments])
        tp_ids = {t.id for t in self.touchpoints}
        for i, t in enumerate(self.touchpoints):
            if t.stage not in stage_ids:
                raise ValueError(f"touchpoints[{i}] ({t.id}): unknown stage '{t.stage}'{did_you_mean(t.stage, stage_ids)}")
        for key in self.moments:
            if key not in stage_ids:
                raise ValueError(f"moments: unknown stage '{key}'{did_you_mean(key, stage_ids)}")
        for i, s in enumerate(self.segments):
            for tp in s.entry_touchpoint or []:
                if tp not in tp_ids:
                    raise ValueError(f"segments[{i}] ({s.id}): unknown touchpoint '{tp}'{did_you_mean(tp, tp_ids)}")
        for i, d in enumerate(self.delays):
            for end in (d.from_, d.to):
                if end not in tp_ids and end not in stage_ids:
                    raise ValueError(f"delays[{i}] ({d.id}): unknown touchpoint or stage '{end}'{did_you_mean(end, tp_ids | set(stage_ids))}")
        return self

    # -- convenience -------------------------------------------------------------------
    def stage(self, stage_id: str) -> Stage:
        return next(s for s in self.stages if s.id == stage_id)

    def touchpoint(self, tp_id: str) -> Touchpoint:
        return next(t for t in self.touchpoints if t.id == tp_id)

    def owner_of(self, tp_id: str) -> str:
        tp = self.touchpoint(tp_id)
        return tp.owner or self.stage(tp.stage).owner

    def touchpoints_in(self, stage_id: str) -> list[Touchpoint]:
        return [t for t in self.touchpoints if t.stage == stage_id]

    def key_steps(self) -> list[str]:
        """The default funnel: touchpoints marked ``key_step`` in journey order."""
        return [t.id for t in self.touchpoints if t.key_step]

    @property
    def name(self) -> str:
        return self.title or self.journey

    def measured(self) -> dict:
        """The definition without what only describes the journey to readers (:data:`PRESENTATION`):
        what the journey log, shared tables, kept query results and ingest's file ids are keyed
        on, so rewording the map's research lanes or a label re-renders a report from stored
        results instead of recomputing (or, in ``carejourney run``, re-ingesting) everything."""
        return self.model_dump(mode="json", exclude=PRESENTATION)


#: Fields no query, mapping or finding reads — the journey map's research lanes (``moments``: the
#: emotion curve's designed mood is read after the query), titles, labels and descriptions.
#: Delay labels are not among them: the delays analysis returns them in its rows.
PRESENTATION = {"title": True, "description": True, "moments": True,
                "stages": {"__all__": {"label", "description"}},
                "touchpoints": {"__all__": {"label", "description"}},
                "segments": {"__all__": {"label"}}}


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"{what}: '{i}' is defined twice")
        seen.add(i)
