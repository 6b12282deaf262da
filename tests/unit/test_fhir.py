"""The FHIR R4 connector: Bundles and Bulk NDJSON → staged events, subjects, links, rejects."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import orjson
import pytest

from carejourney.connectors.base import ReadContext, get_connector
from carejourney.model.project import SourceSpec

PID = "6f1c7a52-0000-4000-8000-000000000001"
CX = "https://carejourney.dev/fhir/StructureDefinition/"


def read(path: Path, **options):
    spec = SourceSpec(name="ehr", kind="fhir", path=str(path), options=options)
    return get_connector("fhir").read(path, ReadContext(timezone="UTC", spec=spec, root=path.parent))


def patient(pid=PID, **extra):
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1950-04-02",
            "name": [{"family": "Quillfeather", "given": ["Odalys"]}],
            "telecom": [{"system": "phone", "value": "(555) 201-7788"}, {"system": "email", "value": "Odalys@Example.org"}],
            "address": [{"line": ["12 Larkspur Lane"], "city": "Dunmore", "postalCode": "02139-1234"}],
            "identifier": [{"type": {"coding": [{"code": "MR"}]}, "system": "urn:carejourney:mrn", "value": "MRN0042"},
                           {"type": {"coding": [{"code": "SS"}]}, "value": "999-12-3456"}],
            "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es-MX"}]}}],
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired", "valueBoolean": True},
                          {"url": CX + "access-needs", "extension": [
                              {"url": "transport", "valueBoolean": True},
                              {"url": "low-digital-literacy", "valueBoolean": False}]}],
            **extra}


def encounter(eid, cls, subject, start="2026-01-05T09:00:00-05:00", status="finished", **extra):
    return {"resourceType": "Encounter", "id": eid, "status": status,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": cls},
            "subject": {"reference": subject}, "period": {"start": start, "end": "2026-01-05T10:30:00-05:00"}, **extra}


def bundle(resources, btype="transaction", urls=None):
    entries = []
    for i, r in enumerate(resources):
        url = (urls or {}).get(i, f"urn:uuid:{r['id']}")
        entries.append({"fullUrl": url, "resource": r, "request": {"method": "POST", "url": r["resourceType"]}})
    return {"resourceType": "Bundle", "type": btype, "entry": entries}


def write_json(tmp_path, name, doc) -> Path:
    p = tmp_path / name
    p.write_bytes(orjson.dumps(doc))
    return p


def write_ndjson(tmp_path, name, resources, raw_lines=()) -> Path:
    p = tmp_path / name
    lines = [orjson.dumps(r).decode() for r in resources] + list(raw_lines)
    p.write_text("\n".join(lines) + "\n")
    return p


def rows(table):
    return table.to_pylist()


def test_transaction_bundle_resolves_urn_uuid_references_and_maps_encounter_classes(tmp_path):
    doc = bundle([patient(),
                  encounter("e1", "EMER", f"urn:uuid:{PID}"),
                  encounter("e2", "AMB", f"urn:uuid:{PID}"),
                  encounter("e3", "VR", f"urn:uuid:{PID}"),
                  encounter("e4", "AMB", f"urn:uuid:{PID}", serviceType={"coding": [{"code": "cardiology"}]}),
                  {"resourceType": "Organization", "id": "org1", "name": "Clinic"}])
    st = read(write_json(tmp_path, "b.json", doc))
    assert st.rows_read == 6 and st.rejects.num_rows == 0
    ev = {r["row_num"]: r for r in rows(st.events)}
    assert {r["id_type"] for r in ev.values()} == {"patient"} and {r["id_value"] for r in ev.values()} == {PID}
    assert (ev[2]["detail"], ev[2]["service_line"], ev[2]["channel"]) == ("EMER", "urgent_care", "in_person")
    assert (ev[3]["detail"], ev[3]["service_line"]) == ("AMB", "primary_care")
    assert (ev[4]["service_line"], ev[4]["channel"]) == ("primary_care", "digital")
    assert ev[5]["service_line"] == "cardiology"  # serviceType wins over the class
    assert ev[2]["ts"] == datetime(2026, 1, 5, 14, 0)  # offset converted to naive UTC
    assert orjson.loads(ev[2]["attrs"]) == {"minutes": 90.0}
    assert st.detail["by_type"]["Encounter"] == {"read": 4, "loaded": 4, "rejected": 0}
    assert st.detail["by_type"]["Organization"] == {"read": 1, "loaded": 1, "rejected": 0}
    assert st.detail["not_mapped"] == ["Organization"]


def test_patient_becomes_subject_and_links_without_names_or_addresses(tmp_path):
    st = read(write_json(tmp_path, "b.json", bundle([patient()])))
    (subj,) = rows(st.subjects)
    assert subj["id_type"] == "patient" and subj["id_value"] == PID
    assert subj["birth_date"] == date(1950, 4, 2) and subj["sex"] == "female" and subj["language"] == "es"
    assert subj["zip"] == "02139-1234"  # cut to ZIP3 by ingest
    assert subj["needs_interpreter"] is True and subj["needs_transport"] is True
    assert subj["low_digital_literacy"] is False and subj["needs_disability_access"] is None
    links = {(r["id_type_b"], r["id_value_b"]) for r in rows(st.links)}
    assert links == {("mrn", "MRN0042"), ("phone", "(555) 201-7788"), ("email", "Odalys@Example.org")}
    staged_text = str([rows(t) for t in (st.events, st.subjects, st.rejects)]) + str(st.detail)
    for raw in ("Quillfeather", "Odalys", "Larkspur", "Dunmore", "999-12-3456"):
        assert raw not in staged_text


def test_searchset_with_relative_references_and_payer_from_eob(tmp_path):
    eob = {"resourceType": "ExplanationOfBenefit", "id": "x1", "status": "active", "outcome": "complete",
           "patient": {"reference": "Patient/p9"}, "created": "2026-02-01T00:00:00Z",
           "contained": [{"resourceType": "Coverage", "id": "cov", "type": {"text": "medicaid"}}],
           "insurance": [{"coverage": {"reference": "#cov"}}],
           "total": [{"category": {"coding": [{"code": "submitted"}]}, "amount": {"value": 300}}],
           "payment": {"amount": {"value": 45.5}}}
    claim = {"resourceType": "Claim", "id": "c1", "status": "active", "type": {"coding": [{"code": "professional"}]},
             "patient": {"reference": "http://ehr.example/fhir/Patient/p9/_history/3"},
             "created": "2026-01-31T00:00:00Z", "total": {"value": 300.0},
             "insurance": [{"coverage": {"display": "Medicare Advantage"}}]}
    doc = bundle([eob, claim], btype="searchset",
                 urls={0: "http://ehr.example/fhir/ExplanationOfBenefit/x1", 1: "http://ehr.example/fhir/Claim/c1"})
    st = read(write_json(tmp_path, "s.json", doc))
    ev = {r["source_event"]: r for r in rows(st.events)}
    assert ev["ExplanationOfBenefit"]["id_value"] == "p9" and ev["Claim"]["id_value"] == "p9"
    assert (ev["ExplanationOfBenefit"]["detail"], ev["ExplanationOfBenefit"]["value"]) == ("complete", 45.5)
    assert (ev["Claim"]["detail"], ev["Claim"]["value"]) == ("professional", 300.0)
    (subj,) = rows(st.subjects)
    assert subj["id_value"] == "p9" and subj["payer_type"] == "medicaid"  # the later of the two


def test_bulk_ndjson_scheduling_and_engagement_resources(tmp_path):
    appts = [
        {"resourceType": "Appointment", "id": "a1", "status": "fulfilled", "created": "2026-01-02T10:00:00Z",
         "start": "2026-01-09T10:00:00Z", "basedOn": [{"reference": "ServiceRequest/sr1"}],
         "serviceType": [{"coding": [{"code": "cardiology"}]}],
         "extension": [{"url": CX + "booking-channel", "valueCode": "web"}],
         "participant": [{"actor": {"reference": "Patient/p1"}}, {"actor": {"reference": "Location/loc-n"}}]},
        {"resourceType": "Appointment", "id": "a2", "status": "cancelled", "created": "2026-01-02T10:00:00Z",
         "start": "2026-01-20T10:00:00Z", "cancelationReason": {"coding": [{"code": "pat"}]},
         "extension": [{"url": CX + "booking-channel", "valueCode": "phone"},
                       {"url": CX + "cancelled-at", "valueDateTime": "2026-01-15T08:00:00Z"}],
         "participant": [{"actor": {"reference": "Patient/p1"}}]},
        {"resourceType": "Appointment", "id": "a3", "status": "booked", "created": "2026-01-03T10:00:00Z",
         "start": "2026-01-30T10:00:00Z", "participant": [{"actor": {"reference": "Patient/p2"}}]},
    ]
    st = read(write_ndjson(tmp_path, "Appointment.ndjson", appts))
    got = [(r["row_num"], r["id_value"], r["status"], r["ts"], r["detail"], r["channel"]) for r in rows(st.events)]
    assert got == [
        (1, "p1", "booked", datetime(2026, 1, 2, 10), "web", "digital"),
        (1, "p1", "fulfilled", datetime(2026, 1, 9, 10), "web", "digital"),
        (2, "p1", "booked", datetime(2026, 1, 2, 10), "phone", "phone"),
        (2, "p1", "cancelled", datetime(2026, 1, 15, 8), "phone", "phone"),
        (3, "p2", "booked", datetime(2026, 1, 3, 10), None, None)]
    first = rows(st.events)[0]
    assert (first["service_line"], first["location"], first["episode_ref"], first["value"]) == \
        ("cardiology", "loc-n", "sr1", 7.0)
    assert orjson.loads(rows(st.events)[3]["attrs"]) == {"cancel_reason": "pat"}

    other = [
        {"resourceType": "ServiceRequest", "id": "sr1", "status": "active", "intent": "order",
         "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
         "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-01-01T09:00:00Z",
         "extension": [{"url": CX + "service-line", "valueCode": "cardiology"}]},
        {"resourceType": "Communication", "id": "c1", "status": "completed", "subject": {"reference": "Patient/p1"},
         "category": [{"coding": [{"code": "reminder"}]}], "medium": [{"coding": [{"code": "SMS"}]}],
         "sent": "2026-01-08T10:00:00Z"},
        {"resourceType": "QuestionnaireResponse", "id": "q1", "status": "in-progress",
         "questionnaire": "https://clinic.example/Questionnaire/intake|2", "subject": {"reference": "Patient/p1"},
         "authored": "2026-01-08T11:00:00Z"},
        {"resourceType": "Task", "id": "t1", "status": "in-progress", "for": {"reference": "Patient/p1"},
         "focus": {"reference": "ServiceRequest/sr1"}, "businessStatus": {"text": "left voicemail"},
         "authoredOn": "2026-01-01T12:00:00Z"},
        {"resourceType": "Coverage", "id": "cv", "status": "active", "beneficiary": {"reference": "Patient/p1"},
         "type": {"coding": [{"code": "commercial"}]}},
        {"resourceType": "DiagnosticReport", "id": "d1", "status": "final", "subject": {"reference": "Patient/p1"},
         "category": [{"coding": [{"code": "LAB"}]}], "effectiveDateTime": "2026-01-09T10:00:00Z",
         "issued": "2026-01-10T16:00:00Z"},
    ]
    st = read(write_ndjson(tmp_path, "mixed.ndjson", other))
    ev = {r["source_event"]: r for r in rows(st.events)}
    assert (ev["ServiceRequest"]["detail"], ev["ServiceRequest"]["channel"], ev["ServiceRequest"]["service_line"],
            ev["ServiceRequest"]["episode_ref"]) == ("referral", "referral", "cardiology", "sr1")
    assert (ev["Communication"]["detail"], ev["Communication"]["channel"]) == ("reminder", "digital")
    assert (ev["QuestionnaireResponse"]["detail"], ev["QuestionnaireResponse"]["status"]) == ("intake", "in-progress")
    assert (ev["Task"]["detail"], ev["Task"]["episode_ref"]) == ("left voicemail", "sr1")
    assert ev["DiagnosticReport"]["ts"] == datetime(2026, 1, 10, 16)
    assert orjson.loads(ev["DiagnosticReport"]["attrs"]) == {"turnaround_hours": 30.0}
    assert "Coverage" not in ev  # no period: sets the payer only
    assert rows(st.subjects)[0]["payer_type"] == "commercial"
    assert st.detail["by_type"]["Coverage"] == {"read": 1, "loaded": 1, "rejected": 0}


def test_bad_input_gives_clear_rejects_and_the_rest_loads(tmp_path):
    good = [encounter(f"e{i}", "AMB", "Patient/p1") for i in range(3)]
    truncated = orjson.dumps(encounter("e9", "AMB", "Patient/p1")).decode()[:57]
    unknown_status = encounter("e5", "AMB", "Patient/p1", status="done")
    no_time = encounter("e6", "AMB", "Patient/p1")
    del no_time["period"]
    p = write_ndjson(tmp_path, "Encounter.ndjson", good[:2], raw_lines=[
        truncated, orjson.dumps(unknown_status).decode(), orjson.dumps(no_time).decode(), orjson.dumps(good[2]).decode()])
    st = read(p)
    assert st.rows_read == 6 and st.events.num_rows == 3
    rej = {r["row_num"]: (r["field"], r["reason"]) for r in rows(st.rejects)}
    assert rej[3][0] == "(line)" and "truncated" in rej[3][1]
    assert rej[4][0] == "Encounter.status" and "unknown Encounter.status code 'done'" in rej[4][1]
    assert "finished" in rej[4][1]
    assert rej[5][0] == "Encounter.period.start" and "no period.start" in rej[5][1]
    assert st.detail["by_type"]["Encounter"] == {"read": 6, "loaded": 3, "rejected": 3}


def test_broken_bundle_reference_is_rejected_without_quoting_the_id(tmp_path):
    doc = bundle([patient(), encounter("e1", "AMB", f"urn:uuid:{PID}"),
                  encounter("e2", "AMB", "urn:uuid:11111111-dead-beef-0000-000000000000"),
                  encounter("e3", "AMB", "Group/g1")])
    st = read(write_json(tmp_path, "b.json", doc))
    rej = {r["row_num"]: r for r in rows(st.rejects)}
    assert set(rej) == {3, 4}
    assert rej[3]["field"] == "Encounter.subject" and "cannot be resolved" in rej[3]["reason"]
    assert "dead-beef" not in rej[3]["reason"]
    assert "Group, not a Patient" in rej[4]["reason"]
    assert st.events.num_rows == 1
    assert st.detail["by_type"]["Encounter"] == {"read": 3, "loaded": 1, "rejected": 2}


def test_entered_in_error_is_loaded_without_an_event(tmp_path):
    st = read(write_ndjson(tmp_path, "Encounter.ndjson", [encounter("e1", "AMB", "Patient/p1",
                                                                    status="entered-in-error")]))
    assert st.events.num_rows == 0 and st.rejects.num_rows == 0
    assert st.detail["entered_in_error_skipped"] == 1


def test_gzipped_bulk_file(tmp_path):
    import gzip
    p = tmp_path / "Encounter.ndjson.gz"
    p.write_bytes(gzip.compress(orjson.dumps(encounter("e1", "EMER", "Patient/p1")) + b"\n"))
    st = read(p)
    assert rows(st.events)[0]["service_line"] == "urgent_care"


def test_not_a_fhir_file_is_a_clear_error(tmp_path):
    from carejourney.errors import IngestError
    p = tmp_path / "x.json"
    p.write_text('{"resourceType": "Bundle", "entry": [')
    with pytest.raises(IngestError, match="not valid JSON"):
        read(p)
    p.write_text('{"hello": 1}')
    with pytest.raises(IngestError, match="no resourceType"):
        read(p)


def test_optional_validation_with_fhir_resources(tmp_path):
    pytest.importorskip("fhir.resources", reason="fhir.resources not installed (pip install '.[fhir]')")
    bad = encounter("e2", "AMB", "Patient/p1")
    bad["period"] = {"start": "not-a-date"}
    p = write_ndjson(tmp_path, "Encounter.ndjson", [encounter("e1", "AMB", "Patient/p1"), bad])
    fast = read(p)
    assert fast.rejects.num_rows == 1  # the fast path only sees a missing time
    st = read(p, validate=True)
    (rej,) = rows(st.rejects)
    assert rej["row_num"] == 2 and rej["field"] == "Encounter.(validation)" and "period" in rej["reason"]
    assert "not-a-date" not in rej["reason"]  # input values (possible PHI) are never quoted
    assert st.events.num_rows == 1


def test_parallel_bulk_parsing_matches_sequential(tmp_path, monkeypatch):
    import carejourney.connectors.fhir as fhir_mod
    resources = []
    for i in range(400):
        resources.append(encounter(f"e{i}", "EMER" if i % 3 else "AMB", f"Patient/p{i % 37}",
                                   start=f"2026-01-{1 + i % 28:02d}T09:00:00Z"))
    lines = [orjson.dumps(r).decode() for r in resources]
    lines.insert(300, lines[5][:33])  # a truncated line deep in the file: line 301
    lines.insert(100, "")             # blank lines are skipped but still counted as lines
    p = tmp_path / "Encounter.ndjson"
    p.write_text("\n".join(lines) + "\n")
    seq = read(p, workers=1)
    monkeypatch.setattr(fhir_mod, "_PARALLEL_MIN_BYTES", 0)
    par = read(p, workers=2)
    assert par.rows_read == seq.rows_read == 401
    assert par.events.to_pylist() == seq.events.to_pylist()
    assert par.rejects.to_pylist() == seq.rejects.to_pylist() == [
        {"row_num": 302, "field": "(line)", "reason": "not valid JSON; the line is truncated or corrupt"}]
    assert par.detail == seq.detail


def test_encounter_takes_the_service_line_of_its_appointment_in_the_same_bundle(tmp_path):
    appt = {"resourceType": "Appointment", "id": "a1", "status": "fulfilled", "created": "2026-01-01T09:00:00Z",
            "start": "2026-01-05T14:00:00Z", "serviceType": [{"coding": [{"code": "orthopedics"}]}],
            "participant": [{"actor": {"reference": f"urn:uuid:{PID}"}}]}
    enc = encounter("e1", "AMB", f"urn:uuid:{PID}", appointment=[{"reference": "urn:uuid:a1"}])
    lone = encounter("e2", "AMB", f"urn:uuid:{PID}", appointment=[{"reference": "Appointment/elsewhere"}])
    st = read(write_json(tmp_path, "b.json", bundle([patient(), appt, enc, lone])))
    ev = {r["row_num"]: r for r in rows(st.events) if r["source_event"] == "Encounter"}
    assert ev[3]["service_line"] == "orthopedics" and ev[3]["detail"] == "AMB"
    assert ev[4]["service_line"] == "primary_care"  # appointment not in the Bundle: the class decides


def test_a_source_path_may_be_a_bulk_export_folder(make_project):
    from carejourney.ingest import ingest_sources
    from carejourney.project import load_project
    from tests.conftest import MINI_JOURNEY
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "sources/ehr.yml": "sources:\n  - {name: ehr, kind: fhir, path: data/bulk}\n"})
    bulk = root / "data" / "bulk"
    bulk.mkdir(parents=True)
    write_ndjson(bulk, "Patient.ndjson", [patient("p1")])
    write_ndjson(bulk, "Encounter.ndjson", [encounter("e1", "EMER", "Patient/p1")])
    (bulk / "README.md").write_text("# export notes\n")
    receipts = ingest_sources(load_project(root))
    assert sorted(Path(r.path).name for r in receipts) == ["Encounter.ndjson", "Patient.ndjson"]
    assert sum(r.events for r in receipts) == 1 and sum(r.rows_rejected for r in receipts) == 0


def test_a_resource_with_the_wrong_shape_is_a_reject_not_a_crash(tmp_path):
    odd = encounter("e2", "AMB", "Patient/p1", location=["north wing"])  # R4: list of {location: Reference}
    odd_patient = patient("p2", communication="spanish")
    st = read(write_ndjson(tmp_path, "mixed.ndjson", [encounter("e1", "AMB", "Patient/p1"), odd, odd_patient]))
    assert st.events.num_rows == 1
    rej = {r["row_num"]: r for r in rows(st.rejects)}
    assert set(rej) == {2, 3} and "FHIR R4 structure" in rej[2]["reason"]


def test_appointment_identifiers_link_to_the_patient_unless_entered_in_error(tmp_path):
    appt = {"resourceType": "Appointment", "id": "a1", "status": "booked", "created": "2026-01-02T10:00:00Z",
            "start": "2026-01-09T10:00:00Z", "identifier": [{"system": "urn:booking", "value": "BK-9"}],
            "participant": [{"actor": {"reference": f"Patient/{PID}"}, "status": "accepted"}]}
    wrong = {**appt, "id": "a2", "status": "entered-in-error", "identifier": [{"value": "BK-10"}]}
    st = read(write_ndjson(tmp_path, "Appointment.ndjson", [appt, wrong]))
    assert rows(st.links) == [{"id_type_a": "patient", "id_value_a": PID, "id_type_b": "appointment",
                               "id_value_b": "BK-9"}]
