"""FHIR Bulk Data NDJSON ingest throughput (the fast path: orjson, no model validation).

Generates a Bulk export (one resource type per file) by replicating and perturbing resources —
from the Synthea bundles when they are there (CAREJOURNEY_SYNTHEA_DIR), else from built-in
templates — then ingests it through the real pipeline (sources/*.yml → carejourney.ingest →
DuckDB store) and reports MB/s and peak memory (max RSS of this process).

    python bench/fhir.py --mb 300            # ~300 MB of NDJSON
    python bench/fhir.py --mb 50 --keep /tmp/bulk

Target: >= 50 MB/s on 2 cores. Results are recorded in docs/benchmarks.md ("FHIR ingest").
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import resource
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA = Path(os.environ.get("CAREJOURNEY_SYNTHEA_DIR", ROOT.parent / "shared" / "data" / "synthea"))
TYPES = ("Patient", "Encounter", "Claim", "ExplanationOfBenefit", "DiagnosticReport", "Observation")
#: share of the bytes per file (roughly what a clinical Bulk export looks like)
SHARE = {"Patient": 0.02, "Encounter": 0.18, "Claim": 0.25, "ExplanationOfBenefit": 0.35,
         "DiagnosticReport": 0.08, "Observation": 0.12}
JOURNEY = """\
journey: care
stages: [{id: access, owner: patient_access}, {id: care, owner: clinical}, {id: post_visit, owner: billing}]
touchpoints:
  - {id: visit, stage: care, channel: in_person, match: {source_event: Encounter}}
  - {id: result, stage: care, channel: digital, match: {source_event: DiagnosticReport}}
  - {id: bill, stage: post_visit, channel: mail, match: {source_event: [Claim, ExplanationOfBenefit]}}
"""


def templates() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {t: [] for t in TYPES}
    for path in sorted(SYNTHEA.glob("*.json"))[:5] if SYNTHEA.is_dir() else []:
        for e in orjson.loads(path.read_bytes())["entry"]:
            r = e["resource"]
            if r["resourceType"] in out and len(out[r["resourceType"]]) < 200:
                out[r["resourceType"]].append(r)
    if not all(out.values()):
        sys.exit(f"need the Synthea bundles in {SYNTHEA} to build templates (set CAREJOURNEY_SYNTHEA_DIR)")
    return out


def _rewrite_refs(obj, pid: str):
    """Point every urn:uuid reference at the bench patient (Bulk files use Type/id references)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "reference" and isinstance(v, str) and v.startswith("urn:uuid:"):
                obj[k] = f"Patient/{pid}"
            else:
                _rewrite_refs(v, pid)
    elif isinstance(obj, list):
        for v in obj:
            _rewrite_refs(v, pid)


def generate(folder: Path, mb: float, patients: int = 50_000, seed: int = 1) -> int:
    rng = random.Random(seed)
    tpl = templates()
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for rtype in TYPES:
        target = int(mb * 1e6 * SHARE[rtype])
        written, n = 0, 0
        with open(folder / f"{rtype}.ndjson", "wb") as fh:
            while written < target:
                r = copy.deepcopy(rng.choice(tpl[rtype]))
                pid = f"p{rng.randrange(patients):07d}"
                r["id"] = pid if rtype == "Patient" else f"{rtype[:3].lower()}{n:09d}"
                _rewrite_refs(r, pid)
                line = orjson.dumps(r) + b"\n"
                fh.write(line)
                written += len(line)
                n += 1
        total += written
    return total


def run(folder: Path, work: Path) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    from carejourney.ingest import ingest_sources
    from carejourney.project import load_project
    root = work / "proj"
    for rel, text in {"carejourney.yml": "name: bench_fhir\ntimezone: UTC\n", "journeys/care.yml": JOURNEY,
                      "sources/ehr.yml": f"sources:\n  - {{name: ehr, kind: fhir, path: '{folder}/*.ndjson'}}\n",
                      ".carejourney/key": secrets.token_hex(32)}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / ".carejourney/key").chmod(0o600)
    size = sum(p.stat().st_size for p in folder.glob("*.ndjson"))
    project = load_project(root)
    t0 = time.perf_counter()
    receipts = ingest_sources(project)
    secs = time.perf_counter() - t0
    return {"mb": size / 1e6, "seconds": secs, "mb_per_s": size / 1e6 / secs,
            "resources": sum(r.rows_read for r in receipts), "events": sum(r.events for r in receipts),
            "rejected": sum(r.rows_rejected for r in receipts),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def connector_only(folder: Path) -> dict:
    """The connector alone (parse + extract to Arrow), without pseudonymising, mapping and writing."""
    from carejourney.connectors.base import ReadContext, get_connector
    from carejourney.model.project import SourceSpec
    spec = SourceSpec(name="ehr", kind="fhir", path="*.ndjson")
    conn = get_connector("fhir")
    t0 = time.perf_counter()
    n = 0
    for p in sorted(folder.glob("*.ndjson")):
        n += conn.read(p, ReadContext("UTC", spec, folder)).rows_read
    secs = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in folder.glob("*.ndjson"))
    return {"seconds": secs, "mb_per_s": size / 1e6 / secs, "resources": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=300, help="size of the generated export in MB")
    ap.add_argument("--keep", type=Path, help="write the export here and keep it")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cj-bench-fhir-"))
    folder = args.keep or work / "bulk"
    try:
        t0 = time.perf_counter()
        size = generate(folder, args.mb)
        print(f"generated {size / 1e6:,.0f} MB of NDJSON in {time.perf_counter() - t0:,.1f} s -> {folder}")
        res = run(folder, work)
        print(f"pipeline : {res['mb']:,.0f} MB, {res['resources']:,} resources -> {res['events']:,} events, "
              f"{res['rejected']} rejected in {res['seconds']:,.1f} s = {res['mb_per_s']:,.1f} MB/s; "
              f"peak RSS {res['peak_rss_mb']:,.0f} MB")
        c = connector_only(folder)
        print(f"connector: {c['resources']:,} resources in {c['seconds']:,.1f} s = {c['mb_per_s']:,.1f} MB/s")
        print(f"cores: {os.cpu_count()}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
