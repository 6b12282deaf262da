"""Benchmark: the friction finder (drivers + targets + re-contact → merged, ranked findings) on ~10M events.

Usage: python bench/findings.py [--events 10_000_000] [--threads 2]

Generates a synthetic event log inside DuckDB (hash-based pseudo-random, no Python loop), with
two planted frictions (Spanish speakers book less after a referral; location L2 takes three
times as long to book), then times :func:`carejourney.findings.collect` end to end (building
the expressions, executing them on DuckDB, the statistics, the overlap query for merging).
Results go to docs/benchmarks.md under "Findings" (by hand).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import ibis

from carejourney.enum_columns import retype

JOURNEY = """\
journey: care
kind: specialty
stages:
  - {id: awareness, owner: marketing}
  - {id: access, owner: patient_access, target: {conversion: 0.8}}
  - {id: pre_visit, owner: operations}
  - {id: care, owner: clinical}
  - {id: post_visit, owner: billing}
touchpoints:
  - {id: site_visit, stage: awareness, channel: digital, repeatable: true, key_step: true}
  - {id: referral_received, stage: access, channel: referral, key_step: true}
  - {id: appointment_booked, stage: access, channel: phone, key_step: true}
  - {id: reminder_sent, stage: pre_visit, channel: digital, optional: true}
  - {id: intake_completed, stage: pre_visit, channel: digital, optional: true}
  - {id: visit_completed, stage: care, channel: in_person, key_step: true}
  - {id: bill_sent, stage: post_visit, channel: mail}
delays:
  - {id: referral_to_booking, from: referral_received, to: appointment_booked, target: {median: 5d}}
