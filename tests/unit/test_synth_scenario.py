"""Scenario YAML: defaults, merging, validation errors that name the field, and the CLI."""

from __future__ import annotations

import json

import pytest

from carejourney.cli import main
from carejourney.errors import SpecError, ValidationError
from carejourney.synth import load_scenario, synthesize


def test_defaults_plant_the_six_frictions():
    sc = load_scenario()
    ids = {f.id for f in sc.frictions}
    assert ids == {"senior_mobile_booking_abandon", "weekend_lead_callback", "eastgate_referrals_unscheduled",
                   "spanish_intake_stall", "elective_billing_confusion", "cardiology_long_wait_noshow"}
    for f in sc.frictions:
        assert f.owner and f.stage and f.touchpoint and f.dimension and f.value
    assert load_scenario("none").frictions == []


def test_user_file_merges_over_defaults(tmp_path):
    f = tmp_path / "s.yml"
    f.write_text("name: mine\nrates:\n  call_abandon: 0.2\n"
                 "frictions:\n  - id: weekend_lead_callback\n    start: 2025-03-01\n"
                 "  - id: slow_phones\n    description: Phones are slow at riverside\n    mechanism: call_abandon\n"
                 "    journey: all\n    segment: all\n    stage: access\n    touchpoint: call\n"
                 "    dimension: location\n    value: riverside\n    owner: patient_access\n"
                 "    where: {location: riverside}\n    effect: {odds_ratio: 3}\n")
    sc = load_scenario(f)
    assert sc.name == "mine" and sc.rates.call_abandon == 0.2 and sc.rates.read_reviews == 0.72
    assert [x.id for x in sc.frictions] == ["weekend_lead_callback", "slow_phones"]
    wk = sc.frictions[0]
    assert str(wk.start) == "2025-03-01" and wk.effect.delay_hours == 44  # the rest comes from the default


def test_empty_frictions_list_means_none(tmp_path):
    f = tmp_path / "s.yml"
    f.write_text("frictions: []\n")
    assert load_scenario(f).frictions == []


@pytest.mark.parametrize("text, field, words", [
    ("rates:\n  call_abandonn: 0.1\n", "rates.call_abandonn", "unknown field"),
    ("rates:\n  call_abandon: 1.5\n", "rates.call_abandon", "less than or equal to 1"),
    ("population:\n  language: {en: 0.5, es: 0.2}\n", "population.language", "add up to 1"),
    ("frictions:\n  - id: weekend_lead_callback\n    mechanism: lead_calback\n", "frictions[0].mechanism",
     "did you mean"),
    ("frictions:\n  - id: x\n    description: d\n", "frictions[0].mechanism", "required field is missing"),
    ("frictions:\n  - id: weekend_lead_callback\n    where: {age_band: old}\n", "frictions[0].where.age_band",
     "65+"),
    ("timezone: Mars/Base\n", "timezone", "unknown time zone"),
    ("frictions:\n  - id: eastgate_referrals_unscheduled\n    where: {location: eastgat}\n", "frictions[0].where",
     "unknown value 'eastgat'"),
])
def test_validation_errors_name_file_line_and_field(tmp_path, text, field, words):
    f = tmp_path / "bad.yml"
    f.write_text(text)
    with pytest.raises(ValidationError) as exc:
        load_scenario(f)
    msg = str(exc.value)
    assert str(f) in msg and field in msg and words in msg, msg
    assert any(p.line is not None for p in exc.value.problems)


def test_people_must_be_positive(tmp_path):
    with pytest.raises(SpecError, match="at least 1"):
        synthesize(tmp_path, people=0)


def test_cli_synth_writes_exports_and_truth(tmp_path, capsys):
    out = tmp_path / "data"
    code = main(["synth", str(out), "--people", "300", "--seed", "4", "--months", "6", "--start", "2025-02-01",
                 "--format", "json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["people"] == 300 and len(payload["frictions"]) == 6
    truth = json.loads((out / "truth.json").read_text())
    assert truth["start"] == "2025-02-01" and truth["end"] == "2025-08-01"
    assert (out / "fhir" / "Patient.ndjson").stat().st_size > 0 and (out / "web" / "ga4_events.jsonl").exists()


def test_cli_synth_defaults_to_project_data_folder(make_project, monkeypatch, capsys):
    root = make_project()
    monkeypatch.chdir(root)
    assert main(["synth", "--people", "50", "--scenario", "none", "-f", "json"]) == 0
    assert (root / "data" / "truth.json").is_file() and (root / "data" / "crm" / "leads.csv").is_file()


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["synth", str(tmp_path), "--scenario", str(tmp_path / "nope.yml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["synth", str(tmp_path), "--start", "January"]) == 2
    assert "expected a date" in capsys.readouterr().err
    bad = tmp_path / "bad.yml"
    bad.write_text("rates:\n  survey_respons: 0.3\n")
    assert main(["synth", str(tmp_path), "--scenario", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yml:2" in err and "rates.survey_respons" in err


def test_fhir_backbone_takes_clinical_content_from_synthea(tmp_path):
    from pathlib import Path
    src = Path("/work/shared/data/synthea")
    if not src.is_dir():  # the shared Synthea sample is optional outside this workspace
        pytest.skip("no Synthea sample bundles at /work/shared/data/synthea")
    s = synthesize(tmp_path / "o", people=400, seed=1, fhir_backbone=src, workers=1)
    truth = json.loads(s.truth_path.read_text())
    assert truth["fhir_backbone"]["bundles"] >= 20 and truth["fhir_backbone"]["encounter_templates"] > 50
    import orjson
    encs = [orjson.loads(x) for x in (tmp_path / "o" / "fhir" / "Encounter.ndjson").read_bytes().splitlines()]
    synthea_codes = {c["code"] for e in encs for t in e["type"] for c in t["coding"]}
    assert len(synthea_codes) > 4  # far more variety than the built-in encounter types
    with pytest.raises(SpecError, match="no .json FHIR Bundles"):
        synthesize(tmp_path / "p", people=10, fhir_backbone=tmp_path)
