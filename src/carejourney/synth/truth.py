"""``truth.json``: what was planted and what the generated people really did.

Analyses are scored against this file. It holds no identifiers (those are in
``truth/people.parquet``, which is test truth and must never be shared or ingested).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from .frictions import Frictions, Tally, fmt_window
from .scenario import Scenario

__all__ = ["build_truth", "METRICS"]

#: mechanism -> (outcome metric, value metric or None)
METRICS = {
    "booking_form": ("booking_complete after booking_start", None),
    "lead_callback": ("lead booked", "hours from lead to first contact (median)"),
    "referral_scheduling": ("referral scheduled", "days from referral to scheduling (median)"),
    "intake_form": ("intake QuestionnaireResponse completed", None),
    "billing_complaint": ("billing complaint after the visit", "survey NPS (mean, responders)"),
    "no_show": ("appointment no-show", None),
    "wait_time": ("new-patient wait over 28 days", "wait days (median)"),
    "call_abandon": ("inbound call abandoned", None),
}


def _group(t: Tally, g: str, mech: str) -> dict:
    n = t.n.get(g, 0)
    out = {"n": n, "events": round(t.total.get(g, 0.0)), "rate": round(t.total[g] / n, 4) if n else None}
    vals = t.values.get(g)
    if vals:
        agg = statistics.fmean if mech == "billing_complaint" else statistics.median
        out["value"] = round(agg(vals), 3)
        out["value_n"] = len(vals)
    return out


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b not in (None, 0) else None


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def build_truth(sc: Scenario, fr: Frictions, cal: dict, waits: dict[str, list[float]], *, seed: int,
                people: int, files: dict[str, int], start: str, end: str) -> dict:
    r = sc.rates
    frictions = []
    for f in fr.items:
        t = fr.tally[f.id]
        metric, value_metric = METRICS[f.mechanism]
        groups = {g: _group(t, g, f.mechanism) for g in ("affected", "others", "inactive") if t.n.get(g)}
        aff, oth = groups.get("affected", {}), groups.get("others", {})
        frictions.append({
            "id": f.id, "description": f.description, "mechanism": f.mechanism, "journey": f.journey,
            "segment": f.segment, "stage": f.stage, "touchpoint": f.touchpoint, "delay": f.delay,
            "dimension": f.dimension,
            "value": f.value, "owner": f.owner, "where": f.where.model_dump(exclude_none=True),
            "effect": f.effect.model_dump(exclude_none=True), **fmt_window(f),
            "realised": {"metric": metric, "value_metric": value_metric, **groups,
                         "rate_ratio": _ratio(aff.get("rate"), oth.get("rate")),
                         "value_difference": round(aff["value"] - oth["value"], 3)
                         if "value" in aff and "value" in oth else None}})
    median_waits = {}
    for sl, w in sorted(waits.items()):
        mu = math.log(r.wait[sl].mean_days) - r.wait[sl].sigma ** 2 / 2
        median_waits[sl] = {"parameter_median_days": round(math.exp(mu), 2),
                            "parameter_mean_days": r.wait[sl].mean_days,
                            "realised_median_days": round(statistics.median(w), 2) if w else None,
                            "realised_mean_days": round(statistics.fmean(w), 2) if w else None, "n": len(w)}
    c = defaultdict(float, cal)
    calibration = {
        "no_show_rate": {"target_range": [0.15, 0.23], "realised": _rate(c["noshows"], c["appts_final"]),
                         "n": int(c["appts_final"]), "source": "C1-C3"},
        "referral_scheduled": {"parameter": r.referral_scheduled, "n": int(c["referrals"]),
                               "realised": _rate(c["referrals_scheduled"], c["referrals"]), "source": "C5"},
        "referral_completed": {"target_range": [0.35, 0.80], "n": int(c["referrals"]),
                               "realised": _rate(c["referrals_completed"], c["referrals"]), "source": "C5, C6"},
        "read_reviews": {"parameter": r.read_reviews, "n": int(c["web_visitors"]),
                         "realised": _rate(c["review_readers"], c["web_visitors"]), "source": "C12"},
        "portal_active": {"parameter": r.portal_active, "n": int(c["patients"]),
                          "realised": _rate(c["portal_active"], c["patients"]), "source": "C15-C17"},
        "survey_response": {"parameter": r.survey_response, "n": int(c["survey_invites"]),
                            "realised": _rate(c["surveys"], c["survey_invites"]), "source": "C19-C22"},
        "call_abandon": {"parameter": r.call_abandon, "n": int(c["inbound_calls"]),
                         "realised": _rate(c["inbound_abandoned"], c["inbound_calls"]), "source": "C30-C32"},
        "online_booking_complete": {"parameter": r.online_booking_complete, "n": int(c["booking_starts"]),
                                    "realised": _rate(c["booking_completes"], c["booking_starts"]),
                                    "source": "C24-C25 (no solid anchor)"},
        "intake_complete": {"parameter": r.intake_complete, "n": int(c["intakes"]),
                            "realised": _rate(c["intakes_completed"], c["intakes"]), "source": "assumption"},
        "lead_booked": {"parameter": r.lead_booked, "n": int(c["leads"]),
                        "realised": _rate(c["leads_booked"], c["leads"]), "source": "assumption"},
        "new_patient_wait": median_waits,
    }
    return {"generator": "carejourney.synth", "format": 1, "scenario": sc.name, "seed": seed, "people": people,
            "start": start, "end": end, "files": files, "people_file": "truth/people.parquet",
            "warning": "truth/people.parquet holds raw synthetic identifiers: test truth only, never ingest or share",
            "calibration": calibration, "frictions": frictions,
            "scenario_parameters": sc.model_dump(mode="json", exclude={"frictions"})}
