"""Synthea FHIR R4 bundles through the real pipeline (sources/*.yml → ingest → DuckDB store → CLI).

The bundles carry realistic-looking names, addresses, phone numbers and SSNs: none of them may
appear in the store file or in any command's output.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import orjson
import pytest

from carejourney.cli import main
from carejourney.ingest import ingest_sources
from carejourney.project import load_project
from carejourney.store import open_store
from tests.conftest import MINI_JOURNEY, SYNTHEA_DIR

pytestmark = pytest.mark.synthea

BUNDLES = sorted(SYNTHEA_DIR.glob("*.json")) if SYNTHEA_DIR.is_dir() else []
if not BUNDLES:
    pytest.skip(f"no Synthea bundles in {SYNTHEA_DIR} (set CAREJOURNEY_SYNTHEA_DIR)", allow_module_level=True)

CHECKED_TYPES = ("Encounter", "Claim", "ExplanationOfBenefit", "DiagnosticReport", "Patient")


def bundle_facts():
    """Counts per resource type and encounter class, and the patients' direct identifiers."""
    types, classes, canaries = Counter(), Counter(), set()
    for path in BUNDLES:
        for e in orjson.loads(path.read_bytes())["entry"]:
            r = e["resource"]
            types[r["resourceType"]] += 1
            if r["resourceType"] == "Encounter":
                classes[r["class"]["code"]] += 1
            if r["resourceType"] != "Patient":
                continue
            for n in r.get("name") or ():
                canaries.update([n.get("family", ""), *n.get("given", ())])
            for a in r.get("address") or ():
                canaries.update([*a.get("line", ()), a.get("city", "")])
            for t in r.get("telecom") or ():
                canaries.update([t["value"], re.sub(r"\D", "", t["value"])])
            for i in r.get("identifier") or ():
                if i.get("system") == "http://hl7.org/fhir/sid/us-ssn":
                    canaries.update([i["value"], i["value"].replace("-", "")])
            for x in r.get("extension") or ():
                if x["url"].endswith("patient-mothersMaidenName"):
                    canaries.add(x["valueString"])
    canaries = {c for c in canaries if len(c) >= 4}  # shorter strings could occur by chance
    return types, classes, canaries


@pytest.fixture(scope="module")
def synthea_project(tmp_path_factory):
    from tests.conftest import write_project
    root = write_project(tmp_path_factory.mktemp("synthea") / "proj", {
        "journeys/care.yml": MINI_JOURNEY,
        "sources/ehr.yml": f"sources:\n  - {{name: ehr, kind: fhir, path: '{SYNTHEA_DIR.resolve()}/*.json'}}\n"})
    project = load_project(root)
    receipts = ingest_sources(project)
    return project, receipts


def test_every_resource_is_accounted_for_per_type(synthea_project):
    project, receipts = synthea_project
    types, _, _ = bundle_facts()
    assert len(receipts) == len(BUNDLES)
    store = open_store(project)
    try:
        details = [json.loads(d) for (d,) in store.con.con.execute("SELECT detail FROM receipts").fetchall()]
    finally:
        store.close()
    totals: dict[str, Counter] = {}
    for d in details:
        for t, c in d["by_type"].items():
            totals.setdefault(t, Counter()).update(c)
    for t in CHECKED_TYPES:
        assert totals[t]["read"] == types[t], t
        assert totals[t]["read"] == totals[t]["loaded"] + totals[t]["rejected"], t
    assert sum(c["read"] for c in totals.values()) == sum(types.values())
    for r in receipts:
        assert r.rows_read == r.rows_loaded + r.rows_rejected
    assert sum(r.rows_rejected for r in receipts) == 0  # Synthea is valid FHIR: nothing to reject
    assert set(totals) - {"Observation", "Immunization", "Procedure", "MedicationRequest", "Condition",
                          "Organization", "Practitioner", "Goal", "AllergyIntolerance", "ImagingStudy"} \
        == {"Patient", "Encounter", "Claim", "ExplanationOfBenefit", "DiagnosticReport", "CarePlan"}


def test_encounter_classes_map_to_care_types(synthea_project):
    project, _ = synthea_project
    _, classes, _ = bundle_facts()
    store = open_store(project)
    try:
        got = dict(((d, s), n) for d, s, n in store.con.con.execute(
            "SELECT detail, service_line, count(*) FROM events WHERE source_event = 'Encounter' GROUP BY ALL"
        ).fetchall())
        people = store.con.con.execute("SELECT count(DISTINCT subject_key) FROM subjects").fetchone()[0]
        payers = {p for (p,) in store.con.con.execute("SELECT DISTINCT payer_type FROM subjects").fetchall()}
    finally:
        store.close()
    expected = {"EMER": "urgent_care", "AMB": "primary_care", "IMP": "inpatient"}
    assert got == {(c, expected[c]): n for c, n in classes.items()}
    assert people == len(BUNDLES)
    assert payers <= {"commercial", "medicare", "medicaid", "self-pay", "other"} and "commercial" in payers


def test_no_name_address_phone_or_ssn_reaches_the_store_or_any_output(synthea_project, capsys):
    project, _ = synthea_project
    _, _, canaries = bundle_facts()
    assert len(canaries) > 100
    root = project.root
    outputs = []
    for argv in (["ingest", "--format", "json"], ["ingest"], ["status", "--format", "json"], ["status", "--rejects"],
                 ["identity", "--format", "json"], ["identity"]):
        capsys.readouterr()
        assert main(["--project", str(root), *argv]) == 0, argv
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
    text = "\n".join(outputs)
    assert "Encounter" in text or "ehr" in text  # the commands did print something
    store = open_store(project)
    try:
        raw = store.con.con
        dump = []
        for (table,) in raw.execute("SELECT table_name FROM information_schema.tables").fetchall():
            dump.append(str(raw.execute(f'SELECT * FROM "{table}"').fetchall()))
        raw.execute("CHECKPOINT")
    finally:
        store.close()
    stored = "\n".join(dump)
    files = b"".join(p.read_bytes() for p in (root / "target").glob("carejourney.duckdb*"))
    leaks = sorted(c for c in canaries if c in stored or c in text or c.encode() in files)
    assert not leaks, f"raw identifiers leaked: {leaks[:5]}"
