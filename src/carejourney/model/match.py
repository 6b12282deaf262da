"""Match rules: the small, portable rule language used to map events to touchpoints and
people to segments.

A rule is a mapping of *field* → *condition*; all conditions must hold (AND)::

    match: {source: fhir, source_event: Appointment, status: [booked, arrived]}
    match: {source: web, detail: {startswith: /reviews}}
    where: {age_band: {in: ["65-74", "75-89", "90+"]}, language: {not: en}}

A condition is a scalar (equals), a list (one of), or one operator object:
``{in: [...]}``, ``{not: x}``, ``{not_in: [...]}``, ``{startswith: s}``, ``{contains: s}``,
``{exists: true|false}``. Rules compile to Ibis predicates (see
:func:`carejourney.mapping.rule_predicate`), so they run inside the engine, never row by row.
"""

from __future__ import annotations

from typing import Union

from pydantic import Field, RootModel, model_validator

from .base import Strict

__all__ = ["Condition", "MatchRule", "EVENT_MATCH_FIELDS", "PERSON_MATCH_FIELDS"]

Scalar = Union[str, int, float, bool]

#: Columns of a staged event that a touchpoint ``match`` rule may test.
EVENT_MATCH_FIELDS = (
    "source", "source_event", "detail", "status", "channel",
    "service_line", "location", "device",
)
#: Person attributes a segment ``where`` rule may test.
PERSON_MATCH_FIELDS = (
    "age_band", "sex", "language", "payer_type", "zip3", "needs_interpreter",
    "needs_transport", "needs_disability_access", "low_digital_literacy",
)


class Condition(Strict):
    """One operator condition; exactly one key may be set."""

    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_: Scalar | None = Field(default=None, alias="not")
    not_in: list[Scalar] | None = None
    startswith: str | None = None
    contains: str | None = None
    exists: bool | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> "Condition":
        set_ = [k for k, v in self.model_dump(by_alias=True).items() if v is not None]
        if len(set_) != 1:
            raise ValueError(
                "a condition takes exactly one of: in, not, not_in, startswith, contains, exists"
                f" (got {', '.join(set_) or 'none'})"
            )
        return self


class MatchRule(RootModel[dict[str, Union[Scalar, list[Scalar], Condition]]]):
    """field → condition, all of which must hold."""

    def fields(self) -> list[str]:
        return list(self.root)
