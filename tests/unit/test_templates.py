"""The shipped journey templates: valid, mutually consistent, and mapping the event vocabulary.

The vocabulary table below is docs/raw-formats.md in executable form: one row per kind of
event a connector emits, with the touchpoint the templates must map it to (None = deliberately
unmapped). It is evaluated by the real mapping code (Ibis on DuckDB).
"""

from __future__ import annotations

import re
from pathlib import Path

import ibis
import pandas as pd
import pytest
import yaml

from carejourney.errors import SpecError
from carejourney.mapping import map_touchpoints, rule_predicate
from carejourney.model.journey import DEFAULT_STAGES, TEAMS, Journey
from carejourney.model.match import EVENT_MATCH_FIELDS, PERSON_MATCH_FIELDS
from carejourney.model.project import DEFAULT_AGE_BANDS
from carejourney.project import load_project
from carejourney.templates import TEMPLATES, load_template, template_names, template_path

ROOT = Path(__file__).resolve().parents[2]
STAGE_OWNERS = {"awareness": "marketing", "consideration": "marketing", "access": "patient_access",
                "pre_visit": "operations", "care": "clinical", "post_visit": "clinical", "loyalty": "support"}
SERVICE_LINES = {"primary": ["primary_care"], "specialty": ["cardiology"], "urgent": ["urgent_care"],
                 "elective": ["orthopedics"]}


def _band_labels(bounds=DEFAULT_AGE_BANDS) -> list[str]:
    return [f"{lo}-{hi - 1}" for lo, hi in zip(bounds, bounds[1:])] + [f"{bounds[-1]}+"]


AGE_BANDS = _band_labels()
SENIOR_BANDS = ["65-74", "75-89", "90+"]

