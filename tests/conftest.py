"""Shared fixtures.

- ``events_for({"p1": [("referral_received", "2026-01-03"), ...]})`` builds canonical events
  (PostHog's ``journeys_for`` idea) with stage / owner filled from a journey;
- ``con`` is an Ibis backend: DuckDB always, and PySpark local mode for tests in
  ``tests/backends`` (one shared SparkSession per test run);
- ``make_project(files={...})`` writes a project folder from ``{relative path: contents}``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import textwrap
from pathlib import Path

import ibis
import pandas as pd
import pytest

from carejourney.analyses.context import AnalysisContext
from carejourney.model.events import PERSON_ATTRIBUTES
from carejourney.project import load_project

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA_DIR = Path(os.environ.get("CAREJOURNEY_SYNTHEA_DIR", ROOT.parent / "shared" / "data" / "synthea"))

MINI_JOURNEY = """\
journey: care
kind: specialty
stages:
  - {id: awareness, owner: marketing}
  - {id: access, owner: patient_access}
  - {id: pre_visit, owner: operations}
  - {id: care, owner: clinical}
  - {id: post_visit, owner: billing}
touchpoints:
  - {id: site_visit, stage: awareness, channel: digital, repeatable: true}
  - {id: referral_received, stage: access, channel: referral, key_step: true}
  - {id: appointment_booked, stage: access, channel: phone, key_step: true}
  - {id: appointment_cancelled, stage: access, channel: phone, optional: true}
  - {id: reminder_sent, stage: pre_visit, channel: digital, optional: true}
  - {id: intake_completed, stage: pre_visit, channel: digital, optional: true}
  - {id: visit_completed, stage: care, channel: in_person, key_step: true}
  - {id: bill_sent, stage: post_visit, channel: mail}
segments:
  - {id: senior, where: {age_band: {in: ["65-74", "75-89", "90+"]}}}
  - {id: adult, where: {age_band: {not_in: ["0-17", "65-74", "75-89", "90+"]}}}
