"""The journey log: each journey's events put in order once per data version, kept in the store.

Ordering every person's events (a window sorted by person, time, design position and event
id) is the costliest step of the sequence analyses — paths, process map, conformance — and
each of them used to do it again. The journey log does it once per journey: a compact table

========== ==========================================================================
``pid``    a dense integer per person (``people`` maps it to the person key and holds
           ``n_events``, the person's number of events in the log)
``ts``     the event's time
``tp``     the touchpoint as its position in the journey definition
``st``     the stage as a code: its position in the journey's stages, then other
           stage values found in the data (``JourneyLog.stages`` names them)
``seq``    the event's number in the person's sequence, from 0
``prev_*`` / ``next_*``   touchpoint and stage code of the previous / next event
``next_ts`` time of the next event
========== ==========================================================================

written next to the canonical tables (``_cj_log_<journey>``, ``…_people``, ``…_meta``) and
rebuilt only when its fingerprint — the store's data version, the journey definition and
:data:`LOG_VERSION` — changes. ``carejourney run`` builds it after ingest, so reports and
analyses start from it. Only DuckDB stores keep a log (a read-only store gets a temporary one
per connection); on other engines, and in contexts built from bare tables, the analyses order
the events in each query as before — both paths give identical results (tested).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Callable

import ibis
import ibis.expr.types as ir

from ..model.journey import Journey

__all__ = ["JourneyLog", "LOG_VERSION", "build_log", "log_expression", "fingerprint", "read_only"]

#: Bump when the log's columns or ordering change: stored logs are then rebuilt.
LOG_VERSION = "4"


@dataclass(frozen=True)
class JourneyLog:
    """A journey's ordered events (codes) and the person map, as Ibis tables."""

    events: ir.Table
    people: ir.Table
    touchpoints: tuple[str, ...]
    stages: tuple[str, ...]      # the journey's stages first, then other stage values in the data
    null_stages: bool            # some events carry no stage (stage-level sequences then differ)
    name: str = ""               # the stored table's name ('' when the log is only an expression)
    designed_stages: bool = False  # every event's stage is its touchpoint's stage in this journey
    max_events: int = 0          # the most events one person has in the log (``people.n_events``)

    def people_of(self, members: ir.Table) -> ir.Table:
        """The log's people (``pid``, ``person_key``) who are in ``members`` (a table with ``person_key``)."""
        return self.people.semi_join(members, "person_key")

    def events_of(self, members: ir.Table) -> ir.Table:
        """The log's events of the people in ``members`` (a table with ``person_key``)."""
        return self.events.semi_join(self.people_of(members), "pid")

    def decode(self, code: ir.IntegerValue, level: str) -> ir.StringValue:
        """A touchpoint (``level='touchpoint'``) or stage code as its id."""
        names = self.touchpoints if level == "touchpoint" else self.stages
        return code.substitute({i: n for i, n in enumerate(names)}, else_=ibis.null("string"))

    def code(self, name: str, level: str) -> ir.IntegerValue:
        """The code of a touchpoint or stage id, written as that id's lookup — a constant the
        engine folds, so a query compares small integers and its SQL still names the step."""
        names = self.touchpoints if level == "touchpoint" else self.stages
        return ibis.literal(name).substitute({n: i for i, n in enumerate(names)}, else_=ibis.null("int64"))


