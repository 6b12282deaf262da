"""Synthetic generator throughput: people per second, raw records, peak memory.

Runs :func:`carejourney.synth.synthesize` (the same code path as ``carejourney synth``) into a
temporary folder and reports wall time, raw records written, an estimate of the events the
connectors will emit from them (Appointments give two events, CRM leads two), bytes written and
peak RSS of the parent and of the largest worker process.

    python bench/synth.py --people 1000000            # the target: < 5 minutes, bounded memory
    python bench/synth.py --people 200000 --workers 2 --keep /tmp/synth200k

Results are recorded in docs/benchmarks.md ("Synthetic generator").
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from carejourney.synth import synthesize  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: up to 4 CPUs)")
    ap.add_argument("--scenario", default=None)
    ap.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    args = ap.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="cj-synth-"))
    last = [time.perf_counter(), 0]
    t0 = time.perf_counter()

    def progress(done: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 15 or done == args.people:
            rate = (done - last[1]) / max(now - last[0], 1e-9)
            print(f"  {done:>10,} people  {now - t0:7.1f} s  ({rate:,.0f} people/s)", flush=True)
            last[:] = [now, done]

    try:
        s = synthesize(out, people=args.people, seed=args.seed, scenario=args.scenario, workers=args.workers,
                       progress=progress)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    events = s.raw_records + s.files.get("fhir/Appointment.ndjson", 0) + s.files.get("crm/leads.csv", 0)
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"people           {s.people:,}")
    print(f"workers          {args.workers or 'auto'} (cpus: {os.cpu_count()})")
    print(f"wall time        {wall:,.1f} s  ({s.people / wall:,.0f} people/s)")
    print(f"raw records      {s.raw_records:,}  ({s.raw_records / wall:,.0f} records/s)")
    print(f"connector events ~{events:,} (records + 1 per Appointment and per lead)")
    print(f"bytes written    {size / 1e9:,.2f} GB")
    print(f"peak RSS         parent {parent:,.0f} MB, largest worker {child:,.0f} MB")


if __name__ == "__main__":
    main()
