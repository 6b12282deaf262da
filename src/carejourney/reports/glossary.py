"""Plain-language meanings of every term the report uses (shown in its Glossary section)."""

from __future__ import annotations

__all__ = ["GLOSSARY", "glossary_for"]

GLOSSARY: dict[str, str] = {
    "Journey": "The path people take for one kind of care, from first hearing about it to coming back later.",
    "Stage": "A phase of the journey, such as finding care, booking, preparing, the visit and follow-up. Stages are the columns of the map.",
    "Touchpoint": "One moment where a person meets the organisation: a web page, a phone call, a booking, a visit, a bill.",
    "Online / offline": "Online touchpoints happen on a website, app or portal; offline ones by phone, mail, referral or in person.",
    "Channel": "How the touchpoint happens: online, phone, in person, mail or referral.",
    "Owner team": "The team responsible for a stage or touchpoint, and for fixing problems there.",
    "Segment": "A group of people within the journey, such as seniors or people who need an interpreter.",
    "People reaching the stage": "How many different people had at least one touchpoint in that stage.",
    "Conversion": "Of the people who reached one step, the share who went on to reach the next step.",
    "Drop-off": "People who reached a step but not the next one.",
    "Funnel": "The key steps of the journey in order, with how many people reached each one.",
    "Median wait": "The middle value: half of the people waited less than this, half waited longer.",
    "90th percentile wait (p90)": "Nine in ten people waited less than this; one in ten waited longer. It shows the long waits.",
    "Target": "What good looks like, set in the journey design (for example: 60% conversion, or a median wait of 3 days).",
    "Status": "How a measure compares with its target: on target, close to target (within 10%), off target, or no target set.",
    "Path / variant": "The exact order of steps one person took. People with the same order share a variant.",
    "Sankey diagram": "A flow chart where the width of each band is the number of people moving from one step to the next.",
    "Process map": "A map of which step directly followed which, drawn from what people actually did (a directly-follows graph).",
    "Directly-follows graph": "For every pair of steps, how often the second came right after the first.",
    "Conformance": "How closely people's real paths match the designed journey (skipped, repeated or out-of-order steps).",
    "Cohort": "People grouped by when they started, for example everyone with a first visit in January.",
    "Return care": "People coming back for further care after their first visit, shown by cohort and months since the first visit.",
    "Equity gap": "A difference in a measure between groups of people (by age, language, payer or access needs).",
    "Sentiment": "How positive or negative feedback sounds, from -1 (very negative) to +1 (very positive).",
    "Designed emotion": "How the team expects people to feel at each stage, from research (from very negative to very positive).",
    "Feedback topic": "A theme that comes up in surveys, reviews or messages, such as waiting time or billing.",
    "Content audit": "A check of patient-facing pages and messages for reading level and clarity.",
    "Reading grade": "The school grade needed to understand a text easily; lower is easier to read.",
    "Handoff": "A key step where one team passes the person to another (patient access to clinical, clinical to billing). People are often lost or wait at handoffs.",
    "Failure demand": "Contacts caused by something not done right the first time: calling again about the same thing, or soon after a visit.",
    "Finding": "A problem the data shows, such as a stage that misses its target, with the team that owns it.",
    "Pain point": "A finding placed on the stage of the map where it happens.",
    "Action": "A piece of work a team has taken on to fix a finding, with an owner and a status.",
    "Suppressed (<k)": "A number hidden because it counts fewer people than the privacy minimum; shown as “<11” with the default minimum of 11.",
    "Suppressed cells": "How many numbers in a view were hidden for privacy, including numbers that would let someone work out a hidden one.",
    "Data period": "The dates of the first and the latest event in the data behind the report.",
    "Engine": "The database that did the calculation (DuckDB on one computer, Spark on a cluster). Both give the same numbers.",
    "Spec": "The exact settings of an analysis, shown in each footnote so anyone can re-run it.",
    "SQL": "The database query that produced the numbers, shown in each footnote for analysts.",
}


def glossary_for(extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Glossary entries, alphabetical (plus any extra terms a section adds)."""
    terms = {**GLOSSARY, **(extra or {})}
    return sorted(terms.items(), key=lambda kv: kv[0].lower())
