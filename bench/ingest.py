"""Benchmark: ingest of a canonical events Parquet file (default 10M rows, 1M people).

Reports rows/s, CPU-seconds of the ingest (all threads: steadier than wall time on a shared
machine), peak memory (RSS high-water mark of this process, which does the whole ingest), the
store's size, and the machine's load average (other processes competing for the cores skew timings). Baseline in the same run: a plain DuckDB ``CREATE TABLE AS SELECT * FROM
read_parquet`` of the same file (no de-identification, no mapping) — the floor for "just
loading it".

    python bench/ingest.py --rows 10000000
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

JOURNEY = """\
journey: bench
stages: [{id: awareness, owner: marketing}, {id: access, owner: patient_access}, {id: care, owner: clinical}]
touchpoints:
  - {id: site_visit, stage: awareness, channel: digital}
  - {id: appointment_booked, stage: access, channel: phone}
  - {id: visit_completed, stage: care, channel: in_person}
"""


def make_file(path: Path, rows: int, people: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    tps = np.array(["site_visit", "appointment_booked", "visit_completed"])
    writer = None
    chunk = 2_000_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        ts = np.datetime64("2025-01-01T00:00:00") + rng.integers(0, 365 * 86400, n).astype("timedelta64[s]")
        t = pa.table({
            "person_id": pa.array(np.char.add("P", rng.integers(0, people, n).astype(str))),
            "ts": pa.array(ts.astype("datetime64[us]")),
            "touchpoint": pa.array(tps[rng.integers(0, 3, n)]),
            "location": pa.array(np.array(["downtown", "northside", "eastgate"])[rng.integers(0, 3, n)]),
        })
        writer = writer or pq.ParquetWriter(path, t.schema)
        writer.write_table(t)
    writer.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--people", type=int, default=1_000_000)
    args = ap.parse_args()
    from carejourney.ingest import ingest_paths
    from carejourney.model.project import SourceSpec
    from carejourney.project import load_project
    from carejourney.store import open_store

    work = Path(tempfile.mkdtemp(prefix="cj-bench-ingest-"))
    try:
        (work / "journeys").mkdir()
        (work / "journeys" / "bench.yml").write_text(JOURNEY)
        (work / "carejourney.yml").write_text("name: bench\n")
        key = work / ".carejourney" / "key"
        key.parent.mkdir()
        key.write_text(secrets.token_hex(32))
        key.chmod(0o600)
        data = work / "events.parquet"
        make_file(data, args.rows, args.people)
        size_mb = data.stat().st_size / 1e6

        t0 = time.perf_counter()
        con = duckdb.connect(str(work / "baseline.duckdb"))
        con.execute(f"CREATE TABLE e AS SELECT * FROM read_parquet('{data}')")
        con.close()
        baseline = time.perf_counter() - t0

        load_before = os.getloadavg()
        project = load_project(work)
        store = open_store(project)
        t0, c0 = time.perf_counter(), time.process_time()
        receipts = ingest_paths(project, store, SourceSpec(name="events", kind="events", path=str(data)), [data])
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        store.close()
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        r = receipts[0]
        assert r.rows_read == r.rows_loaded + r.rows_rejected == args.rows
        store_mb = (work / "target" / "carejourney.duckdb").stat().st_size / 1e6
        print("| rows | file MB | carejourney ingest s | rows/s | CPU-s (all threads) | DuckDB plain load s (baseline) "
              "| peak RSS GB | store MB |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {args.rows:,} | {size_mb:,.0f} | {elapsed:.1f} | {args.rows / elapsed:,.0f} | {cpu:.1f} | {baseline:.1f} "
              f"| {peak_gb:.2f} | {store_mb:,.0f} |")
        print(f"load average (1 min) before / after the ingest: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
