"""Validated models of everything a user writes: project settings, sources, journeys."""

from .base import Duration, parse_duration
from .journey import (DEFAULT_STAGES, TEAMS, Channel, DelaySpec, Journey, Moment, Segment, Stage,
                      Target, Touchpoint, SLA)
from .match import Condition, MatchRule
from .project import PrivacySettings, ProjectConfig, SourceSpec, SourcesFile

__all__ = [
    "Duration", "parse_duration", "DEFAULT_STAGES", "TEAMS", "Channel", "DelaySpec", "Journey",
    "Moment", "Segment", "Stage", "Target", "Touchpoint", "SLA", "Condition", "MatchRule",
    "PrivacySettings", "ProjectConfig", "SourceSpec", "SourcesFile",
]
