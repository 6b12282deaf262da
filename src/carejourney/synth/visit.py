"""The journey walk, part 2: appointment → pre-visit → care → post-visit → loyalty.

An appointment waits a lognormal number of days (calibrated new-patient wait), gets a
reminder and an intake form, and ends cancelled (then often re-booked), missed (no-show odds
from the Marshfield model: lead time > 4 weeks, prior no-show, Medicaid, Spanish) or
fulfilled. A fulfilled visit produces the encounter, results, claim and EOB, portal messages,
maybe a survey or a review (sentiment from the person's bad experiences so far), a follow-up
and, months later, a return for preventive or chronic care.
"""

from __future__ import annotations

import math

from .records import EXT, fhir_ts, iso
from .text import comment, portal_body

__all__ = ["VisitSteps"]

_ENC_TYPE = {"primary_care": ("185349003", "Encounter for check up (procedure)"),
             "cardiology": ("11429006", "Consultation (procedure)"),
             "orthopedics": ("11429006", "Consultation (procedure)"),
             "urgent_care": ("185345009", "Encounter for symptom (procedure)")}
_FOLLOW = ("185389009", "Follow-up visit (procedure)")
_PROC = ("387713003", "Surgical procedure (procedure)")
_DR = {"primary_care": (0.35, "LAB", "57698-3", "Lipid Panel"), "cardiology": (0.6, "LAB", "2093-3", "Cholesterol"),
       "orthopedics": (0.5, "RAD", "36643-5", "XR Knee 2 views"), "urgent_care": (0.3, "LAB", "58410-2", "CBC panel")}
_PRICE = {"primary_care": 180.0, "cardiology": 420.0, "orthopedics": 350.0, "urgent_care": 220.0}
_PATIENT_SHARE = {"commercial": 0.15, "medicare": 0.2, "medicaid": 0.01, "self-pay": 1.0}
_SITES = ("google", "google", "google", "yelp", "healthgrades")
_SIDE_TOPICS = (("parking", 0.04), ("staff_courtesy", 0.03), ("instructions", 0.04), ("price_clarity", 0.03))
_CACHE: dict[tuple, dict] = {}


def _coding(system: str, code: str, display: str | None = None) -> dict:
    """A CodeableConcept; shared (never mutated) so hot loops do not rebuild it."""
    key = (system, code, display)
    c = _CACHE.get(key)
    if c is None:
        inner = {"system": system, "code": code}
        if display:
            inner["display"] = display
        c = _CACHE[key] = {"coding": [inner]}
    return c


def _encounter_class(service_line: str, *, virtual: bool, procedure: bool) -> str:
    """v3 ActCode class as EHRs record it: joint replacement is an inpatient stay, urgent-care
    walk-ins are emergency-class encounters (as Synthea writes them), the rest ambulatory."""
    if virtual:
        return "VR"
    if procedure:
        return "IMP"
    return "EMER" if service_line == "urgent_care" else "AMB"