# (source_event, detail, status, expected touchpoint)
VOCABULARY = [
    ("page_view", "home", None, "homepage_visit"),
    ("page_view", "service", None, "service_page_view"),
    ("page_view", "blog", None, "health_content_read"),
    ("page_view", "pricing", None, "price_page_view"),
    ("page_view", "locations", None, "locations_page_view"),
    ("page_view", "provider", None, None),  # the view_provider_profile event carries it
    ("page_view", None, None, None),
    ("view_search_results", "provider", None, "provider_search"),
    ("view_provider_profile", "provider", None, "provider_profile_view"),
    ("view_reviews", "reviews", None, "reviews_read"),
    ("click_directions", "locations", None, "directions_clicked"),
    ("click_to_call", "service", None, "click_to_call"),
    ("form_start", "service", None, "web_form_started"),
    ("form_submit", "service", None, "web_form_submitted"),
    ("booking_start", "booking", None, "online_booking_started"),
    ("booking_complete", "booking", None, "online_booking_completed"),
    ("lead_created", "web_form", "new", "lead_created"),
    ("lead_created", "phone", "new", "lead_created"),
    ("lead_created", "referral", "contacted", "lead_created"),
    ("lead_created", None, None, "lead_created"),
    ("lead_created", "event", "new", "event_signup"),
    ("lead_contacted", "web_form", "contacted", "lead_contacted"),
    ("call_inbound", "scheduling", "answered", "call_answered"),
    ("call_inbound", None, "answered", "call_answered"),
    ("call_inbound", "general", "abandoned", "call_abandoned"),
    ("call_inbound", "scheduling", "voicemail", "call_abandoned"),
    ("call_inbound", "scheduling", "no_answer", "call_abandoned"),
    ("call_inbound", "nurse_line", "answered", "nurse_line_call"),
    ("call_inbound", "nurse_line", "abandoned", "nurse_line_call"),
    ("call_inbound", "billing", "answered", "billing_call"),
    ("call_inbound", "billing", "abandoned", "billing_call"),
    ("call_outbound", "scheduling", "answered", "callback_made"),
    ("call_outbound", None, "no_answer", "callback_made"),
    ("call_outbound", "billing", "answered", "billing_call"),
    ("ServiceRequest", "referral", "active", "referral_received"),
    ("ServiceRequest", "referral", "completed", "referral_received"),
    ("ServiceRequest", "referral", "draft", None),
    ("ServiceRequest", "108252007", "active", None),  # a lab order, not a referral
    ("Task", "records-requested", "in-progress", "referral_worked"),
    ("Appointment", "web", "booked", "appointment_booked"),
    ("Appointment", "phone", "booked", "appointment_booked"),
    ("Appointment", "phone", "cancelled", "appointment_cancelled"),
    ("Appointment", "phone", "noshow", "no_show"),
    ("Appointment", "web", "fulfilled", "checked_in"),
    ("Appointment", "in_person", "arrived", "checked_in"),
    ("Appointment", "in_person", "checked-in", "checked_in"),
    ("Appointment", "web", "proposed", None),
    ("CoverageEligibilityResponse", None, "active", "insurance_verified"),
    ("Coverage", "medicare", "active", None),  # plan start date: a payer fact, not a journey moment
    ("Communication", "reminder", "completed", "reminder_sent"),
    ("Communication", "reminder", None, "reminder_sent"),
    ("Communication", "reminder", "not-done", None),
    ("Communication", "instruction", "completed", "prep_instructions_sent"),
    ("Communication", "notification", "completed", None),
    ("QuestionnaireResponse", "intake", "in-progress", "intake_started"),
    ("QuestionnaireResponse", "intake", "stopped", "intake_started"),
    ("QuestionnaireResponse", "intake", "completed", "intake_completed"),
    ("QuestionnaireResponse", "intake", "amended", "intake_completed"),
    ("QuestionnaireResponse", "survey", "completed", None),
    ("Encounter", "AMB", "finished", "visit_completed"),
    ("Encounter", "AMB", "in-progress", "visit_completed"),
    ("Encounter", "AMB", None, "visit_completed"),
    ("Encounter", "AMB", "cancelled", None),
    ("Encounter", "AMB", "planned", None),
    ("Encounter", "VR", "finished", "virtual_visit"),
    ("Encounter", "EMER", "finished", "urgent_visit"),
    ("Encounter", "EMER", "entered-in-error", None),
    ("Encounter", "IMP", "finished", "procedure_admission"),
    ("Encounter", "SS", "finished", "procedure_admission"),
    ("Encounter", "ACUTE", "finished", "procedure_admission"),
    ("Encounter", "HH", "finished", "home_health_visit"),
    ("DiagnosticReport", "LAB", "final", "results_issued"),
    ("DiagnosticReport", "RAD", "preliminary", "results_issued"),
    ("DiagnosticReport", "LAB", "registered", None),
    ("result_viewed", "lab", "patient_to_clinic", "result_viewed"),
    ("portal_message", "medication", "patient_to_clinic", "portal_message_sent"),
    ("portal_message", "medication", "clinic_to_patient", "portal_reply_received"),
    ("portal_login", None, None, "portal_login"),
    ("CarePlan", "rehab", "active", "care_plan_created"),
    ("Claim", "professional", "active", "bill_sent"),
    ("Claim", "institutional", "draft", None),
    ("Claim", "pharmacy", "active", "prescription_filled"),
    ("Claim", None, "active", "bill_sent"),
    ("ExplanationOfBenefit", "complete", "active", "eob_issued"),
    ("ExplanationOfBenefit", "complete", "cancelled", None),
    ("survey_completed", "post_visit", None, "survey_completed"),
    ("review_posted", "google", None, "review_posted"),
    ("EpisodeOfCare", None, "active", None),
]


@pytest.fixture(scope="module")
def journeys() -> dict[str, Journey]:
    return {n: load_template(n) for n in template_names()}


@pytest.fixture(scope="module")
def con():
    c = ibis.duckdb.connect()
    yield c
    c.disconnect()


