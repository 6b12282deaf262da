"""Record-level exports of the journey event log, for process-mining tools (PM4Py, ProM, Celonis).

These are not aggregates, so small-cell suppression does not apply to rows; the Safe Harbor
rule does. Person keys stay pseudonymous (keyed HMACs, as in the store), no person
attributes are exported, and free-text or location fields are left out. Dates are
identifiers under Safe Harbor, so by default (``dates="relative"``) every person's timeline
is shifted to start at 1970-01-01T00:00:00 UTC — timestamps then mean *time since the
person's first event* (also given as ``days_since_first``). ``dates="exact"`` keeps real
timestamps and makes the file a **limited data set** (needs a data use agreement).
See docs/analyses/exports.md.
"""

from __future__ import annotations

from typing import Literal

import ibis
import pandas as pd

from ..errors import SpecError
from ..analyses.context import AnalysisContext
from ..analyses.paths import sequenced

__all__ = ["export_frame", "DATES", "EXPORT_COLUMNS"]

DATES = ("relative", "exact")
#: Event fields exported besides case, activity and timestamp (no free text, no location).
EXPORT_COLUMNS = ("event_id", "stage", "channel", "owner", "status", "value", "episode_id")
EPOCH = pd.Timestamp("1970-01-01")

Dates = Literal["relative", "exact"]


def export_frame(ctx: AnalysisContext, journey: str | None = None, segment: str | None = None,
                 dates: Dates = "relative") -> pd.DataFrame:
    """The journey's events, one row each, ordered per person as the analyses order them.

    Columns: ``case`` (person key, as text), ``activity`` (touchpoint), ``timestamp`` (naive UTC, shifted
    when ``dates='relative'``), ``days_since_first``, then :data:`EXPORT_COLUMNS`.
    """
    if dates not in DATES:
        raise SpecError(f"--dates: '{dates}' is not one of {', '.join(DATES)}")
    j = ctx.journey(journey)
    ev = sequenced(ctx, j, segment, columns=EXPORT_COLUMNS)
    first = ev.ts.min().over(ibis.window(group_by=ev.person_key))
    ev = ev.mutate(offset_us=ev.ts.delta(first, unit="microsecond"))
    # keys leave the engine as text: 63-bit integers do not survive pandas' float columns (nulls)
    cols = [ev[c].cast("string").name(c) if c == "episode_id" else ev[c] for c in EXPORT_COLUMNS]
    expr = ev.order_by([ev.person_key, ev.seq]).select(
        ev.person_key.cast("string").name("case"), ev.activity, ev.ts, ev.offset_us, *cols)
    df = ctx.to_pandas(expr)
    offset = pd.to_timedelta(df.pop("offset_us").astype("int64"), unit="us")
    ts = df.pop("ts")
    df.insert(2, "timestamp", (EPOCH + offset) if dates == "relative" else ts)
    df.insert(3, "days_since_first", offset.dt.total_seconds() / 86400)
    return df
