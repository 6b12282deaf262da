"""Small numpy-generated event logs with frictions we plant ourselves (for the friction tests).

The mini journey of ``tests/conftest.py``: referral_received → appointment_booked →
visit_completed (key steps), with reminders and no-shows. Planted (when ``friction``):

- Spanish speakers book less after a referral (75% → 50%), removed for referrals on/after ``fix_on``;
- location L2 takes three times as long from referral to booking.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from carejourney.analyses.context import AnalysisContext
from carejourney.model.events import SCHEMAS

PERSON_COLS = ["age_band", "sex", "language", "payer_type", "zip3", "needs_interpreter", "needs_transport",
               "needs_disability_access", "low_digital_literacy"]


def planted_log(n: int = 4000, seed: int = 1, friction: bool = True, start: str = "2026-01-01",
                days: int = 300, fix_on: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, persons): events have person_key, ts, touchpoint, location, status."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    fix = pd.Timestamp(fix_on) if fix_on else None
    rows, persons = [], []
    for i in range(n):
        pk = f"p{i:06d}"
        lang = str(rng.choice(["en", "es", "zh"], p=[0.7, 0.2, 0.1]))
        loc = str(rng.choice(["L1", "L2", "L3"]))
        persons.append({"person_key": pk, "age_band": str(rng.choice(["18-34", "35-49", "50-64", "65-74"])),
                        "sex": str(rng.choice(["F", "M"])), "language": lang,
                        "payer_type": str(rng.choice(["commercial", "medicare", "medicaid"])),
                        "zip3": str(rng.choice(["100", "101", "104"])),
                        "needs_interpreter": bool(lang != "en" and rng.random() < 0.3),
                        "needs_transport": bool(rng.random() < 0.1), "needs_disability_access": False,
                        "low_digital_literacy": bool(rng.random() < 0.1)})
        ts = t0 + pd.Timedelta(hours=float(rng.uniform(0, days * 24)))
        rows.append((pk, ts, "referral_received", loc, None))
        p_book = 0.75
        if friction and lang == "es" and (fix is None or ts < fix):
            p_book = 0.5
        if rng.random() > p_book:
            continue
        d = rng.gamma(2, 2.0) * (3 if friction and loc == "L2" else 1)
        ts = ts + pd.Timedelta(days=float(d))
        rows.append((pk, ts, "appointment_booked", loc, "booked"))
        if rng.random() < 0.6:
            rows.append((pk, ts + pd.Timedelta(days=1), "reminder_sent", None, None))
        vt = ts + pd.Timedelta(days=float(rng.gamma(2, 5.0)))
        attended = rng.random() < 0.8
        rows.append((pk, vt, "visit_completed" if attended else "appointment_cancelled", loc,
                     "completed" if attended else "noshow"))
    ev = pd.DataFrame(rows, columns=["person_key", "ts", "touchpoint", "location", "status"])
    return ev, pd.DataFrame(persons)


def context_from(con, project, ev: pd.DataFrame, persons: pd.DataFrame, name: str = "log") -> AnalysisContext:
    """An AnalysisContext on ``con`` holding these events and persons (stage/owner/channel from the project)."""
    cat = project.touchpoint_catalog()
    ev = ev.copy()
    ev["event_id"] = list(range(len(ev)))
    ev["stage"] = ev.touchpoint.map(lambda t: cat[t][1].stage)
    ev["owner"] = ev.touchpoint.map(lambda t: cat[t][0].owner_of(t))
    ev["channel"] = ev.touchpoint.map(lambda t: cat[t][1].channel.value)
    for c in ["source_event", "detail", "service_line", "episode_id", "attrs", "device"]:
        if c not in ev:
            ev[c] = None
    ev["source"], ev["value"], ev["file_id"] = "test", np.nan, "t"
    ev["ts"] = pd.to_datetime(ev["ts"]).astype("datetime64[us]")
    schema = ibis.schema({"person_key": "string", **{k: v for k, v in SCHEMAS["events"].items() if k != "subject_key"}})
    et = con.create_table(f"ev_{name}", ibis.memtable(ev[list(schema.names)]).cast(schema), overwrite=True)
    seen = ev.groupby("person_key")["ts"].agg(["min", "max"]).rename(columns={"min": "first_seen", "max": "last_seen"})
    p = persons.merge(seen, left_on="person_key", right_index=True)
    pschema = ibis.schema({"person_key": "string", "age_band": "string", "sex": "string", "language": "string",
                           "payer_type": "string", "zip3": "string", "needs_interpreter": "boolean",
                           "needs_transport": "boolean", "needs_disability_access": "boolean",
                           "low_digital_literacy": "boolean", "first_seen": "timestamp", "last_seen": "timestamp"})
    pt = con.create_table(f"p_{name}", ibis.memtable(p[list(pschema.names)]).cast(pschema), overwrite=True)
    return AnalysisContext(events=et, persons=pt, project=project, con=con)


def events_csv(ev: pd.DataFrame, persons: pd.DataFrame) -> str:
    """The log as a canonical events file (person attributes on every row)."""
    df = ev.merge(persons, on="person_key").rename(columns={"person_key": "person_id"})
    df["ts"] = pd.to_datetime(df["ts"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return df[["person_id", "ts", "touchpoint", "location", "status", *PERSON_COLS]].to_csv(index=False)
