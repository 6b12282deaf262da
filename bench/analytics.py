"""Benchmark: every journey analysis on a large event log, and PM4Py on the same data.

Generates a journey-shaped log with numpy (default 10M events, 1M people: a Markov chain
over a 14-touchpoint journey with loops, skips and realistic gaps), writes it to Parquet,
loads it into DuckDB and times each analysis through ``analyses.base.run`` (build, execute,
suppress). In the same run, PM4Py's ``discover_dfg``, ``get_variants`` and
``discover_performance_dfg`` run on the same data as a pandas DataFrame — on a 1M-event
subset, and on the full log when ``--pm4py-full`` is given and it fits in memory. Each PM4Py
size runs in its own child process (as does the generator) so peak memory (RSS high-water
mark) is reported per side: carejourney's figure covers loading the Parquet file into DuckDB
and running every analysis.
Edge counts and variant counts are checked to be equal to PM4Py's on the subset.

    python bench/analytics.py --events 10000000 [--pm4py-full]
    python bench/analytics.py --events 200000          # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

JOURNEY = """\
journey: bench
kind: specialty
stages:
  - {id: awareness, owner: marketing}
  - {id: consideration, owner: marketing}
  - {id: access, owner: patient_access}
  - {id: pre_visit, owner: operations}
  - {id: care, owner: clinical}
  - {id: post_visit, owner: billing}
  - {id: loyalty, owner: operations}
touchpoints:
  - {id: site_visit, stage: awareness, channel: digital, repeatable: true}
  - {id: form_submit, stage: consideration, channel: digital, optional: true}
  - {id: lead_contacted, stage: consideration, channel: phone, optional: true}
  - {id: call_inbound, stage: access, channel: phone, optional: true, repeatable: true}
  - {id: referral_received, stage: access, channel: referral, key_step: true}
  - {id: appointment_booked, stage: access, channel: phone, key_step: true}
  - {id: appointment_cancelled, stage: access, channel: phone, optional: true}
  - {id: reminder_sent, stage: pre_visit, channel: digital, optional: true, repeatable: true}
  - {id: intake_completed, stage: pre_visit, channel: digital, optional: true}
  - {id: visit_completed, stage: care, channel: in_person, key_step: true}
  - {id: results_released, stage: care, channel: digital, optional: true}
  - {id: bill_sent, stage: post_visit, channel: mail}
  - {id: payment_received, stage: post_visit, channel: mail, optional: true}
  - {id: survey_completed, stage: loyalty, channel: digital, optional: true}
delays:
  - {id: speed_to_lead, from: form_submit, to: lead_contacted, target: {sla: {within: 1d, share: 0.9}}}
  - {id: referral_to_booking, from: referral_received, to: appointment_booked, target: {sla: {within: 3d, share: 0.8}}}
  - {id: lead_time, from: appointment_booked, to: visit_completed, target: {median: 14d}}
  - {id: visit_to_results, from: visit_completed, to: results_released}
  - {id: visit_to_bill, from: visit_completed, to: bill_sent}
  - {id: bill_to_payment, from: bill_sent, to: payment_received, target: {sla: {within: 30d, share: 0.7}}}
segments:
  - {id: senior, where: {age_band: {in: ["65-74", "75-89", "90+"]}}}
  - {id: adult, where: {age_band: {not_in: ["0-17", "65-74", "75-89", "90+"]}}}
