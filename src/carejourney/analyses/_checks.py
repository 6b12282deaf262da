"""What the journey definition asks to be checked: each target as a pair of touchpoint sets.

Where each target is measured is documented in :mod:`carejourney.analyses.targets` (and
docs/analyses/friction.md). The checks live apart from that analysis because other analyses
share their pairs: :func:`carejourney.analyses._steps.journey_pairs` computes the person-level
pair rows of a journey's steps and its target checks once per report.
"""

from __future__ import annotations

from ..model.journey import Journey, Target

__all__ = ["target_checks"]


def _chain(j: Journey) -> list[str]:
    chain = j.key_steps()
    return chain if len(chain) >= 2 else [t.id for t in j.touchpoints if not t.optional]


def _ends(j: Journey, ref: str) -> list[str]:
    """A touchpoint, or a stage's required touchpoints (all of them when every one is optional)."""
    if ref not in {s.id for s in j.stages}:
        return [ref]
    tps = j.touchpoints_in(ref)
    return [t.id for t in tps if not t.optional] or [t.id for t in tps]


def target_checks(j: Journey) -> list[dict]:
    """Each (where, from-set, to-set, target) the journey asks to be checked."""
    order = {t.id: i for i, t in enumerate(j.touchpoints)}
    chain = _chain(j)
    checks = []
    for t in j.touchpoints:
        if t.target is None:
            continue
        nxt = [c for c in chain if order[c] > order[t.id]]
        prv = [c for c in chain if order[c] < order[t.id]]
        base = {"level": "touchpoint", "where": t.id, "stage": t.stage, "touchpoint": t.id, "owner": j.owner_of(t.id)}
        if t.target.conversion is not None and nxt:
            checks.append({**base, "from": [t.id], "to": [nxt[0]], "target": Target(conversion=t.target.conversion)})
        if prv and (t.target.median or t.target.p90 or t.target.sla):
            checks.append({**base, "from": [prv[-1]], "to": [t.id], "target": t.target.model_copy(update={"conversion": None})})
    staged = [s for s in j.stages if j.touchpoints_in(s.id)]
    required = [s for s in staged if any(not t.optional for t in j.touchpoints_in(s.id))]
    for i, s in enumerate(staged):
        if s.target is None:
            continue
        base = {"level": "stage", "where": s.id, "stage": s.id, "touchpoint": None, "owner": s.owner}
        nxt = [r for r in required if staged.index(r) > i]
        prv = [r for r in required if staged.index(r) < i]
        if s.target.conversion is not None and nxt:
            checks.append({**base, "from": _ends(j, s.id), "to": _ends(j, nxt[0].id),
                           "target": Target(conversion=s.target.conversion)})
        if prv and (s.target.median or s.target.p90 or s.target.sla):
            checks.append({**base, "from": _ends(j, prv[-1].id), "to": _ends(j, s.id),
                           "target": s.target.model_copy(update={"conversion": None})})
    for d in j.delays:
        if d.target is None:
            continue
        to_tp = _ends(j, d.to)
        checks.append({"level": "delay", "where": d.id, "stage": j.touchpoint(to_tp[0]).stage if to_tp else None,
                       "touchpoint": d.to if d.to in order else None,
                       "owner": d.owner or (j.owner_of(to_tp[0]) if to_tp else None),
                       "from": _ends(j, d.from_), "to": to_tp, "target": d.target})
    for i, c in enumerate(checks):
        c["check"] = i
    return checks
