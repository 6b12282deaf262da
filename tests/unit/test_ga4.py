"""The GA4 web analytics connector: BigQuery export schema (JSONL / Parquet) → staged events."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from carejourney.connectors.base import ReadContext, get_connector
from carejourney.connectors.web_analytics import page_type_from_url
from carejourney.model.project import SourceSpec

URL = "https://clinic.example/providers/dr-sample?utm_source=newsletter&email=odalys%40example.org"


def ga4(name, ts_us, client="1234567.890", **params):
    return {
        "event_date": "20260105", "event_timestamp": ts_us, "event_name": name, "user_pseudo_id": client,
        "user_id": None,
        "event_params": [{"key": k, "value": ({"int_value": v} if isinstance(v, int) else {"string_value": v})}
                         for k, v in params.items()],
        "device": {"category": "mobile", "operating_system": "iOS", "web_info": {"browser": "Safari"}},
        "geo": {"country": "United States", "region": "Massachusetts", "city": "Dunmore"},
        "traffic_source": {"name": "spring_heart", "medium": "cpc", "source": "google"},
        "collected_traffic_source": {"manual_campaign_name": "retarget", "manual_source": "facebook",
                                     "manual_medium": "social"},
    }


T0 = 1767571200000000  # 2026-01-05 00:00:00 UTC in µs

EVENTS = [
    ga4("page_view", T0, page_location=URL, page_type="provider", service_line="cardiology",
        location_id="loc-north", ga_session_id=111),
    ga4("page_view", T0 + 60_000_000, page_location="https://clinic.example/reviews/cardiology?q=1"),
    ga4("form_submit", T0 + 120_000_000, page_location="https://clinic.example/book", form_id="appt",
        lead_id="L-77", ga_session_id=111),
]


def read(path: Path, fmt="auto"):
    spec = SourceSpec(name="web", kind="ga4", path=str(path), format=fmt)
    return get_connector("ga4").read(path, ReadContext(timezone="UTC", spec=spec, root=path.parent))


def check(st):
    ev = st.events.to_pylist()
    assert [e["source_event"] for e in ev] == ["page_view", "page_view", "form_submit"]
    assert {e["id_type"] for e in ev} == {"client_id"} and {e["id_value"] for e in ev} == {"1234567.890"}
    assert ev[0]["ts"] == datetime(2026, 1, 5) and ev[2]["ts"] == datetime(2026, 1, 5, 0, 2)
    assert [e["detail"] for e in ev] == ["provider", "reviews", "booking"]  # param, else derived from the path
    assert ev[0]["device"] == "mobile" and ev[0]["channel"] == "digital"
    assert (ev[0]["service_line"], ev[0]["location"]) == ("cardiology", "loc-north")
    attrs = orjson.loads(ev[0]["attrs"])
    assert attrs == {"source": "google", "medium": "cpc", "campaign": "spring_heart", "session_source": "facebook",
                     "session_medium": "social", "session_campaign": "retarget", "session_id": 111}
    text = str(ev)
    for leaked in ("clinic.example", "utm_source=newsletter", "odalys", "Dunmore", "dr-sample"):
        assert leaked not in text
    assert st.links.to_pylist() == [{"id_type_a": "client_id", "id_value_a": "1234567.890",
                                     "id_type_b": "lead", "id_value_b": "L-77"}]


def test_jsonl_export(tmp_path):
    p = tmp_path / "ga4.jsonl"
    p.write_bytes(b"\n".join(orjson.dumps(e) for e in EVENTS) + b"\n")
    st = read(p)
    assert st.rows_read == 3 and st.rejects.num_rows == 0
    check(st)


def test_parquet_export_with_nested_schema(tmp_path):
    p = tmp_path / "ga4.parquet"
    pq.write_table(pa.Table.from_pylist(EVENTS), p)
    check(read(p))


def test_bad_lines_are_rejected_and_the_rest_loads(tmp_path):
    bad_ts = dict(EVENTS[0], event_timestamp="yesterday")
    no_client = dict(EVENTS[0], user_pseudo_id="")
    lines = [orjson.dumps(EVENTS[0]), orjson.dumps(EVENTS[1])[:40], orjson.dumps(bad_ts), orjson.dumps(no_client),
             orjson.dumps(EVENTS[2])]
    p = tmp_path / "ga4.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    st = read(p)
    assert st.rows_read == 5 and st.events.num_rows == 2
    rej = {r["row_num"]: r["field"] for r in st.rejects.to_pylist()}
    assert rej == {2: "(line)", 3: "event_timestamp", 4: "user_pseudo_id"}


@pytest.mark.parametrize("url,kind", [("https://x.org/", "home"), ("https://x.org/services/cardio", "service"),
                                      ("https://x.org/pricing?a=b", "pricing"), ("https://x.org/jane-doe-story", "other"),
                                      (None, None)])
def test_page_type_from_url(url, kind):
    assert page_type_from_url(url) == kind


def test_through_the_pipeline_no_url_or_city_reaches_the_store(make_project):
    from tests.conftest import MINI_JOURNEY

    from carejourney.ingest import ingest_sources
    from carejourney.project import load_project
    from carejourney.store import open_store
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "sources/web.yml": "sources:\n  - {name: web, kind: ga4, path: data/ga4.jsonl}\n"})
    (root / "data").mkdir()
    (root / "data" / "ga4.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in EVENTS) + b"\n")
    project = load_project(root)
    (r,) = ingest_sources(project)
    assert (r.rows_read, r.rows_loaded, r.events) == (3, 3, 3)
    store = open_store(project)
    try:
        raw = store.con.con
        raw.execute("CHECKPOINT")
        dump = str(raw.execute("SELECT * FROM events").fetchall()) + str(raw.execute("SELECT * FROM links").fetchall())
    finally:
        store.close()
    data = (root / "target" / "carejourney.duckdb").read_bytes()
    for leaked in ("clinic.example", "Dunmore", "1234567.890", "L-77"):
        assert leaked not in dump and leaked.encode() not in data


def test_booking_confirmation_links_the_visitor_to_the_appointment(tmp_path):
    events = [ga4("booking_complete", T0, client="c-1", booking_id="BK-9"),
              ga4("booking_complete", T0 + 1, client="c-2", appointment_id="ap-3"),
              ga4("booking_complete", T0 + 2, client="c-3")]  # (the site did not send it)
    p = tmp_path / "ga4.jsonl"
    p.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    st = read(p)
    assert st.links.to_pylist() == [
        {"id_type_a": "client_id", "id_value_a": "c-1", "id_type_b": "appointment", "id_value_b": "BK-9"},
        {"id_type_a": "client_id", "id_value_a": "c-2", "id_type_b": "appointment", "id_value_b": "ap-3"}]
    assert st.detail["visitor_appointment_links"] == 2 and st.detail["visitor_lead_links"] == 0
