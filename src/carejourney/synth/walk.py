"""The journey walk, part 1: awareness → consideration → access.

Each person walks stage by stage; every step is a draw with the scenario's calibrated
probability (and any planted friction's effect). Journeys are not linear: people research over
several sessions (pausing for family input or a coverage check), abandon an online form and
switch to the phone, call again after hanging up, get called back, or stall in a referral
queue. Part 2 (:mod:`.visit`) covers booking → visit → follow-up → return.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict

from .frictions import Frictions
from .population import email_for
from .records import Sink, coverage_resource, fhir_ts, iso, patient_resource, phone_formats, utc_micros
from .scenario import Scenario
from .access import AccessSteps, open_hours as _open_hours
from .visit import VisitSteps

__all__ = ["Walker"]

_OS = {"mobile": ({"category": "mobile", "operating_system": "iOS", "web_info": {"browser": "Safari"}},
                  {"category": "mobile", "operating_system": "Android", "web_info": {"browser": "Chrome"}}),
       "tablet": ({"category": "tablet", "operating_system": "iOS", "web_info": {"browser": "Safari"}},),
       "desktop": ({"category": "desktop", "operating_system": "Windows", "web_info": {"browser": "Chrome"}},
                   {"category": "desktop", "operating_system": "Windows", "web_info": {"browser": "Edge"}},
                   {"category": "desktop", "operating_system": "Macintosh", "web_info": {"browser": "Safari"}})}
_STATES = {"MA": "Massachusetts", "NH": "New Hampshire", "VT": "Vermont", "CT": "Connecticut"}
#: (first-touch / session source): name, medium, source, weight
_SOURCES = ((("(organic)", "organic", "google"), 40), (("brand_search", "cpc", "google"), 15),
            (("(direct)", "(none)", "(direct)"), 20), (("(organic)", "organic", "bing"), 6),
            (("spring_checkup", "paid_social", "facebook"), 8), (("newsletter", "email", "newsletter"), 5),
            (("(referral)", "referral", "healthgrades.com"), 6))
_SRC_VALUES = [s for s, _ in _SOURCES]
_SRC_W = [w for _, w in _SOURCES]
_PROVIDERS = ("dr-patel", "dr-nguyen", "dr-okafor", "dr-rossi", "dr-chen", "dr-garcia", "dr-murphy", "dr-levine")


class Walker(AccessSteps, VisitSteps):
    """Walks one chunk of people, writing their records into a :class:`Sink`."""

    def __init__(self, sc: Scenario, rnd: random.Random, sink: Sink, fr: Frictions, t_end: float, backbone=None):
        self.sc, self.r, self.rnd, self.sink, self.fr, self.t_end = sc, sc.rates, rnd, sink, fr, t_end
        self.backbone = backbone
        self.cal: dict[str, float] = defaultdict(float)
        self.waits: list[float] = []
        nb = sc.rates.no_show
        self.ns_odds = {k: v / (1 - v) for k, v in nb.base.items()}
        self.ns_or = {k: math.log(v) for k, v in nb.odds_ratios.items()}

    # -- one person ---------------------------------------------------------------------------
    def person(self, p: dict) -> None:
        rnd, r = self.rnd, self.r
        pf, pc, pe = phone_formats(p["phone_area"], p["phone_local"])
        s = {"p": p, "k": 0, "bad": [], "prior_noshow": False, "patient": False, "sess": None,
             "phone_fhir": pf, "phone_crm": pc, "phone_e164": pe, "leads": [], "bookings": [], "called": False,
             "email": email_for(p["first"], p["last"], p["idx"], p["email_domain"]),
             "portal": rnd.random() < r.portal_active, "reads_reviews": rnd.random() < r.read_reviews}
        care, t = p["care"], float(p["t0"])
        # specialty: most arrive on a clinician's referral; the self-referred come like primary care's
        # patients do, through the website or the phone (the specialty template's self_referred segment)
        if care == "specialty" and rnd.random() >= r.self_referral:
            self.referral(s, t)
        elif care == "urgent" and rnd.random() < r.walk_in.get("urgent", 0.0):
            if rnd.random() < r.web_research["urgent"]:
                t = self.research(s, t, directions=True)
            self.visit_cycle(s, t + rnd.uniform(600, 5400), "in_person", p["service_line"], walk_in=True)
        elif rnd.random() < r.web_research[care]:
            self.web_journey(s, t)
        else:
            created = self.phone_booking(s, _open_hours(t), "scheduling", "new appointment")
            if created is not None:
                self.visit_cycle(s, created, "phone", p["service_line"])
        self.truth_row(s)

    def nid(self, s: dict, prefix: str) -> str:
        s["k"] += 1
        return f"{prefix}{s['p']['idx']}-{s['k']}"

    def truth_row(self, s: dict) -> None:
        p = s["p"]
        self.sink.people.append({
            "person_id": f"P{p['idx']:08d}", "care_type": p["care"], "service_line": p["service_line"],
            "age_group": p["age_group"], "age": p["age"], "sex": p["sex"], "language": p["bcp47"],
            "payer_type": p["payer"], "location": p["location"], "device": p["device"], "zip": p["zip"],
            "first_name": p["first"], "last_name": p["last"], "email": s["email"], "phone": s["phone_e164"],
            "client_id": s["sess"]["client_id"] if s["sess"] else None,
            "lead_id": ";".join(s["leads"]) or None,
            "booking_id": ";".join(s["bookings"]) or None,  # online bookings whose confirmation reached analytics
            "lead_phone": s["phone_crm"] if s["leads"] else None, "lead_email": s["email"] if s["leads"] else None,
            "call_phone": s["phone_e164"] if s["called"] else None,
            "mrn": p["mrn"] if s["patient"] else None, "patient_id": p["patient_id"] if s["patient"] else None,
            "ssn": p["ssn"] if s["patient"] else None})

    # -- identity in the EHR ------------------------------------------------------------------
    def ensure_patient(self, s: dict, t: float) -> None:
        if s["patient"]:
            return
        p = s["p"]
        start = self.sc.start
        by = start.year - p["age"] - (1 if p["birth_offset"] > 300 else 0)
        birth = f"{by:04d}-{1 + p['birth_offset'] % 12:02d}-{1 + p['birth_offset'] % 28:02d}"
        pr = patient_resource(p, s["phone_fhir"], s["email"], birth)
        pr["meta"]["lastUpdated"] = fhir_ts(t)
        if t < self.t_end:
            s["patient"] = True
            self.sink.res(t, pr)
            cov = coverage_resource(p, self.nid(s, "cov-"))
            cov["period"]["start"] = iso(t)[:10]
            self.sink.res(t, cov)
            self.cal["patients"] += 1
            self.cal["portal_active"] += s["portal"]

    # -- web ----------------------------------------------------------------------------------
    def _session(self, s: dict, t: float) -> dict:
        p, rnd = s["p"], self.rnd
        src = rnd.choices(_SRC_VALUES, _SRC_W)[0]
        if s["sess"] is None:
            s["sess"] = {"client_id": f"{p['client_num']}.{utc_micros(t) // 1_000_000}", "first_touch":
                         {"name": src[0], "medium": src[1], "source": src[2]},
                         "device": rnd.choice(_OS[p["device"]]),
                         "geo": {"country": "United States", "region": _STATES[p["state"]], "city": p["city"]}}
            if t < self.t_end:
                self.cal["web_visitors"] += 1
                self.cal["review_readers"] += s["reads_reviews"]
        sess = dict(s["sess"])
        sess["id"] = utc_micros(t) // 1_000_000
        sess["source"] = {"manual_campaign_name": src[0], "manual_source": src[2], "manual_medium": src[1]}
        return sess

    def research(self, s: dict, t: float, *, directions: bool = False, sessions: int = 1) -> float:
        """One or more browsing sessions (a pause between them); returns the time at the end."""
        rnd, p = self.rnd, s["p"]
        sl, emit = p["service_line"], self.sink.ga4_event
        for n in range(sessions):
            sess = self._session(s, t)
            s["cur"] = sess
            if rnd.random() < 0.5:
                emit(t, "page_view", "home", "/", sess)
                t += rnd.expovariate(1 / 30)
            if rnd.random() < 0.2:
                emit(t, "view_search_results", "service", f"/search?q={sl.replace('_', '+')}", sess,
                     {"search_term": sl.replace("_", " ")})
                t += rnd.expovariate(1 / 20)
            emit(t, "page_view", "service", f"/services/{sl.replace('_', '-')}", sess, {"service_line": sl})
            t += rnd.expovariate(1 / 45)
            if rnd.random() < 0.6:
                dr = rnd.choice(_PROVIDERS)
                emit(t, "view_provider_profile", "provider", f"/providers/{dr}", sess, {"service_line": sl})
                t += rnd.expovariate(1 / 60)
            if s["reads_reviews"] and (n == 0 or rnd.random() < 0.3):
                emit(t, "view_reviews", "reviews", f"/providers/{rnd.choice(_PROVIDERS)}/reviews", sess)
                t += rnd.expovariate(1 / 70)
            if rnd.random() < (0.5 if p["care"] == "elective" else 0.12):
                emit(t, "page_view", "pricing", "/patients/pricing", sess)
                t += rnd.expovariate(1 / 40)
            if directions or rnd.random() < 0.1:
                emit(t, "click_directions", "locations", f"/locations/{p['location']}", sess,
                     {"location_id": p["location"]})
                t += rnd.expovariate(1 / 20)
            if n + 1 < sessions:
                t += rnd.uniform(1, 10) * 86400  # pause: family input, coverage check
        return t

    def web_journey(self, s: dict, t: float) -> None:
        rnd, r, p = self.rnd, self.r, s["p"]
        care, sl = p["care"], p["service_line"]
        t = self.research(s, t, sessions=2 if rnd.random() < 0.35 else 1)
        acts = r.web_action[care]
        action = rnd.choices(list(acts), list(acts.values()))[0]
        sess, emit = s["cur"], self.sink.ga4_event
        if action == "book_online":
            emit(t, "page_view", "booking", f"/book?service={sl}", sess, {"service_line": sl})
            t += rnd.uniform(5, 30)
            emit(t, "booking_start", "booking", f"/book?service={sl}", sess,
                 {"service_line": sl, "location_id": p["location"]})
            active, groups = self.fr.at("booking_form", p, t, {})
            prob = r.online_booking_complete
            for f in active:
                prob *= f.effect.conversion if f.effect.conversion is not None else 1.0
            done = rnd.random() < min(prob, 1.0)
            if t < self.t_end:
                self.fr.record(groups, float(done))
                self.cal["booking_starts"] += 1
                self.cal["booking_completes"] += done
            t += rnd.uniform(60, 400)
            if done:
                ref = self.booking_ref(s)
                emit(t, "booking_complete", "booking", "/book/confirmed", sess,
                     {"service_line": sl, "location_id": p["location"], **self.tracked_booking(s, ref)})
                self.visit_cycle(s, t, "web", sl, booking_ref=ref)
                return
            s["bad"].append("booking")
            u = rnd.random()
            if u < 0.45:  # channel switch: give up on the form, call instead
                created = self.phone_booking(s, _open_hours(t + rnd.uniform(600, 86400)), "scheduling",
                                             "could not book online")
                if created is not None:
                    self.visit_cycle(s, created, "phone", sl)
            elif u < 0.6:  # comes back later and tries the form again
                t2 = self.research(s, t + rnd.uniform(1, 5) * 86400)
                emit(t2, "booking_start", "booking", f"/book?service={sl}", s["cur"],
                     {"service_line": sl, "location_id": p["location"]})
                if rnd.random() < prob:
                    ref = self.booking_ref(s)
                    emit(t2 + 200, "booking_complete", "booking", "/book/confirmed", s["cur"],
                         {"service_line": sl, "location_id": p["location"], **self.tracked_booking(s, ref)})
                    self.visit_cycle(s, t2 + 200, "web", sl, booking_ref=ref)
        elif action == "web_form":
            emit(t, "form_start", "service", f"/services/{sl.replace('_', '-')}", sess,
                 {"form_id": "appointment_request", "service_line": sl})
            t += rnd.uniform(40, 300)
            if rnd.random() < r.form_submit:
                lead_id = self.lead_id(s)
                emit(t, "form_submit", "service", f"/services/{sl.replace('_', '-')}", sess,
                     {"form_id": "appointment_request", "service_line": sl, "lead_id": lead_id})
                self.web_lead(s, t, lead_id, sess)
        elif action == "call":
            emit(t, "click_to_call", "locations", f"/locations/{p['location']}", sess, {"location_id": p["location"]})
            created = self.phone_booking(s, _open_hours(t + 30), "scheduling", "new appointment")
            if created is not None:
                self.visit_cycle(s, created, "phone", sl)

    def booking_ref(self, s: dict) -> str | None:
        """An online booking's confirmation code, the Appointment's identifier in the EHR — written
        where some confirmations reach analytics (``rates.booking_id_tracked`` > 0; with none, the
        population is exactly what it was before the rate existed: no id drawn, no random draw)."""
        return self.nid(s, "BK") if self.r.booking_id_tracked > 0 else None

    def tracked_booking(self, s: dict, ref: str | None) -> dict:
        """The ``booking_id`` parameter of ``booking_complete`` where the site sends it to analytics
        (``rates.booking_id_tracked``): the only thing linking an online booker's browser to the
        patient. Elsewhere the booker stays a second, anonymous person, as in real data."""
        if ref is None or self.rnd.random() >= self.r.booking_id_tracked:
            return {}
        s["bookings"].append(ref)
        return {"booking_id": ref}

    # -- CRM lead + callbacks -----------------------------------------------------------------
    def lead_id(self, s: dict) -> str:
        s["k"] += 1
        n = s["p"]["idx"] * 16 + s["k"]
        digits, out = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", ""
        while n:
            n, d = divmod(n, 36)
            out = digits[d] + out
        lid = "00Q" + out.rjust(12, "0")
        s["leads"].append(lid)
        return lid

    def web_lead(self, s: dict, t: float, lead_id: str, sess: dict) -> None:
        rnd, r, p = self.rnd, self.r, s["p"]
        weekend = (int(t) // 86400 + 3) % 7 >= 5  # 1970-01-01 was a Thursday
        active, groups = self.fr.at("lead_callback", p, t, {"weekend": weekend})
        delay_h = math.exp(math.log(r.lead_callback_hours_median) + 0.8 * rnd.gauss(0, 1))
        prob = r.lead_booked
        for f in active:
            delay_h += f.effect.delay_hours or 0.0
            delay_h += 24 * (f.effect.delay_days or 0.0)
            prob *= f.effect.conversion if f.effect.conversion is not None else 1.0
        first = _open_hours(t + delay_h * 3600)
        status, booked_at, reached = "contacted", None, False
        tt = first
        for attempt in range(3):
            answered = rnd.random() < 0.75
            booked = answered and rnd.random() < prob
            talk = int(rnd.lognormvariate(math.log(180), 0.5)) if answered else 0
            outcome = "booked" if booked else ("info" if answered else "voicemail")
            self.sink.call(tt, (self.nid(s, "CA"), iso(tt), s["phone_e164"], "outbound", "scheduling", 0, talk, "N",
                                outcome, "patient_access", "", "web lead follow-up"))
            s["called"] = True
            if answered:
                reached = True
                status = "booked" if booked else "lost"
                booked_at = tt + talk if booked else None
                break
            tt = _open_hours(tt + rnd.uniform(18, 30) * 3600)
        if first >= self.t_end:
            status = "new"
        if delay_h > 24:
            s["bad"].append("callback")
        if t < self.t_end:
            self.fr.record(groups, float(booked_at is not None), (first - t) / 3600)
            self.cal["leads"] += 1
            self.cal["leads_booked"] += booked_at is not None
        src = sess["source"]
        self.sink.lead((lead_id, iso(t), p["first"], p["last"], s["email"], s["phone_crm"], p["service_line"],
                        p["location"], "web_form", src["manual_source"], src["manual_medium"],
                        src["manual_campaign_name"], sess["client_id"], iso(first) if first < self.t_end else "",
                        status, "patient_access"), t)
        if booked_at is not None:
            self.visit_cycle(s, booked_at, "phone", p["service_line"])
        elif not reached and rnd.random() < 0.3:
            created = self.phone_booking(s, _open_hours(tt + 86400), "scheduling", "returning a missed call")
            if created is not None:
                self.visit_cycle(s, created, "phone", p["service_line"])