def staged(rows: list[tuple], **extra_cols) -> ibis.Table:
    """A staged-events table (strings only) from (source_event, detail, status) rows."""
    df = pd.DataFrame({
        "event_id": [f"e{i}" for i in range(len(rows))],
        "source": ["src"] * len(rows),
        "source_event": [r[0] for r in rows], "detail": [r[1] for r in rows],
        "status": [r[2] for r in rows],
        "channel": extra_cols.get("channel", [None] * len(rows)),
        "service_line": [None] * len(rows), "location": [None] * len(rows), "device": [None] * len(rows),
        "touchpoint": extra_cols.get("touchpoint", [None] * len(rows)),
        "stage": [None] * len(rows), "owner": [None] * len(rows),
    })
    return ibis.memtable(df, schema=ibis.schema({c: "string" for c in df.columns}))


def catalog(journeys) -> dict:
    out = {}
    for j in journeys.values():
        for tp in j.touchpoints:
            out.setdefault(tp.id, (j, tp))
    return out


# -- the package API -----------------------------------------------------------------------
def test_names_and_paths():
    assert template_names() == ["primary", "specialty", "urgent", "elective"]
    for name in TEMPLATES:
        assert template_path(name).is_file()
        assert template_path(name).name == f"{name}.yml"


def test_unknown_template_names_the_choices():
    with pytest.raises(SpecError, match=r"unknown journey template 'primery' — did you mean 'primary'\?"):
        template_path("primery")


# -- each template on its own --------------------------------------------------------------
@pytest.mark.parametrize("name", TEMPLATES)
def test_template_validates(name):
    j = Journey.model_validate(yaml.safe_load(template_path(name).read_text()))
    assert j.journey == name and j.kind == name
    assert j.service_lines == SERVICE_LINES[name]
    assert [s.id for s in j.stages] == list(DEFAULT_STAGES)
    assert {s.id: s.owner for s in j.stages} == STAGE_OWNERS
    assert len(j.touchpoints) >= 25
    assert {t.stage for t in j.touchpoints} == set(DEFAULT_STAGES)
    assert any(t.is_online for t in j.touchpoints) and any(not t.is_online for t in j.touchpoints)


@pytest.mark.parametrize("name", TEMPLATES)
def test_touchpoints_follow_stage_order_and_key_steps(name, journeys):
    j = journeys[name]
    order = [DEFAULT_STAGES.index(t.stage) for t in j.touchpoints]
    assert order == sorted(order), "touchpoints are grouped by stage, in stage order"
    keys = j.key_steps()
    assert 3 <= len(keys) <= 6
    key_stages = [DEFAULT_STAGES.index(j.touchpoint(k).stage) for k in keys]
    assert key_stages == sorted(key_stages)
    assert "care" in {j.touchpoint(k).stage for k in keys}, "the funnel reaches the visit"


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_touchpoint_is_matched_or_sourced_from_canonical_events(name, journeys):
    for tp in journeys[name].touchpoints:
        if tp.match is None:
            assert "kind: events" in (tp.description or ""), f"{tp.id}: no match rule and no canonical source"
            continue
        fields = tp.match.fields()
        assert "source_event" in fields, f"{tp.id}: rules key on source_event"
        assert "source" not in fields, f"{tp.id}: users name sources freely; match on source_event"
        assert set(fields) <= set(EVENT_MATCH_FIELDS)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_stage_has_a_full_moment(name, journeys):
    j = journeys[name]
    assert set(j.moments) == set(DEFAULT_STAGES)
    for stage, m in j.moments.items():
        assert m.doing and m.thinking and m.feeling, stage
        assert m.mood is not None and -2 <= m.mood <= 2
        assert m.questions and all(q.endswith("?") for q in m.questions), stage
    moods = [m.mood for m in j.moments.values()]
    assert min(moods) < 0 < max(moods), "a journey has lows and highs"


@pytest.mark.parametrize("name", TEMPLATES)
def test_segments(name, journeys):
    segs = {s.id: s for s in journeys[name].segments}
    assert {"pediatric", "adult", "senior", "spanish_speaking", "needs_interpreter"} <= set(segs)
    assert segs["pediatric"].where.root == {"age_band": "0-17"}
    assert segs["senior"].where.root["age_band"].in_ == SENIOR_BANDS
    assert segs["spanish_speaking"].where.root == {"language": "es"}
    assert segs["needs_interpreter"].where.root == {"needs_interpreter": True}
    for s in segs.values():
        assert (s.where is None) != (s.entry_touchpoint is None), f"{s.id}: a rule or an entry, not both"
        for field, cond in (s.where.root.items() if s.where else []):
            assert field in PERSON_MATCH_FIELDS
            if field == "age_band":
                values = [cond] if isinstance(cond, str) else cond.in_
                assert set(values) <= set(AGE_BANDS), f"{s.id}: unknown age band in {values}"