class VisitSteps:
    """Mixin for :class:`~.walk.Walker`: appointments and everything after them."""

    def slot(self, created: float, days: float) -> float:
        """A clinic slot about ``days`` after ``created``: a weekday, 08:00–16:45, on the quarter hour."""
        today = int(created // 86400)
        day = today + max(1, int(round(days)))
        wd = (day + 3) % 7  # 1970-01-01 was a Thursday
        if wd == 5:  # Saturday → Friday, Sunday → Monday: no bias in the wait
            day = day - 1 if day - 1 > today else day + 2
        elif wd == 6:
            day += 1
        return day * 86400 + 8 * 3600 + self.rnd.randrange(36) * 900

    def wait_days(self, sl: str, new: bool, procedure: bool) -> float:
        rnd = self.rnd
        if procedure:
            return rnd.lognormvariate(math.log(21), 0.5)
        if not new:
            return rnd.lognormvariate(math.log(21), 0.6)
        w = self.r.wait[sl]
        mu = math.log(w.mean_days) - w.sigma ** 2 / 2
        return rnd.lognormvariate(mu, w.sigma)

    def visit_cycle(self, s: dict, created: float, channel: str, sl: str, *, new: bool = True,
                    based_on: str | None = None, booking_ref: str | None = None, procedure: bool = False,
                    walk_in: bool = False,
                    fixed_start: float | None = None, depth: int = 0) -> bool:
        """Book (and re-book) until the visit happens or the person gives up; True when fulfilled."""
        rnd, r, p, fr = self.rnd, self.r, s["p"], self.fr
        self.ensure_patient(s, created)
        if not s["patient"]:
            return False
        ref = f"Patient/{p['patient_id']}"
        for attempt in range(3):
            aid = self.nid(s, "ap-")
            if walk_in:
                start = created
            elif fixed_start is not None:
                start = fixed_start
            elif sl == "urgent_care":
                start = created + max(900.0, self.wait_days(sl, True, False) * 86400)
            else:
                wd = self.wait_days(sl, new, procedure)
                active, wgroups = fr.at("wait_time", p, created, {"service_line": sl})
                wd += sum(f.effect.delay_days or 0.0 for f in active)
                start = self.slot(created, wd)
                if wgroups and new and created < self.t_end:
                    fr.record(wgroups, float((start - created) > 28 * 86400), (start - created) / 86400)
            wait = (start - created) / 86400
            if new and attempt == 0 and not walk_in and fixed_start is None and created < self.t_end:
                self.waits.append((sl, wait))
            if wait > 42 and "wait_time" not in s["bad"]:
                s["bad"].append("wait_time")
            if not walk_in and start - created > 2 * 86400 and rnd.random() < r.reminder:
                medium = "PHONE" if p["low_lit"] else ("SMS" if p["device"] == "mobile" else "EMAIL")
                tr = start - 2 * 86400 + rnd.uniform(-3, 3) * 3600
                self.sink.res(tr, {"resourceType": "Communication", "id": self.nid(s, "com-"), "status": "completed",
                                   "category": [_coding("http://terminology.hl7.org/CodeSystem/communication-category",
                                                        "reminder")],
                                   "medium": [{"coding": [{"code": medium}], "text": medium}],
                                   "subject": {"reference": ref}, "about": [{"reference": f"Appointment/{aid}"}],
                                   "sent": fhir_ts(tr)})
            if new and not walk_in and start - created > 86400 and sl != "urgent_care":
                self.intake(s, created, start, ref)
            status, final = "fulfilled", start
            cancel_t = None
            if walk_in or fixed_start is not None:
                pass  # walk-ins and the visit a referral was written at did happen
            elif rnd.random() < r.late_cancel:
                status = "cancelled"
                cancel_t = final = created + rnd.uniform(0.2, 0.95) * (start - created)
            else:
                lo = math.log(self.ns_odds[sl])
                if wait > 28:
                    lo += self.ns_or.get("lead_time_gt_28d", 0.0)
                if s["prior_noshow"]:
                    lo += self.ns_or.get("prior_no_show", 0.0)
                if p["payer"] == "medicaid":
                    lo += self.ns_or.get("medicaid", 0.0)
                if p["lang"] == "es":
                    lo += self.ns_or.get("spanish", 0.0)
                active, groups = fr.at("no_show", p, start, {"service_line": sl, "wait_days": wait})
                for f in active:
                    lo += math.log(f.effect.odds_ratio or 1.0)
                ns = rnd.random() < 1 / (1 + math.exp(-lo))
                if start < self.t_end:
                    fr.record(groups, float(ns))
                if ns:
                    status = "noshow"
            if final >= self.t_end:
                status = "booked"
            appt = {"resourceType": "Appointment", "id": aid, "status": status,
                    "meta": {"lastUpdated": fhir_ts(min(final, self.t_end - 1))},
                    "serviceType": [_coding(EXT + "service-line", sl)],
                    "appointmentType": _coding("http://terminology.hl7.org/CodeSystem/v2-0276",
                                               "WALKIN" if walk_in else ("ROUTINE" if new else "FOLLOWUP")),
                    "created": fhir_ts(created), "start": fhir_ts(start), "end": fhir_ts(start + 1800),
                    "participant": [{"actor": {"reference": ref}, "status": "accepted"},
                                    {"actor": {"reference": f"Location/{p['location']}"}, "status": "accepted"}],
                    "extension": [{"url": EXT + "booking-channel", "valueCode": channel}]}
            if based_on:
                appt["basedOn"] = [{"reference": f"ServiceRequest/{based_on}"}]
            if booking_ref and attempt == 0:  # the online booking's confirmation (later re-bookings are by phone)
                appt["identifier"] = [{"system": EXT + "booking-confirmation", "value": booking_ref}]
            if status == "cancelled":
                appt["extension"].append({"url": EXT + "cancelled-at", "valueDateTime": fhir_ts(cancel_t)})
                appt["cancelationReason"] = _coding("http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                                                    rnd.choice(("pat", "pat-crs", "pat-mv", "prov-sch")))
            self.sink.res(created, appt)
            if status in ("fulfilled", "noshow") and not walk_in and fixed_start is None:
                self.cal["appts_final"] += 1
                self.cal["noshows"] += status == "noshow"
            if status == "booked":
                return False
            if status == "cancelled":
                if rnd.random() < r.rebook:
                    created = cancel_t + rnd.uniform(0.1, 3) * 86400
                    channel = "phone"
                    continue
                return False
            if status == "noshow":
                s["prior_noshow"] = True
                if rnd.random() < r.rebook:
                    created = start + rnd.uniform(1, 4) * 86400
                    channel = "phone"
                    continue
                return False
            self.fulfilled(s, aid, start, sl, procedure=procedure, new=new, based_on=based_on, depth=depth,
                           walk_in=walk_in)
            return True
        return False

    def intake(self, s: dict, created: float, start: float, ref: str) -> None:
        rnd, p = self.rnd, s["p"]
        authored = created + rnd.uniform(0.05, 0.9) * (start - created)
        active, groups = self.fr.at("intake_form", p, authored, {})
        prob = self.r.intake_complete
        for f in active:
            prob *= f.effect.conversion if f.effect.conversion is not None else 1.0
        done = rnd.random() < prob
        if authored < self.t_end:
            self.fr.record(groups, float(done))
            self.cal["intakes"] += 1
            self.cal["intakes_completed"] += done
        if not done:
            topic = "language_access" if p["lang"] != "en" else "portal_trouble"
            if topic not in s["bad"]:
                s["bad"].append(topic)
        self.sink.res(authored, {
            "resourceType": "QuestionnaireResponse", "id": self.nid(s, "qr-"),
            "questionnaire": "https://harborviewhealth.org/fhir/Questionnaire/intake",
            "status": "completed" if done else ("in-progress" if rnd.random() < 0.6 else "stopped"),
            "subject": {"reference": ref}, "authored": fhir_ts(authored)})

    def fulfilled(self, s: dict, aid: str, start: float, sl: str, *, procedure: bool, new: bool,
                  based_on: str | None, depth: int, walk_in: bool) -> None:
        rnd, r, p, sink = self.rnd, self.r, s["p"], self.sink
        ref = f"Patient/{p['patient_id']}"
        for topic, prob in _SIDE_TOPICS:  # the same for every care type: not a friction of any journey
            if rnd.random() < prob:
                s["bad"].append(topic)
        bb = self.backbone.pick(rnd, sl, procedure) if self.backbone else None
        minutes = bb["minutes"] if bb else (rnd.uniform(90, 240) if procedure else rnd.uniform(15, 50))
        t_in = start + rnd.uniform(-10, 25) * 60
        end = t_in + minutes * 60
        enc_id = self.nid(s, "enc-")
        code, display = _PROC if procedure else (_ENC_TYPE[sl] if new or walk_in else _FOLLOW)
        virtual = not new and not procedure and not walk_in and rnd.random() < 0.15
        enc = {"resourceType": "Encounter", "id": enc_id, "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": _encounter_class(
                   sl, virtual=virtual, procedure=procedure)},
               "type": bb["type"] if bb else [{"coding": [{"system": "http://snomed.info/sct", "code": code,
                                                           "display": display}], "text": display}],
               "serviceType": _coding(EXT + "service-line", sl), "subject": {"reference": ref},
               "appointment": [{"reference": f"Appointment/{aid}"}],
               "period": {"start": fhir_ts(t_in), "end": fhir_ts(end)},
               "location": [{"location": {"reference": f"Location/{p['location']}"}}]}
        if bb and bb.get("reasonCode"):
            enc["reasonCode"] = bb["reasonCode"]
        if based_on:
            enc["basedOn"] = [{"reference": f"ServiceRequest/{based_on}"}]
        sink.res(t_in, enc)
        if t_in < self.t_end:
            self.cal["visits"] += 1
        dr_prob, cat, loinc, dr_name = _DR[sl]
        reports = bb["reports"] if bb else ([(cat, loinc, dr_name)] if rnd.random() < dr_prob else [])
        for cat, loinc, dr_name in reports:
            issued = end + rnd.uniform(1, 72) * 3600
            sink.res(issued, {"resourceType": "DiagnosticReport", "id": self.nid(s, "dr-"), "status": "final",
                              "category": [_coding("http://terminology.hl7.org/CodeSystem/v2-0074", cat)],
                              "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": dr_name}],
                                       "text": dr_name},
                              "subject": {"reference": ref}, "encounter": {"reference": f"Encounter/{enc_id}"},
                              "effectiveDateTime": fhir_ts(end), "issued": fhir_ts(issued)})
            if s["portal"]:
                sink.portal_msg(issued, (self.nid(s, "MSG"), iso(issued), p["mrn"], "clinic_to_patient", "results",
                                         portal_body(rnd, "results", "clinic_to_patient"), ""))
        self.billing(s, enc_id, start, end, sl, procedure, code, display, bb)
        if s["portal"]:
            tm = end + rnd.uniform(1, 6) * 3600
            sink.portal_msg(tm, (self.nid(s, "MSG"), iso(tm), p["mrn"], "clinic_to_patient", "visit_summary",
                                 portal_body(rnd, "visit_summary", "clinic_to_patient"), ""))
            if rnd.random() < 0.25:
                topic = rnd.choice(("results", "medication", "appointment"))
                self.patient_message(s, end + rnd.uniform(0.5, 10) * 86400, topic)
        self.feedback(s, start, sl, procedure)
        # what happens next: the procedure after an elective consult, a follow-up, a return months later
        if p["care"] == "elective" and new and not procedure and rnd.random() < 0.7:
            self.visit_cycle(s, end, "in_person", sl, new=False, procedure=True, depth=depth + 1)
        elif depth < 1 and rnd.random() < r.follow_up:
            self.visit_cycle(s, end, "in_person", sl, new=False, depth=depth + 1)
        if depth == 0 and rnd.random() < r.return_visit:
            t_ret = start + rnd.uniform(60, 300) * 86400
            if s["portal"]:
                self.visit_cycle(s, t_ret, "web", "primary_care" if sl == "urgent_care" else sl, new=False, depth=1)
            else:
                from .access import open_hours
                created = self.phone_booking(s, open_hours(t_ret), "scheduling", "preventive / chronic care visit")
                if created is not None:
                    self.visit_cycle(s, created, "phone", "primary_care" if sl == "urgent_care" else sl, new=False,
                                     depth=1)

    def patient_message(self, s: dict, t: float, topic: str) -> None:
        rnd, p = self.rnd, s["p"]
        replied = "" if rnd.random() < 0.1 else iso(t + rnd.uniform(2, 72) * 3600)
        body = portal_body(rnd, topic, "patient_to_clinic", ident=self.ident(s), ident_rate=self.r.text_contains_identifier)
        self.sink.portal_msg(t, (self.nid(s, "MSG"), iso(t), p["mrn"], "patient_to_clinic", topic, body, replied))

    def ident(self, s: dict) -> dict:
        p = s["p"]
        return {"phone": s["phone_crm"], "name": f"{p['first']} {p['last']}", "email": s["email"],
                "dob": f"{self.sc.start.year - p['age']}"}

    def billing(self, s, enc_id, start, end, sl, procedure, code, display, bb) -> None:
        rnd, p, sink = self.rnd, s["p"], self.sink
        ref = f"Patient/{p['patient_id']}"
        total = bb["total"] if bb else round(_PRICE[sl] * (30 if procedure else 1) * rnd.uniform(0.7, 1.4), 2)
        tc = end + rnd.uniform(1, 3) * 86400
        claim_id = self.nid(s, "clm-")
        payer = p["payer"]
        sink.res(tc, {"resourceType": "Claim", "id": claim_id, "status": "active",
                      "type": _coding("http://terminology.hl7.org/CodeSystem/claim-type",
                                      "institutional" if procedure else "professional"),
                      "use": "claim", "patient": {"reference": ref}, "created": fhir_ts(tc),
                      "billablePeriod": {"start": fhir_ts(start), "end": fhir_ts(end)},
                      "provider": {"display": f"Harborview Health - {p['location']}"},
                      "priority": _coding("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
                      "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": payer}}],
                      "item": [{"sequence": 1, "productOrService": {"coding": [{"system": "http://snomed.info/sct",
                                                                               "code": code, "display": display}]},
                                "encounter": [{"reference": f"Encounter/{enc_id}"}]}],
                      "total": {"value": total, "currency": "USD"}})
        active, groups = self.fr.at("billing_complaint", p, tc, {"service_line": sl, "procedure": procedure})
        prob = self.r.billing_complaint
        for f in active:
            prob = max(prob, f.effect.rate if f.effect.rate is not None else prob)
        complaint = rnd.random() < prob
        share = _PATIENT_SHARE[payer] * (2.5 if complaint and payer != "self-pay" else 1.0)
        pp = round(min(total, total * share), 2)
        te = tc + rnd.uniform(14, 30) * 86400
        sink.res(te, {"resourceType": "ExplanationOfBenefit", "id": self.nid(s, "eob-"), "status": "active",
                      "type": _coding("http://terminology.hl7.org/CodeSystem/claim-type",
                                      "institutional" if procedure else "professional"),
                      "use": "claim", "patient": {"reference": ref}, "created": fhir_ts(te),
                      "insurer": {"display": payer}, "provider": {"display": f"Harborview Health - {p['location']}"},
                      "outcome": "complete", "claim": {"reference": f"Claim/{claim_id}"},
                      "insurance": [{"focal": True, "coverage": {"display": payer}}],
                      "total": [{"category": _coding("http://terminology.hl7.org/CodeSystem/adjudication", "submitted"),
                                 "amount": {"value": total, "currency": "USD"}},
                                {"category": _coding("http://terminology.hl7.org/CodeSystem/adjudication", "benefit"),
                                 "amount": {"value": round(total - pp, 2), "currency": "USD"}},
                                {"category": _coding("http://terminology.hl7.org/CodeSystem/adjudication", "patientpay"),
                                 "amount": {"value": pp, "currency": "USD"}}],
                      "payment": {"amount": {"value": round(total - pp, 2), "currency": "USD"}}})
        s["complaint_groups"] = groups if te < self.t_end else None
        s["complaint"] = complaint
        if complaint:
            s["bad"].append("billing_surprise")
            if rnd.random() < 0.6:
                from .access import open_hours
                self.inbound(s, open_hours(te + rnd.uniform(1, 6) * 86400), "billing", "question about a bill", 0.0)
            if s["portal"] and rnd.random() < 0.7:
                self.patient_message(s, te + rnd.uniform(0.5, 5) * 86400, "billing")

    def feedback(self, s: dict, start: float, sl: str, procedure: bool) -> None:
        rnd, r, p = self.rnd, self.r, s["p"]
        bad = list(dict.fromkeys(s["bad"]))
        if s.get("complaint"):  # the bill is on their mind: write about it first
            bad = ["billing_surprise"] + [b for b in bad if b != "billing_surprise"][:1]
        nps = None
        if start < self.t_end:
            self.cal["survey_invites"] += 1
        if rnd.random() < r.survey_response:
            tc = start + rnd.uniform(2, 12) * 86400 + (30 * 86400 if s.get("complaint") else 0)
            nps = int(min(10, max(0, round(9.3 - 2.2 * len(bad) + rnd.gauss(0, 1.2)))))
            csat = int(min(5, max(1, round(1 + nps * 0.4 + rnd.gauss(0, 0.4)))))
            text = comment(rnd, bad, ident=self.ident(s), ident_rate=r.text_contains_identifier, lang=p["lang"]) \
                if rnd.random() < 0.75 else ""
            self.sink.survey_row(tc, (self.nid(s, "R"), p["mrn"], iso(start)[:10], iso(tc), p["location"], sl,
                                      nps, csat, text))
            if start < self.t_end:
                self.cal["surveys"] += 1
        groups = s.pop("complaint_groups", None)
        if groups:
            self.fr.record(groups, float(s.get("complaint", False)), nps)
        s["complaint"] = False
        if rnd.random() < r.review_post:
            tp = start + rnd.uniform(1, 20) * 86400
            rating = int(min(5, max(1, round(4.6 - 1.1 * len(bad) + rnd.gauss(0, 0.6)))))
            author = f"{p['first']} {p['last'][0]}." if rnd.random() < 0.6 else f"{p['first']} {p['last']}"
            self.sink.review(tp, (self.nid(s, "RV"), iso(tp), rnd.choice(_SITES), p["location"], rating, author,
                                  comment(rnd, bad, ident=self.ident(s), ident_rate=r.text_contains_identifier / 2,
                                          lang=p["lang"])))
