"""What an analysis sees: the canonical events and persons as Ibis tables, plus the project.

The context is engine-agnostic: tests build it from in-memory tables on DuckDB or Spark
(``AnalysisContext.from_tables``); the CLI builds it from the store (``from_store``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..errors import SpecError
from ..mapping import rule_predicate
from ..model.journey import Journey, did_you_mean

__all__ = ["AnalysisContext", "naive_utc"]


def naive_utc(df: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as naive UTC ``datetime64[us]`` (engines differ in zone and unit)."""
    for col in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            s = df[col]
            if getattr(s.dt, "tz", None) is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            df[col] = s.astype("datetime64[us]")
    return df


@dataclass
class AnalysisContext:
    events: ir.Table   # person_key, ts, touchpoint, stage, channel, owner, source, ..., episode_id
    persons: ir.Table  # person_key, age_band, sex, language, payer_type, zip3, needs..., first_seen, last_seen
    project: object    # carejourney.project.Project
    con: object = None  # Ibis backend (for compiling SQL)
    feedback: ir.Table | None = None
    #: Identifies the data behind ``events`` (None: unknown). With one, on DuckDB, sequence
    #: analyses read a stored journey log (see ``analyses._log``) instead of ordering in every query.
    data_version: Callable[[], str] | None = None
    #: Results of earlier identical queries over the same data (``analyses._cache``), or None.
    query_cache: object = None

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_store(cls, project, store, *, cache: bool = True) -> "AnalysisContext":
        """A context on the project's store; with ``cache`` (DuckDB stores), query results are kept
        in ``target/cache/queries`` (unless ``CAREJOURNEY_QUERY_CACHE=0``)."""
        version = functools.cache(store.data_version)  # asked of the store once per context
        query_cache = None
        if cache and store.engine == "duckdb" and os.environ.get("CAREJOURNEY_QUERY_CACHE", "1") != "0":
            from ._cache import QueryCache
            query_cache = QueryCache(project.target_dir / "cache" / "queries", version, salt=project.journeys_hash())
        ctx = cls(events=store.events(), persons=store.persons(), project=project, con=store.con,
                  feedback=store.feedback(), data_version=version, query_cache=query_cache)
        if ctx.shares_tables:
            # every analysis reads the persons (an aggregate over every subject and event): a
            # shared table, computed once per data version and kept for later processes. The
            # events are not copied: a DuckDB store's events carry their stitched person key.
            ctx.persons = ctx.shared("persons", [], lambda: store.persons(ctx.events))
        return ctx

    # -- facts ---------------------------------------------------------------------------
    @property
    def engine(self) -> str:
        return getattr(self.con, "name", "unknown")

    @property
    def min_cell(self) -> int:
        return self.project.min_cell

    @property
    def timezone(self) -> str:
        return self.project.timezone

    def to_pandas(self, expr: ir.Expr, sql: str | None = None) -> pd.DataFrame:
        """Execute on the context's engine; timestamps come back as naive UTC ``datetime64[us]``.

        With a query cache, a query asked before of the same data is answered from it (``sql``:
        the compiled query when the caller has it already)."""
        if self.con is None:
            df = expr.to_pandas()
        elif self.query_cache is not None:
            if sql is None:
                from .base import compile_sql
                sql = compile_sql(expr, self)
            df = self.query_cache.to_pandas(self.con, expr, sql, prepare=self._prepare)
        else:
            self._prepare(expr)
            df = self.con.to_pandas(expr)
        return naive_utc(df)

    def analysis_frame(self, spec, build: Callable[[], ir.Expr]) -> tuple[pd.DataFrame, str]:
        """An analysis' executed expression (``build()``) and its SQL (``analyses.base.execute``):
        from the query cache by the resolved spec and the project's settings when there is one,
        without building or compiling the expression again."""
        from .base import compile_sql
        if self.query_cache is None or self.con is None:
            expr = build()
            sql = compile_sql(expr, self)
            return self.to_pandas(expr, sql=sql), sql
        name = "\x1f".join((spec.model_dump_json(by_alias=True), self.project.config.model_dump_json(), self.engine))
        df, sql = self.query_cache.analysis(name, build, lambda expr: compile_sql(expr, self), self.con,
                                            prepare=self._prepare)
        return naive_utc(df), sql

    # -- shared tables -------------------------------------------------------------------
    def shared(self, kind: str, key, build: Callable[[], ir.Table],
               sql: Callable[[Callable[[ir.Expr], str]], str] | None = None) -> ir.Table:
        """``build()``'s rows as a table several analyses read, written once per data version on
        first use (:mod:`analyses._shared`); where nothing is shared (not DuckDB, no data version,
        ``CAREJOURNEY_SHARED_TABLES=0``), the expression itself. ``sql(compile)``, when given,
        is DuckDB SQL giving the same rows, written with what Ibis cannot say (e.g. GROUPING SETS).
        Kept in the store's file for later processes on the same data (a read-only store: for
        this connection only)."""
        if not self.shares_tables:
            return build()
        if "_shared" not in self.__dict__:
            from ._shared import SharedTables
            self.__dict__["_shared"] = SharedTables(self.con, self.data_version)
        return self.__dict__["_shared"].table(kind, key, build, sql)

    @property
    def shares_tables(self) -> bool:
        """Whether :meth:`shared` writes shared tables (DuckDB, a data version, not turned off)."""
        return self.data_version is not None and getattr(self.con, "name", None) == "duckdb" \
            and os.environ.get("CAREJOURNEY_SHARED_TABLES", "1") != "0"

    def describe_shared(self, expr: ir.Expr) -> str:
        """How the shared tables ``expr`` reads are computed, as SQL comments ('' when none)."""
        return self.__dict__["_shared"].describe(expr) if "_shared" in self.__dict__ else ""

    def _prepare(self, expr: ir.Expr) -> None:
        """Before executing ``expr``: write the shared tables it reads (see :meth:`shared`)."""
        if "_shared" in self.__dict__:
            self.__dict__["_shared"].prepare(expr)

    def freshness(self) -> datetime | None:
        """Time of the newest event (asked of the engine once per context, then remembered:
        a report runs some twenty analyses over the same data)."""
        if "_freshness" not in self.__dict__:
            try:
                v = self.to_pandas(self.events.aggregate(m=self.events.ts.max()))["m"].iloc[0]
                self.__dict__["_freshness"] = None if pd.isna(v) else pd.Timestamp(v).to_pydatetime()
            except Exception:
                self.__dict__["_freshness"] = None
        return self.__dict__["_freshness"]

    # -- the journey log -----------------------------------------------------------------
    def journey_log(self, journey_id: str | None):
        """The stored, ordered journey log (:class:`analyses._log.JourneyLog`), or None where
        there is none: not DuckDB, no data version, or ``CAREJOURNEY_JOURNEY_LOG=0``."""
        if self.data_version is None or getattr(self.con, "name", None) != "duckdb" \
                or os.environ.get("CAREJOURNEY_JOURNEY_LOG", "1") == "0":
            return None
        j = self.journey(journey_id)
        logs = self.__dict__.setdefault("_logs", {})
        if j.journey not in logs:
            from ._log import build_log
            logs[j.journey] = build_log(self.con, j, self.journey_events(j.journey), self.data_version(),
                                        prepare=self._prepare)
        return logs[j.journey]

    # -- journey scoping -----------------------------------------------------------------
    def journey(self, journey_id: str | None) -> Journey:
        try:
            return self.project.journey(journey_id)
        except Exception as exc:
            raise SpecError(str(exc)) from None

    def journey_events(self, journey_id: str | None = None, segment: str | None = None) -> ir.Table:
        """Events of people in the journey, on the journey's touchpoints, optionally one segment.

        A person is in a journey when any of their events has one of its ``service_lines``
        (every person when the journey lists none). Events with another service line are left
        out; events with none (web visits, calls) stay in.
        """
        j = self.journey(journey_id)
        ev = self.events.filter(self.events.touchpoint.isin([t.id for t in j.touchpoints]))
        if j.service_lines:
            lines = list(j.service_lines)
            # the journey's people as a (shared) table: DuckDB then knows how few they are and
            # hashes them, not the events (an estimate off by 10x made it hash 8M events: 1.3 s)
            members = self.shared("journey_people", lines, lambda: self.events.filter(
                self.events.service_line.isin(lines)).select("person_key").distinct())
            ev = ev.filter(ev.service_line.isnull() | ev.service_line.isin(lines))
            ev = ev.semi_join(members, "person_key")
        if segment is not None:
            ev = ev.semi_join(self.segment_members(j, segment), "person_key")
        return ev

    def journey_event_times(self, journey_id: str | None = None, segment: str | None = None) -> ir.Table:
        """A table of the journey's events (:meth:`journey_events`) with at least their ``ts``
        (e.g. for the data period): the journey log's rows where there is one — the same events,
        in a much smaller table than every event's."""
        log = self.journey_log(journey_id)
        if log is None:
            return self.journey_events(journey_id, segment)
        return self.log_events(log, self.journey(journey_id), segment)

    def log_events(self, log, journey: Journey, segment: str | None) -> ir.Table:
        """The journey log's rows (``log``: :meth:`journey_log`) of everyone, or of ``segment``'s people."""
        return log.events if segment is None else log.events_of(self.segment_members(journey, segment))

    def journey_end(self, journey_id: str | None = None, segment: str | None = None) -> ir.Scalar:
        """The time of the journey's (segment's) last event: where censoring windows end."""
        return self.journey_event_times(journey_id, segment).ts.max().as_scalar()

    def segment_members(self, journey: Journey, segment_id: str) -> ir.Table:
        """The segment's people (``person_key``): its rule on person attributes, and its entry
        touchpoint (each person's first event in the journey, :meth:`_entry_members`). Shared and
        kept (:meth:`shared`): a segment's report asks for them in nearly every query."""
        seg = next((s for s in journey.segments if s.id == segment_id), None)
        if seg is None:
            raise SpecError(f"journey '{journey.journey}' has no segment '{segment_id}'"
                            f"{did_you_mean(segment_id, [s.id for s in journey.segments])}")
        rules = [journey.measured(), segment_id]
        return self.shared("segment_members", rules, lambda: self._segment_members(journey, seg))

    def _segment_members(self, journey: Journey, seg) -> ir.Table:
        p = self.persons
        members = p.filter(rule_predicate(p, seg.where)).select("person_key")
        if seg.entry_touchpoint:
            entry = self._entry_members(journey, seg.entry_touchpoint)
            members = members.semi_join(entry, "person_key") if seg.where else entry
        return members

    def _entry_members(self, journey: Journey, touchpoints: list[str]) -> ir.Table:
        """People whose first event in the journey (:meth:`journey_events`, in the journey log's
        order: time, then the touchpoint's position in the journey, then event id) is on one of
        ``touchpoints``. From the journey log where there is one: its ``seq = 0`` rows, instead of
        ordering every event again."""
        log = self.journey_log(journey.journey)
        if log is not None:
            first = log.events.filter((log.events.seq == 0) & log.events.tp.isin([log.code(t, "touchpoint") for t in touchpoints]))
            return log.people.semi_join(first, "pid").select("person_key")
        ev = self.journey_events(journey.journey)
        pos = ev.touchpoint.substitute({t.id: i for i, t in enumerate(journey.touchpoints)}, else_=ibis.null("int64"))
        first = ev.mutate(rn=ibis.row_number().over(group_by=ev.person_key, order_by=[ev.ts, pos, ev.event_id]))
        return first.filter((first.rn == 0) & first.touchpoint.isin(touchpoints)).select("person_key")

    def with_segments(self, table: ir.Table, journey: Journey, column: str = "segment") -> ir.Table:
        """Add a segment label per person (first matching segment in journey order, else 'all other')."""
        p = self.persons
        label = ibis.cases(*[(rule_predicate(p, s.where), s.id) for s in journey.segments if s.where],
                           else_="other") if any(s.where for s in journey.segments) else ibis.literal("all")
        seg = p.select(p.person_key, label.name(column))
        j = table.left_join(seg, table.person_key == seg.person_key)
        return j.drop("person_key_right").mutate(**{column: ibis.coalesce(j[column], "(unknown)")})
