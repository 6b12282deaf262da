"""PHI scrubbing of free text: typed placeholders, tested on Synthea and Faker identifiers."""

from __future__ import annotations

import json

import pytest
from faker import Faker

from carejourney.privacy.scrub import PLACEHOLDERS, scrub_text, scrub_texts
from tests.conftest import SYNTHEA_DIR


@pytest.mark.parametrize("text, expected", [
    ("Dr. Koepp called me at (617) 555-0199 on March 3, 2024", "Dr. [NAME] called me at [PHONE] on [DATE]"),
    ("email jane.doe+x@example.org now", "email [EMAIL] now"),
    ("see https://clinic.example.com/a?b=1 or www.example.com", "see [URL] or [URL]"),
    ("SSN 999-22-1962 please", "[SSN] please"),
    ("my MRN: 00123456 is wrong", "my [MRN] is wrong"),
    ("id e925b0f3-8006-43f6-aa31-94bd215e55e7 ok", "id [MRN] ok"),
    ("born 1956-08-03 and seen 08/03/2024 and 3rd of May", "born [DATE] and seen [DATE] and [DATE]"),
    ("I live at 313 Lockman Row Suite 4, Peabody, Massachusetts 01940", "I live at [ADDRESS]"),
    ("zip 02139 only", "zip [ZIP] only"),
    ("call +44 20 7946 0958 today", "call [PHONE] today"),
    ("Hi, this is Sharmaine Yost about my bill", "Hi, this is [NAME] about my bill"),
    ("Nurse Kelly was kind", "Nurse [NAME] was kind"),
    ("Vivo en Calle Ramírez 123 Interior 4", "Vivo en [ADDRESS]"),
])
def test_typed_placeholders(text, expected):
    assert scrub_text(text) == expected


@pytest.mark.parametrize("text", [
    "The wait was long and the price was not clear.",
    "Price was not clear and the parking was awful.",     # surname-like everyday words stay
    "I am Happy with the care. Will they call back?",
    "I waited 45 minutes, paid $120 and drove 10 miles in 2024.",
    "Great visit, 5 stars, thank you!",
])
def test_ordinary_text_is_left_alone(text):
    assert scrub_text(text) == text


def test_none_and_placeholders_are_stable():
    assert scrub_text(None) is None
    once = scrub_text("Dr. Smith, 617-555-0199, jane@x.org, 12 Main St, 02139, 01/02/2020")
    assert scrub_text(once) == once
    assert {p for p in PLACEHOLDERS if f"[{p}]" in once} == {"NAME", "PHONE", "EMAIL", "ADDRESS", "ZIP", "DATE"}


def test_explicit_names_any_case_and_parts():
    out = scrub_texts(["quentin was rude; Abernathy too", "Quentin's bill"], names=[["Quentin Abernathy"], None])
    assert out == ["[NAME] was rude; [NAME] too", "[NAME] bill"]


def test_ambiguous_name_scrubbed_once_seen_in_full():
    assert scrub_text("Robin Koepp helped. Later Robin called.") == "[NAME] helped. Later [NAME] called."
    assert scrub_text("Will Koepp said he will call") == "[NAME] said he will call"  # the verb stays


def test_lower_case_names_after_a_cue():
    assert scrub_text("hi my name is maria lopez and i waited") == "hi my name is [NAME] and i waited"
    assert scrub_text("My name is Maria. maria says hi") == "My name is [NAME]. [NAME] says hi"
    assert scrub_text("this is a complaint about the bill") == "this is a complaint about the bill"


def _planted(f: Faker, ssn: str) -> tuple[str, list[str]]:
    first, last = f.first_name(), f.last_name()
    ids = [f.phone_number(), f.email(), f.street_address(), ssn, f.date(pattern="%m/%d/%Y"), f.postcode()]
    text = (f"Hi, I'm {first} {last}. Please call {ids[0]} or write to {ids[1]}. I live at {ids[2]}, "
            f"zip {ids[5]}. SSN {ids[3]}, born {ids[4]}. The wait was long. {first} {last} thanks you.")
    return text, [first, last, *ids]


@pytest.mark.parametrize("locale", ["en_US", "es_MX"])
def test_faker_identifiers_never_survive(locale):
    f = Faker(locale)
    f.seed_instance(11)
    leaks = []
    for _ in range(300):
        text, ids = _planted(f, f.ssn() if locale == "en_US" else "123-45-6789")
        out = scrub_text(text)
        leaks += [(i, out) for i in ids if i in out]
        assert "The wait was long." in out  # the experience itself survives
    assert leaks == []


def _synthea_patients():
    if not SYNTHEA_DIR.is_dir():
        return []
    patients = []
    for path in sorted(SYNTHEA_DIR.glob("*.json")):
        bundle = json.loads(path.read_text())
        for e in bundle.get("entry", []):
            r = e.get("resource", {})
            if r.get("resourceType") == "Patient":
                patients.append(r)
    return patients


@pytest.mark.synthea
def test_synthea_identifiers_never_survive():
    patients = _synthea_patients()
    if not patients:
        pytest.skip(f"no Synthea bundles in {SYNTHEA_DIR}")
    leaks, checked = [], 0
    for p in patients:
        name = p["name"][0]
        given, family = name.get("given", [""])[0], name["family"]
        phone = next((t["value"] for t in p.get("telecom", []) if t["system"] == "phone"), "555-000-0000")
        addr = p["address"][0]
        line = f"{addr['line'][0]}, {addr['city']}, {addr['state']} {addr['postalCode']}"
        ids = {i.get("type", {}).get("coding", [{}])[0].get("code"): i["value"] for i in p["identifier"]}
        birth = p["birthDate"]
        y, m, d = birth.split("-")
        dl, ppn = ids.get("DL", "S99900001"), ids.get("PPN", "X10000001X")
        planted = [given, family, phone, addr["line"][0], addr["postalCode"], ids.get("SS"), ids["MR"], dl, ppn,
                   birth, f"{m}/{d}/{y}"]
        texts = [
            f"My name is {given} {family} and my phone is {phone}. The front desk was rude.",
            f"Patient {given} {family} (MRN {ids['MR']}), DOB {birth}, lives at {line}.",
            f"{family}, {given} - SSN {ids.get('SS', '999-00-0000')}, license {dl}, passport {ppn}, born {m}/{d}/{y}",
            f"Dr. {family} never called {given} back at {phone}.",
        ]
        for t in texts:
            out = scrub_text(t)
            checked += 1
            leaks += [(v, out) for v in planted if v and v in out]
    assert checked >= 4 and leaks == []
