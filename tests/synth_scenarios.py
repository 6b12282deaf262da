"""Scenarios the generator tests share."""

from __future__ import annotations

from carejourney.synth import load_scenario


def tracked_bookings(base: str | None = None, share: float = 0.75):
    """The built-in scenario (or ``base``, e.g. ``"none"``) with ``share`` of online bookings sending
    their confirmation to analytics — off by default, so the demo's population stays as it was."""
    sc = load_scenario(base)
    return sc.model_copy(update={"rates": sc.rates.model_copy(update={"booking_id_tracked": share})})
