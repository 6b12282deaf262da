"""Funnel: how many people (or care episodes) get from step to step, and how fast.

Semantics (docs/analyses/funnel.md has the long form; tests/backends/test_funnel.py pins them):

* Every event of the first step starts an *attempt*; a unit counts once, at the furthest step of
  its best attempt (furthest step, then earliest start); times come from that attempt.
* The conversion window runs from the attempt's first event, boundary inclusive; ``max_gap``
  bounds the time from the previous step to a given step.
* ``order``: ``ordered`` (other events may come between), ``strict`` (the next journey event
  must be the next step) or ``unordered`` (later steps in any order after the first).
* Equal timestamps are taken in step order; one event fills at most one step.
* The date range filters entry only; attempts whose window is still open at ``as_of`` (default:
  the newest event) and that have not gone further are ``in_progress``, not dropped.
* Exclusion events end the attempt they fall in; a later attempt may still convert.
* Open funnels count units with no earlier step from the step where they enter.
* Breakdowns by journey segment, person attribute or entry-event field; top N + "Other";
  nulls as "(unknown)". Trends by entry period in the project timezone (DST-correct).

The person-level work is one lazy Ibis expression (:mod:`._funnel_attempts`); the executed
aggregate is one row per breakdown/period, reshaped to one row per step in ``postprocess``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import Field, field_validator

from ..errors import SpecError
from ..model.base import Duration, Strict
from ..model.events import PERSON_ATTRIBUTES
from ..privacy.suppression import CellRules
from ._funnel_attempts import EVENT_FIELDS, step_sets, unit_table, units_of
from .base import Analysis, Spec, register
from .context import AnalysisContext
from .periods import epoch_us, period_end, with_period

__all__ = ["FunnelSpec", "Exclusion", "Funnel", "BREAKDOWNS", "as_of_table"]

#: What a funnel can be broken down by: the journey segment, a person attribute, an entry-event field.
BREAKDOWNS = ("segment", *PERSON_ATTRIBUTES, *EVENT_FIELDS)


def _split(v):
    return [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v


class Exclusion(Strict):
    """An event that ends an attempt: ``event`` at or after the time of step ``after``."""

    event: str = Field(description="touchpoint that ends the attempt (e.g. appointment_cancelled)")
    after: str | None = Field(default=None, description="step after which it counts (default: the first step)")


class FunnelSpec(Spec):
    kind: Literal["funnel"] = "funnel"
    steps: list[str] | None = Field(default=None, description="step ids in order ('a|b' = either); default: the journey's key steps")
    steps_kind: Literal["touchpoint", "stage"] = "touchpoint"
    unit: Literal["person", "episode"] = Field(default="person", description="count people, or care episodes (episode_id)")
    window: Duration | None = Field(default=None, description="conversion window from the first step, inclusive "
                                    "(default: the journey's conversion_window)")
    max_gap: dict[str, Duration] = Field(default_factory=dict, description="step -> longest time from the previous step")
    order: Literal["ordered", "strict", "unordered"] = "ordered"
    exclusions: list[Exclusion] = Field(default_factory=list)
    open: bool = Field(default=False, description="count units that enter at a later step from that step")
    date_from: date | None = Field(default=None, description="first entry day (project timezone)")
    date_to: date | None = Field(default=None, description="last entry day, inclusive (project timezone)")
    as_of: datetime | None = Field(default=None, description="UTC time the data is complete to (default: newest event)")
    by: str | None = Field(default=None, description="breakdown: segment, a person attribute or an event field")
    top: int = Field(default=10, ge=1, description="breakdown values shown; the rest are 'Other'")
    trend: Literal["day", "week", "month"] | None = Field(default=None, description="split by entry period")

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, v):
        return _split(v)

    @field_validator("exclusions", mode="before")
    @classmethod
    def _exclusions(cls, v):
        items = _split(v) or []
        return [dict(zip(("event", "after"), x.split(":", 1))) if isinstance(x, str) else x for x in items]

    @field_validator("max_gap", mode="before")
    @classmethod
    def _gaps(cls, v):
        if isinstance(v, str):
            pairs = [p.split("=", 1) for p in _split(v)]
            if any(len(p) != 2 for p in pairs):
                raise ValueError("write max_gap as step=duration[,step=duration], e.g. appointment_booked=14d")
            return dict(pairs)
        return v

    @field_validator("by")
    @classmethod
    def _by(cls, v):
        if v is not None and v not in BREAKDOWNS:
            from ..model.journey import did_you_mean
            raise ValueError(f"cannot break down by '{v}'{did_you_mean(v, BREAKDOWNS)} (choose from {', '.join(BREAKDOWNS)})")
        return v


_COUNTS = ("entered", "reached", "previous", "continued", "dropped", "in_progress")
_TIMES = ("median_seconds", "p90_seconds", "median_days", "p90_days")


@register
class Funnel(Analysis):
    kind = "funnel"
    spec = FunnelSpec
    title = "Funnel"

    def resolve(self, spec: FunnelSpec, ctx: AnalysisContext) -> FunnelSpec:
        if spec.window is None:
            return spec.model_copy(update={"window": ctx.journey(spec.journey).conversion_window})
        return spec

    def build(self, spec: FunnelSpec, ctx: AnalysisContext) -> ir.Table:
        journey = ctx.journey(spec.journey)
        sets = step_sets(spec, journey)
        if spec.date_from and spec.date_to and spec.date_to < spec.date_from:
            raise SpecError(f"date_to {spec.date_to} is before date_from {spec.date_from}")
        return self._aggregate(spec, ctx, sets, _units(spec, ctx, sets))

    def build_compare(self, parts: list[tuple[str, FunnelSpec]], ctx: AnalysisContext) -> ir.Table | None:
        """The funnels of several segments (``compare``) from one unit table: a unit's best attempt
        depends on its own events alone, so a segment's units are everyone's units of the
        segment's people. None when the specs differ in more than the segment, or break down
        (a breakdown's top values depend on the segment)."""
        base = parts[0][1].model_copy(update={"segment": None})
        if base.by is not None or any(sub.model_copy(update={"segment": None}) != base for _, sub in parts):
            return None
        journey = ctx.journey(base.journey)
        sets = step_sets(base, journey)
        if base.date_from and base.date_to and base.date_to < base.date_from:
            raise SpecError(f"date_to {base.date_to} is before date_from {base.date_from}")
        everyone = _units(base, ctx, sets)
        out = []
        for name, sub in parts:
            u = everyone if sub.segment is None else \
                units_of(everyone, base, ctx, sets, ctx.segment_members(journey, sub.segment))
            out.append(self._aggregate(sub, ctx, sets, u).mutate(_cmp_segment=ibis.literal(name)))
        return ibis.union(*out) if len(out) > 1 else out[0]

    def _aggregate(self, spec: FunnelSpec, ctx: AnalysisContext, sets, u: ir.Table) -> ir.Table:
        journey = ctx.journey(spec.journey)
        keys = []
        if spec.by:
            u = _breakdown(u, spec, ctx, journey)
            keys.append(spec.by)
        if spec.trend:
            u = with_period(u, "start_ts", ctx.timezone, spec.trend, name="period")
            keys.append("period")
        aggs = {"_as_of": u.as_of_us.max()}
        for k in range(len(sets)):
            aggs[f"entered_{k}"] = (u.start == k).cast("int64").sum()
            aggs[f"reached_{k}"] = ((u.start <= k) & (u.furthest >= k)).cast("int64").sum()
            if k:
                waiting = (u.start <= k - 1) & (u.furthest == k - 1) & (u.deadline_us > u.as_of_us)
                aggs[f"in_progress_{k}"] = waiting.cast("int64").sum()
                gap = ibis.cases(((u.start <= k - 1) & (u.furthest >= k), u[f"r{k}"] - u[f"r{k-1}"]),
                                 else_=ibis.null("int64"))
                aggs[f"median_{k}"] = gap.median()
                aggs[f"p90_{k}"] = gap.quantile(0.9)
        return u.group_by(keys).aggregate(**aggs) if keys else u.aggregate(**aggs)

    def postprocess(self, df: pd.DataFrame, spec: FunnelSpec, ctx: AnalysisContext) -> pd.DataFrame:
        names = ["|".join(s) for s in step_sets(spec, ctx.journey(spec.journey))]
        keys = [c for c in (spec.by, "period" if spec.trend else None) if c]
        as_of = _as_of(df, spec)
        rows = []
        for g in df.to_dict("records"):
            first_total = 0
            for k, name in enumerate(names):
                entered, reached = _int(g[f"entered_{k}"]), _int(g[f"reached_{k}"])
                first_total += entered
                row = {c: g[c] for c in keys}
                row.update(step_index=k + 1, step=name, entered=entered, reached=reached,
                           previous=None, continued=None, dropped=None, in_progress=None,
                           conversion_from_previous=None,
                           conversion_from_first=reached / first_total if first_total else None)
                row.update({t: None for t in _TIMES})
                if k:
                    prev, waiting = _int(g[f"reached_{k-1}"]), _int(g[f"in_progress_{k}"])
                    cont = reached - entered
                    row.update(previous=prev, continued=cont, in_progress=waiting, dropped=prev - cont - waiting,
                               conversion_from_previous=cont / prev if prev else None)
                    for label, col in (("median", f"median_{k}"), ("p90", f"p90_{k}")):
                        v = g.get(col)
                        if v is not None and not pd.isna(v):
                            row[f"{label}_seconds"] = round(float(v) / 1e6, 3)
                            row[f"{label}_days"] = round(float(v) / 86_400e6, 4)
                rows.append(row)
        out = pd.DataFrame(rows, columns=[*keys, "step_index", "step", *_COUNTS, "conversion_from_previous",
                                          "conversion_from_first", *_TIMES])
        if spec.trend and len(out):
            out["period"] = pd.to_datetime(out["period"]).dt.date
            out["complete"] = [_complete(p, spec, ctx.timezone, as_of) for p in out["period"]]
        out = _order(out, spec)
        out.attrs["notes"] = [f"as_of {as_of.isoformat()} UTC"] if as_of is not None else []
        return out

    def rules(self, spec: FunnelSpec) -> CellRules:
        keys = tuple(c for c in (spec.by, "period" if spec.trend else None) if c)
        times = {t: ("continued",) for t in _TIMES}
        groups = ("step_index", *(("period",) if spec.trend else ())) if spec.by else (
            ("step_index",) if spec.trend else None)
        return CellRules(
            counts=_COUNTS,
            derived={"conversion_from_previous": ("continued", "previous"),
                     "conversion_from_first": ("reached",), **times},
            pairs=(("previous", "continued"), ("reached", "continued"), ("reached", "entered")),
            groups=groups,
            sums=(("previous", ("continued", "dropped", "in_progress")), ("reached", ("continued", "entered"))),
            carry=(("reached", "previous"),),
            sequence=keys,
        )


def _units(spec: FunnelSpec, ctx: AnalysisContext, sets) -> ir.Table:
    """The unit table (``_funnel_attempts.unit_table``); without a breakdown, everyone's is shared
    (``AnalysisContext.shared``): the key-step funnel and the segment comparison ask for the same
    one, and a segment's units are everyone's units of the segment's people (a unit's best attempt
    depends on its own events alone), so a segment's first report reads the table kept by
    everyone's instead of matching its people's steps again."""
    if spec.by is not None or (spec.segment is not None and not ctx.shares_tables):  # (nothing kept to restrict)
        return unit_table(spec, ctx, sets, as_of_table(spec.as_of, ctx))
    base = spec.model_copy(update={"segment": None})
    key = [base.model_dump(mode="json", exclude={"trend", "top"}), ctx.journey(spec.journey).measured(),
           ctx.timezone]
    everyone = ctx.shared("funnel_units", key, lambda: unit_table(base, ctx, sets, as_of_table(base.as_of, ctx)))
    if spec.segment is None:
        return everyone
    return units_of(everyone, base, ctx, sets, ctx.segment_members(ctx.journey(spec.journey), spec.segment))


def _int(v) -> int:
    return 0 if v is None or pd.isna(v) else int(v)


def _us(ts: datetime) -> int:
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return int((ts - datetime(1970, 1, 1)) / timedelta(microseconds=1))


def as_of_table(as_of: datetime | None, ctx: AnalysisContext) -> ir.Table:
    """One row, one column ``as_of_us``: the given time, or the newest event (data freshness)."""
    if as_of is not None:
        import pyarrow as pa
        return ibis.memtable(pa.table({"as_of_us": pa.array([_us(as_of)], pa.int64())}))
    return ctx.events.aggregate(as_of_us=epoch_us(ctx.events.ts.max()))


def _as_of(df: pd.DataFrame, spec) -> datetime | None:
    if spec.as_of is not None:
        return spec.as_of.astimezone(timezone.utc).replace(tzinfo=None) if spec.as_of.tzinfo else spec.as_of
    vals = df["_as_of"].dropna() if "_as_of" in df else []
    return datetime(1970, 1, 1) + timedelta(microseconds=int(vals.iloc[0])) if len(vals) else None


def _complete(period_start: date, spec, tz: str, as_of: datetime | None) -> bool:
    """A period is complete when the window of its last possible entry has elapsed."""
    if as_of is None:
        return False
    end_local = period_end(datetime(period_start.year, period_start.month, period_start.day), spec.trend)
    end_utc = end_local.replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc).replace(tzinfo=None)
    return end_utc + spec.window <= as_of


