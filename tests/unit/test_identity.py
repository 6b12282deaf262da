"""Identity stitching: components in the engine, and end-to-end stitching of raw exports.

The end-to-end tests write (or generate) raw files in the layout of docs/raw-formats.md —
GA4 events, CRM leads, calls, FHIR Bulk Patient/Encounter — ingest them through the real
pipeline and compare the stitched persons with the generator's truth: every person whose
records share a key (per the link rules each connector documents) must end up as one person,
and no person key may hold two different people.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from pathlib import Path

import ibis
import orjson
import pyarrow as pa
import pytest

from carejourney.identity import match_rates, resolve_components
from carejourney.ingest import ingest_sources, project_key
from carejourney.privacy.pseudonymise import normalise_identifier as norm
from carejourney.privacy.pseudonymise import pseudonym
from carejourney.project import load_project
from carejourney.store import open_store
from tests.conftest import MINI_JOURNEY


# -- components ---------------------------------------------------------------------------------
_N = iter(range(10**6))


def components(pairs, con=None):
    own = con is None
    con = con or ibis.duckdb.connect()
    t = con.create_table(f"links_{next(_N)}", ibis.memtable(pa.table(
        {"key_a": pa.array([a for a, _ in pairs], pa.string()), "key_b": pa.array([b for _, b in pairs], pa.string())})))
    out = resolve_components(t).to_pyarrow().to_pylist()
    if own:
        con.disconnect()
    return {r["subject_key"]: r["person_key"] for r in out}


def test_long_chain_star_pairs_and_self_links(duckdb_con):
    rng = random.Random(3)
    chain = [f"c{n:04d}" for n in rng.sample(range(10_000), 120)]  # ids in random order along the chain
    pairs = list(zip(chain, chain[1:]))
    star = [("s_hub", f"s_{i}") for i in range(20)]
    pairs += star + [("p1", "p2"), ("p2", "p1"), ("lone", "lone"), (None, "x_null")]
    got = components(pairs, duckdb_con)
    assert {got[k] for k in chain} == {min(chain)}
    assert {got[k] for k in ("s_hub", *[f"s_{i}" for i in range(20)])} == {"s_0"}
    assert got["p1"] == got["p2"] == "p1"
    assert got["lone"] == "lone"
    assert "x_null" not in got
    assert len(got) == 120 + 21 + 2 + 1


def test_matches_reference_union_find_on_random_graph():
    rng = random.Random(7)
    keys = [f"k{i:05d}" for i in range(3000)]
    pairs = [(rng.choice(keys), rng.choice(keys)) for _ in range(2500)]
    parent = {k: k for k in keys}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    got = components(pairs)
    groups = defaultdict(set)
    for k, p in got.items():
        groups[p].add(find(k))
    assert all(len(v) == 1 for v in groups.values())
    assert len(groups) == len({find(k) for k in got})


# -- raw files for a small population ----------------------------------------------------------------
PHONE_FORMATS = ["({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "{a}.{b}.{c}", "1{a}{b}{c}"]


def fmt_phone(digits: str, rng) -> str:
    return rng.choice(PHONE_FORMATS).format(a=digits[:3], b=digits[3:6], c=digits[6:])


def write_population(data: Path, n: int = 200, seed: int = 11) -> list[dict]:
    """Raw exports for ``n`` people (docs/raw-formats.md layout) and their truth rows."""
    rng = random.Random(seed)
    truth, ga4, leads, calls, patients, encounters = [], [], [], [], [], []
    for i in range(n):
        digits = f"617{5550000 + i:07d}"
        t = {"person_id": f"P{i}", "email": f"person{i}@example.org", "phone": digits, "client_id": None,
             "lead_id": None, "lead_phone": None, "lead_email": None, "call_phone": None, "mrn": None,
             "patient_id": None}
        ts = 1767571200000000 + i * 3_600_000_000
        if rng.random() < 0.7:
            t["client_id"] = f"{100000 + i}.{1767571200 + i}"
            ga4.append({"event_timestamp": ts, "event_name": "page_view", "user_pseudo_id": t["client_id"],
                        "event_params": [{"key": "page_type", "value": {"string_value": "home"}}]})
        if rng.random() < 0.5:
            t["lead_id"] = f"00Q{i:012d}"
            t["lead_email"] = t["email"].upper() if rng.random() < 0.3 else t["email"]
            t["lead_phone"] = fmt_phone(digits, rng)
            from_web = t["client_id"] is not None and rng.random() < 0.8
            leads.append([t["lead_id"], "2026-01-05T10:00:00", f"First{i}", f"Last{i}", t["lead_email"],
                          t["lead_phone"], "cardiology", "north", "web_form" if from_web else "phone", "", "", "",
                          t["client_id"] if from_web and rng.random() < 0.5 else "", "", "new", "access"])
            if from_web:
                ga4.append({"event_timestamp": ts + 60_000_000, "event_name": "form_submit",
                            "user_pseudo_id": t["client_id"],
                            "event_params": [{"key": "lead_id", "value": {"string_value": t["lead_id"]}}]})
        if rng.random() < 0.5:
            # most call from their own phone; some from a number no other source knows
            own = rng.random() < 0.85
            t["call_phone"] = fmt_phone(digits if own else f"508{4440000 + i:07d}", rng)
            calls.append([f"K{i}", "2026-01-06 09:00", t["call_phone"], "inbound", "scheduling", "30", "120", "N",
                          "booked", "access", "", ""])
        if rng.random() < 0.8:
            t["patient_id"], t["mrn"] = f"pat-{i:05d}", f"MRN{i:06d}"
            patients.append({"resourceType": "Patient", "id": t["patient_id"], "gender": "female",
                             "birthDate": "1980-01-01", "name": [{"family": f"Last{i}", "given": [f"First{i}"]}],
                             "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": t["mrn"]}],
                             "telecom": [{"system": "phone", "value": fmt_phone(digits, rng)},
                                         {"system": "email", "value": t["email"]}]})
            encounters.append({"resourceType": "Encounter", "id": f"enc-{i}", "status": "finished",
                               "class": {"code": "AMB"}, "subject": {"reference": f"Patient/{t['patient_id']}"},
                               "period": {"start": "2026-01-10T09:00:00Z"}})
        truth.append(t)
    for sub in ("web", "crm", "calls", "fhir"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    (data / "web/ga4_events.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in ga4) + b"\n")
    for name, header, rows in (("crm/leads.csv", LEAD_HEADER, leads), ("calls/calls.csv", CALL_HEADER, calls)):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header, *rows])
        (data / name).write_text(buf.getvalue())
    for name, items in (("Patient", patients), ("Encounter", encounters)):
        (data / f"fhir/{name}.ndjson").write_bytes(b"\n".join(orjson.dumps(x) for x in items) + b"\n")
    return truth


LEAD_HEADER = ["lead_id", "created_at", "first_name", "last_name", "email", "phone", "service_line", "location",
               "lead_source", "utm_source", "utm_medium", "utm_campaign", "client_id", "first_contact_at",
               "status", "owner_team"]
CALL_HEADER = ["call_id", "started_at", "caller_phone", "direction", "queue", "wait_seconds", "talk_seconds",
               "abandoned", "outcome", "agent_team", "callback_of", "reason"]


def sources_yml(data: Path) -> str:
    return (f"sources:\n"
            f"  - {{name: web, kind: ga4, path: '{data}/web/ga4_events.jsonl'}}\n"
            f"  - {{name: crm, kind: leads, path: '{data}/crm/leads.csv'}}\n"
            f"  - {{name: calls, kind: calls, path: '{data}/calls/calls.csv'}}\n"
            f"  - {{name: ehr, kind: fhir, path: '{data}/fhir/*.ndjson'}}\n")


# -- the truth check -------------------------------------------------------------------------------
def shared_key_groups(t: dict, data: Path, evidence: dict) -> list[set[str]]:
    """The person's records (web, lead, caller, patient) that share a key in the raw files."""
    nodes = {k: v for k, v in (("web", t.get("client_id")), ("lead", t.get("lead_id")),
                               ("caller", t.get("call_phone")), ("patient", t.get("patient_id"))) if v}
    parent = {k: k for k in nodes}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    def join(a, b):
        if a in nodes and b in nodes:
            parent[find(a)] = find(b)
    lead, pat = evidence["leads"].get(t.get("lead_id")), evidence["patients"].get(t.get("patient_id"))
    if lead and t.get("client_id") and (lead["client_id"] == t["client_id"]
                                        or evidence["form_links"].get(t["client_id"]) == t["lead_id"]):
        join("web", "lead")
    caller = norm("phone", t["call_phone"]) if t.get("call_phone") else None
    if lead and pat and ({norm("email", lead["email"]), norm("phone", lead["phone"])} & pat):
        join("lead", "patient")
    if caller and lead and caller == norm("phone", lead["phone"]):
        join("caller", "lead")
    if caller and pat and caller in pat:
        join("caller", "patient")
    groups = defaultdict(set)
    for k in nodes:
        groups[find(k)].add(k)
    return [g for g in groups.values() if len(g) > 1]


