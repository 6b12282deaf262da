"""Plain-language names for what the analyses return as ids.

Analyses and findings speak in ids (``appointment_booked``, ``referral_received>appointment_booked``,
``out_of_order``, ``payer_type``) because ids are stable and are what queries group by. People
reading a report, a finding or an action read the journey's own words: a touchpoint's or a
stage's ``label`` (else its id made readable), a segment's or a delay's label. :class:`Names`
turns one journey's ids into those words; ids it does not know are returned unchanged, so a
name is never lost, only made readable where the journey says how.

Labels are presentation (``Journey.measured`` leaves them out): they are applied when a result is
shown, never inside a query or a kept result, so rewording a label changes every output at once.
"""

from __future__ import annotations

from datetime import timedelta

from .journey import Journey

__all__ = ["Names", "DIMENSION_LABELS", "DEVIATION_LABELS", "readable", "spoken_duration"]

#: The person and step dimensions of drivers, equity and findings (``analyses._steps.ALL_DIMS``).
DIMENSION_LABELS = {
    "segment": "Segment", "age_band": "Age band", "sex": "Sex", "language": "Language", "payer_type": "Payer",
    "zip3": "Area (ZIP3)", "needs_interpreter": "Needs an interpreter", "needs_transport": "Needs transport",
    "needs_disability_access": "Needs disability access", "low_digital_literacy": "Low digital literacy",
    "first_channel": "First channel", "traffic_source": "Traffic source", "first_weekday": "Weekday of first contact",
    "first_hour": "Hour of first contact", "lead_time": "Booking lead time", "location": "Location",
    "device": "Device", "channel": "Channel", "service_line": "Service line", "weekday": "Weekday",
    "weekend": "Weekend", "detail": "Detail", "journey": "Journey",
}

#: Conformance deviations (``analyses.conformance``) and its summary rows.
DEVIATION_LABELS = {
    "(conforming)": "Followed the designed journey", "(not conforming)": "Did not follow it",
    "skipped_stage": "Skipped a stage", "skipped_touchpoint": "Skipped a step", "out_of_order": "Out of order",
    "loop": "Repeated a step", "stall": "Long stall",
}


def readable(identifier: str) -> str:
    """An id as words: ``appointment_booked`` → ``Appointment booked`` (what titles default to)."""
    return identifier.replace("_", " ").capitalize()


def spoken_duration(td: timedelta) -> str:
    """A duration as words, in its largest exact unit: ``2 weeks``, ``1 hour``, ``90 minutes``."""
    s = td.total_seconds()
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if s >= size and s % size == 0:
            n = int(s // size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{s:g} seconds"


class Names:
    """One journey's ids as the words its readers use (see the module docstring)."""

    def __init__(self, journey: Journey):
        self.journey = journey
        self._touchpoints = {t.id: t.title for t in journey.touchpoints}
        self._stages = {s.id: s.title for s in journey.stages}
        self._segments = {s.id: s.label or readable(s.id) for s in journey.segments}
        self._delays = {d.id: d.label or readable(d.id) for d in journey.delays}

    def touchpoint(self, value):
        """A touchpoint id as its title; anything else as given."""
        return self._touchpoints.get(value, value) if isinstance(value, str) else value

    def stage(self, value):
        return self._stages.get(value, value) if isinstance(value, str) else value

    def event(self, value):
        """A touchpoint or a stage id (sequence analyses run at either level) as its title."""
        if not isinstance(value, str):
            return value
        return self._touchpoints.get(value) or self._stages.get(value) or value

    def segment(self, value):
        return self._segments.get(value, value) if isinstance(value, str) else value

    def delay(self, value):
        return self._delays.get(value, value) if isinstance(value, str) else value

    def step(self, value):
        """A step: ``a|b`` (either) → ``A or B``; ``a>b`` (from a to b, a drivers step key) → ``A → B``;
        several ids joined by commas (a target's from/to sets) → ``A or B``."""
        if not isinstance(value, str):
            return value
        if ">" in value:
            return " → ".join(self.step(part) for part in value.split(">"))
        parts = [p for p in value.replace(",", "|").split("|") if p]
        return " or ".join(str(self.event(p)) for p in parts) if parts else value

    def path(self, value, sep: str = " > "):
        """A path (``a > b > c``, as the paths analysis writes it) as titles joined by arrows."""
        if not isinstance(value, str):
            return value
        return " → ".join(str(self.event(p.strip())) for p in value.split(sep))

    @staticmethod
    def dimension(value):
        return DIMENSION_LABELS.get(value, readable(value)) if isinstance(value, str) else value

    @staticmethod
    def deviation(value):
        return DEVIATION_LABELS.get(value, value) if isinstance(value, str) else value
