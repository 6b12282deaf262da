"""The journey walk: the access stage by phone and by referral.

Inbound calls can be abandoned (then the caller retries, is called back through the IVR, or
gives up); referrals wait in a work queue (a Task) until someone schedules them — or never.
"""

from __future__ import annotations

import math

from .records import EXT, fhir_ts, iso

__all__ = ["AccessSteps", "open_hours"]


def open_hours(ts: float, lo: int = 7, hi: int = 21) -> float:
    """Move ``ts`` into the daily window [lo, hi) (the call center's opening hours)."""
    s = ts % 86400
    if s < lo * 3600:
        return ts - s + lo * 3600 + (ts % 1800)
    if s >= hi * 3600:
        return ts - s + 86400 + lo * 3600 + (ts % 1800)
    return ts


class AccessSteps:
    """Mixin for :class:`~.walk.Walker`: phone booking and the referral queue."""

    def inbound(self, s: dict, t: float, queue: str, reason: str, book_prob: float) -> tuple[str, str, float]:
        """One inbound call; returns (outcome, call id, time it ended)."""
        rnd, r, p = self.rnd, self.r, s["p"]
        active, groups = self.fr.at("call_abandon", p, t, {})
        odds = r.call_abandon / (1 - r.call_abandon)
        for f in active:
            odds *= f.effect.odds_ratio or 1.0
        abandoned = rnd.random() < odds / (1 + odds)
        self.fr.record(groups, float(abandoned))
        cid = self.nid(s, "CA")
        s["called"] = True
        if t < self.t_end:
            self.cal["inbound_calls"] += 1
            self.cal["inbound_abandoned"] += abandoned
        if abandoned:
            wait = min(int(rnd.lognormvariate(math.log(150), 0.7)), 1800)
            self.sink.call(t, (cid, iso(t), s["phone_e164"], "inbound", queue, wait, 0, "Y", "abandoned", "", "",
                               reason))
            return "abandoned", cid, t + wait
        wait = min(int(rnd.lognormvariate(math.log(50), 1.0)), 1500)
        talk = int(rnd.lognormvariate(math.log(240), 0.5))
        u = rnd.random()
        outcome = "booked" if u < book_prob else ("transferred" if u < book_prob + 0.05 else "info")
        team = {"billing": "billing", "nurse_line": "clinical"}.get(queue, "patient_access")
        self.sink.call(t, (cid, iso(t), s["phone_e164"], "inbound", queue, wait, talk, "N", outcome, team, "",
                           reason))
        return outcome, cid, t + wait + talk

    def phone_booking(self, s: dict, t: float, queue: str, reason: str) -> float | None:
        """Call to book (retrying after hang-ups); returns when the appointment was booked, or None."""
        rnd, r = self.rnd, self.r
        for _ in range(3):
            outcome, cid, end = self.inbound(s, t, queue, reason, r.call_booked)
            if outcome != "abandoned":
                return end if outcome == "booked" else None
            if "callback" not in s["bad"]:
                s["bad"].append("callback")
            u = rnd.random()
            if u < 0.35:  # IVR "press 1 for a callback": an outbound call that returns this one
                tb = open_hours(end + rnd.uniform(0.5, 20) * 3600)
                answered = rnd.random() < 0.7
                booked = answered and rnd.random() < r.call_booked
                talk = int(rnd.lognormvariate(math.log(200), 0.5)) if answered else 0
                self.sink.call(tb, (self.nid(s, "CA"), iso(tb), s["phone_e164"], "outbound", queue, 0, talk, "N",
                                    "booked" if booked else ("info" if answered else "no_answer"),
                                    "patient_access", cid, "callback"))
                if answered:
                    return tb + talk if booked else None
                t = open_hours(tb + rnd.uniform(1, 30) * 3600)
            elif u < 0.35 + 0.65 * r.call_retry:
                t = open_hours(end + rnd.uniform(300, 6 * 3600))
            else:
                return None
        return None

    # -- referral (specialty care) --------------------------------------------------------------
    def referral(self, s: dict, t: float) -> None:
        rnd, r, p = self.rnd, self.r, s["p"]
        sl, loc = p["service_line"], p["location"]
        # the primary-care visit where the referral is written: a clinic slot on a weekday, like every
        # other office visit (a weekend visit here would be a visit type only weekends have)
        day = int(t) // 86400
        wd = (day + 3) % 7  # 1970-01-01 was a Thursday
        day += 7 - wd if wd >= 5 else 0  # Saturday / Sunday → Monday
        t = day * 86400 + 8 * 3600 + rnd.randrange(36) * 900
        self.visit_cycle(s, t - rnd.uniform(5, 30) * 86400, "phone", "primary_care", new=False, fixed_start=t,
                         depth=9)
        if not s["patient"]:
            return
        sr_t = t + rnd.uniform(1800, 4 * 3600)
        sr_id = self.nid(s, "sr-")
        if rnd.random() < r.web_research["specialty"]:
            self.research(s, sr_t + rnd.uniform(2, 72) * 3600, sessions=2 if rnd.random() < 0.3 else 1)
        active, groups = self.fr.at("referral_scheduling", p, sr_t, {"service_line": sl})
        prob = r.referral_scheduled
        delay = math.exp(math.log(r.referral_schedule_days_median) + 0.8 * rnd.gauss(0, 1))
        for f in active:
            prob *= f.effect.conversion if f.effect.conversion is not None else 1.0
            delay += f.effect.delay_days or 0.0
        scheduled = rnd.random() < min(prob, 1.0)
        if sr_t < self.t_end:  # the draw, before the export cut-off hides late scheduling
            self.fr.record(groups, float(scheduled), delay if scheduled else None)
            self.cal["referrals"] += 1
            self.cal["referrals_scheduled"] += scheduled
        sched_t = open_hours(sr_t + delay * 86400)
        if sched_t >= self.t_end:
            scheduled = False
        completed = False
        if scheduled:
            if delay > 21:
                s["bad"].append("referral")
            cid = self.nid(s, "CA")
            s["called"] = True
            self.sink.call(sched_t, (cid, iso(sched_t), s["phone_e164"], "outbound", "scheduling", 0,
                                     int(rnd.lognormvariate(math.log(240), 0.4)), "N", "booked", "patient_access",
                                     "", "referral scheduling"))
            completed = self.visit_cycle(s, sched_t + 300, "referral", sl, based_on=sr_id)
        else:
            s["bad"].append("referral")
            if rnd.random() < 0.25:  # the patient chases it; told to wait for the clinic's call
                self.inbound(s, open_hours(sr_t + rnd.uniform(10, 30) * 86400), "scheduling",
                             "referral status", 0.0)
        self.cal["referrals_completed"] += completed and sr_t < self.t_end
        ref = f"Patient/{p['patient_id']}"
        self.sink.res(sr_t, {
            "resourceType": "ServiceRequest", "id": sr_id, "status": "completed" if completed else "active",
            "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005",
                                      "display": "Patient referral"}]}],
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "183519002",
                                 "display": f"Referral to {sl} service"}]},
            "subject": {"reference": ref}, "authoredOn": fhir_ts(sr_t),
            "requester": {"reference": f"Practitioner/pcp-{p['idx'] % 40}"},
            "performer": [{"reference": f"Organization/{sl}", "display": f"Harborview {sl.title()}"}],
            "locationCode": [{"coding": [{"system": EXT + "location", "code": loc}]}],
            "extension": [{"url": EXT + "service-line", "valueCode": sl}]})
        task_start = sr_t + rnd.uniform(0.5, 24) * 3600
        biz = "scheduled" if scheduled else rnd.choice(("awaiting scheduling", "unable to reach patient"))
        task = {"resourceType": "Task", "id": self.nid(s, "task-"),
                "status": "completed" if scheduled else ("in-progress" if biz == "awaiting scheduling" else "on-hold"),
                "intent": "order", "businessStatus": {"text": biz},
                "focus": {"reference": f"ServiceRequest/{sr_id}"}, "for": {"reference": ref},
                "authoredOn": fhir_ts(sr_t), "executionPeriod": {"start": fhir_ts(task_start)},
                "owner": {"display": f"Referral coordinators - {loc}"}}
        if scheduled:
            task["executionPeriod"]["end"] = fhir_ts(sched_t)
        self.sink.res(task_start, task)