def raw_evidence(data: Path) -> dict:
    leads = {r["lead_id"]: r for r in csv.DictReader(open(data / "crm/leads.csv"))}
    form_links = {}
    for line in open(data / "web/ga4_events.jsonl", "rb"):
        e = orjson.loads(line)
        for p in e.get("event_params") or ():
            if p["key"] == "lead_id":
                form_links[e["user_pseudo_id"]] = p["value"]["string_value"]
    patients = {}
    for line in open(data / "fhir/Patient.ndjson", "rb"):
        r = orjson.loads(line)
        patients[r["id"]] = {norm("phone" if t["system"] != "email" else "email", t["value"])
                             for t in r.get("telecom") or ()}
    return {"leads": leads, "form_links": form_links, "patients": patients}


KEY_TYPES = {"web": ("client_id", "client_id"), "lead": ("lead_id", "lead"), "caller": ("call_phone", "phone"),
             "patient": ("patient_id", "patient")}


def identity_map(project) -> dict:
    """The store's identity table: subject key → person key."""
    store = open_store(project)
    try:
        return dict(store.con.con.execute("SELECT subject_key, person_key FROM identity").fetchall())
    finally:
        store.close()


def check_stitching(project, truth: list[dict], data: Path) -> tuple[int, int]:
    """(people with a shared key, of them stitched into one person); asserts nobody is merged."""
    key = project_key(project)
    identity = identity_map(project)
    evidence = raw_evidence(data)
    owner: dict[str, str] = {}
    with_shared, stitched = 0, 0
    for t in truth:
        pk = {}
        for node, (col, id_type) in KEY_TYPES.items():
            if t.get(col):
                sk = pseudonym(key, id_type, t[col])
                pk[node] = identity.get(sk, sk)
                assert owner.setdefault(pk[node], t["person_id"]) == t["person_id"], \
                    f"{t['person_id']} merged with {owner[pk[node]]}"
        groups = shared_key_groups(t, data, evidence)
        if groups:
            with_shared += 1
            stitched += all(len({pk[n] for n in g}) == 1 for g in groups)
    return with_shared, stitched


