"""carejourney clean: the kept caches and derived tables go, the data stays, reports still work."""

from __future__ import annotations

import re

from carejourney.cli import main
from carejourney.project import load_project
from carejourney.store import open_store
from tests.conftest import MINI_JOURNEY
from tests.functional.test_query_cache import _ingest


def _derived(root) -> tuple[list[str], int]:
    store = open_store(load_project(root))
    try:
        raw = store.con.con
        names = [n for (n,) in raw.execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, '_cj_')")
                 .fetchall()]
        return names, raw.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        store.close()


def test_clean_deletes_the_caches_and_derived_tables_and_keeps_the_data(make_project, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    _ingest(root, "a.csv", 40, ["referral_received", "appointment_booked", "visit_completed"], "A")
    assert main(["--project", str(root), "report", "-o", str(root / "before.html")]) == 0
    cache = root / "target" / "cache"
    tables, events = _derived(root)
    assert any(cache.rglob("*.arrow")) and any(t.startswith("_cj_log_") for t in tables) and events == 120
    capsys.readouterr()

    assert main(["--project", str(root), "clean", "--cache-only"]) == 0
    assert not cache.exists() and _derived(root)[0] == tables
    assert re.search(r"cache\s*:\s*\d+ file\(s\)", capsys.readouterr().out)

    assert main(["--project", str(root), "clean"]) == 0
    assert _derived(root) == ([], 120)
    assert f"Dropped {len(tables)} derived table(s)" in " ".join(capsys.readouterr().out.split())
    # the next report builds what it needs again
    assert main(["--project", str(root), "report", "-o", str(root / "after.html")]) == 0
    title = re.compile(r"<title>(.*?)</title>")
    assert title.search((root / "after.html").read_text()).group(1) == title.search((root / "before.html").read_text()).group(1)
    assert any(t.startswith("_cj_log_") for t in _derived(root)[0])
