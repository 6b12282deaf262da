"""Projects for the report tests: a real project folder, a canonical events CSV, a real ingest.

``build_project(root, people=…)`` writes carejourney.yml, a journey, a ``kind: events`` source and
an events file where people walk the journey's stages with drop-off and waits, then ingests it
with :func:`carejourney.ingest.ingest_sources`. ``groups`` lets a test control exactly how
many people share an attribute value (to plant small cells).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from carejourney.ingest import ingest_sources
from carejourney.project import load_project

from .conftest import write_project

JOURNEY = """\
journey: care
title: Specialty care
kind: specialty
stages:
  - {id: awareness, owner: marketing}
  - {id: access, owner: patient_access, target: {conversion: 0.6, median: 3d}}
  - {id: pre_visit, owner: operations, target: {conversion: 0.8}}
  - {id: care, owner: clinical, target: {median: 14d, p90: 30d}}
  - {id: post_visit, owner: billing}
touchpoints:
  - {id: site_visit, stage: awareness, channel: digital, repeatable: true, key_step: true}
  - {id: referral_received, stage: access, channel: referral, optional: true}
  - {id: appointment_booked, stage: access, channel: phone, key_step: true}
  - {id: reminder_sent, stage: pre_visit, channel: mail, optional: true}
  - {id: intake_completed, stage: pre_visit, channel: digital, key_step: true}
  - {id: visit_completed, stage: care, channel: in_person, key_step: true}
  - {id: bill_sent, stage: post_visit, channel: mail}
moments:
  awareness: {doing: "Searches for a heart specialist", thinking: "Is this serious?", feeling: worried, mood: -1,
              questions: ["Who is the best cardiologist near me?"]}
  access: {doing: "Calls to book", thinking: "Will my insurance cover this?", feeling: anxious, mood: -2,
           questions: ["How long is the wait?"]}
  pre_visit: {doing: "Fills in intake forms", feeling: prepared, mood: 0}
  care: {doing: "Sees the cardiologist", thinking: "What will the tests show?", feeling: reassured, mood: 1}
  post_visit: {doing: "Gets the bill", thinking: "Why is this so much?", feeling: confused, mood: -1}
segments:
  - {id: senior, where: {age_band: {in: ["65-74", "75-89", "90+"]}}}
  - {id: adult, where: {age_band: {not_in: ["0-17", "65-74", "75-89", "90+"]}}}
delays:
  - {id: booking_to_visit, from: appointment_booked, to: visit_completed, target: {median: 14d}}
  - {id: visit_to_bill, from: visit_completed, to: bill_sent, target: {median: 7d}}
"""

#: (touchpoint, probability of continuing to it, mean days since the previous step)
WALK = [("site_visit", 1.0, 0), ("referral_received", 0.5, 2), ("appointment_booked", 0.7, 3),
        ("reminder_sent", 0.8, 5), ("intake_completed", 0.85, 2), ("visit_completed", 0.8, 7),
        ("bill_sent", 0.9, 6)]
AGE_BANDS = ["18-34", "35-49", "50-64", "65-74", "75-89"]
LANGUAGES = ["en", "es", "zh"]


def events_frame(people: int, seed: int = 1, groups: dict[str, int] | None = None) -> pd.DataFrame:
    """Canonical events for ``people`` people (vectorised: fast enough for millions of rows).

    ``groups`` maps a language code to an exact number of people having it (the rest get
    random languages from ``LANGUAGES``), to plant small cells.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"P{i:08d}" for i in range(people)])
    start = pd.Timestamp("2026-01-01").value // 1000 + rng.integers(0, 180 * 86400 * 10**6, people)
    langs = rng.choice(LANGUAGES, people)
    if groups:
        i = 0
        for lang, n in groups.items():
            langs[i:i + n] = lang
            i += n
    ages = rng.choice(AGE_BANDS, people)
    alive = np.ones(people, bool)
    t = start.copy()
    frames = []
    for tp, p, days in WALK:
        if tp != "site_visit":
            skip = (tp in ("referral_received", "reminder_sent")) & (rng.random(people) > p)
            alive &= (rng.random(people) < p) | skip
            step = alive & ~skip
        else:
            step = alive.copy()
        t = t + (rng.exponential(max(days, 0.01), people) * 86400 * 10**6).astype("int64")
        idx = np.flatnonzero(step)
        frames.append(pd.DataFrame({"person_id": ids[idx], "ts": pd.to_datetime(t[idx], unit="us"),
                                    "touchpoint": tp, "age_band": ages[idx], "language": langs[idx]}))
    df = pd.concat(frames, ignore_index=True)
    df["ts"] = df["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return df


def build_project(root: Path, people: int = 600, *, seed: int = 1, groups: dict[str, int] | None = None,
                  min_cell: int = 11, fmt: str = "csv"):
    """Write and ingest a project; returns the loaded :class:`Project`."""
    write_project(root, {
        "carejourney.yml": f"name: report_test\ntimezone: UTC\nprivacy: {{min_cell: {min_cell}}}\n",
        "journeys/care.yml": JOURNEY,
        "sources/events.yml": f"sources:\n  - {{name: events, kind: events, path: data/events.{fmt}}}\n",
    })
    df = events_frame(people, seed, groups)
    (root / "data").mkdir(exist_ok=True)
    if fmt == "csv":
        df.to_csv(root / "data" / "events.csv", index=False)
    else:
        df.to_parquet(root / "data" / "events.parquet", index=False)
    project = load_project(root)
    ingest_sources(project)
    return project
