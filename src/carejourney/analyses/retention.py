"""Return care (retention): do people come back after their first visit, and when?

* A person's **cohort** is the calendar period (day / week / month, project timezone,
  DST-correct) of their first qualifying visit (``start`` touchpoints; default: the journey's
  ``care`` stage). ``entry: first_ever`` uses their first visit in all the data (people whose
  first visit is before ``date_from`` are returning patients, in no cohort); ``first_in_range``
  uses their first visit inside the date range, whatever came before.
* A **return** is a later event of a ``returns`` touchpoint (default: the same as ``start``).
  Period N is the N-th calendar period after the cohort's; N = 0 counts returns later in the
  cohort's own period.
* ``mode: on`` counts people who returned in period N; ``on_or_after`` counts people who
  returned in period N or any later one.
* A period that has not ended by ``as_of`` (default: the newest event) is **incomplete**: its
  ``returned`` and ``rate`` are masked (null) and ``complete`` is false; later periods are left out.
* Events whose status is in ``skip_status`` (cancelled, no-show) are never visits or returns.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Literal
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from pydantic import Field, field_validator

from ..errors import SpecError
from ..model.journey import did_you_mean
from ..privacy.suppression import CellRules
from ._funnel_attempts import day_range_us
from .base import Analysis, Spec, register
from .context import AnalysisContext
from .funnel import _as_of, _split, as_of_table
from .periods import epoch_us, period_end, with_period

__all__ = ["RetentionSpec", "Retention"]


class RetentionSpec(Spec):
    kind: Literal["retention"] = "retention"
    period: Literal["day", "week", "month"] = "month"
    start: list[str] | None = Field(default=None, description="touchpoints that start a cohort (default: the care stage's)")
    returns: list[str] | None = Field(default=None, description="touchpoints that count as a return (default: start)")
    mode: Literal["on", "on_or_after"] = "on"
    entry: Literal["first_ever", "first_in_range"] = "first_ever"
    periods: int = Field(default=12, ge=0, le=400, description="last period offset shown")
    date_from: date | None = Field(default=None, description="first cohort day (project timezone)")
    date_to: date | None = Field(default=None, description="last cohort day, inclusive")
    as_of: datetime | None = Field(default=None, description="UTC time the data is complete to (default: newest event)")
    skip_status: list[str] = Field(default_factory=lambda: ["cancelled", "noshow", "no_show"],
                                   description="event statuses that are never a visit")

    @field_validator("start", "returns", "skip_status", mode="before")
    @classmethod
    def _lists(cls, v):
        return _split(v)


@register
class Retention(Analysis):
    kind = "retention"
    spec = RetentionSpec
    title = "Return care"

    def build(self, spec: RetentionSpec, ctx: AnalysisContext) -> ir.Table:
        start, returns = _touchpoints(spec, ctx)
        tz = ctx.timezone
        ev = ctx.journey_events(spec.journey, spec.segment)
        if spec.skip_status:
            ev = ev.filter(ev.status.isnull() | ~ev.status.isin(spec.skip_status))
        ev = ev.mutate(us=epoch_us(ev.ts))
        lo, hi = day_range_us(spec.date_from, spec.date_to, tz)
        visits = ev.filter(ev.touchpoint.isin(start))
        if spec.entry == "first_in_range":
            visits = _in_range(visits, lo, hi)
        first = visits.group_by("person_key").aggregate(t0=visits.ts.min(), u0=visits.us.min())
        if spec.entry == "first_ever":
            first = _in_range(first, lo, hi, col="u0")
        cohorts = with_period(first, "t0", tz, spec.period, name="cohort", index="c_idx")
        back = ev.filter(ev.touchpoint.isin(returns)).select("person_key", "ts", "us")
        back = with_period(back, "ts", tz, spec.period, name="r_period", index="r_idx")
        j = cohorts.join(back, [cohorts.person_key == back.person_key, back.us > cohorts.u0])
        j = j.select(pk=j.person_key, cohort=j.cohort, n=j.r_idx - j.c_idx)
        j = j.filter(j.n <= spec.periods)
        ns = ibis.memtable(pa.table({"n": pa.array(range(spec.periods + 1), pa.int64())}))
        if spec.mode == "on":
            hits = j.distinct()
        else:  # returned in N or later = the person's last return period is at least N
            last = j.group_by(["pk", "cohort"]).aggregate(last=j.n.max())
            hits = last.cross_join(ns).filter(lambda t: t.last >= t.n).select("pk", "cohort", "n")
        returned = hits.group_by(["cohort", "n"]).aggregate(returned=hits.pk.count())
        sizes = cohorts.group_by("cohort").aggregate(cohort_size=cohorts.person_key.count())
        grid = sizes.cross_join(ns)
        out = grid.left_join(returned, [grid.cohort == returned.cohort, grid.n == returned.n])
        out = out.select(cohort=grid.cohort, period=grid.n, cohort_size=grid.cohort_size,
                         returned=ibis.coalesce(out.returned, 0))
        return out.cross_join(as_of_table(spec.as_of, ctx))

    def postprocess(self, df: pd.DataFrame, spec: RetentionSpec, ctx: AnalysisContext) -> pd.DataFrame:
        as_of = _as_of(df.rename(columns={"as_of_us": "_as_of"}), spec)
        zone = ZoneInfo(ctx.timezone)
        rows = []
        for r in df.sort_values(["cohort", "period"]).to_dict("records"):
            cohort = pd.Timestamp(r["cohort"]).to_pydatetime()
            begins = period_end(cohort, spec.period, int(r["period"]))
            ends = period_end(cohort, spec.period, int(r["period"]) + 1)
            if as_of is not None and _utc(begins, zone) > as_of:
                continue  # the period has not started: leave it out
            complete = as_of is not None and _utc(ends, zone) <= as_of
            size, back = int(r["cohort_size"]), int(r["returned"])
            rows.append({"cohort": cohort.date(), "period": int(r["period"]), "period_start": begins.date(),
                         "cohort_size": size, "returned": back if complete else None,
                         "rate": back / size if complete and size else None, "complete": complete})
        cols = ["cohort", "period", "period_start", "cohort_size", "returned", "rate", "complete"]
        out = pd.DataFrame(rows, columns=cols)
        if spec.mode == "on_or_after":
            prev = out.groupby("cohort")["returned"].shift(1)
            out.insert(4, "prev_returned", pd.Series([None if pd.isna(v) else int(v) for v in prev], dtype=object))
        out.attrs["notes"] = [f"as_of {as_of.isoformat()} UTC"] if as_of is not None else []
        return out

    def rules(self, spec: RetentionSpec) -> CellRules:
        if spec.mode == "on":
            return CellRules(counts=("cohort_size", "returned"), derived={"rate": ("returned", "cohort_size")},
                             pairs=(("cohort_size", "returned"),))
        # nested counts: people back in N or later include those back in N+1 or later
        return CellRules(counts=("cohort_size", "prev_returned", "returned"),
                         derived={"rate": ("returned", "cohort_size")},
                         pairs=(("cohort_size", "returned"), ("prev_returned", "returned")),
                         carry=(("returned", "prev_returned"),), sequence=("cohort",))


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def _in_range(t: ir.Table, lo: int | None, hi: int | None, col: str = "us") -> ir.Table:
    if lo is not None:
        t = t.filter(t[col] >= lo)
    if hi is not None:
        t = t.filter(t[col] < hi)
    return t


def _touchpoints(spec: RetentionSpec, ctx: AnalysisContext) -> tuple[list[str], list[str]]:
    journey = ctx.journey(spec.journey)
    known = [t.id for t in journey.touchpoints]
    start = spec.start or [t.id for t in journey.touchpoints if t.stage == "care"]
    if not start:
        raise SpecError(f"journey '{journey.journey}' has no 'care' stage touchpoints; pass the visit "
                        "touchpoints that start a cohort (start: [visit_completed])")
    for field, ids in (("start", start), ("returns", spec.returns or [])):
        for i in ids:
            if i not in known:
                raise SpecError(f"{field}: unknown touchpoint '{i}'{did_you_mean(i, known)} "
                                f"(touchpoints: {', '.join(known)})")
    if spec.date_from and spec.date_to and spec.date_to < spec.date_from:
        raise SpecError(f"date_to {spec.date_to} is before date_from {spec.date_from}")
    return start, spec.returns or start
