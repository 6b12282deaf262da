"""How numbers appear in the report, with privacy built into the formatter.

Every count of people goes through :meth:`Fmt.people`, which marks it up as
``<span class="n" data-kind="people">`` (so tests and readers can find every such number) and
never prints 1..k-1: a suppressed cell, or any small count that reached the formatter by
mistake, shows as ``<k`` ("fewer than k people"). Rates and durations derived from suppressed
cells show the same label.
"""

from __future__ import annotations

import math
from datetime import date, datetime

from markupsafe import Markup, escape

__all__ = ["Fmt", "is_suppressed", "to_number"]


def to_number(v) -> float | None:
    """A finite float, or None for missing / suppressed / non-numeric values."""
    if v is None or isinstance(v, bool) or isinstance(v, str):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def is_suppressed(v) -> bool:
    """True for the ``"<k"`` label that :meth:`Suppressed.records` puts in suppressed cells."""
    return isinstance(v, str) and v.startswith("<") and v[1:].isdigit()


class Fmt:
    """Formatters bound to the project's minimum cell size ``k``."""

    def __init__(self, k: int):
        self.k = k

    @property
    def label(self) -> str:
        return f"<{self.k}"

    def _hidden(self, kind: str) -> Markup:
        title = f"Fewer than {self.k} people: hidden to protect privacy"
        return Markup('<span class="n suppressed" data-kind="{}" title="{}">{}</span>').format(
            kind, title, self.label)

    def safe_people(self, v) -> float | None:
        """The count if it may be shown; None if it is suppressed or small (1..k-1)."""
        n = to_number(v)
        if n is None or 0 < n < self.k:
            return None
        return n

    def people_text(self, v) -> str:
        """Plain-text people count (chart labels, alt text): ``1,234``, ``0``, ``<11`` or ``—``."""
        if is_suppressed(v):
            return self.label
        n = to_number(v)
        if n is None:
            return "—"
        if 0 < n < self.k:
            return self.label
        return f"{n:,.0f}"

    def people(self, v) -> Markup:
        text = self.people_text(v)
        if text == self.label:
            return self._hidden("people")
        if text == "—":
            return Markup('<span class="n missing" data-kind="people">—</span>')
        return Markup('<span class="n" data-kind="people">{}</span>').format(text)

    def rate_text(self, v, digits: int = 0) -> str:
        if is_suppressed(v):
            return self.label
        n = to_number(v)
        return "—" if n is None else f"{n * 100:.{digits}f}%"

    def rate(self, v, digits: int = 0) -> Markup:
        text = self.rate_text(v, digits)
        if text == self.label:
            return self._hidden("rate")
        return Markup('<span class="n" data-kind="rate">{}</span>').format(text)

    def days_text(self, v) -> str:
        """A duration given in days: ``3.2 days``, ``5 h`` under a day, ``12 min`` under an hour."""
        if is_suppressed(v):
            return self.label
        n = to_number(v)
        if n is None:
            return "—"
        if n < 1 / 24:
            return f"{n * 1440:.0f} min"
        if n < 1:
            return f"{n * 24:.1f} h"
        return f"{n:.1f} days" if n < 10 else f"{n:.0f} days"

    def days(self, v) -> Markup:
        text = self.days_text(v)
        if text == self.label:
            return self._hidden("duration")
        return Markup('<span class="n" data-kind="duration">{}</span>').format(text)

    def number(self, v, digits: int = 2) -> Markup:
        if is_suppressed(v):
            return self._hidden("value")
        n = to_number(v)
        if n is None:
            return Markup('<span class="n missing">—</span>') if v is None else Markup(escape(str(v)))
        text = f"{n:,.0f}" if float(n).is_integer() else f"{n:,.{digits}f}"
        return Markup('<span class="n" data-kind="value">{}</span>').format(text)

    def when(self, v) -> str:
        if v is None:
            return "—"
        if isinstance(v, str):
            try:
                v = datetime.fromisoformat(v)
            except ValueError:
                return v
        if isinstance(v, datetime):
            return v.strftime("%Y-%m-%d %H:%M UTC") if (v.hour or v.minute) else v.strftime("%Y-%m-%d")
        if isinstance(v, date):
            return v.isoformat()
        return str(v)
