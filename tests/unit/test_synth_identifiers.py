"""Raw files carry realistic identifiers (so de-identification is exercised), each system its
own, and truth/people.parquet maps every person to all of them."""

from __future__ import annotations

import re

import orjson
import pandas as pd
import pytest

from carejourney.synth import synthesize

PHONE = re.compile(r"(?:\+1\d{10}|\(\d{3}\) \d{3}-\d{4}|\d{3}-\d{3}-\d{4})")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}")


def ndjson(root, name):
    return [orjson.loads(x) for x in (root / "fhir" / f"{name}.ndjson").read_bytes().splitlines() if x]


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_ids")
    synthesize(out, people=3000, seed=9, workers=1)
    return out, pd.read_parquet(out / "truth" / "people.parquet")


def test_patient_resources_have_full_identifiers(raw):
    root, _ = raw
    pats = ndjson(root, "Patient")
    assert len(pats) > 1000
    for p in pats[:300]:
        assert p["name"][0]["family"] and p["name"][0]["given"][0]
        tele = {t["system"]: t["value"] for t in p["telecom"]}
        assert PHONE.fullmatch(tele["phone"]) and EMAIL.fullmatch(tele["email"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", p["birthDate"])
        addr = p["address"][0]
        assert re.fullmatch(r"\d{5}", addr["postalCode"]) and addr["line"][0][0].isdigit()
        ids = {i["type"]["coding"][0]["code"]: i for i in p["identifier"]}
        assert ids["MR"]["system"] == "urn:carejourney:mrn" and re.fullmatch(r"\d{8}", ids["MR"]["value"])
        assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", ids["SS"]["value"])
        assert p["communication"][0]["language"]["coding"][0]["code"]
        urls = {e["url"] for e in p["extension"]}
        assert "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired" in urls
    zips = {p["address"][0]["postalCode"][:3] for p in pats}
    assert zips & {"036", "059", "063"}, "a few patients live in restricted ZIP3 areas"
    ages = [2025 - int(p["birthDate"][:4]) for p in pats]
    assert max(ages) >= 90 and min(ages) <= 5


def test_each_system_has_its_own_identifiers(raw):
    root, people = raw
    leads = pd.read_csv(root / "crm" / "leads.csv", dtype=str)
    assert leads["email"].str.fullmatch(EMAIL.pattern).all() and leads["phone"].str.fullmatch(PHONE.pattern).all()
    calls = pd.read_csv(root / "calls" / "calls.csv", dtype=str)
    assert calls["caller_phone"].str.fullmatch(r"\+1\d{10}").all()
    portal = pd.read_csv(root / "portal" / "messages.csv", dtype=str)
    assert portal["mrn"].str.fullmatch(r"\d{8}").all()
    # the same person is written differently by each system: stitching has to normalise
    row = people.dropna(subset=["lead_id", "mrn", "call_phone"]).iloc[0]
    lead = leads[leads["lead_id"] == row["lead_id"].split(";")[0]].iloc[0]
    assert lead["phone"] != row["call_phone"] and re.sub(r"\D", "", lead["phone"]) == row["call_phone"][2:]
    assert lead["client_id"] == row["client_id"] and lead["email"] == row["email"]


def test_truth_people_map_every_raw_identifier(raw):
    root, people = raw
    assert people["person_id"].is_unique and len(people) == 3000
    for col in ("email", "phone", "mrn", "patient_id", "client_id"):
        assert people[col].dropna().is_unique, col
    ga4_users = {orjson.loads(x)["user_pseudo_id"] for x in (root / "web" / "ga4_events.jsonl").read_bytes().splitlines()}
    assert set(people["client_id"].dropna()) == ga4_users
    leads = pd.read_csv(root / "crm" / "leads.csv", dtype=str)
    truth_leads = {lid for v in people["lead_id"].dropna() for lid in v.split(";")}
    assert set(leads["lead_id"]) == truth_leads
    pats = {p["id"]: p["identifier"][0]["value"] for p in ndjson(root, "Patient")}
    mapped = people.dropna(subset=["patient_id"])
    assert dict(zip(mapped["patient_id"], mapped["mrn"])) == pats
    calls = pd.read_csv(root / "calls" / "calls.csv", dtype=str)
    assert set(calls["caller_phone"]) <= set(people["call_phone"].dropna())
    # coverage is realistic: some people only browse, some only call, most reach the EHR
    web_only = people["client_id"].notna() & people["lead_id"].isna() & people["mrn"].isna() & people["call_phone"].isna()
    no_web = people["client_id"].isna() & people["mrn"].notna()
    assert web_only.sum() > 50 and no_web.sum() > 300 and 0.6 < people["mrn"].notna().mean() < 0.95


def test_free_text_follows_experience_and_sometimes_holds_identifiers(raw):
    root, _ = raw
    surveys = pd.read_csv(root / "surveys" / "responses.csv", keep_default_na=False)
    texts = surveys["comment"][surveys["comment"] != ""]
    leaks = texts.str.contains(PHONE.pattern) | texts.str.contains(EMAIL.pattern) | texts.str.contains("My name is|This is")
    assert 0.01 < leaks.mean() < 0.2
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    sia = SentimentIntensityAnalyzer()
    sent = surveys.loc[texts.index, "comment"].map(lambda t: sia.polarity_scores(t)["compound"])
    nps = surveys.loc[texts.index, "nps"]
    assert sent[nps >= 9].mean() > sent[nps <= 6].mean() + 0.4
    reviews = pd.read_csv(root / "reviews" / "reviews.csv", keep_default_na=False)
    assert reviews["author_name"].str.len().gt(3).all() and reviews["rating"].between(1, 5).all()
    topics = ("wait", "call", "bill", "park", "instruction", "portal", "cost", "form")
    assert sum(any(t in x.lower() for x in texts) for t in topics) >= 6