"""

U = "(hash(i::VARCHAR || '-{salt}') % 1000000) / 1000000.0"
#: int64 event ids: slots 0-8 for site visits (k), then one per kind of event
_SLOTS = {"r": 20, "b": 21, "m": 22, "v": 23, "x": 24}


def build(con, people: int, text_schema: bool = False) -> None:
    """The event log and persons. By default in the store's physical schema (63-bit integer person
    keys and event ids, ENUM columns: ARCHITECTURE.md); ``text_schema``: text keys, ids and columns
    (the schema before session 4), for an A/B."""
    raw = con.con
    raw.execute(f"SET threads = {os.environ.get('BENCH_THREADS', 2)}")
    u = lambda s: U.format(salt=s)  # noqa: E731
    raw.execute(f"""
        CREATE OR REPLACE TABLE p AS SELECT i, {"'p' || lpad(i::VARCHAR, 9, '0')" if text_schema else
                                                "(hash(i) >> 1)::BIGINT"} AS person_key,
          ['0-17','18-34','35-49','50-64','65-74','75-89'][1 + (hash(i::VARCHAR || '-1') % 6)::INT] AS age_band,
          CASE WHEN {u(2)} < 0.15 THEN 'es' WHEN {u(2)} < 0.2 THEN 'zh' ELSE 'en' END AS language,
          ['commercial','medicare','medicaid','self-pay'][1 + (hash(i::VARCHAR || '-3') % 4)::INT] AS payer_type,
          ['100','101','104','112','113'][1 + (hash(i::VARCHAR || '-4') % 5)::INT] AS zip3,
          ['L1','L2','L3','L4'][1 + (hash(i::VARCHAR || '-5') % 4)::INT] AS loc,
          ['mobile','desktop'][1 + (hash(i::VARCHAR || '-6') % 2)::INT] AS device,
          TIMESTAMP '2025-01-01' + to_microseconds(({u(7)} * 330 * 86400e6)::BIGINT) AS t0,
          {u(8)} AS u_book, {u(9)} AS u_visit, {u(10)} AS u_rem, ({u(11)} * 8) AS visits,
          -ln(1 - {u(12)} * 0.999) * 2 AS wait_days
        FROM range({people}) t(i)""")
    raw.execute("""
        CREATE OR REPLACE TABLE p2 AS SELECT *,
          u_book < CASE WHEN language = 'es' THEN 0.5 ELSE 0.75 END AS booked,
          t0 + INTERVAL 1 DAY + to_microseconds((wait_days * (CASE WHEN loc = 'L2' THEN 3 ELSE 1 END) * 86400e6)::BIGINT) AS t_book
        FROM p""")
    cols = ("event_id, person_key, ts, 'test' AS source, NULL::VARCHAR AS source_event, NULL::VARCHAR AS detail, "
            "touchpoint, stage, channel, owner, NULL::VARCHAR AS service_line, location::VARCHAR AS location, "
            "device::VARCHAR AS device, status::VARCHAR AS status, NULL::DOUBLE AS value, "
            f"NULL::{'VARCHAR' if text_schema else 'BIGINT'} AS episode_id, NULL::VARCHAR AS attrs, 'bench' AS file_id")
    # event ids: text as before, or int64 (person number * 32 + a slot per kind of event)
    eid = (lambda slot: f"person_key || '-{slot}'") if text_schema else (lambda slot: f"i * 32 + {_SLOTS[slot]}")
    raw.execute(f"""
        CREATE OR REPLACE TABLE events AS SELECT {cols} FROM (
          SELECT {"person_key || '-s' || k" if text_schema else "i * 32 + k"} AS event_id, person_key, t0 - to_microseconds((k * 3600e6)::BIGINT) AS ts,
                 'site_visit' AS touchpoint, 'awareness' AS stage, 'digital' AS channel, 'marketing' AS owner,
                 NULL AS location, device, NULL AS status
          FROM p2, range(1 + visits::INT) r(k)
          UNION ALL SELECT {eid('r')}, person_key, t0, 'referral_received', 'access', 'referral',
                 'patient_access', loc, NULL, NULL FROM p2
          UNION ALL SELECT {eid('b')}, person_key, t_book, 'appointment_booked', 'access', 'phone',
                 'patient_access', loc, NULL, 'booked' FROM p2 WHERE booked
          UNION ALL SELECT {eid('m')}, person_key, t_book + INTERVAL 2 DAY, 'reminder_sent', 'pre_visit',
                 'digital', 'operations', NULL, NULL, NULL FROM p2 WHERE booked AND u_rem < 0.7
          UNION ALL SELECT {eid('v')}, person_key, t_book + INTERVAL 12 DAY, 'visit_completed', 'care',
                 'in_person', 'clinical', loc, NULL, 'completed' FROM p2 WHERE booked AND u_visit < 0.8
          UNION ALL SELECT {eid('x')}, person_key, t_book + INTERVAL 20 DAY, 'bill_sent', 'post_visit',
                 'mail', 'billing', NULL, NULL, NULL FROM p2 WHERE booked AND u_visit < 0.8)""")
    if not text_schema:  # the low-cardinality columns as the store types them
        retype(raw, "events")
    raw.execute("""
        CREATE OR REPLACE TABLE persons AS SELECT p.person_key, age_band, NULL::VARCHAR AS sex, language, payer_type, zip3,
          language <> 'en' AND (hash(i::VARCHAR || '-20') % 3) = 0 AS needs_interpreter, (hash(i::VARCHAR || '-21') % 10) = 0 AS needs_transport,
          FALSE AS needs_disability_access, (hash(i::VARCHAR || '-22') % 10) = 0 AS low_digital_literacy,
          s.first_seen, s.last_seen
        FROM p JOIN (SELECT person_key, min(ts) AS first_seen, max(ts) AS last_seen FROM events GROUP BY 1) s
          USING (person_key)""")
    raw.execute("DROP TABLE p; DROP TABLE p2")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--text-schema", action="store_true",
                    help="text person keys, event ids and columns (the store's schema before session 4), for an A/B")
    args = ap.parse_args()
    os.environ["BENCH_THREADS"] = str(args.threads)
    from carejourney.analyses.context import AnalysisContext
    from carejourney.findings import collect
    from carejourney.project import load_project
    root = Path(tempfile.mkdtemp(prefix="cj_bench_findings_"))
    (root / "journeys").mkdir()
    (root / "journeys" / "care.yml").write_text(JOURNEY)
    (root / "carejourney.yml").write_text("name: bench\ntimezone: America/New_York\n")
    key = root / ".carejourney" / "key"
    key.parent.mkdir()
    key.write_text(secrets.token_hex(32))
    project = load_project(root)
    con = ibis.duckdb.connect(str(root / "bench.duckdb"))
    people = int(args.events / 8.2)
    t = time.perf_counter()
    build(con, people, text_schema=args.text_schema)
    n_events = con.table("events").count().execute()
    print(f"generated {n_events:,} events for {people:,} people in {time.perf_counter() - t:.1f} s", flush=True)
    ctx = AnalysisContext(events=con.table("events"), persons=con.table("persons"), project=project, con=con)
    t = time.perf_counter()
    df = collect(ctx)
    elapsed = time.perf_counter() - t
    print(f"findings: {len(df)} in {elapsed:.1f} s on {args.threads} threads ({n_events / elapsed / 1e6:.2f} M events/s)")
    for r in df.head(8).itertuples():
        print(f"  {r.rank}. [{r.kind}] {r.title} (owner {r.owner}; also: {r.also or '-'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