"""


def write_project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    files = {"carejourney.yml": "name: test_project\ntimezone: UTC\n", **files}
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text) if isinstance(text, str) else text)
    key = root / ".carejourney" / "key"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(secrets.token_hex(32))
        key.chmod(0o600)
    return root


@pytest.fixture
def make_project(tmp_path):
    """``make_project({"journeys/x.yml": "..."})`` → project folder path (a key file included)."""
    def make(files: dict[str, str] | None = None, name: str = "proj") -> Path:
        return write_project(tmp_path / name, files or {})
    return make


@pytest.fixture
def mini_project(make_project):
    return load_project(make_project({"journeys/care.yml": MINI_JOURNEY}))


# -- engines ------------------------------------------------------------------------------
_SPARK = {}


def spark_backend():
    if "con" not in _SPARK:
        from carejourney.engines.spark import spark_session
        session = spark_session("local[2]")
        _SPARK["con"] = ibis.pyspark.connect(session)
    return _SPARK["con"]


def engine_params():
    return ["duckdb", "duckdb-log", pytest.param("pyspark", marks=pytest.mark.spark)]


@pytest.fixture(params=engine_params())
def con(request):
    """The engines analyses must agree on. ``duckdb-log``: DuckDB with contexts that sequence
    events through the stored journey log (``analyses._log``) instead of per-query windows."""
    if request.param in ("duckdb", "duckdb-log"):
        c = ibis.duckdb.connect()
        c._cj_journey_log = request.param == "duckdb-log"
        yield c
        c.disconnect()
    else:
        if os.environ.get("CAREJOURNEY_SKIP_SPARK"):
            pytest.skip("CAREJOURNEY_SKIP_SPARK is set")
        pytest.importorskip("pyspark", reason="pyspark not installed (pip install '.[spark]')")
        yield spark_backend()


@pytest.fixture
def duckdb_con():
    c = ibis.duckdb.connect()
    yield c
    c.disconnect()


# -- events_for ---------------------------------------------------------------------------
_counter = iter(range(10**9))


def key_of(name) -> int:
    """A stand-in person/episode key for a test's readable name: a 63-bit integer, as the store's
    keyed HMACs are (carejourney.privacy.pseudonymise)."""
    return int.from_bytes(hashlib.sha256(str(name).encode()).digest()[:8], "big") >> 1


def _events_frame(people: dict, project) -> tuple[pd.DataFrame, pd.DataFrame]:
    catalog = project.touchpoint_catalog() if project is not None else {}
    rows, persons = [], []
    for name, spec in people.items():
        person = key_of(name)
        events = spec["events"] if isinstance(spec, dict) else spec
        attrs = spec.get("attrs", {}) if isinstance(spec, dict) else {}
        persons.append({"person_key": person, **{a: attrs.get(a) for a in PERSON_ATTRIBUTES}})
        for ev in events:
            tp, ts, *rest = ev
            extra = rest[0] if rest else {}
            journey, t = catalog.get(tp, (None, None))
            rows.append({
                "event_id": next(_counter), "person_key": person, "ts": pd.Timestamp(ts),
                "source": extra.get("source", "test"), "source_event": extra.get("source_event"),
                "detail": extra.get("detail"), "touchpoint": tp,
                "stage": extra.get("stage", t.stage if t else None),
                "channel": extra.get("channel", t.channel.value if t else None),
                "owner": extra.get("owner", journey.owner_of(tp) if journey else None),
                "service_line": extra.get("service_line"), "location": extra.get("location"),
                "device": extra.get("device"), "status": extra.get("status"),
                "value": float(extra["value"]) if "value" in extra else None,
                "episode_id": None if extra.get("episode_id") is None else key_of(extra["episode_id"]),
                "attrs": None, "file_id": "test",
            })
    ev = pd.DataFrame(rows)
    ev["ts"] = pd.to_datetime(ev["ts"]).astype("datetime64[us]")
    # nullable integers built directly: 63-bit keys must not pass through a float column
    ev["episode_id"] = pd.array([r["episode_id"] for r in rows], dtype="Int64")
    return ev, pd.DataFrame(persons)


@pytest.fixture
def events_for(con, mini_project):
    """Build an :class:`AnalysisContext` on the ``con`` engine from people and their events.

    ``events_for({"p1": [("referral_received", "2026-01-03 10:00"), ("visit_completed", "2026-01-20",
    {"status": "completed"})], "p2": {"events": [...], "attrs": {"age_band": "65-74"}}})``
    Timestamps are UTC. The project defaults to the mini journey in this file.
    """
    from carejourney.model.events import SCHEMAS

    def build(people: dict, project=None) -> AnalysisContext:
        project = project or mini_project
        ev, persons = _events_frame(people, project)
        n = next(_counter)
        schema = {k: v for k, v in SCHEMAS["events"].items() if k != "subject_key"}
        schema = ibis.schema({"person_key": "int64", **schema})
        ev_t = con.create_table(f"ev_{n}", ibis.memtable(ev[list(schema.names)]).cast(schema), overwrite=True)
        pschema = ibis.schema({"person_key": "int64", **{k: v for k, v in SCHEMAS["subjects"].items()
                                                           if k in PERSON_ATTRIBUTES}})
        first_last = ev.groupby("person_key")["ts"].agg(["min", "max"]).rename(columns={"min": "first_seen", "max": "last_seen"})
        pdf = persons.merge(first_last, left_on="person_key", right_index=True, how="left")
        p_t = con.create_table(f"persons_{n}", ibis.memtable(pdf).cast(
            ibis.schema({**dict(pschema.items()), "first_seen": "timestamp", "last_seen": "timestamp"})), overwrite=True)
        version = (lambda: f"ev_{n}") if getattr(con, "_cj_journey_log", False) else None
        return AnalysisContext(events=ev_t, persons=p_t, project=project, con=con, data_version=version)

    return build
