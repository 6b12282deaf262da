"""``--fhir-backbone DIR``: clinical content from real Synthea bundles.

Synthea simulates clinical care but not scheduling or engagement. With a backbone, each
generated visit takes its clinical content — encounter type and reason, length, the diagnostic
reports written during it, and the claim total — from an ambulatory encounter in the bundles,
while the walk still generates referrals, bookings, reminders, no-shows, calls, portal messages
and feedback around it. Templates are read in file order and picked with the walk's seeded
random stream, so output stays reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from ..errors import SpecError

__all__ = ["Backbone"]

_AMBULATORY = {"AMB", "VR", "EMER", "URGENT"}
_WELLNESS = {"185349003", "162673000", "410620009"}  # check-up / general exam / well child


def _minutes(period: dict) -> float:
    try:
        a = datetime.fromisoformat(period["start"])
        b = datetime.fromisoformat(period["end"])
        return max(5.0, min(480.0, (b - a).total_seconds() / 60))
    except (KeyError, TypeError, ValueError):
        return 30.0


def _code(concept) -> str | None:
    for c in (concept or {}).get("coding") or ():
        if c.get("code"):
            return c["code"]
    return None


@dataclass
class Backbone:
    pool: list[dict]
    wellness: list[dict]
    bundles: int
    by_class: dict[str, list[dict]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> "Backbone":
        files = sorted(p for p in Path(folder).glob("*.json") if p.is_file())
        if not files:
            raise SpecError(f"--fhir-backbone {folder}: no .json FHIR Bundles found (expected Synthea output, "
                            "e.g. output/fhir/*.json)")
        pool: list[dict] = []
        bundles = 0
        for path in files:
            try:
                doc = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError as exc:
                raise SpecError(f"{path}: not valid JSON ({exc}); the backbone folder must hold FHIR Bundles") from None
            if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
                continue
            bundles += 1
            encounters, reports, totals = {}, {}, {}
            for e in doc.get("entry") or ():
                r = e.get("resource") or {}
                rt = r.get("resourceType")
                full = e.get("fullUrl") or f"{rt}/{r.get('id')}"
                if rt == "Encounter" and (r.get("class") or {}).get("code") in _AMBULATORY:
                    encounters[full] = r
                    encounters[f"Encounter/{r.get('id')}"] = r
                elif rt == "DiagnosticReport":
                    ref = (r.get("encounter") or {}).get("reference")
                    cat = _code((r.get("category") or [{}])[0]) or "LAB"
                    code = (r.get("code") or {}).get("coding") or [{}]
                    reports.setdefault(ref, []).append((cat, code[0].get("code", ""), code[0].get("display", "")))
                elif rt == "Claim":
                    for item in r.get("item") or ():
                        for enc in item.get("encounter") or ():
                            totals[enc.get("reference")] = (r.get("total") or {}).get("value")
            seen = set()
            for key, r in encounters.items():
                if id(r) in seen:
                    continue
                seen.add(id(r))
                refs = {key, f"Encounter/{r.get('id')}", f"urn:uuid:{r.get('id')}"}
                total = next((totals[k] for k in refs if totals.get(k) is not None), None)
                pool.append({"type": r.get("type") or [], "reasonCode": r.get("reasonCode"),
                             "minutes": _minutes(r.get("period") or {}),
                             "reports": [x for k in refs for x in reports.get(k, [])],
                             "total": float(total) if isinstance(total, (int, float)) else 150.0,
                             "wellness": _code((r.get("type") or [{}])[0]) in _WELLNESS})
        if not pool:
            raise SpecError(f"--fhir-backbone {folder}: the bundles hold no ambulatory Encounter to build visits from")
        return cls(pool=pool, wellness=[p for p in pool if p["wellness"]] or pool, bundles=bundles)

    def pick(self, rnd, service_line: str, procedure: bool) -> dict:
        """An encounter template: check-ups for primary care, any ambulatory encounter otherwise."""
        src = self.wellness if service_line == "primary_care" and not procedure else self.pool
        return src[rnd.randrange(len(src))]
