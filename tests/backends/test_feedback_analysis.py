"""Voice-of-the-patient analyses (feedback, feedback_topics, emotion_curve, verbatims) on DuckDB and Spark."""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from carejourney.analyses.base import execute, parse_spec, run
from carejourney.analyses.feedback import FeedbackSpec, mood_from_sentiment, verbatims
from carejourney.model.events import SCHEMAS
from carejourney.project import load_project
from tests.conftest import MINI_JOURNEY, key_of

MOMENTS = MINI_JOURNEY + """\
moments:
  access: {feeling: hopeful, mood: 1}
  care: {feeling: anxious, mood: -1}
"""

_n = iter(range(10**6))


def _row(pid, stage, ts="2026-01-10 10:00", *, fid=None, sentiment=None, topics=None, text=None,
         rating=None, scale=None, event=None, source="survey"):
    return {"person_key": None if pid is None else key_of(pid), "feedback_id": fid or f"f{next(_n)}", "ts": pd.Timestamp(ts), "source": source,
            "source_event": event, "touchpoint": None, "stage": stage, "location": None, "service_line": None,
            "rating": rating, "rating_scale": scale, "text": text, "sentiment": sentiment,
            "topics": None if topics is None else json.dumps(topics), "file_id": "test"}


def with_feedback(ctx, rows):
    con = ctx.con
    schema = ibis.schema({"person_key": "int64", **{k: v for k, v in SCHEMAS["feedback"].items() if k != "subject_key"}})
    df = pd.DataFrame(rows)
    df["ts"] = pd.to_datetime(df["ts"]).astype("datetime64[us]")
    df["person_key"] = pd.array([r["person_key"] for r in rows], dtype="Int64")  # not via float: 63-bit keys
    ctx.feedback = con.create_table(f"fb_{next(_n)}", ibis.memtable(df[list(schema.names)]).cast(schema), overwrite=True)
    return ctx


ACCESS_SENT = [-0.6 + 0.02 * i for i in range(15)]
CARE_NPS = [10, 9, 9, 10, 9, 10, 9, 9, 10, 9, 7, 8, 7, 8, 7, 3, 6, 0, 5, 6]   # 10 promoters, 5 detractors
CARE_CSAT = [5, 4, 5, 4, 4, 5, 5, 4, 4, 1, 2, 3]                              # 9 of 12 satisfied
CARE_SENT = [0.1 * (i % 7) - 0.2 for i in range(20)]
STARS = [1, 2, 3, 4, 5, 5, 4, 4, 3, 5, 5, 1]


@pytest.fixture
def voice(events_for, make_project):
    project = load_project(make_project({"journeys/care.yml": MOMENTS}))
    people = {f"p{i}": {"attrs": {"age_band": "65-74" if i < 12 else "35-49"},
                        "events": [("site_visit", "2026-01-01")]} for i in range(40)}
    ctx = events_for(people, project=project)
    rows = []
    for i, s in enumerate(ACCESS_SENT):  # 15 people; scheduling for all, callbacks for 12
        topics = ["scheduling", "callback_phone"] if i < 12 else ["scheduling"]
        rows.append(_row(f"p{i}", "access", sentiment=s, topics=topics,
                         text=f"Nobody called me back about booking, attempt number {i} was frustrating"))
    for i, (nps, s) in enumerate(zip(CARE_NPS, CARE_SENT)):  # 20 people; CSAT for 12 of them (same response)
        pid, fid = f"p{i + 15}", f"care{i}"
        rows.append(_row(pid, "care", "2026-02-03 09:00", fid=fid, sentiment=s, topics=["wait_time"] if i < 11 else [],
                         text=f"The wait in the lobby was long on visit {i} but fine", rating=nps, scale=10, event="nps"))
        if i < 12:
            rows.append(_row(pid, "care", "2026-02-03 09:00", fid=fid, rating=CARE_CSAT[i], scale=5, event="csat"))
    for i, st in enumerate(STARS):  # 12 anonymous reviews
        rows.append(_row(None, "post_visit", sentiment=(st - 3) / 2, topics=["billing"], rating=st, scale=5,
                         event="google", text=f"Review {i}: the bill was a surprise", source="reviews"))
    for i in range(5):  # a small cell
        rows.append(_row(f"p{35 + i}", "pre_visit", sentiment=0.5, topics=["instructions_next_steps"], text="ok"))
    return with_feedback(ctx, rows)


def frame(ctx, **spec):
    df, _, _ = execute(parse_spec(spec), ctx)
    return df.set_index(df.columns[0], drop=False)


def _ci(values):
    v = np.asarray(values, float)
    m, se = v.mean(), v.std(ddof=1) / np.sqrt(len(v))
    h = stats.t.ppf(0.975, len(v) - 1) * se
    return m, m - h, m + h