"""

TPS = ["site_visit", "form_submit", "lead_contacted", "call_inbound", "referral_received", "appointment_booked",
       "appointment_cancelled", "reminder_sent", "intake_completed", "visit_completed", "results_released",
       "bill_sent", "payment_received", "survey_completed"]
STAGE = ["awareness", "consideration", "consideration", "access", "access", "access", "access", "pre_visit",
         "pre_visit", "care", "care", "post_visit", "post_visit", "loyalty"]
# mean hours before each touchpoint (exponential gaps)
GAP_H = [2, 1, 6, 24, 48, 72, 96, 120, 48, 96, 48, 240, 480, 168]
# transitions: mostly forward, with loops (site visits, calls, re-booking) and skips
NEXT = {
    0: {0: .45, 1: .2, 3: .2, 4: .1, 5: .05}, 1: {2: .7, 0: .2, 5: .1}, 2: {5: .6, 3: .25, 0: .15},
    3: {5: .5, 3: .25, 4: .15, 0: .1}, 4: {5: .7, 3: .2, 0: .1}, 5: {7: .55, 8: .15, 9: .15, 6: .1, 3: .05},
    6: {5: .6, 3: .25, 0: .15}, 7: {8: .4, 9: .45, 7: .1, 6: .05}, 8: {9: .85, 7: .15},
    9: {11: .5, 10: .35, 13: .1, 0: .05}, 10: {11: .8, 13: .1, 0: .1}, 11: {12: .65, 13: .15, 0: .2},
    12: {13: .5, 0: .5}, 13: {0: 1.0},
}
START = {0: .55, 1: .1, 3: .15, 4: .2}
AGE_BANDS = np.array(["0-17", "18-34", "35-49", "50-64", "65-74", "75-89"])


def generate(path: Path, events: int, seed: int = 7) -> tuple[int, int]:
    """Write a journey-shaped canonical events Parquet file; returns (events, people)."""
    rng = np.random.default_rng(seed)
    people = max(events // 10, 1)
    n = len(TPS)
    trans = np.zeros((n, n))
    for a, row in NEXT.items():
        for b, p in row.items():
            trans[a, b] = p
    cum = np.cumsum(trans / trans.sum(1, keepdims=True), axis=1)
    lengths = 1 + rng.poisson(9, people)
    lengths = np.maximum(1, np.round(lengths * events / lengths.sum())).astype(int)
    start_p = np.zeros(n)
    start_p[list(START)] = list(START.values())
    state = rng.choice(n, size=people, p=start_p)
    t = (np.datetime64("2025-01-01T00:00:00", "us").astype(np.int64)
         + rng.integers(0, 365 * 86400 * 10**6, people))
    pid, tp, ts = [], [], []
    for step in range(int(lengths.max())):
        alive = np.nonzero(lengths > step)[0]
        if step:
            u = rng.random(alive.size)
            state[alive] = (cum[state[alive]] < u[:, None]).sum(1).clip(0, n - 1)
            gap = rng.exponential(np.array(GAP_H)[state[alive]] * 3600e6)
            t[alive] += gap.astype(np.int64) + 1
        pid.append(alive.astype(np.int32))
        tp.append(state[alive].astype(np.int8))
        ts.append(t[alive].copy())
    pid, tp, ts = np.concatenate(pid), np.concatenate(tp), np.concatenate(ts)
    total = pid.size
    keys = pc.binary_join_element_wise("p", pc.cast(pa.array(np.arange(people)), pa.string()), "")
    tp_arr = pa.array(np.array(TPS)[tp])
    is_call = tp == TPS.index("call_inbound")
    status = np.where(is_call, np.where(rng.random(total) < 0.15, "abandoned", "answered"), None)
    value = np.where(is_call, rng.exponential(90, total), np.nan)
    table = pa.table({
        "person_key": pc.take(keys, pa.array(pid)),
        "event_id": pc.binary_join_element_wise("e", pc.cast(pa.array(np.arange(total)), pa.string()), ""),
        "ts": pa.array(ts.astype("datetime64[us]")),
        "source": pa.array(np.full(total, "bench")),
        "source_event": pa.array(np.where(is_call, "call_inbound", None)),
        "touchpoint": tp_arr, "stage": pa.array(np.array(STAGE)[tp]),
        "channel": pa.nulls(total, pa.string()), "service_line": pa.nulls(total, pa.string()),
        "status": pa.array(status), "value": pa.array(value, from_pandas=True),
        "episode_id": pa.nulls(total, pa.string()),
    })
    pq.write_table(table, path, row_group_size=1_000_000)
    persons = pa.table({"person_key": keys, "age_band": pa.array(AGE_BANDS[rng.integers(0, len(AGE_BANDS), people)])})
    pq.write_table(persons, path.with_name("persons.parquet"))
    return total, people


def run_generate(path: Path, events: int) -> tuple[int, int]:
    proc = subprocess.run([sys.executable, __file__, "--generate", str(path), "--events", str(events)],
                          capture_output=True, text=True, check=True)
    total, people = proc.stdout.split()[-2:]
    return int(total), int(people)


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- PM4Py side (child process) --------------------------------------------------------------
def pm4py_worker(path: str, people: int) -> None:
    """Run PM4Py on the first ``people`` people of the log; print timings as JSON."""
    import pandas as pd
    import pm4py
    limit = int(os.environ.get("CJ_BENCH_PM4PY_MAX_GB", "10")) * 2**30  # fail cleanly rather than swap
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    t = pq.read_table(path, columns=["person_key", "touchpoint", "ts", "event_id"])
    df = t.to_pandas()
    df["n"] = df.person_key.str[1:].astype("int64")
    df = df[df.n < people].drop(columns="n")
    df = df.rename(columns={"person_key": "case:concept:name", "touchpoint": "concept:name", "ts": "time:timestamp"})
    df["time:timestamp"] = pd.to_datetime(df["time:timestamp"]).dt.tz_localize("UTC")
    df = df.sort_values(["case:concept:name", "time:timestamp", "event_id"], kind="stable").reset_index(drop=True)
    out = {"events": len(df)}
    t0 = time.perf_counter()
    dfg, _, _ = pm4py.discover_dfg(df)
    out["discover_dfg"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    variants = pm4py.get_variants(df)
    out["get_variants"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pm4py.discover_performance_dfg(df)
    out["discover_performance_dfg"] = time.perf_counter() - t0
    out["edges"] = {f"{a}>{b}": int(c) for (a, b), c in dfg.items()}
    out["variants"] = len(variants)
    top = sorted(((" > ".join(v), int(c if isinstance(c, int) else len(c))) for v, c in variants.items()),
                 key=lambda x: (-x[1], x[0]))[:10]
    out["top_variants"] = dict(top)
    out["peak_rss_mb"] = maxrss_mb()
    print("PM4PY_RESULT " + json.dumps(out))


def run_pm4py(path: Path, people: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--pm4py-worker", str(path), "--pm4py-people", str(people)],
                          capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PM4PY_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:] or ['']}"}
    return json.loads(line.removeprefix("PM4PY_RESULT "))


# -- carejourney side --------------------------------------------------------------------------
def context(root: Path, parquet: Path, people: int | None = None, memory_limit: str = "3GB", log: bool = True,
            text_schema: bool = False):
    import ibis
    from carejourney.enum_columns import retype
    from carejourney.analyses.context import AnalysisContext
    from carejourney.model.events import PERSON_ATTRIBUTES, SCHEMAS
    from carejourney.project import load_project
    (root / "journeys").mkdir(parents=True, exist_ok=True)
    (root / "carejourney.yml").write_text("name: bench\ntimezone: UTC\n")
    (root / "journeys" / "bench.yml").write_text(JOURNEY)
    project = load_project(root)
    con = ibis.duckdb.connect(threads=2, memory_limit=memory_limit)  # DuckDB spills to disk beyond it
    where = f"WHERE CAST(substr(person_key, 2) AS BIGINT) < {people}" if people else ""
    cols = {k: v for k, v in SCHEMAS["events"].items() if k != "subject_key"}
    sel = ", ".join(f"CAST(NULL AS {'VARCHAR' if str(t) == 'string' else 'DOUBLE'}) AS {c}"
                    if c not in pq.read_schema(parquet).names else c for c, t in cols.items())
    # the store's physical schema: person keys as 63-bit integers (the HMACs' form), the
    # low-cardinality columns as ENUMs (carejourney.enum_columns); --text-schema: both as text
    key = "person_key" if text_schema else "(hash(person_key) >> 1)::BIGINT AS person_key"
    con.raw_sql(f"CREATE TABLE events AS SELECT {key}, {sel} FROM read_parquet('{parquet}') {where}")
    if not text_schema:
        retype(con.con, "events")
    extra = ", ".join(f"NULL AS {a}" for a in PERSON_ATTRIBUTES if a != "age_band")
    pk = "p.person_key" if text_schema else "(hash(p.person_key) >> 1)::BIGINT"
    con.raw_sql(f"CREATE TABLE persons AS SELECT {pk} AS person_key, age_band, {extra}, first_seen, last_seen "
                f"FROM read_parquet('{parquet.with_name('persons.parquet')}') p JOIN (SELECT person_key, "
                f"min(ts) first_seen, max(ts) last_seen FROM events GROUP BY 1) e ON e.person_key = {pk}")
    # a data version lets the context keep a stored journey log (as a project store does)
    return AnalysisContext(events=con.table("events"), persons=con.table("persons"), project=project, con=con,
                           data_version=(lambda: f"bench-{people}") if log else None)


def time_log(ctx) -> list[tuple[str, float | None, str]]:
    """Building the journey log: ordering every person's events once (shared by the analyses)."""
    if ctx.data_version is None:
        return []
    t0 = time.perf_counter()
    log = ctx.journey_log(None)
    n = ctx.con.table(log.name).count().execute()
    out = [(LOG_STEP, time.perf_counter() - t0, f"{n:,} rows, built once per data version")]
    print(f"  {LOG_STEP:<34} {out[-1][1]:7.2f} s  ({out[-1][2]})", flush=True)
    return out


