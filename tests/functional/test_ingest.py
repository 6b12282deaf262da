"""Ingest through the real CLI: receipts, idempotence, atomicity, de-identification."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from carejourney.cli import main
from tests.conftest import MINI_JOURNEY


def _cli(project: Path, *args: str, capsys=None) -> tuple[int, str]:
    code = main(["--project", str(project), *args])
    out = capsys.readouterr() if capsys else None
    return code, (out.out + out.err) if out else ""


def _events_csv(path: Path, n: int, bad: dict[int, str], seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    tps = np.array(["site_visit", "referral_received", "appointment_booked", "visit_completed"])
    df = pd.DataFrame({
        "person_id": [f"P{i % 5000:05d}" for i in range(n)],
        "ts": (pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 90, n), unit="s")).strftime("%Y-%m-%d %H:%M:%S"),
        "touchpoint": tps[rng.integers(0, 4, n)],
        "location": "downtown",
    })
    for row, kind in bad.items():
        if kind == "ts":
            df.loc[row, "ts"] = "31/31/2026"
        elif kind == "person":
            df.loc[row, "person_id"] = ""
        elif kind == "touchpoint":
            df.loc[row, "touchpoint"] = "visit_complete"
    df.to_csv(path, index=False)


def store_text(con) -> str:
    """Every text value of every table in a DuckDB store, joined (for identifier searches)."""
    parts = []
    for table, column in con.execute(
            "select table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR'").fetchall():
        parts += [str(v[0]) for v in con.execute(f'select distinct "{column}" from "{table}"').fetchall()]
    return "\n".join(parts)


def _db_count(project: Path, sql: str) -> int:
    con = duckdb.connect(str(project / "target" / "carejourney.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_receipt_accounts_for_every_row(make_project, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "sources/events.yml": "sources: [{name: events, kind: events, path: data/events.csv}]"})
    (root / "data").mkdir()
    rng = np.random.default_rng(3)
    bad_rows = sorted(rng.choice(100_000, 37, replace=False).tolist())
    kinds = ["ts", "person", "touchpoint"]
    _events_csv(root / "data" / "events.csv", 100_000, {r: kinds[i % 3] for i, r in enumerate(bad_rows)})
    code, _ = _cli(root, "ingest", "--format", "json", capsys=capsys)
    assert code == 0
    code, out = _cli(root, "status", "--format", "json", capsys=capsys)
    status = json.loads(out)
    f = status["files"][0]
    assert (f["read"], f["loaded"], f["rejected"]) == (100_000, 99_963, 37)
    assert _db_count(root, "select count(*) from events") == 99_963
    rejects = duckdb.connect(str(root / "target" / "carejourney.duckdb"), read_only=True).execute(
        "select row_num, field, reason from rejects order by row_num").fetchall()
    assert [r[0] for r in rejects] == [r + 1 for r in bad_rows]  # 1-based data rows
    fields = {r[1] for r in rejects}
    assert fields == {"ts", "person_id", "touchpoint"}
    assert any("did you mean 'visit_completed'" in r[2] for r in rejects)


def test_reingest_adds_nothing_and_changed_file_replaces(make_project, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "sources/events.yml": "sources: [{name: events, kind: events, path: data/*.csv}]"})
    (root / "data").mkdir()
    _events_csv(root / "data" / "a.csv", 2_000, {})
    assert _cli(root, "ingest", capsys=capsys)[0] == 0
    before = _db_count(root, "select count(*) from events")
    code, out = _cli(root, "ingest", "--format", "json", capsys=capsys)
    assert code == 0 and json.loads(out)[0]["status"] == "unchanged"
    assert _db_count(root, "select count(*) from events") == before == 2_000
    assert _db_count(root, "select count(*) from receipts") == 1
    _events_csv(root / "data" / "a.csv", 1_500, {}, seed=9)  # the export was re-run: replace, don't append
    assert _cli(root, "ingest", capsys=capsys)[0] == 0
    assert _db_count(root, "select count(*) from events") == 1_500


def test_direct_canonical_file_ingest_needs_no_source(make_project, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    f = root / "mine.csv"
    _events_csv(f, 300, {})
    code, out = _cli(root, "ingest", str(f), "--format", "json", capsys=capsys)
    assert code == 0 and json.loads(out)[0]["rows_loaded"] == 300


def test_killed_ingest_leaves_store_unchanged(make_project, tmp_path):
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "sources/events.yml": "sources: [{name: events, kind: events, path: data/*.csv}]"})
    (root / "data").mkdir()
    _events_csv(root / "data" / "a.csv", 1_000, {})
    assert main(["--project", str(root), "ingest"]) == 0
    before = _db_count(root, "select count(*) from events")
    _events_csv(root / "data" / "b.csv", 5_000, {}, seed=2)
    flag = tmp_path / "writing.flag"
    env = {**os.environ, "CAREJOURNEY_TEST_PAUSE_IN_WRITE": str(flag)}
    proc = subprocess.Popen([sys.executable, "-m", "carejourney", "--project", str(root), "ingest"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not flag.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert flag.exists(), "ingest never reached the write step"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _db_count(root, "select count(*) from events") == before
    assert _db_count(root, "select count(*) from receipts") == 1
    assert main(["--project", str(root), "ingest"]) == 0  # and a clean re-run completes the job
    assert _db_count(root, "select count(*) from events") == before + 5_000


def test_identifiers_never_reach_the_store(make_project, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "sources/events.yml": "sources: [{name: events, kind: events, path: data/*.csv}]"})
    (root / "data").mkdir()
    people = [("Marisol Quintanilla", "marisol.q@example.org", "(617) 555-0143", "1952-07-19", "02139", "44 Elm Street"),
              ("Theodore Vukovich", "tvuk@example.net", "617.555.0199", "1988-11-02", "03601", "9 Birch Road")]
    rows = []
    for i, (name, email, phone, dob, zipc, addr) in enumerate(people):
        for tp, day in (("site_visit", 1), ("appointment_booked", 3), ("visit_completed", 20)):
            rows.append({"person_id": f"MRN-77{i}31", "ts": f"2026-02-{day:02d} 09:00", "touchpoint": tp,
                         "name": name, "email": email, "phone": phone, "birth_date": dob, "zip": zipc,
                         "address": addr, "note": "prefers mornings"})
    pd.DataFrame(rows).to_csv(root / "data" / "p.csv", index=False)
    code, out = _cli(root, "ingest", capsys=capsys)
    assert code == 0
    code, out2 = _cli(root, "status", "--format", "json", capsys=capsys)
    db = root / "target" / "carejourney.duckdb"
    c = duckdb.connect(str(db))
    c.execute("CHECKPOINT")
    zips = c.execute("select distinct zip3 from subjects order by 1").fetchall()
    bands = c.execute("select distinct age_band from subjects order by 1").fetchall()
    stored = store_text(c)
    c.close()
    # DuckDB compresses strings, so the file bytes alone prove little: check every text value too
    blob = db.read_bytes() + (out + out2).encode() + stored.encode()
    for name, email, phone, dob, zipc, addr in people:
        for needle in (*name.split(), email, phone, dob, zipc, addr, "MRN-77"):
            assert needle.encode() not in blob, needle
    assert zips == [("000",), ("021",)]  # 036 is a restricted ZIP3 (Safe Harbor)
    assert len(bands) == 2 and all(b[0] and "-" in b[0] for b in bands)


def test_missing_key_is_a_clear_error(make_project, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    (root / ".carejourney" / "key").unlink()
    f = root / "e.csv"
    _events_csv(f, 10, {})
    code, out = _cli(root, "ingest", str(f), capsys=capsys)
    assert code == 2 and "no pseudonymisation key" in out and "Traceback" not in out


def test_missing_required_column_names_the_file_and_fix(make_project, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    f = root / "e.csv"
    f.write_text("who,when,touchpoint\na,2026-01-01,site_visit\n")
    code, out = _cli(root, "ingest", str(f), capsys=capsys)
    assert code == 2 and "missing column 'person_id'" in out and "mapping" in out and "Traceback" not in out


def test_batched_parquet_ingest_equals_one_pass(make_project):
    """Large Parquet files stream in batches inside one transaction; the store must hold exactly
    what a single pass gives (each person's events in file order, numbered 0..n-1 with unique ids;
    row numbers of rejects, person keys, links)."""
    from carejourney.connectors.base import ReadContext
    from carejourney.connectors.files import EventsFileConnector
    from carejourney.ingest import ingest_sources
    from carejourney.project import load_project
    df = pd.DataFrame({
        "person_id": [f"p{i % 7}" for i in range(40)],
        "ts": [f"2026-02-{1 + i % 27:02d} 10:00" if i % 9 else "not a time" for i in range(40)],
        "touchpoint": ["site_visit", "appointment_booked", "visit_completed", "visit_complete"] * 10,
        "email": [f"u{i % 7}@example.org" for i in range(40)],
        "age": [30 + i % 50 for i in range(40)],
        "campaign": ["spring", None] * 20,
    })
    stores = {}
    for rows in (1 << 20, 4):
        root = make_project({"journeys/care.yml": MINI_JOURNEY, "sources/e.yml":
                             f"sources: [{{name: e, kind: events, path: e.parquet, options: {{batch_rows: {rows}}}}}]"},
                            name=f"b{rows}")
        df.to_parquet(root / "e.parquet")
        key = (root / ".carejourney" / "key")
        key.write_text("0" * 64)  # same key in both projects, so pseudonyms are comparable
        project = load_project(root)
        ctx = ReadContext(project.timezone, project.sources[0], project.root, frozenset(project.touchpoint_catalog()))
        assert sum(1 for _ in EventsFileConnector().read_batches(root / "e.parquet", ctx)) == (1 if rows > 40 else 10)
        receipt = ingest_sources(project)[0]
        assert receipt.rows_read == 40 and receipt.rows_read == receipt.rows_loaded + receipt.rows_rejected
        con = duckdb.connect(str(root / "target" / "carejourney.duckdb"), read_only=True)
        stores[rows] = {
            # each person's events, in event-id order (= file order within a person)
            "events": con.execute("select subject_key, list((ts, touchpoint, stage, attrs) order by event_id) "
                                  "from events group by 1 order by 1").fetchall(),
            "ids": con.execute("select count(*), count(distinct event_id), min(event_id), max(event_id) "
                               "from events").fetchall(),
            "rejects": con.execute("select row_num, field, reason from rejects order by 1").fetchall(),
            "links": con.execute("select key_a, key_b from links order by 1, 2").fetchall(),
            "subjects": con.execute("select subject_key, age_band from subjects order by 1, 2").fetchall(),
        }
        con.close()
    one, many = stores[1 << 20], stores[4]
    assert one == many
    assert len(one["rejects"]) == 14 and one["ids"] == [(26, 26, 0, 25)]  # 5 bad times + 10 bad touchpoints, 1 both
    assert sum(len(evs) for _, evs in one["events"]) == 26 and len(one["events"]) == 7
