"""Shared pydantic base and small value types used by every model."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer

__all__ = ["Strict", "Duration", "TimeZone", "parse_duration", "format_duration", "ID_PATTERN"]

ID_PATTERN = r"^[a-z][a-z0-9_\-]*$"


class Strict(BaseModel):
    """Base for every user-facing model: unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day|days|w|wk|weeks?)\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600,
                 "d": 86400, "day": 86400, "days": 86400, "w": 604800, "wk": 604800,
                 "week": 604800, "weeks": 604800}


def parse_duration(value: Any) -> timedelta:
    """Parse ``"30m"``, ``"48h"``, ``"14d"``, ``"6w"`` (or a number of seconds) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()])
    raise ValueError(f"expected a duration like '30m', '48h', '14d' or '6w', got {value!r}")


def format_duration(td: timedelta) -> str:
    """Shortest exact rendering of a duration (inverse of :func:`parse_duration`)."""
    s = td.total_seconds()
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{s:g}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


def _check_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{value}' (use an IANA name like 'America/New_York')") from None
    return value


#: An IANA time-zone name, checked against the zone database.
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
