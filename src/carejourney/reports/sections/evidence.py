"""Adapters for the evidence placed on the map: feedback sentiment, findings and actions.

Each returns per-stage data (suppressed where it involves people) and never fails the
report when its source is missing: the map then shows "no feedback" / "none found".
Findings and actions are fetched once and cached on the :class:`ReportContext`, so the map
and the findings section show the same list.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ...errors import CarejourneyError
from ..journey_map import TEAM_LABELS, MapItem
from .base import ReportContext, Traced, Unavailable, accept

__all__ = ["sentiment_by_stage", "findings", "actions", "backlog_exists", "findings_by_stage", "actions_by_stage",
           "team_label"]

log = logging.getLogger(__name__)


def sentiment_by_stage(ctx: ReportContext):
    """Mean feedback sentiment per stage (-1..1) from ``emotion_curve``; {} when there is no feedback."""
    if not ctx.has_feedback:
        return {}, None
    r = ctx.fetch("emotion_curve")
    if isinstance(r, Unavailable):
        return {}, None
    out = {x["stage"]: x.get("sentiment_mean") for x in r.records()
           if x.get("stage") is not None and x.get("sentiment_mean") is not None}
    return out, (r if out else None)


def findings(ctx: ReportContext) -> Traced | Unavailable:
    """The ranked findings for this journey (and segment), suppressed by ``findings.find``."""
    cached = ctx.memo.get("findings")
    if cached is not None:
        return cached
    try:
        from ...findings import FINDING_RULES, FindingsConfig, find
    except ImportError:
        out = Unavailable("the findings module is not installed in this version of carejourney")
    else:
        sources = tuple(x for x in FindingsConfig().sources if x != "feedback" or ctx.has_feedback)
        cfg = FindingsConfig(journeys=[ctx.journey.journey], segment=ctx.segment, sources=sources)
        try:
            rows = find(ctx.actx, cfg, top=50)
            spec = {"kind": "findings", **{k: (str(v) if not isinstance(v, (int, float, str, list, tuple, type(None)))
                                                else v) for k, v in dataclasses.asdict(cfg).items()}}
            out = accept(Traced(rows=rows, kind="findings", spec=spec, engine=ctx.actx.engine,
                                sql="-- findings combine the drivers, targets, handoffs and feedback analyses "
                                    "(docs/analyses/friction.md): `carejourney findings --journey "
                                    f"{ctx.journey.journey}` re-runs them; `carejourney analyze drivers --journey "
                                    f"{ctx.journey.journey} -f json` shows each one's SQL",
                                freshness=ctx.actx.freshness(), people=tuple(FINDING_RULES.counts)))
        except CarejourneyError as exc:
            out = Unavailable(f"findings cannot be computed for this project: {exc}")
        except Exception as exc:  # one failing source must not take the report down
            if ctx.strict:
                raise
            log.debug("findings failed", exc_info=True)
            ctx.problems.append(f"findings: {type(exc).__name__}: {exc}")
            out = Unavailable(f"findings failed ({type(exc).__name__}); see the log")
    ctx.memo["findings"] = out
    return out


def actions(ctx: ReportContext) -> list | Unavailable:
    """The action backlog rows for this journey (title, owner team, status, due date, stage)."""
    cached = ctx.memo.get("actions")
    if cached is not None:
        return cached
    if not backlog_exists(ctx.project):  # nothing to show: the report creates no database for it
        ctx.memo["actions"] = []
        return []
    try:
        from ...actions import open_actions
    except ImportError:
        out = Unavailable("the action backlog is not installed in this version of carejourney")
    else:
        try:
            store = open_actions(ctx.project)
            try:
                out = [a.as_dict() for a in store.list() if a.journey in (None, ctx.journey.journey)]
            finally:
                store.close()
        except CarejourneyError as exc:
            out = Unavailable(f"the action backlog cannot be read: {exc}")
    ctx.memo["actions"] = out
    return out


def backlog_exists(project) -> bool:
    """False when the action backlog is a SQLite file that was never written (no `carejourney
    actions sync` yet): the report then shows an empty backlog without creating the file or
    loading SQLAlchemy. Other databases are always asked."""
    url = project.config.app_db
    rel = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if not rel or rel == ":memory:":
        return True
    return (Path(project.root) / rel).exists()  # (an absolute path, sqlite:////…, stays absolute)


def findings_by_stage(ctx: ReportContext) -> tuple[dict[str, list[MapItem]], list]:
    f = findings(ctx)
    if isinstance(f, Unavailable):
        return {}, []
    by: dict[str, list[MapItem]] = {}
    for r in f.records():
        if r.get("stage"):
            by.setdefault(r["stage"], []).append(
                MapItem(text=str(r.get("title") or r.get("kind")), owner=team_label(r.get("owner")), severity=f"#{r.get('rank')}"))
    return {k: v[:4] for k, v in by.items()}, [f]


def actions_by_stage(ctx: ReportContext) -> dict[str, list[MapItem]]:
    a = actions(ctx)
    if isinstance(a, Unavailable):
        return {}
    by: dict[str, list[MapItem]] = {}
    for r in a:
        if r.get("stage"):
            by.setdefault(r["stage"], []).append(MapItem(text=r["title"], owner=team_label(r.get("owner_team")),
                                                         status=r.get("status")))
    return {k: v[:4] for k, v in by.items()}


def team_label(team: str | None) -> str | None:
    """A team id as readers name it (``patient_access`` → "Patient access"); None for none."""
    return TEAM_LABELS.get(team, team) if team else None
