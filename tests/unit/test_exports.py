"""XES and OCEL CSV exports: safe-harbor dates by default, re-import in PM4Py, CLI."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from carejourney.analyses.context import AnalysisContext
from carejourney.cli import main
from carejourney.exports import export_frame
from carejourney.exports.ocel import OCEL_COLUMNS, write_ocel_csv
from carejourney.exports.xes import write_xes
from carejourney.project import load_project
from carejourney.store import Store, WriteBatch, connect
from tests.conftest import MINI_JOURNEY

EVENTS = [  # subject key, ts, touchpoint, episode key (keyed HMACs are 63-bit integers)
    (101, "2026-01-05 09:00", "appointment_booked", 11),
    (101, "2026-01-05 09:00", "referral_received", 11),  # same time: the referral comes first by design
    (101, "2026-01-20 14:30", "visit_completed", 11),
    (202, "2026-02-01 08:00", "site_visit", None),
    (202, "2026-02-03 08:00", "appointment_booked", None),
]


def _store(root) -> Store:
    project = load_project(root)
    store = Store(connect(project.config.store, project.root), project.config.store)
    catalog = project.touchpoint_catalog()
    t = pa.table({
        "event_id": list(range(len(EVENTS))), "subject_key": [e[0] for e in EVENTS],
        "ts": pa.array(pd.to_datetime([e[1] for e in EVENTS]).astype("datetime64[us]")),
        "source": ["test"] * len(EVENTS), "touchpoint": [e[2] for e in EVENTS],
        "stage": [catalog[e[2]][1].stage for e in EVENTS], "episode_id": [e[3] for e in EVENTS],
        "file_id": ["f1"] * len(EVENTS),
    })
    store.write(WriteBatch(file_id="f1", tables={"events": t}))
    return store


@pytest.fixture
def project_root(make_project):
    return make_project({"journeys/care.yml": MINI_JOURNEY})


@pytest.fixture
def frame(project_root):
    store = _store(project_root)
    ctx = AnalysisContext.from_store(load_project(project_root), store)
    yield lambda **kw: export_frame(ctx, **kw)
    store.close()


def test_relative_dates_start_each_person_at_the_epoch(frame):
    df = frame()
    assert list(df.columns[:4]) == ["case", "activity", "timestamp", "days_since_first"]
    assert list(df.activity) == ["referral_received", "appointment_booked", "visit_completed", "site_visit",
                                 "appointment_booked"]
    assert list(df.timestamp) == [pd.Timestamp("1970-01-01"), pd.Timestamp("1970-01-01"),
                                  pd.Timestamp("1970-01-16 05:30"), pd.Timestamp("1970-01-01"), pd.Timestamp("1970-01-03")]
    assert df.days_since_first.tolist() == pytest.approx([0, 0, 15 + 5.5 / 24, 0, 2])
    assert not any(str(ts.year) == "2026" for ts in df.timestamp)


def test_exact_dates_keep_timestamps(frame):
    df = frame(dates="exact")
    assert df.timestamp.iloc[2] == pd.Timestamp("2026-01-20 14:30")
    from carejourney.errors import SpecError
    with pytest.raises(SpecError, match="relative, exact"):
        frame(dates="shifted")


@pytest.mark.parametrize("engine", ["stdlib", "pm4py"])
def test_xes_reimports_in_pm4py(frame, tmp_path, engine):
    pm4py = pytest.importorskip("pm4py")
    df = frame()
    path = tmp_path / "log.xes"
    assert write_xes(df, path, engine=engine) == engine
    log = pm4py.read_xes(str(path))
    assert len(log) == 5 and log["case:concept:name"].nunique() == 2
    a = log[log["case:concept:name"] == "101"].sort_values("time:timestamp", kind="stable")
    assert list(a["concept:name"]) == ["referral_received", "appointment_booked", "visit_completed"]
    assert a["time:timestamp"].iloc[-1] == pd.Timestamp("1970-01-16 05:30", tz="UTC")
    assert pm4py.discover_dfg(log)[0][("referral_received", "appointment_booked")] == 1
    if engine == "stdlib":  # well-formed XES with the standard extensions
        root = ET.parse(path).getroot()
        ns = "{http://www.xes-standard.org/}"
        assert root.tag == f"{ns}log" and root.get("xes.version") == "1849-2016"
        assert {e.get("prefix") for e in root.findall(f"{ns}extension")} == {"concept", "time"}
        assert len(root.findall(f"{ns}trace")) == 2


def test_ocel_csv_has_the_ocel_columns_and_reimports(frame, tmp_path):
    df = frame()
    path = tmp_path / "log.ocel.csv"
    write_ocel_csv(df, path)
    raw = pd.read_csv(path)
    assert tuple(raw.columns[:5]) == OCEL_COLUMNS
    assert raw["ocel:type:person"].iloc[0] == "['101']" and raw["ocel:type:episode"].iloc[3] == "[]"
    pm4py = pytest.importorskip("pm4py")
    ocel = pm4py.read_ocel_csv(str(path))
    assert len(ocel.events) == 5
    objs = ocel.objects.groupby("ocel:type")["ocel:oid"].apply(set).to_dict()
    assert objs["person"] == {"101", "202"} and objs["episode"] == {"11"}


def test_cli_export_writes_files_and_warns_on_exact_dates(project_root, capsys):
    _store(project_root).close()
    assert main(["--project", str(project_root), "export", "xes"]) == 0
    xes = project_root / "target" / "exports" / "care.xes"
    text = xes.read_text()
    assert 'value="101"' in text and "1970-01-16T05:30:00" in text and "2026-" not in text and "nan" not in text
    out = project_root / "log.csv"
    assert main(["--project", str(project_root), "export", "ocel", "-o", str(out), "--dates", "exact"]) == 0
    assert "2026-01-20T14:30:00" in out.read_text()
    captured = capsys.readouterr()
    assert "limited data set" in captured.err and "Exported" in captured.out


def test_cli_export_of_an_empty_store_says_what_to_do(project_root, capsys):
    assert main(["--project", str(project_root), "export", "ocel"]) == 2
    assert "carejourney ingest" in capsys.readouterr().err
