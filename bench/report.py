"""Benchmark: how long the journey report takes, and how big it gets, for N people.

Builds a throw-away project whose DuckDB store is filled directly with SQL (N people walking a
7-touchpoint journey with drop-off, ~4-5 events each — the ingest pipeline has its own
benchmark), then times ``build_report``: total wall time, time inside the analyses
(``Result.elapsed``), time to render the HTML, and the HTML size.

    python bench/report.py --people 1000000 [--keep DIR] [--segment senior]

``--segment``: also time that segment's first report, after everyone's, as a team runs it:
``carejourney report --segment …`` in a new process (the journey log and everyone's person-level
tables are kept in the store by then; the segment's queries are new).

Unless ``--cold-only``: the same report again in process (warm: every answer kept) and
``carejourney report`` in a new process (what a user waits for after ``carejourney run``).

``--heavy N``: add N people with ``--heavy-events`` events each (default 20,000: site visits,
bookings, intake forms and visits in turn over the half year) — a kiosk, a shared phone number
or a crawler that identity stitching made into one "person". Their events must not make the
report's time grow with the square of their number.

``--browser``: then open the written report in headless chromium (Debian's, driven by
Playwright as the browser tests do) and time it from navigation until every chart is drawn
(the page sets ``html[data-charts-ready]``), three times: what a reader waits for.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from carejourney.enum_columns import retype
from carejourney.project import load_project
from carejourney.store import Store, connect, open_store

JOURNEY = """\
journey: care
title: Specialty care (benchmark)
kind: specialty
stages:
  - {id: awareness, owner: marketing}
  - {id: access, owner: patient_access, target: {conversion: 0.6, median: 3d}}
  - {id: pre_visit, owner: operations, target: {conversion: 0.8}}
  - {id: care, owner: clinical, target: {median: 14d, p90: 30d}}
  - {id: post_visit, owner: billing}
touchpoints:
  - {id: site_visit, stage: awareness, channel: digital, repeatable: true, key_step: true}
  - {id: referral_received, stage: access, channel: referral, optional: true}
  - {id: appointment_booked, stage: access, channel: phone, key_step: true}
  - {id: reminder_sent, stage: pre_visit, channel: mail, optional: true}
  - {id: intake_completed, stage: pre_visit, channel: digital, key_step: true}
  - {id: visit_completed, stage: care, channel: in_person, key_step: true}
  - {id: bill_sent, stage: post_visit, channel: mail}
moments:
  access: {doing: "Calls to book", thinking: "Will my insurance cover this?", feeling: anxious, mood: -2}
  care: {doing: "Sees the specialist", feeling: reassured, mood: 1}
segments:
  - {id: senior, where: {age_band: {in: ["65-74", "75-89", "90+"]}}}
  - {id: adult, where: {age_band: {not_in: ["0-17", "65-74", "75-89", "90+"]}}}
delays:
  - {id: booking_to_visit, from: appointment_booked, to: visit_completed, target: {median: 14d}}