def test_identifiers_linked_to_more_than_the_limit_join_nobody(duckdb_con):
    pairs = [("hub", f"s{i}") for i in range(20)] + [(f"s{i}", f"t{i}") for i in range(20)]
    pairs += [("p1", "p2"), ("p2", "p1"), ("p1", "p1"), ("p1", "p3")]  # duplicates, reversals, self-links
    capped = {}
    for limit in (19, 20):
        con = duckdb_con
        t = con.create_table(f"links_{next(_N)}", ibis.memtable(pa.table(
            {"key_a": pa.array([a for a, _ in pairs]), "key_b": pa.array([b for _, b in pairs])})))
        capped[limit] = {r["subject_key"]: r["person_key"]
                         for r in resolve_components(t, max_links=limit).to_pyarrow().to_pylist()}
    # 20 distinct neighbours: over a limit of 19, the hub's links are left out
    got = capped[19]
    assert "hub" not in got
    assert all(got[f"s{i}"] == got[f"t{i}"] for i in range(20))
    assert len({got[f"s{i}"] for i in range(20)}) == 20
    assert got["p1"] == got["p2"] == got["p3"] == "p1"  # p1 has 2 distinct neighbours, not 4
    # at the limit it still joins
    assert {capped[20][k] for k in ("hub", "s0", "t19")} == {"hub"}