def _order(out: pd.DataFrame, spec) -> pd.DataFrame:
    """Largest breakdown values first ("Other" and "(unknown)" last), periods in time order."""
    if out.empty:
        return out
    sort, asc = [], []
    if spec.by:
        size = out[out.step_index == 1].groupby(spec.by)["reached"].sum() if not spec.open else \
            out.groupby(spec.by)["entered"].sum()
        out = out.assign(_tail=out[spec.by].isin(["Other", "(unknown)"]),
                         _size=out[spec.by].map(size).fillna(0))
        sort += ["_tail", "_size", spec.by]
        asc += [True, False, True]
    if spec.trend:
        sort.append("period")
        asc.append(True)
    sort.append("step_index")
    asc.append(True)
    out = out.sort_values(sort, ascending=asc, kind="stable").reset_index(drop=True)
    return out.drop(columns=[c for c in ("_tail", "_size") if c in out])


def _breakdown(u: ir.Table, spec: FunnelSpec, ctx: AnalysisContext, journey) -> ir.Table:
    """Label each unit with its breakdown value (top N, the rest 'Other', nulls '(unknown)')."""
    if spec.by == "segment":
        u = ctx.with_segments(u, journey, column="_v")
    elif spec.by in PERSON_ATTRIBUTES:
        p = ctx.persons
        attr = p.select(_pk=p.person_key, _v=p[spec.by].cast("string"))
        u = u.left_join(attr, u.person_key == attr._pk).drop("_pk")
    else:
        u = u.mutate(_v=u.by_value)
    u = u.mutate(_v=ibis.coalesce(u._v, "(unknown)"))
    sizes = u.group_by(u._v.name("_sv")).aggregate(_n=u.count())
    sizes = sizes.mutate(_r=ibis.row_number().over(order_by=[sizes._n.desc(), sizes._sv]))
    j = u.join(sizes, u._v == sizes._sv)
    label = ibis.cases((j._r < spec.top, j._v), else_=ibis.literal("Other"))
    return j.mutate(**{spec.by: label}).drop("_v", "_sv", "_n", "_r")