"""

# (step, touchpoint, stage, channel, probability of reaching it from the previous step, mean days)
STEPS = [(0, "site_visit", "awareness", "digital", 1.0, 0), (1, "referral_received", "access", "referral", 0.9, 2),
         (2, "appointment_booked", "access", "phone", 0.7, 3), (3, "reminder_sent", "pre_visit", "mail", 0.9, 5),
         (4, "intake_completed", "pre_visit", "digital", 0.85, 2), (5, "visit_completed", "care", "in_person", 0.8, 7),
         (6, "bill_sent", "post_visit", "mail", 0.9, 6)]


def build(root: Path, people: int, heavy: int = 0, heavy_events: int = 20_000) -> None:
    (root / "journeys").mkdir(parents=True)
    (root / "carejourney.yml").write_text("name: bench_report\ntimezone: UTC\n")
    (root / "journeys" / "care.yml").write_text(JOURNEY)
    con = connect("duckdb:///target/carejourney.duckdb", root)
    Store(con)  # creates the canonical tables
    raw = con.con
    values = ", ".join(f"({k}, '{tp}', '{st}', '{ch}', {p}, {d})" for k, tp, st, ch, p, d in STEPS)
    raw.execute(f"""
        CREATE TEMP TABLE steps AS SELECT * FROM (VALUES {values}) s(k, tp, stage, channel, p, days);
        CREATE TEMP TABLE ppl AS
          SELECT i, (hash(i) >> 1)::BIGINT AS subject_key, TIMESTAMP '2026-01-01' + to_seconds((random() * 180 * 86400)::BIGINT) AS t0,
                 (['18-34','35-49','50-64','65-74','75-89'])[1 + (i % 5)::INT] AS age_band,
                 (['en','es','zh','vi'])[1 + (hash(i) % 4)::INT] AS language
          FROM range({people}) t(i);
        INSERT INTO subjects (subject_key, age_band, language, file_id) SELECT subject_key, age_band, language, 'bench' FROM ppl;
        CREATE TEMP TABLE walk AS
          SELECT p.i, p.subject_key, p.t0, s.k, s.tp, s.stage, s.channel, s.days, random() < s.p AS ok
          FROM ppl p CROSS JOIN steps s;
        INSERT INTO events (event_id, subject_key, ts, source, touchpoint, stage, channel, file_id)
          SELECT i * 16 + k, subject_key,
                 t0 + to_seconds((sum(days * 86400 * (0.3 + 1.4 * random())) OVER w)::BIGINT),
                 'bench', tp, stage, channel, 'bench'
          FROM (SELECT *, bool_and(ok OR k IN (1, 3)) OVER w AS alive, ok OR k NOT IN (1, 3) AS happened FROM walk
                WINDOW w AS (PARTITION BY i ORDER BY k)) x
          WHERE alive AND happened
          WINDOW w AS (PARTITION BY i ORDER BY k);
    """)
    if heavy:
        cycle = [tp for _, tp, *_ in STEPS if tp in ("site_visit", "appointment_booked", "intake_completed",
                                                         "visit_completed")]
        tps = ", ".join(f"'{tp}'" for tp in cycle)
        raw.execute(f"""
            CREATE TEMP TABLE heavy AS
              SELECT i, (hash(i + {people}) >> 1)::BIGINT AS subject_key FROM range({heavy}) t(i);
            INSERT INTO subjects (subject_key, age_band, language, file_id)
              SELECT subject_key, '35-49', 'en', 'bench' FROM heavy;
            INSERT INTO events (event_id, subject_key, ts, source, touchpoint, stage, channel, file_id)
              SELECT ({people} + h.i) * 16 * {heavy_events} + j, h.subject_key,
                     TIMESTAMP '2026-01-01' + to_seconds((j * (180 * 86400 // {heavy_events}))::BIGINT),
                     'bench', s.tp, s.stage, s.channel, 'bench'
              FROM heavy h CROSS JOIN range({heavy_events}) r(j)
              JOIN steps s ON s.tp = ([{tps}])[1 + (j % {len(cycle)})::INT];
        """)
    retype(raw, "events")  # the ENUM types ingest would give these columns (carejourney.enum_columns)
    n = raw.execute("SELECT count(*) FROM events").fetchone()[0]
    print(f"store: {people:,} people, {n:,} events")
    con.disconnect()


def forget_derived(root: Path) -> None:
    """Delete what a report keeps between runs (query cache, journey log, kept tables), as
    `carejourney clean` does: the next report is cold."""
    shutil.rmtree(root / "target" / "cache", ignore_errors=True)
    store = open_store(load_project(root))
    try:
        store.drop_derived()
    finally:
        store.close()


def _summary(label: str, project, report, total: float) -> None:
    elapsed = sum(r.elapsed for s in report.sections for v in s.views for r in v.footnotes if hasattr(r, "elapsed"))
    out = project.target_dir / "report.html"
    out.write_text(report.html)
    size = out.stat().st_size
    import plotly.offline
    own = size - len(plotly.offline.get_plotlyjs().encode())
    print(f"{label}:\n  report: {total:.1f} s total = {report.timings['analyses']:.1f} s running the sections' analyses "
          f"({elapsed:.1f} s of it inside analyses.base.run: compile + execute) + {report.timings['render']:.2f} s "
          f"rendering the HTML; {size / 1e6:.2f} MB HTML ({own / 1e6:.2f} MB besides Plotly's bundle) -> {out}")
    seen = {}
    for sec in report.sections:
        for v in sec.views:
            for r in v.footnotes:
                if hasattr(r, "elapsed") and id(r) not in seen:
                    seen[id(r)] = (r.spec.kind, r.elapsed)
    print("  per analysis run (s):", ", ".join(f"{k} {e:.1f}" for k, e in sorted(seen.values(), key=lambda x: -x[1])))


def cli_report(root: Path, *options: str) -> float:
    """Seconds for ``carejourney report`` with ``options`` in a new process (as a user runs it)."""
    import subprocess
    import sys
    out = root / "target" / "report-cli.html"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "carejourney", "-p", str(root), "report", *options, "-o", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def browser_render(html: Path, runs: int = 3) -> list[float]:
    """Seconds from navigating to ``html`` until every chart is drawn, in headless chromium."""
    import os

    from playwright.sync_api import sync_playwright
    chromium = os.environ.get("CAREJOURNEY_CHROMIUM", "/usr/bin/chromium")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            t = time.perf_counter()
            page.goto(html.as_uri())
            page.wait_for_selector("html[data-charts-ready]", timeout=120_000)
            times.append(time.perf_counter() - t)
            page.close()
        browser.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, default=None, help="build the project here and keep it")
    ap.add_argument("--reuse", action="store_true", help="with --keep: time the report on the kept store (its "
                    "query cache and journey log are deleted first, so the first report is cold)")
    ap.add_argument("--cold-only", action="store_true", help="time only the first report (no cached results)")
    ap.add_argument("--segment", default=None, help="then time this segment's first report too")
    ap.add_argument("--heavy", type=int, default=0, help="add this many people with --heavy-events events each")
    ap.add_argument("--heavy-events", type=int, default=20_000)
    ap.add_argument("--browser", action="store_true", help="then time opening the report in headless chromium "
                    "until every chart is drawn")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="cj_bench_report_")) / "proj"
    if not (args.reuse and args.keep and (root / "target" / "carejourney.duckdb").exists()):
        if args.keep and root.exists():
            shutil.rmtree(root)
        t = time.perf_counter()
        build(root, args.people, args.heavy, args.heavy_events)
        print(f"build store: {time.perf_counter() - t:.1f} s")
    else:
        forget_derived(root)
    from carejourney.analyses.base import analysis_kinds
    from carejourney.reports.render import build_report
    analysis_kinds()  # import the analyses outside the timing
    project = load_project(root)
    t = time.perf_counter()
    report = build_report(project)
    total = time.perf_counter() - t
    _summary("cold (first report after the data changed: journey log + every query)", project, report, total)
    if args.segment:
        took = cli_report(root, "--segment", args.segment)
        print(f"segment {args.segment}: `carejourney report --segment {args.segment}` in a new process (its first "
              f"report: the journey log and everyone's person-level tables kept, its own queries new): {took:.1f} s")
    if not args.cold_only:
        t = time.perf_counter()
        again = build_report(project)
        warm = time.perf_counter() - t
        _summary("warm (the same report again, e.g. after `carejourney run`: stored journey log, cached "
                 "query results)", project, again, warm)
        assert again.html.count("<section") == report.html.count("<section")
        print(f"warm, `carejourney report` in a new process (imports included): {cli_report(root):.1f} s")
    if args.browser:
        out = project.target_dir / "report.html"
        out.write_text(report.html)
        times = browser_render(out)
        print(f"browser (chromium, headless): every chart drawn {', '.join(f'{t:.2f}' for t in times)} s "
              f"after navigating to the {out.stat().st_size / 1e6:.2f} MB file")
    if report.problems:
        print("problems:", *report.problems, sep="\n  ")
    if not args.keep:
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