def test_a_placeholder_email_does_not_merge_the_leads_that_share_it(make_project, capsys):
    """30 leads give 'none@none.com' with their own phones: without the limit they become one
    person; with it, 30 people, each stitched to their own calls."""
    from carejourney.cli import main
    made = {}
    for name, settings in (("followed", ""), ("limited", "identity: {max_links_per_key: 10}\n")):
        root = make_project({"journeys/care.yml": MINI_JOURNEY,
                             "carejourney.yml": f"name: {name}\ntimezone: UTC\n{settings}"}, name=name)
        data = root / "raw"
        write_population(data, n=30)
        phones = [f"212{5550000 + i:07d}" for i in range(30)]
        with (data / "crm/leads.csv").open("a") as f:
            csv.writer(f, lineterminator="\n").writerows(
                [f"00QX{i:011d}", "2026-01-05T10:00:00", f"F{i}", f"L{i}", "none@none.com", phones[i], "cardiology",
                 "north", "phone", "", "", "", "", "", "new", "access"] for i in range(30))
        with (data / "calls/calls.csv").open("a") as f:
            csv.writer(f, lineterminator="\n").writerows(
                [f"KX{i}", "2026-01-06 09:00", phones[i], "inbound", "scheduling", "30", "120", "N", "booked",
                 "access", "", ""] for i in range(30))
        (root / "sources").mkdir(exist_ok=True)
        (root / "sources/all.yml").write_text(sources_yml(data))
        project = load_project(root)
        ingest_sources(project)
        key = project_key(project)
        identity = identity_map(project)
        leads = [identity.get(pseudonym(key, "lead", f"00QX{i:011d}")) for i in range(30)]
        calls = [identity.get(pseudonym(key, "phone", p)) for p in phones]
        made[name] = (leads, calls, root)
    leads, calls, _ = made["followed"]
    assert len(set(leads)) == 1  # everyone who typed the placeholder is one "person"
    leads, calls, root = made["limited"]
    assert len(set(leads)) == 30 and leads == calls  # each lead is stitched to their own calls only
    capsys.readouterr()
    assert main(["--project", str(root), "identity", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["max_links_per_key"] == 10 and out["shared_identifiers"] == "<11"  # one, suppressed like people


def test_fixture_population_stitches_across_web_leads_calls_and_fhir(make_project):
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    data = root / "raw"
    truth = write_population(data)
    (root / "sources").mkdir(exist_ok=True)
    (root / "sources/all.yml").write_text(sources_yml(data))
    project = load_project(root)
    receipts = ingest_sources(project)
    assert all(r.rows_rejected == 0 for r in receipts)
    with_shared, stitched = check_stitching(project, truth, data)
    assert with_shared >= 120
    assert stitched / with_shared >= 0.99
    # a caller from an unknown number and a visitor who never left a lead stay separate people
    loners = [t for t in truth if t["call_phone"] and not t["lead_id"] and not t["patient_id"]]
    assert all(not shared_key_groups(t, data, raw_evidence(data)) for t in loners)

    rates = {(r["src_a"], r["src_b"]): r for r in match_rates(open_store(project))}
    web_crm = rates[("web", "crm")]
    assert 0 < web_crm["matched"] <= web_crm["total"]
    assert web_crm["rate"] == pytest.approx(web_crm["matched"] / web_crm["total"])


def test_identity_cli_suppresses_small_counts(make_project, capsys):
    from carejourney.cli import main
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    data = root / "raw"
    write_population(data, n=200)
    # a tiny extra source: 3 callers, all also in the EHR → counts under k must be hidden
    (data / "few").mkdir()
    (data / "few/calls.csv").write_text("\n".join([",".join(CALL_HEADER)] + [
        f"X{i},2026-01-07 09:00,617{5550000 + i:07d},inbound,billing,5,60,N,info,access,," for i in range(3)]) + "\n")
    (root / "sources").mkdir(exist_ok=True)
    (root / "sources/all.yml").write_text(sources_yml(data) +
                                          f"  - {{name: few, kind: calls, path: '{data}/few/calls.csv'}}\n")
    ingest_sources(load_project(root))
    capsys.readouterr()
    assert main(["--project", str(root), "identity", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["min_cell"] == 11 and out["suppressed_cells"] > 0
    rows = {(r["src_a"], r["src_b"]): r for r in out["rows"]}
    few = rows[("few", "ehr")]
    assert few["total"] == "<11" and few["matched"] == "<11" and few["rate"] == "<11"
    assert isinstance(rows[("web", "crm")]["total"], int) and rows[("web", "crm")]["total"] >= 11
    for r in out["rows"]:
        for c in ("total", "matched"):
            assert r[c] == "<11" or r[c] == 0 or r[c] >= 11


def test_synthetic_generator_output_stitches_back_to_its_truth(make_project):
    synth = pytest.importorskip("carejourney.synth", reason="the synthetic generator is not available")
    if not hasattr(synth, "synthesize"):
        pytest.skip("carejourney.synth has no synthesize() yet")
    import pyarrow.parquet as pq
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    data = root / "raw"
    synth.synthesize(data, people=300, seed=5, workers=1)
    truth = pq.read_table(data / "truth/people.parquet").to_pylist()
    (root / "sources").mkdir(exist_ok=True)
    (root / "sources/all.yml").write_text(sources_yml(data))
    project = load_project(root)
    receipts = ingest_sources(project)
    assert sum(r.rows_rejected for r in receipts) == 0
    with_shared, stitched = check_stitching(project, truth, data)
    assert with_shared >= 50
    assert stitched / with_shared >= 0.99