def test_volume_sentiment_ratings_per_stage(voice):
    df = frame(voice, kind="feedback")
    assert list(df.stage) == ["access", "pre_visit", "care", "post_visit"]  # journey order
    a, c, p = df.loc["access"], df.loc["care"], df.loc["post_visit"]
    assert (a["items"], a.people, c["items"], c.people, p["items"], p.people) == (15, 15, 20, 20, 12, 12)
    m, lo, hi = _ci(ACCESS_SENT)
    assert (a.sentiment_mean, a.sentiment_ci_low, a.sentiment_ci_high) == pytest.approx((m, lo, hi))
    assert c.sentiment_n == 20 and c.sentiment_mean == pytest.approx(np.mean(CARE_SENT))
    assert (c.nps_n, c.nps) == (20, pytest.approx(25.0))
    assert (c.csat_n, c.csat_pct) == (12, pytest.approx(75.0))
    assert pd.isna(c.stars_avg) and c.stars_n == 0
    assert (p.stars_n, p.stars_avg) == (12, pytest.approx(np.mean(STARS)))
    assert pd.isna(a.nps) and pd.isna(p.csat_pct)


def test_top_topics_need_k_people(voice):
    df = frame(voice, kind="feedback")
    a, c = df.loc["access"], df.loc["care"]
    assert (a.topic_1, a.topic_1_people, a.topic_2, a.topic_2_people) == ("scheduling", 15, "callback_phone", 12)
    assert a.topic_1_sentiment == pytest.approx(np.mean(ACCESS_SENT))
    assert a.topic_2_sentiment == pytest.approx(np.mean(ACCESS_SENT[:12]))
    assert pd.isna(a.topic_3)
    assert c.topic_1 == "wait_time" and c.topic_1_people == 11
    assert pd.isna(df.loc["pre_visit"].topic_1)  # 5 people: not eligible


def test_run_suppresses_small_cells(voice):
    recs = {r["stage"]: r for r in run(FeedbackSpec(kind="feedback"), voice).records()}
    assert recs["pre_visit"]["people"] == "<11" and recs["pre_visit"]["sentiment_mean"] == "<11"
    assert recs["care"]["nps"] == pytest.approx(25.0)


def test_by_attribute_and_period(voice):
    df, _, _ = execute(parse_spec({"kind": "feedback", "by": "age_band", "period": "month"}), voice)
    got = {(r.stage, r.group, pd.Timestamp(r.period).strftime("%Y-%m")): r.people for r in df.itertuples()}
    assert got[("access", "65-74", "2026-01")] == 12 and got[("access", "35-49", "2026-01")] == 3
    assert got[("care", "35-49", "2026-02")] == 20
    assert got[("post_visit", "(unknown)", "2026-01")] == 12


def test_feedback_topics(voice):
    df, _, _ = execute(parse_spec({"kind": "feedback_topics"}), voice)
    rows = {(r.stage, r.topic): r for r in df.itertuples()}
    r = rows[("access", "callback_phone")]
    assert (r.items, r.people, r.negative_items) == (12, 12, 12) and r.share_negative == 1.0
    assert r.label.startswith("Reaching us by phone")
    assert rows[("post_visit", "billing")].negative_items == sum(1 for s in STARS if (s - 3) / 2 <= -0.05)
    assert list(df.stage.unique()) == ["access", "pre_visit", "care", "post_visit"]


def test_emotion_curve_beside_designed_mood(voice):
    df = frame(voice, kind="emotion_curve")
    assert list(df.stage) == ["awareness", "access", "pre_visit", "care", "post_visit"]
    a = df.loc["access"]
    assert a.mood_evidence == mood_from_sentiment(np.mean(ACCESS_SENT)) == pytest.approx(-0.9)
    assert (a.mood_designed, a.gap) == (1, pytest.approx(-1.9))
    assert df.loc["care"].feeling_designed == "anxious"
    assert df.loc["awareness"]["items"] == 0 and pd.isna(df.loc["awareness"].mood_evidence)


def test_verbatims_only_from_big_cells_without_person_keys(voice):
    out = verbatims(voice, n=2)
    stages = {r["stage"] for r in out}
    assert stages == {"access", "care", "post_visit"}  # pre_visit has 5 people
    assert all(set(r) == {"stage", "cell_people", "rank", "text", "sentiment"} for r in out)
    assert sum(r["stage"] == "access" for r in out) == 2
    neg = verbatims(voice, stage="post_visit", n=1, tone="negative")
    assert len(neg) == 1 and neg[0]["sentiment"] == pytest.approx(-1.0)
    by_topic = verbatims(voice, topic="callback_phone", n=3)
    assert len(by_topic) == 3 and {r["topic"] for r in by_topic} == {"callback_phone"}
    assert verbatims(voice, topic="instructions_next_steps") == []


def test_defaults_and_segment(voice):
    res = run(FeedbackSpec(kind="feedback", segment="senior"), voice)
    recs = {r["stage"]: r for r in res.records()}
    assert recs["access"]["people"] == 12 and "post_visit" not in recs  # anonymous reviews are in no segment
