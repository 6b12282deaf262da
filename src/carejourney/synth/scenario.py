"""The scenario: who the synthetic population is, how its journeys are calibrated, and which
frictions are planted in it.

A scenario is YAML. The built-in defaults live in ``default_scenario.yml``; a user file is
merged over them (mappings deep-merge; a user ``frictions:`` list replaces the default list,
and an entry whose ``id`` names a default friction is merged over that friction, so
``frictions: [{id: weekend_lead_callback, end: 2025-07-01}]`` keeps one friction and "fixes"
it from July). ``frictions: []`` (or ``--scenario none``) plants nothing. Every model forbids
unknown keys, so a typo is an error that names the field and line.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..errors import Problem, ValidationError
from ..model.base import ID_PATTERN, Strict, TimeZone

__all__ = ["Scenario", "Friction", "Where", "Effect", "Population", "Rates", "load_scenario",
           "DEFAULT_SCENARIO", "MECHANISMS", "SERVICE_LINES", "CARE_TYPES", "LOCATIONS"]

DEFAULT_SCENARIO = Path(__file__).with_name("default_scenario.yml")

#: care type -> service line written to the raw files
CARE_TYPES = {"primary": "primary_care", "specialty": "cardiology", "urgent": "urgent_care",
              "elective": "orthopedics"}
SERVICE_LINES = tuple(CARE_TYPES.values())
LOCATIONS = ("downtown", "northside", "eastgate", "riverside")

#: where in the walk a friction acts, and which effect fields it uses
MECHANISMS = {
    "booking_form": "probability that booking_start is followed by booking_complete (conversion)",
    "lead_callback": "hours from web lead to first contact (delay_hours) and lead booked (conversion)",
    "referral_scheduling": "probability a referral gets an appointment (conversion) and days it waits (delay_days)",
    "intake_form": "probability the intake QuestionnaireResponse is completed (conversion)",
    "billing_complaint": "probability of a billing complaint after the visit (rate)",
    "no_show": "odds of a no-show (odds_ratio)",
    "wait_time": "days added to the appointment wait (delay_days)",
    "call_abandon": "odds an inbound call is abandoned (odds_ratio)",
}

Share = float


def _shares(v: dict[str, float], keys: tuple[str, ...], what: str) -> dict[str, float]:
    unknown = set(v) - set(keys)
    if unknown:
        raise ValueError(f"unknown {what} {sorted(unknown)}; use {list(keys)}")
    if any(x < 0 for x in v.values()) or abs(sum(v.values()) - 1.0) > 1e-6:
        raise ValueError(f"{what} shares must be >= 0 and add up to 1 (they add up to {sum(v.values()):.3f})")
    return {k: float(v.get(k, 0.0)) for k in keys}


class Population(Strict):
    care_type: dict[str, float]
    age_group: dict[str, float]
    language: dict[str, float]
    location: dict[str, float]
    payer_by_age_group: dict[str, dict[str, float]]
    mobile_share: dict[str, float] = Field(description="share on a mobile device, per age group")
    restricted_zip3_share: float = Field(ge=0, le=1)
    interpreter_if_not_english: float = Field(ge=0, le=1)
    transport: float = Field(ge=0, le=1)
    disability_access: float = Field(ge=0, le=1)
    low_digital_literacy: dict[str, float] = Field(description="per age group")

    @field_validator("care_type")
    @classmethod
    def _ct(cls, v):
        return _shares(v, tuple(CARE_TYPES), "care_type")

    @field_validator("age_group")
    @classmethod
    def _ag(cls, v):
        return _shares(v, ("pediatric", "adult", "senior"), "age_group")

    @field_validator("language")
    @classmethod
    def _lang(cls, v):
        return _shares(v, ("en", "es", "other"), "language")

    @field_validator("location")
    @classmethod
    def _loc(cls, v):
        return _shares(v, LOCATIONS, "location")

    @field_validator("payer_by_age_group")
    @classmethod
    def _payer(cls, v):
        return {g: _shares(s, ("commercial", "medicare", "medicaid", "self-pay"), f"payer ({g})")
                for g, s in v.items()}


class Wait(Strict):
    mean_days: float = Field(gt=0)
    sigma: float = Field(default=0.9, gt=0, description="lognormal shape; 0.9 gives p90 ≈ 2.1 × mean")


class NoShow(Strict):
    base: dict[str, float] = Field(description="probability per service line at lead time <= 28 days, "
                                               "for a commercial, English-speaking first-timer")
    odds_ratios: dict[Literal["lead_time_gt_28d", "prior_no_show", "medicaid", "spanish"], float]


class Rates(Strict):
    web_research: dict[str, float]
    read_reviews: Share = Field(ge=0, le=1)
    web_action: dict[str, dict[str, float]]
    online_booking_complete: Share = Field(ge=0, le=1)
    booking_id_tracked: Share = Field(default=0.0, ge=0, le=1,
                                      description="share of online bookings whose booking_complete event "
                                                  "carries the confirmation code (booking_id)")
    form_submit: Share = Field(ge=0, le=1)
    lead_callback_hours_median: float = Field(gt=0)
    lead_booked: Share = Field(ge=0, le=1)
    call_abandon: Share = Field(ge=0, le=1)
    call_retry: Share = Field(ge=0, le=1)
    call_booked: Share = Field(ge=0, le=1)
    walk_in: dict[str, float]
    self_referral: Share = Field(default=0.0, ge=0, le=1,
                                 description="share of specialty patients who come without a referral: "
                                             "through the website (web_research, web_action) or the phone")
    referral_scheduled: Share = Field(ge=0, le=1)
    referral_schedule_days_median: float = Field(gt=0)
    wait: dict[str, Wait]
    no_show: NoShow
    late_cancel: Share = Field(ge=0, le=1)
    rebook: Share = Field(ge=0, le=1)
    reminder: Share = Field(ge=0, le=1)
    intake_complete: Share = Field(ge=0, le=1)
    portal_active: Share = Field(ge=0, le=1)
    survey_response: Share = Field(ge=0, le=1)
    review_post: Share = Field(ge=0, le=1)
    billing_complaint: Share = Field(ge=0, le=1)
    follow_up: Share = Field(ge=0, le=1)
    return_visit: Share = Field(ge=0, le=1)
    text_contains_identifier: Share = Field(ge=0, le=1)


class Where(Strict):
    """Who a friction touches. Every given field must match (lists mean "any of")."""

    age_group: list[str] | None = None
    age_band: list[str] | None = Field(default=None, description="'65+' or 'a-b' (inclusive years)")
    device: list[str] | None = None
    language: list[str] | None = None
    location: list[str] | None = None
    service_line: list[str] | None = None
    payer_type: list[str] | None = None
    weekend: bool | None = Field(default=None, description="lead created on a Saturday or Sunday")
    min_wait_days: float | None = Field(default=None, description="appointment wait longer than this")
    procedure: bool | None = Field(default=None, description="elective procedure visits only")

    @field_validator("age_group", "age_band", "device", "language", "location", "service_line",
                     "payer_type", mode="before")
    @classmethod
    def _listify(cls, v):
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _known_values(self):
        known = {"age_group": ("pediatric", "adult", "senior"), "device": ("mobile", "desktop", "tablet"),
                 "language": ("en", "es", "other", "vi", "pt"), "location": LOCATIONS,
                 "service_line": SERVICE_LINES, "payer_type": ("commercial", "medicare", "medicaid", "self-pay")}
        for name, allowed in known.items():
            bad = [x for x in getattr(self, name) or () if x not in allowed]
            if bad:
                raise ValueError(f"where.{name}: unknown value {bad[0]!r}; use one of {list(allowed)}")
        return self

    @field_validator("age_band")
    @classmethod
    def _band(cls, v):
        for b in v or []:
            if not (b.endswith("+") and b[:-1].isdigit()) and not (
                    "-" in b and all(x.isdigit() for x in b.split("-", 1))):
                raise ValueError(f"age_band '{b}' must look like '65+' or '18-64'")
        return v


class Effect(Strict):
    conversion: float | None = Field(default=None, ge=0, description="multiplier on the step's probability")
    delay_hours: float | None = Field(default=None, description="hours added to the step's delay")
    delay_days: float | None = Field(default=None, description="days added to the step's delay")
    odds_ratio: float | None = Field(default=None, gt=0)
    rate: float | None = Field(default=None, ge=0, le=1, description="probability replacing the baseline")


class Friction(Strict):
    id: str = Field(pattern=ID_PATTERN)
    description: str
    mechanism: str
    journey: str
    segment: str
    stage: str
    touchpoint: str = Field(description="the journey template touchpoint whose reach/conversion/timing it changes")
    delay: str | None = Field(default=None, description="the template delay (e.g. speed_to_lead) it lengthens")
    dimension: str
    value: str
    owner: str
    where: Where = Field(default_factory=Where)
    effect: Effect
    start: date | None = Field(default=None, description="active from this date (inclusive)")
    end: date | None = Field(default=None, description="active before this date: the friction is 'fixed' then")

    @field_validator("mechanism")
    @classmethod
    def _mech(cls, v):
        if v not in MECHANISMS:
            from ..model.journey import did_you_mean
            raise ValueError(f"unknown mechanism '{v}'{did_you_mean(v, MECHANISMS)}; use one of {sorted(MECHANISMS)}")
        return v

    @model_validator(mode="after")
    def _needs_effect(self):
        if not any(x is not None for x in self.effect.model_dump().values()):
            raise ValueError(f"friction '{self.id}': effect needs at least one of conversion, delay_hours, "
                             "delay_days, odds_ratio, rate")
        return self


class Scenario(Strict):
    name: str = "default"
    start: date = date(2025, 1, 1)
    months: int = Field(default=12, ge=1, le=120)
    timezone: TimeZone = Field(default="America/New_York", description="IANA zone of the clinics: CSV times are local "
                          "in it, FHIR times carry its offset, GA4 times are UTC (match the project's timezone)")
    population: Population
    rates: Rates
    frictions: list[Friction] = Field(default_factory=list)


    @model_validator(mode="after")
    def _unique(self):
        ids = [f.id for f in self.frictions]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"friction ids must be unique; repeated: {sorted(dup)}")
        return self


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _merge(default: dict, user: dict) -> dict:
    frictions = user.get("frictions", None)
    merged = _deep_merge(default, {k: v for k, v in user.items() if k != "frictions"})
    if frictions is not None:
        if not isinstance(frictions, list):
            raise TypeError("frictions")
        by_id = {f["id"]: f for f in default.get("frictions", [])}
        merged["frictions"] = [_deep_merge(by_id[f["id"]], f) if isinstance(f, dict) and f.get("id") in by_id else f
                               for f in frictions]
    return merged


def load_scenario(path: str | Path | None = None, **overrides) -> Scenario:
    """The default scenario, with ``path`` (a YAML file, or ``"none"`` for no frictions) merged over it."""
    from ..yamlio import load_yaml, safe_load
    default = safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    user: dict = {}
    name = str(path) if path is not None else str(DEFAULT_SCENARIO)
    located = None
    if path is not None and str(path) == "none":
        user = {"name": "none", "frictions": []}
    elif path is not None:
        located = load_yaml(Path(path), display=name)
        user = located.data or {}
        if not isinstance(user, dict):
            raise ValidationError([Problem(name, 1, "", "a scenario file must be a mapping (name:, population:, "
                                                       "rates:, frictions:)")])
    user = {**user, **{k: v for k, v in overrides.items() if v is not None}}
    try:
        data = _merge(default, user)
    except TypeError:
        raise ValidationError([Problem(name, located.line_of(("frictions",)) if located else None, "frictions",
                                       "must be a list of frictions (or [] for none)")]) from None
    from pydantic import ValidationError as PydanticError
    try:
        return Scenario.model_validate(data)
    except PydanticError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if isinstance(p, int) or "[" not in str(p))
            field = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling; see docs/synthetic-data.md)"
            elif err["type"] == "missing":
                msg = "required field is missing"
            line = located.line_of(loc) if located is not None else None
            problems.append(Problem(name, line, field, msg))
        raise ValidationError(problems) from None