def test_age_segments_partition_the_age_bands(journeys, con):
    persons = ibis.memtable(pd.DataFrame({"age_band": AGE_BANDS + [None]}), schema={"age_band": "string"})
    for j in journeys.values():
        segs = {s.id: s for s in j.segments}
        cols = {sid: rule_predicate(persons, segs[sid].where) for sid in ("pediatric", "adult", "senior")}
        df = con.execute(persons.mutate(**cols))
        known = df[df.age_band.notna()]
        assert (known[["pediatric", "adult", "senior"]].sum(axis=1) == 1).all(), j.journey
        assert list(known.loc[known.senior, "age_band"]) == SENIOR_BANDS
        assert not df[df.age_band.isna()][["pediatric", "adult", "senior"]].any(axis=None)


@pytest.mark.parametrize("name", TEMPLATES)
def test_delays_have_owners_and_targets(name, journeys):
    j = journeys[name]
    assert len(j.delays) >= 5
    for d in j.delays:
        assert d.owner in TEAMS and d.target is not None, d.id
        assert any(v is not None for v in (d.target.median, d.target.p90, d.target.sla)), d.id
    ids = {d.id: d for d in j.delays}
    lead = ids["speed_to_lead"].target.sla
    if name in ("urgent", "elective"):
        assert lead.share == 0.9 and lead.within.total_seconds() == 3600
    if name == "specialty":
        assert ids["referral_to_booking"].target.median.days == 7


# -- the four together -----------------------------------------------------------------------
def test_all_four_load_as_one_project(make_project):
    files = {f"journeys/{n}.yml": template_path(n).read_text() for n in TEMPLATES}
    project = load_project(make_project(files))
    assert sorted(project.journeys) == sorted(TEMPLATES)
    cat = project.touchpoint_catalog()
    assert {"appointment_booked", "visit_completed", "reminder_sent", "intake_completed", "bill_sent",
            "survey_completed", "referral_received", "urgent_visit", "procedure_admission"} <= set(cat)


def test_shared_touchpoints_mean_the_same_thing(journeys):
    seen: dict[str, tuple] = {}
    for j in journeys.values():
        for tp in j.touchpoints:
            sig = (tp.stage, tp.channel, j.owner_of(tp.id), tp.is_online,
                   tp.match.model_dump(by_alias=True, exclude_none=True) if tp.match else None)
            assert seen.setdefault(tp.id, (j.journey, sig))[1] == sig, \
                f"{tp.id} differs between {seen[tp.id][0]} and {j.journey}"
    shared = [t for t in seen if sum(t in {x.id for x in j.touchpoints} for j in journeys.values()) == 4]
    assert {"appointment_booked", "reminder_sent", "intake_completed", "bill_sent", "survey_completed"} <= set(shared)


def test_no_event_matches_two_touchpoints(journeys, con):
    """Rules are mutually exclusive, so 'first match wins' never depends on file order."""
    t = staged([r[:3] for r in VOCABULARY])
    cat = catalog(journeys)
    preds = {tp_id: rule_predicate(t, tp.match).cast("int8") for tp_id, (_, tp) in cat.items() if tp.match}
    df = con.execute(t.select("event_id", "source_event", "detail", "status", **preds))
    hits = df[list(preds)].sum(axis=1)
    overlap = df[hits > 1]
    assert overlap.empty, overlap[["source_event", "detail", "status"]].to_string()


