"""CSV system exports: leads (CRM), calls, scheduling, portal — default mappings, overrides, rejects."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
import pytest

from carejourney.connectors.base import ReadContext, get_connector
from carejourney.errors import IngestError
from carejourney.model.project import SourceSpec

LEADS = """\
lead_id,created_at,first_name,last_name,email,phone,service_line,location,lead_source,utm_source,utm_medium,utm_campaign,client_id,first_contact_at,status,owner_team
L1,2026-01-02 09:00,Odalys,Quillfeather,odalys@example.org,(555) 201-7788,cardiology,north,web_form,google,cpc,heart,C1,2026-01-02 10:30,contacted,access
L2,2026-01-03 09:00,Bo,Kim,bo@example.org,555-010-3000,ortho,south,phone,,,,,,new,access
L3,not a date,X,Y,x@y.z,,,,web_form,,,,,,new,access
,2026-01-03 09:00,X,Y,x@y.z,,,,web_form,,,,,,new,access
L5,2026-01-03 09:00,X,Y,x@y.z,,,,web_form,,,,,2026-01-02 09:00,new,access
"""
CALLS = """\
call_id,started_at,caller_phone,direction,queue,wait_seconds,talk_seconds,abandoned,outcome,agent_team,callback_of,reason
K1,2026-01-02 08:00,555.201.7788,inbound,scheduling,340,0,Y,abandoned,access,,Odalys asked about her bill
K2,2026-01-02 09:00,+1 555 201 7788,outbound,scheduling,0,300,N,booked,access,K1,
K3,2026-01-02 09:30,555-201-7788,outbound,scheduling,0,0,N,voicemail,access,K1,
K4,2026-01-02 09:00,555-201-7788,sideways,scheduling,0,300,N,booked,access,,
K5,2026-01-02 09:00,555-201-7788,inbound,billing,lots,300,N,info,access,,
"""
APPTS = """\
appointment_id,mrn,created_at,start_at,status,service_line,location,booking_channel,referral_id,cancelled_at
A1,MRN1,2026-01-02 10:00,2026-01-10 09:00,completed,cardiology,north,web,R1,
A2,MRN1,2026-01-02 10:00,2026-01-12 09:00,canceled,cardiology,north,phone,R1,2026-01-05 08:00
A3,MRN2,2026-01-02 10:00,2026-01-12 09:00,booked,cardiology,north,phone,,
A4,MRN2,2026-01-02 10:00,2026-01-12 09:00,teleported,cardiology,north,phone,,
A5,MRN2,2026-01-02 10:00,,noshow,cardiology,north,phone,,
A6,MRN3,2026-01-04 10:00,2026-01-14 09:00,No-Show,cardiology,south,referral,R9,
"""
PORTAL = """\
message_id,sent_at,mrn,direction,topic,body,replied_at
P1,2026-01-02 10:00,MRN1,patient_to_clinic,billing,Please call me at 555-201-7788 I am confused by the bill,2026-01-02 12:00
P2,2026-01-02 12:00,MRN1,clinic_to_patient,billing,We called you,
P3,2026-01-02 12:00,MRN1,sideways,billing,?,
"""


def read(tmp_path: Path, kind: str, text: str, **spec):
    p = tmp_path / f"{kind}.csv"
    p.write_text(text)
    s = SourceSpec(name=kind, kind=kind, path=p.name, **spec)
    return get_connector(kind).read(p, ReadContext(timezone="UTC", spec=s, root=tmp_path))


def test_leads_created_and_contacted_with_links(tmp_path):
    st = read(tmp_path, "leads", LEADS)
    ev = st.events.to_pylist()
    got = [(e["row_num"], e["id_type"], e["id_value"], e["source_event"], e["ts"], e["detail"], e["status"],
            e["channel"], e["value"]) for e in ev]
    assert got == [
        (1, "lead", "L1", "lead_created", datetime(2026, 1, 2, 9), "web_form", "contacted", "digital", None),
        (1, "lead", "L1", "lead_contacted", datetime(2026, 1, 2, 10, 30), "web_form", "contacted", "digital", 90.0),
        (2, "lead", "L2", "lead_created", datetime(2026, 1, 3, 9), "phone", "new", "phone", None)]
    assert orjson.loads(ev[0]["attrs"]) == {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "heart",
                                            "owner_team": "access"}
    links = {(r["id_value_a"], r["id_type_b"], r["id_value_b"]) for r in st.links.to_pylist()}
    assert links == {("L1", "email", "odalys@example.org"), ("L1", "phone", "(555) 201-7788"),
                     ("L1", "client_id", "C1"), ("L2", "email", "bo@example.org"), ("L2", "phone", "555-010-3000")}
    rej = {r["row_num"]: r["field"] for r in st.rejects.to_pylist()}
    assert rej == {3: "created_at", 4: "lead_id", 5: "first_contact_at"}
    assert st.rows_read == 5
    assert "Quillfeather" not in str(ev) and "Odalys" not in str(ev)


def test_calls_direction_status_wait_and_callback_episode(tmp_path):
    st = read(tmp_path, "calls", CALLS)
    ev = st.events.to_pylist()
    got = [(e["row_num"], e["id_type"], e["source_event"], e["detail"], e["status"], e["value"], e["episode_ref"],
            e["channel"]) for e in ev]
    assert got == [(1, "phone", "call_inbound", "scheduling", "abandoned", 340.0, "call:K1", "phone"),
                   (2, "phone", "call_outbound", "scheduling", "answered", 0.0, "call:K1", "phone"),
                   (3, "phone", "call_outbound", "scheduling", "voicemail", 0.0, "call:K1", "phone")]
    rej = {r["row_num"]: (r["field"], r["reason"]) for r in st.rejects.to_pylist()}
    assert rej[4][0] == "direction" and rej[5] == ("value", "value is not a number")
    assert "Odalys" not in str(ev)  # the free-text reason is not kept


def test_scheduling_booked_and_final_status_events(tmp_path):
    st = read(tmp_path, "scheduling", APPTS)
    got = [(e["row_num"], e["id_value"], e["source_event"], e["status"], e["ts"], e["channel"], e["episode_ref"])
           for e in st.events.to_pylist()]
    assert got == [
        (1, "MRN1", "Appointment", "booked", datetime(2026, 1, 2, 10), "digital", "R1"),
        (1, "MRN1", "Appointment", "fulfilled", datetime(2026, 1, 10, 9), "digital", "R1"),
        (2, "MRN1", "Appointment", "booked", datetime(2026, 1, 2, 10), "phone", "R1"),
        (2, "MRN1", "Appointment", "cancelled", datetime(2026, 1, 5, 8), "phone", "R1"),
        (3, "MRN2", "Appointment", "booked", datetime(2026, 1, 2, 10), "phone", None),
        (6, "MRN3", "Appointment", "booked", datetime(2026, 1, 4, 10), "referral", "R9"),
        (6, "MRN3", "Appointment", "noshow", datetime(2026, 1, 14, 9), "referral", "R9")]
    assert st.events.to_pylist()[0]["value"] == pytest.approx(7.958, abs=1e-3)  # lead time in days
    rej = {r["row_num"]: r["field"] for r in st.rejects.to_pylist()}
    assert rej == {4: "status", 5: "start_at"}


def test_portal_messages_and_patient_voice_feedback(tmp_path):
    st = read(tmp_path, "portal", PORTAL)
    got = [(e["id_type"], e["source_event"], e["detail"], e["status"], e["value"]) for e in st.events.to_pylist()]
    assert got == [("mrn", "portal_message", "billing", "patient_to_clinic", 120.0),
                   ("mrn", "portal_message", "billing", "clinic_to_patient", None)]
    (fb,) = st.feedback.to_pylist()
    assert fb["source"] == "portal_message" and fb["row_num"] == 1 and "confused" in fb["text"]
    assert [r["row_num"] for r in st.rejects.to_pylist()] == [3]


def test_portal_feedback_is_scrubbed_in_the_store(make_project):
    from tests.conftest import MINI_JOURNEY

    from carejourney.ingest import ingest_sources
    from carejourney.project import load_project
    from carejourney.store import open_store
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "data/portal.csv": PORTAL,
                         "sources/portal.yml": "sources:\n  - {name: portal, kind: portal, path: data/portal.csv}\n"})
    project = load_project(root)
    (r,) = ingest_sources(project)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected, r.feedback) == (3, 2, 1, 1)
    store = open_store(project)
    try:
        (text,) = store.con.con.execute("SELECT text FROM feedback").fetchone()
        dump = str(store.con.con.execute("SELECT * FROM events").fetchall())
    finally:
        store.close()
    assert "555-201-7788" not in text and "[PHONE]" in text
    assert "MRN1" not in dump


def test_mapping_override_and_clear_errors(tmp_path):
    renamed = LEADS.replace("lead_id,created_at", "LeadNumber,CreatedDate", 1)
    with pytest.raises(IngestError, match=r"missing lead_id \(column 'lead_id'\).*mapping:"):
        read(tmp_path, "leads", renamed)
    st = read(tmp_path, "leads", renamed, mapping={"lead_id": "LeadNumber", "created_at": "CreatedDate"})
    assert st.events.num_rows == 3
    with pytest.raises(IngestError, match="unknown mapping field.*lead_idd"):
        read(tmp_path, "leads", LEADS, mapping={"lead_idd": "x"})


def test_source_timezone_applies_to_naive_times(tmp_path):
    st = read(tmp_path, "calls", CALLS, timezone="America/New_York")
    assert st.events.to_pylist()[0]["ts"] == datetime(2026, 1, 2, 13)