def fingerprint(data_version: str, journey: Journey) -> str:
    payload = json.dumps([LOG_VERSION, data_version, journey.measured()], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _code(col: ir.StringValue, names: list[str]) -> ir.IntegerValue:
    return col.substitute({n: i for i, n in enumerate(names)}, else_=ibis.null("int16")).cast("int16")


def log_expression(ev: ir.Table, people: ir.Table, journey: Journey, stages: list[str]) -> ir.Table:
    """The log's rows from the journey's events (``person_key, event_id, ts, touchpoint, stage``)."""
    tps = [t.id for t in journey.touchpoints]
    e = ev.inner_join(people, "person_key")
    e = e.select(e.pid, e.ts, e.event_id, tp=_code(e.touchpoint, tps), st=_code(e.stage, stages))
    w = ibis.window(group_by=e.pid, order_by=[e.ts, e.tp, e.event_id])
    out = e.mutate(seq=ibis.row_number().over(w).cast("int32"),
                   prev_tp=e.tp.lag().over(w), next_tp=e.tp.lead().over(w),
                   prev_st=e.st.lag().over(w), next_st=e.st.lead().over(w),
                   next_ts=e.ts.lead().over(w))
    return out.drop("event_id")


def _names(journey_id: str) -> tuple[str, str, str]:
    slug = re.sub(r"[^0-9a-zA-Z_]", "_", journey_id)
    base = f"_cj_log_{slug}"
    return base, f"{base}_people", f"{base}_meta"


def build_log(con, journey: Journey, ev: ir.Table, data_version: str,
              prepare: Callable[[ir.Expr], None] | None = None) -> JourneyLog:
    """The stored log of ``journey`` on ``con`` (DuckDB), built from ``ev`` if missing or stale.

    ``ev`` is the journey's lazy events (``AnalysisContext.journey_events`` without a segment);
    ``prepare(ev)`` runs before they are read (it writes the shared tables they are built on).
    The meta table is written last and dropped first, so a log interrupted while building is
    never mistaken for a current one.
    """
    log_name, people_name, meta_name = _names(journey.journey)
    fp = fingerprint(data_version, journey)
    tps = tuple(t.id for t in journey.touchpoints)
    existing = set(con.list_tables())
    if {log_name, people_name, meta_name} <= existing:
        meta = con.table(meta_name).to_pyarrow().to_pylist()
        if meta and meta[0]["fingerprint"] == fp:
            return JourneyLog(con.table(log_name), con.table(people_name), tps,
                              tuple(json.loads(meta[0]["stages"])), bool(meta[0]["null_stages"]), log_name,
                              bool(meta[0]["designed_stages"]), int(meta[0]["max_events"] or 0))
    if prepare is not None:
        prepare(ev)
    # a store opened read-only (e.g. next to a running ingest) gets a log for this connection only
    return _write(con, journey, ev, fp, temp=read_only(con), stale=meta_name in existing)


def read_only(con) -> bool:
    """Whether the store's database was opened read-only (derived tables then live in memory)."""
    row = con.con.execute("SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return bool(row and row[0])


def _write(con, journey: Journey, ev: ir.Table, fp: str, *, temp: bool, stale: bool) -> JourneyLog:
    log_name, people_name, meta_name = _names(journey.journey)
    if stale and not temp:  # an out-of-date log: unmark it first, so a killed rebuild is never taken as current
        con.drop_table(meta_name)
    pairs = con.to_pyarrow(ev.select("touchpoint", "stage").distinct()).to_pylist()
    found = {p["stage"] for p in pairs}
    stages = [s.id for s in journey.stages]
    stages += sorted({s for s in found if s is not None} - set(stages))
    null_stages = None in found
    designed = {t.id: t.stage for t in journey.touchpoints}
    designed_stages = all(designed.get(p["touchpoint"]) == p["stage"] for p in pairs)
    ids = ev.group_by("person_key").aggregate(n_events=ev.count())
    con.create_table(people_name, ids.mutate(pid=ibis.row_number().cast("int32")), overwrite=True, temp=temp)
    people = con.table(people_name)  # referenced by name as a later process will (same SQL: cache hits)
    max_events = int(con.to_pyarrow(people.n_events.max()).as_py() or 0)
    con.create_table(log_name, log_expression(ev.select("person_key", "event_id", "ts", "touchpoint", "stage"),
                                              people, journey, stages), overwrite=True, temp=temp)
    con.create_table(meta_name, ibis.memtable({"fingerprint": [fp], "stages": [json.dumps(stages)],
                                               "null_stages": [null_stages], "designed_stages": [designed_stages],
                                               "max_events": [max_events]}),
                     overwrite=True, temp=temp)
    return JourneyLog(con.table(log_name), people, tuple(t.id for t in journey.touchpoints), tuple(stages),
                      null_stages, log_name, designed_stages, max_events)