def test_all_templates_map_the_vocabulary(journeys, con):
    t = staged([r[:3] for r in VOCABULARY])
    out = con.execute(map_touchpoints(t, list(journeys.values())).order_by("event_id"))
    out = out.set_index("event_id").loc[[f"e{i}" for i in range(len(VOCABULARY))]]
    got = [None if pd.isna(v) else v for v in out.touchpoint]
    expected = [r[3] for r in VOCABULARY]
    wrong = [(r[:3], g) for r, g in zip(VOCABULARY, got) if g != r[3]]
    assert not wrong, wrong
    assert got == expected
    every = set(catalog(journeys))
    ruled = {tp_id for tp_id, (_, tp) in catalog(journeys).items() if tp.match}
    assert ruled <= set(expected), f"vocabulary misses {ruled - set(expected)}"
    assert {t for t in expected if t} <= every


@pytest.mark.parametrize("name", TEMPLATES)
def test_one_template_alone_maps_a_subset_the_same_way(name, journeys, con):
    """Loading fewer templates never routes an event to a different touchpoint."""
    t = staged([r[:3] for r in VOCABULARY])
    out = con.execute(map_touchpoints(t, [journeys[name]]))
    got = dict(zip(out.event_id, out.touchpoint))
    own = {tp.id for tp in journeys[name].touchpoints}
    for i, row in enumerate(VOCABULARY):
        value = got[f"e{i}"]
        value = None if pd.isna(value) else value
        assert value == (row[3] if row[3] in own else None), (name, row)


def test_mapping_in_any_order_gives_the_same_touchpoints(journeys, con):
    t = staged([r[:3] for r in VOCABULARY])
    js = list(journeys.values())
    results = set()
    for order in (js, js[::-1], js[1:] + js[:1], js[2:] + js[:2]):  # exclusivity covers the rest
        out = con.execute(map_touchpoints(t, list(order)).order_by("event_id"))
        results.add(tuple(None if pd.isna(v) else v for v in out.touchpoint))
    assert len(results) == 1


def test_staged_events_get_stage_owner_and_channel(journeys, con):
    rows = [("Appointment", "web", "booked"), ("Encounter", "EMER", "finished"), ("DiagnosticReport", "LAB", "final"),
            ("Claim", "professional", "active"), ("call_inbound", "scheduling", "abandoned"),
            ("Appointment", "in_person", "fulfilled"), ("page_view", "service", None), ("lead_created", "event", "new"),
            ("Encounter", "AMB", "finished")]
    t = staged(rows, channel=["digital", "in_person", None, None, None, None, None, None, None],
               touchpoint=[None, None, None, None, None, None, None, None, "urgent_visit"])
    out = con.execute(map_touchpoints(t, list(journeys.values())).order_by("event_id"))
    got = list(zip(out.touchpoint, out.stage, out.owner, out.channel))
    assert got == [
        ("appointment_booked", "access", "patient_access", "digital"),   # the connector's channel wins
        ("urgent_visit", "care", "clinical", "in_person"),
        ("results_issued", "post_visit", "clinical", "digital"),
        ("bill_sent", "post_visit", "billing", "mail"),
        ("call_abandoned", "access", "patient_access", "phone"),
        ("checked_in", "care", "front_desk", "in_person"),
        ("service_page_view", "awareness", "marketing", "digital"),
        ("event_signup", "consideration", "marketing", "in_person"),
        ("urgent_visit", "care", "clinical", "in_person"),                # a touchpoint from the source is kept
    ]


# -- docs ----------------------------------------------------------------------------------
def test_docs_cover_every_touchpoint_and_field(journeys):
    doc = (ROOT / "docs" / "journeys.md").read_text()
    for tp_id in catalog(journeys):
        assert f"`{tp_id}`" in doc, f"docs/journeys.md does not describe touchpoint {tp_id}"
    from carejourney.model import journey as jm
    for model in (jm.Journey, jm.Stage, jm.Touchpoint, jm.Moment, jm.Segment, jm.DelaySpec, jm.Target, jm.SLA):
        for name, info in model.model_fields.items():
            assert f"`{info.alias or name}`" in doc, f"docs/journeys.md does not document {model.__name__}.{name}"
    for op in ("in", "not", "not_in", "startswith", "contains", "exists"):
        assert re.search(rf"`{op}`|`\{{{op}:", doc), op
