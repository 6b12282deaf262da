"""`carejourney analyze` through the real entry point, on an ingested DuckDB store."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from carejourney import load_project
from carejourney.cli import main
from tests.conftest import MINI_JOURNEY


def _write_events(path: Path) -> None:
    rows = []
    for i in range(60):
        senior = i < 30
        band = "75-89" if senior else "35-49"
        pid = f"P{i:03d}"
        rows.append((pid, "2026-01-05 09:00:00", "referral_received", band))
        if (senior and i < 18) or (not senior and i < 45):
            rows.append((pid, "2026-01-08 10:00:00", "appointment_booked", band))
            rows.append((pid, "2026-01-20 11:00:00", "visit_completed", band))
            rows.append((pid, "2026-02-20 11:00:00", "visit_completed", band))
    rows.append(("P999", "2026-04-01 00:00:00", "site_visit", "35-49"))  # freshness: 1 April
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", "ts", "touchpoint", "age_band"])
        w.writerows(rows)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    from tests.conftest import write_project
    root = write_project(tmp_path_factory.mktemp("analyze") / "p", {
        "journeys/care.yml": MINI_JOURNEY,
        "sources/events.yml": "sources: [{name: events, kind: events, path: data/events.csv}]",
    })
    _write_events(root / "data" / "events.csv")
    assert main(["--project", str(root), "ingest", "--format", "json"]) == 0
    return root


def _run(project: Path, capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--project", str(project), "analyze", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_funnel_json_with_friendly_options(project, capsys):
    code, out, err = _run(project, capsys, "funnel", "--steps", "referral_received,appointment_booked,visit_completed",
                          "--window", "30d", "--order", "ordered", "--by", "segment", "--format", "json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["engine"] == "duckdb" and payload["kind"] == "funnel"
    assert payload["freshness"].startswith("2026-04-01") and "SELECT" in payload["sql"].upper()
    assert payload["spec"]["window"] == "30d" and payload["min_cell"] == 11
    rows = {(r["segment"], r["step_index"]): r for r in payload["rows"]}
    assert [rows[("senior", k)]["reached"] for k in (1, 2, 3)] == [30, 18, 18]
    assert rows[("senior", 3)]["median_days"] == pytest.approx(12 + 1 / 24, abs=1e-3)
    assert [rows[("adult", k)]["reached"] for k in (1, 2, 3)] == [30, 15, 15]
    assert payload["suppressed_cells"] == 0


def test_generic_set_and_spec_file(project, capsys, tmp_path):
    code, out, _ = _run(project, capsys, "funnel", "--set", "steps=[referral_received, visit_completed]",
                        "--set", "window=10d", "--format", "json")
    assert code == 0
    assert [r["reached"] for r in json.loads(out)["rows"]] == [60, 0]
    # 33 of 60 booked: the 27 who did not are shown, nothing is small
    code, out, _ = _run(project, capsys, "funnel", "--steps", "referral_received,appointment_booked",
                        "--segment", "senior", "--format", "json")
    payload = json.loads(out)
    assert [r["reached"] for r in payload["rows"]] == [30, 18] and payload["spec"]["segment"] == "senior"
    spec = tmp_path / "ret.yml"
    spec.write_text("kind: retention\nperiod: month\nperiods: 2\n")
    code, out, err = _run(project, capsys, "--spec", str(spec), "--format", "csv")
    assert code == 0, err
    lines = list(csv.DictReader(out.splitlines()))
    assert lines[0]["cohort"] == "2026-01-01" and lines[0]["cohort_size"] == "33"
    assert [row["returned"] for row in lines] == ["0", "33", "0"]


def test_retention_and_compare_options(project, capsys):
    code, out, err = _run(project, capsys, "retention", "--period", "month", "--mode", "on_or_after",
                          "--periods", "1", "--compare", "senior,adult", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [(r["segment"], r["period"], r["cohort_size"], r["returned"]) for r in rows] == [
        ("senior", 0, 18, 18), ("senior", 1, 18, 18), ("adult", 0, 15, 15), ("adult", 1, 15, 15)]


def test_table_output_and_dashed_kinds(project, capsys):
    code, out, _ = _run(project, capsys, "funnel", "--steps", "referral_received,appointment_booked")
    assert code == 0 and "Funnel (duckdb)" in out and "0 cell(s) suppressed (<11)" in out
    code, out, err = _run(project, capsys, "process-map", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["kind"] == "process_map"


def test_user_mistakes_are_clear(project, capsys):
    code, _, err = _run(project, capsys, "funel")
    assert code == 2 and "did you mean 'funnel'" in err
    code, _, err = _run(project, capsys, "paths", "--steps", "a,b")
    assert code == 2 and "--steps does not apply" in err
    code, _, err = _run(project, capsys, "funnel", "--set", "window")
    assert code == 2 and "key=value" in err
    code, _, err = _run(project, capsys, "funnel", "--window", "soon")
    assert code == 2 and "window" in err and "duration" in err
    code, _, err = _run(project, capsys, "funnel", "--spec", "nope.yml")
    assert code == 2 and "nope.yml" in err


def test_project_analyze_from_python(project):
    result = load_project(project).analyze("funnel", steps=["referral_received", "appointment_booked"])
    assert result.engine == "duckdb" and result.records()[0]["reached"] == 60
    again = load_project(project).analyze(result.spec, window="1d")
    assert again.spec.window.days == 1