LOG_STEP = "journey log (order events once)"


SPECS = [  # part of the funnel / retention set last: a slow one must not hide the others
    ("timing", {"kind": "timing", "from": "referral_received", "to": "appointment_booked", "by": "segment"}),
    ("delays", {"kind": "delays"}),
    ("paths (variants)", {"kind": "paths", "collapse_repeats": False}),
    ("process_map (DFG + performance)", {"kind": "process_map"}),
    ("after_dropout", {"kind": "after_dropout"}),
    ("conformance", {"kind": "conformance"}),
    ("funnel", {"kind": "funnel"}),
    ("retention", {"kind": "retention"}),
]


def time_analyses(ctx, specs, budget: float = 600) -> list[tuple[str, float | None, str]]:
    """Time each analysis through ``run``; one running longer than ``budget`` s is interrupted."""
    import threading
    from carejourney.analyses.base import parse_spec, run
    from carejourney.errors import CarejourneyError
    out = []
    for name, spec in specs:
        try:
            parsed = parse_spec(spec)
        except CarejourneyError as exc:
            out.append((name, None, f"not available: {exc}"))
            continue
        t0 = time.perf_counter()
        watchdog = threading.Timer(budget, ctx.con.con.interrupt)
        watchdog.start()
        try:
            res = run(parsed, ctx)
        except Exception as exc:  # a part not finished yet must not hide the other numbers
            why = f"interrupted after {budget:.0f} s" if time.perf_counter() - t0 >= budget else \
                f"failed: {type(exc).__name__}: {str(exc)[:120]}"
            out.append((name, None, why))
            print(f"  {name:<34} {why}", flush=True)
            continue
        finally:
            watchdog.cancel()
        out.append((name, time.perf_counter() - t0, f"{len(res.rows)} rows"))
        print(f"  {name:<34} {out[-1][1]:7.2f} s  ({out[-1][2]})", flush=True)
    return out


