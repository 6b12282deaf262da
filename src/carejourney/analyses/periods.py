"""Calendar periods (day / week / month) in the project timezone, computed inside the engine.

The store holds naive UTC timestamps. Ibis 12 has no time-zone conversion that compiles the
same way on DuckDB and PySpark (DuckDB's ``timezone()`` and Spark's ``from_utc_timestamp`` are
not exposed portably), so the conversion is done with data instead of a function:

* :func:`offset_table` precomputes, with :mod:`zoneinfo`, one row per UTC day from 1990 to 2069:
  the zone's UTC offset at 00:00 UTC that day and, on the (at most one) day a DST transition
  happens, the microsecond within the day where it happens and the new offset. This is a small
  ``ibis.memtable`` (~29k rows; a broadcast join on Spark).
* :func:`with_local_time` equi-joins a table on the UTC day number and adds the offset, picking
  the after-transition offset for times at or after the switch. Times outside the table fall
  back to the zone's standard offset on 2070-01-01 (documented limitation).
* Fixed-offset zones (UTC) skip the join entirely.

Epoch microseconds (``delta(unit="microsecond")``) are used throughout because second-based
deltas round differently on the two engines. Weeks start on Monday (ISO), on both engines.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pyarrow as pa

__all__ = ["Period", "EPOCH", "epoch_us", "offset_table", "with_local_time", "with_period",
           "period_start", "period_index", "period_end", "local_date", "to_local", "US_PER_DAY"]

Period = Literal["day", "week", "month"]
US_PER_DAY = 86_400_000_000
EPOCH = ibis.timestamp("1970-01-01 00:00:00")
_FIRST_YEAR, _LAST_YEAR = 1990, 2069
_TRUNC = {"day": "D", "week": "W", "month": "M"}


def epoch_us(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Microseconds since 1970-01-01 (identical on DuckDB and Spark)."""
    return ts.delta(EPOCH, unit="microsecond")


def _offset_us(zone: ZoneInfo, utc: datetime) -> int:
    return int(utc.astimezone(zone).utcoffset() / timedelta(microseconds=1))


@lru_cache(maxsize=16)
def _offsets(tz: str) -> tuple[bool, pa.Table | None, int]:
    """(fixed, per-day table or None, fallback offset) for a zone."""
    zone = ZoneInfo(tz)
    start = datetime(_FIRST_YEAR, 1, 1, tzinfo=timezone.utc)
    days = (datetime(_LAST_YEAR + 1, 1, 1, tzinfo=timezone.utc) - start).days
    fallback = _offset_us(zone, datetime(_LAST_YEAR + 1, 1, 1, tzinfo=timezone.utc))
    day0 = (start - datetime(1970, 1, 1, tzinfo=timezone.utc)).days
    offs = [_offset_us(zone, start + timedelta(days=i)) for i in range(days + 1)]
    if len(set(offs)) == 1 and offs[0] == fallback:
        return True, None, fallback
    day, off, switch, off2 = [], [], [], []
    for i in range(days):
        day.append(day0 + i)
        off.append(offs[i])
        if offs[i] == offs[i + 1]:
            switch.append(None)
            off2.append(None)
            continue
        lo, hi = 0, 24 * 60  # minute of the day at which the new offset applies (binary search)
        base = start + timedelta(days=i)
        while lo < hi:
            mid = (lo + hi) // 2
            if _offset_us(zone, base + timedelta(minutes=mid)) == offs[i]:
                lo = mid + 1
            else:
                hi = mid
        switch.append(lo * 60_000_000)
        off2.append(offs[i + 1])
    table = pa.table({"tz_day": pa.array(day, pa.int64()), "tz_off": pa.array(off, pa.int64()),
                      "tz_switch": pa.array(switch, pa.int64()), "tz_off2": pa.array(off2, pa.int64())})
    return False, table, fallback


def offset_table(tz: str) -> ir.Table | None:
    """The per-UTC-day offset table for ``tz`` (None for fixed-offset zones such as UTC)."""
    fixed, table, _ = _offsets(tz)
    return None if fixed else ibis.memtable(table)


def with_local_time(table: ir.Table, ts: str, tz: str, name: str = "local_ts") -> ir.Table:
    """``table`` plus ``name``: the wall-clock time of ``ts`` (naive UTC) in zone ``tz``."""
    fixed, _, fallback = _offsets(tz)
    if fixed:
        shifted = table[ts] + ibis.literal(fallback // 1_000_000).as_interval("s") if fallback else table[ts]
        return table.mutate(**{name: shifted})
    offs = offset_table(tz)
    us = epoch_us(table[ts])
    t = table.mutate(_tz_us=us, _tz_day=us // US_PER_DAY)
    j = t.left_join(offs, t._tz_day == offs.tz_day)
    within = j._tz_us - j._tz_day * US_PER_DAY
    off = ibis.cases((j.tz_switch.notnull() & (within >= j.tz_switch), j.tz_off2),
                     else_=ibis.coalesce(j.tz_off, fallback))
    out = j.mutate(**{name: j[ts] + (off // 1_000_000).as_interval("s")})
    return out.drop("_tz_us", "_tz_day", "tz_day", "tz_off", "tz_switch", "tz_off2")


def period_start(local_ts: ir.TimestampValue, period: Period) -> ir.TimestampValue:
    """Start of the calendar period (local wall clock) holding ``local_ts``."""
    return local_ts.truncate(_TRUNC[period])


def period_index(local_ts: ir.TimestampValue, period: Period) -> ir.IntegerValue:
    """A running period number: consecutive periods differ by exactly 1 (for cohort offsets)."""
    if period == "month":
        return local_ts.year().cast("int64") * 12 + local_ts.month().cast("int64") - 1
    days = epoch_us(period_start(local_ts, period)) // US_PER_DAY
    return days // 7 if period == "week" else days


def with_period(table: ir.Table, ts: str, tz: str, period: Period, name: str = "period",
                index: str | None = None) -> ir.Table:
    """Add the local calendar period start (a timestamp at local midnight) and optionally its index."""
    t = with_local_time(table, ts, tz, name="_local_ts")
    cols = {name: period_start(t._local_ts, period)}
    if index:
        cols[index] = period_index(t._local_ts, period)
    return t.mutate(**cols).drop("_local_ts")


# -- Python-side helpers for the small, executed tables -------------------------------------
def to_local(utc: datetime, tz: str) -> datetime:
    """Naive UTC → naive wall-clock time in ``tz`` (for comparing with local period bounds)."""
    return utc.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def local_date(utc: datetime, tz: str) -> date:
    return to_local(utc, tz).date()


def period_end(start: datetime, period: Period, n: int = 1) -> datetime:
    """The local start of the period ``n`` periods after the one starting at ``start``."""
    if period == "day":
        return start + timedelta(days=n)
    if period == "week":
        return start + timedelta(weeks=n)
    months = start.year * 12 + start.month - 1 + n
    return start.replace(year=months // 12, month=months % 12 + 1, day=1)
