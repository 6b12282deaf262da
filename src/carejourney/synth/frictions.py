"""Planted frictions: which apply to a person at a moment, and what they really did.

Each friction acts at one *mechanism* (a step of the walk, see ``scenario.MECHANISMS``). At that
step the walk asks :meth:`Frictions.at` for the frictions that match the person and are active
at the time, applies their effects, and records the step's outcome in a :class:`Tally` for
every friction of that mechanism — in the *affected* group when the friction applied, in
*others* when it did not (and in *inactive* when the person matched but the date was outside
the friction's start/end). ``truth.json`` reports these tallies: the realised effect.
"""

from __future__ import annotations

from collections import defaultdict
from .population import epoch
from .scenario import Friction, Scenario

__all__ = ["Frictions", "Tally"]


def _band_ok(bands: list[str], age: int) -> bool:
    for b in bands:
        if b.endswith("+"):
            if age >= int(b[:-1]):
                return True
        else:
            lo, hi = b.split("-", 1)
            if int(lo) <= age <= int(hi):
                return True
    return False


class Tally:
    """Outcomes of one mechanism's step for one friction: n and sum of outcome per group."""

    def __init__(self) -> None:
        self.n = defaultdict(int)
        self.total = defaultdict(float)
        self.values: dict[str, list[float]] = defaultdict(list)

    def add(self, group: str, outcome: float, value: float | None = None) -> None:
        self.n[group] += 1
        self.total[group] += outcome
        if value is not None:
            self.values[group].append(value)

    def merge(self, other: "Tally") -> None:
        for g, v in other.n.items():
            self.n[g] += v
        for g, v in other.total.items():
            self.total[g] += v
        for g, v in other.values.items():
            self.values[g].extend(v)


class Frictions:
    """The scenario's frictions, indexed by mechanism, with per-friction tallies."""

    def __init__(self, sc: Scenario):
        self.items = list(sc.frictions)
        self.by_mech: dict[str, list[Friction]] = defaultdict(list)
        self.window: dict[str, tuple[float, float]] = {}
        for f in self.items:
            self.by_mech[f.mechanism].append(f)
            lo = epoch(f.start) if f.start else float("-inf")
            hi = epoch(f.end) if f.end else float("inf")
            self.window[f.id] = (lo, hi)
        self.tally: dict[str, Tally] = {f.id: Tally() for f in self.items}

    @staticmethod
    def matches(f: Friction, p: dict, ctx: dict) -> bool:
        w = f.where
        if w.age_group and p["age_group"] not in w.age_group:
            return False
        if w.age_band and not _band_ok(w.age_band, p["age"]):
            return False
        if w.device and p["device"] not in w.device:
            return False
        if w.language and p["lang"] not in w.language and p["bcp47"] not in w.language:
            return False
        if w.location and p["location"] not in w.location:
            return False
        if w.service_line and ctx.get("service_line", p["service_line"]) not in w.service_line:
            return False
        if w.payer_type and p["payer"] not in w.payer_type:
            return False
        if w.weekend is not None and bool(ctx.get("weekend")) != w.weekend:
            return False
        if w.min_wait_days is not None and ctx.get("wait_days", 0.0) <= w.min_wait_days:
            return False
        if w.procedure is not None and bool(ctx.get("procedure")) != w.procedure:
            return False
        return True

    def at(self, mech: str, p: dict, ts: float, ctx: dict) -> tuple[list[Friction], list[tuple[str, str]]]:
        """Active frictions for this step, and (friction id, group) pairs to tally the outcome under."""
        active, groups = [], []
        for f in self.by_mech.get(mech, ()):
            if self.matches(f, p, ctx):
                lo, hi = self.window[f.id]
                if lo <= ts < hi:
                    active.append(f)
                    groups.append((f.id, "affected"))
                else:
                    groups.append((f.id, "inactive"))
            else:
                groups.append((f.id, "others"))
        return active, groups

    def record(self, groups: list[tuple[str, str]], outcome: float, value: float | None = None) -> None:
        for fid, g in groups:
            self.tally[fid].add(g, outcome, value)


def fmt_window(f: Friction) -> dict:
    return {"start": f.start.isoformat() if f.start else None,
            "end": f.end.isoformat() if f.end else None}