def parity(ctx, pm: dict) -> str:
    """Edge counts, number of variants and the top variants' counts, ours vs PM4Py's (unsuppressed)."""
    from carejourney.analyses.base import execute, parse_spec
    from carejourney.analyses.paths import sequence, variants
    df, _, _ = execute(parse_spec({"kind": "process_map"}), ctx)
    e = df[df.element == "edge"]
    ours = {f"{r.source}>{r.target}": int(r.events) for r in e.itertuples()}
    v = variants(sequence(ctx, ctx.journey(None), None))
    counts = ctx.to_pandas(v.group_by("variant").aggregate(n=v.count()))
    top = dict(counts.sort_values(["n", "variant"], ascending=[False, True]).head(10).itertuples(index=False))
    return (f"DFG edge counts equal to PM4Py's: {ours == pm.get('edges')}; variants: {len(counts):,} (ours) vs "
            f"{pm.get('variants'):,} (PM4Py); top-10 variant counts equal: {top == pm.get('top_variants')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--pm4py-subset", type=int, default=1_000_000, help="events for the equal-size PM4Py run")
    ap.add_argument("--pm4py-full", action="store_true", help="also run PM4Py on the full log")
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit (it spills to disk beyond)")
    ap.add_argument("--budget", type=float, default=600, help="seconds before one analysis is interrupted")
    ap.add_argument("--text-schema", action="store_true",
                    help="text person keys and VARCHAR columns (the store's schema before session 4), for an A/B")
    ap.add_argument("--no-journey-log", action="store_true",
                    help="order events in every query (no stored journey log), as before the log existed")
    ap.add_argument("--pm4py-worker", help=argparse.SUPPRESS)
    ap.add_argument("--generate", help=argparse.SUPPRESS)
    ap.add_argument("--pm4py-people", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        print(*generate(Path(args.generate), args.events))
        return
    if args.pm4py_worker:
        pm4py_worker(args.pm4py_worker, args.pm4py_people)
        return
    with tempfile.TemporaryDirectory(prefix="cj-bench-") as tmp:
        tmp = Path(tmp)
        parquet = tmp / "events.parquet"
        t0 = time.perf_counter()
        total, people = run_generate(parquet, args.events)  # in a child: its arrays must not count as our peak
        print(f"generated {total:,} events / {people:,} people in {time.perf_counter() - t0:.1f} s", flush=True)
        sub_people = max(1, people * args.pm4py_subset // max(total, 1))
        print("PM4Py on the subset…", flush=True)
        pm_sub = run_pm4py(parquet, sub_people)
        print(f"  {pm_sub}"[:300], flush=True)
        pm_full = run_pm4py(parquet, people) if args.pm4py_full else {"error": "not run (pass --pm4py-full)"}
        print(f"  full: {pm_full}"[:300], flush=True)
        ctx_sub = context(tmp / "proj_sub", parquet, sub_people, args.memory_limit)
        print(f"carejourney on the subset ({pm_sub.get('events', '?')} events):", flush=True)
        sub = time_log(ctx_sub) + time_analyses(ctx_sub, [s for s in SPECS if s[1]["kind"] in ("paths", "process_map")])
        check = parity(ctx_sub, pm_sub) if "edges" in pm_sub else "PM4Py failed"
        print("  " + check, flush=True)
        ctx_sub.con.disconnect()
        t0 = time.perf_counter()
        ctx = context(tmp / "proj", parquet, memory_limit=args.memory_limit, log=not args.no_journey_log,
                      text_schema=args.text_schema)
        load = time.perf_counter() - t0
        print(f"carejourney on the full log (loaded into DuckDB in {load:.1f} s):", flush=True)
        full = time_log(ctx) + time_analyses(ctx, SPECS, args.budget)
        report(total, people, full, sub, pm_sub, pm_full, check, maxrss_mb())


def report(total, people, full, sub, pm_sub, pm_full, check, rss) -> None:
    done = [t for _, t, _ in full if t is not None]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n### Analytics — {total:,} events, {people:,} people, DuckDB, {os.cpu_count()} cores "
          f"(load average at the end: {load})\n")
    print("| analysis | seconds | note |\n|---|---:|---|")
    for name, t, note in full:
        print(f"| {name} | {'' if t is None else f'{t:.2f}'} | {note} |")
    print(f"| **all analyses that ran, journey log included** | **{sum(done):.2f}** | peak RSS {rss:,.0f} MB "
          f"(whole process) |\n")

    def dfg_time(rows):
        return sum(t for name, t, _ in rows if t is not None and name.startswith(("paths", "process_map")))

    def log_time(rows):
        return sum(t for name, t, _ in rows if t is not None and name == LOG_STEP)

    print("| DFG + variants + performance DFG | events | carejourney s (log built) | + building the log | PM4Py s | "
          "ratio (log built) | ratio (log included) | PM4Py peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, rows, pm in (("subset", sub, pm_sub), ("full", full, pm_full)):
        ours, build = dfg_time(rows), log_time(rows)
        if "error" in pm:
            print(f"| {label} | {total if label == 'full' else ''} | {ours:.2f} | {build:.2f} | — | — | — | {pm['error']} |")
            continue
        pm_t = pm["discover_dfg"] + pm["get_variants"] + pm["discover_performance_dfg"]
        print(f"| {label} | {pm['events']:,} | {ours:.2f} | {build:.2f} | {pm_t:.2f} (dfg {pm['discover_dfg']:.2f}, "
              f"variants {pm['get_variants']:.2f}, perf {pm['discover_performance_dfg']:.2f}) | {pm_t / ours:.1f}× | "
              f"{pm_t / (ours + build):.1f}× | {pm['peak_rss_mb']:,.0f} |")
    print(f"\n{check}")


if __name__ == "__main__":
    main()
