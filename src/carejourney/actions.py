"""The action backlog: findings become owned actions, stored in the application database.

Tables (SQLAlchemy 2.0 ORM, portable SQL only — SQLite by default, PostgreSQL the same):

- ``actions``: one per finding (``finding_id`` is unique, so re-syncing never duplicates), with
  the finding's coordinates (journey, step, dimension, value, metric), ``owner_team``,
  ``status`` (open / in_progress / done / wont_fix), ``due_date``, ``done_on``, ``notes``,
  ``created_at`` / ``updated_at`` / ``updated_by``;
- ``action_history``: every field change (who, when, old → new);
- ``audit_log``: every write by anyone (actor, verb, object, detail) — the coming multi-user
  dashboard writes its own events (logins, role changes) to the same table.

**Did it work?** :func:`before_after` compares the action's metric on the people who entered its
step in the ``window`` before ``done_on`` with those who entered in the ``window`` after (same
group, same conversion window; people whose window has not closed are left out), with a
difference and interval, and says when the after period is too short or too small to tell.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
from sqlalchemy import (Date, DateTime, ForeignKey, Integer, String, Text, create_engine, func, select)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from .errors import SpecError, StoreError
from .privacy.suppression import CellRules, Suppressed, suppress

__all__ = ["STATUSES", "Base", "Action", "ActionHistory", "AuditLog", "ActionStore", "open_actions",
           "before_after", "before_after_suppressed", "export_markdown", "export_csv", "current_user"]

STATUSES = ("open", "in_progress", "done", "wont_fix")
DEFAULT_DUE_DAYS = 30


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def current_user() -> str:
    return os.environ.get("CAREJOURNEY_USER") or os.environ.get("USER") or "cli"


class Base(DeclarativeBase):
    pass


class Action(Base):
    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    finding_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    journey: Mapped[str | None] = mapped_column(String(128))
    segment: Mapped[str | None] = mapped_column(String(128))
    stage: Mapped[str | None] = mapped_column(String(128))
    touchpoint: Mapped[str | None] = mapped_column(String(128))
    step: Mapped[str | None] = mapped_column(String(256))
    dimension: Mapped[str | None] = mapped_column(String(128))
    value: Mapped[str | None] = mapped_column(String(256))
    metric: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[str | None] = mapped_column(Text)
    owner_team: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    due_date: Mapped[date | None] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    updated_by: Mapped[str] = mapped_column(String(128), default="system")
    history: Mapped[list["ActionHistory"]] = relationship(back_populates="action", order_by="ActionHistory.id")

    def as_dict(self) -> dict:
        return {"id": self.id, "finding_id": self.finding_id, "status": self.status, "owner_team": self.owner_team,
                "title": self.title, "journey": self.journey, "stage": self.stage, "touchpoint": self.touchpoint,
                "due_date": self.due_date.isoformat() if self.due_date else None,
                "done_on": self.done_on.isoformat() if self.done_on else None, "notes": self.notes,
                "updated_at": self.updated_at.isoformat(timespec="seconds"), "updated_by": self.updated_by}


class ActionHistory(Base):
    __tablename__ = "action_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    changed_by: Mapped[str] = mapped_column(String(128))
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    action: Mapped[Action] = relationship(back_populates="history")


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    verb: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(Text)


def _url(url: str, root: Path | None) -> str:
    """SQLite paths like ``sqlite:///target/app.sqlite`` are relative to the project folder."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and root is not None:
        rel = url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            path = (root / rel).resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{path}"
    return url


class ActionStore:
    """The backlog on one SQLAlchemy engine. Every write records history and the audit log."""

    def __init__(self, url: str, root: Path | None = None):
        try:
            self.engine = create_engine(_url(url, root), future=True)
            Base.metadata.create_all(self.engine)
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"app_db '{url}': cannot open the application database ({exc}). "
                             "Check the app_db setting in carejourney.yml") from None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def _audit(self, s: Session, actor: str, verb: str, obj: str, oid, detail: str | None = None) -> None:
        s.add(AuditLog(actor=actor, verb=verb, object_type=obj, object_id=None if oid is None else str(oid),
                       detail=detail))

    # -- reads --------------------------------------------------------------------------
    def list(self, status: str | None = None, owner: str | None = None) -> list[Action]:
        with self.sessions() as s:
            q = select(Action).order_by(Action.owner_team, Action.id)
            if status:
                q = q.where(Action.status == _status(status))
            if owner:
                q = q.where(Action.owner_team == owner)
            return list(s.scalars(q))

    def get(self, action_id: int) -> Action:
        with self.sessions() as s:
            a = s.get(Action, action_id)
            if a is None:
                n = s.scalar(select(func.count(Action.id)))
                raise SpecError(f"no action with id {action_id} ({n} actions; see `carejourney actions list`)")
            _ = list(a.history)
            return a

    def audit(self) -> list[AuditLog]:
        with self.sessions() as s:
            return list(s.scalars(select(AuditLog).order_by(AuditLog.id)))

    # -- writes -------------------------------------------------------------------------
    def sync(self, findings: Suppressed | pd.DataFrame, by: str = "system", today: date | None = None) -> tuple[int, int]:
        """Create an action for every finding not yet in the backlog; refresh evidence of known ones."""
        rows = findings.records() if isinstance(findings, Suppressed) else findings.to_dict("records")
        today = today or date.today()
        created = updated = 0
        with self.sessions.begin() as s:
            known = {a.finding_id: a for a in s.scalars(select(Action))}
            for r in rows:
                a = known.get(r["id"])
                if a is None:
                    a = Action(finding_id=r["id"], title=r["title"], kind=r["kind"], journey=r.get("journey"),
                               segment=r.get("segment"), stage=r.get("stage"), touchpoint=r.get("touchpoint"),
                               step=r.get("step"), dimension=r.get("dimension"), value=r.get("value"),
                               metric=r.get("metric"), evidence=r.get("evidence"),
                               owner_team=r.get("owner") or "operations", status="open",
                               due_date=today + timedelta(days=DEFAULT_DUE_DAYS), notes="", updated_by=by)
                    s.add(a)
                    s.flush()
                    self._audit(s, by, "action.create", "action", a.id, r["id"])
                    created += 1
                elif a.evidence != r.get("evidence") or a.title != r["title"]:
                    a.evidence, a.title, a.updated_at, a.updated_by = r.get("evidence"), r["title"], _now(), by
                    self._audit(s, by, "action.refresh", "action", a.id, r["id"])
                    updated += 1
        return created, updated

    def update(self, action_id: int, *, status: str | None = None, due: date | None = None,
               done_on: date | None = None, note: str | None = None, owner: str | None = None,
               by: str | None = None) -> Action:
        by = by or current_user()
        with self.sessions.begin() as s:
            a = s.get(Action, action_id)
            if a is None:
                raise SpecError(f"no action with id {action_id} (see `carejourney actions list`)")
            changes = {}
            if status is not None:
                changes["status"] = _status(status)
            if due is not None:
                changes["due_date"] = due
            if owner is not None:
                from .model.journey import TEAMS, did_you_mean
                if owner not in TEAMS:
                    raise SpecError(f"--owner: unknown team '{owner}'{did_you_mean(owner, TEAMS)} (teams: {', '.join(TEAMS)})")
                changes["owner_team"] = owner
            if done_on is not None:
                changes["done_on"] = done_on
            elif changes.get("status") == "done" and a.done_on is None:
                changes["done_on"] = date.today()
            for fld, new in changes.items():
                old = getattr(a, fld)
                if old != new:
                    s.add(ActionHistory(action_id=a.id, changed_by=by, field=fld, old_value=_txt(old), new_value=_txt(new)))
                    setattr(a, fld, new)
            if note:
                stamp = _now().strftime("%Y-%m-%d %H:%M")
                a.notes = (a.notes + "\n" if a.notes else "") + f"[{stamp} {by}] {note}"
                s.add(ActionHistory(action_id=a.id, changed_by=by, field="notes", old_value=None, new_value=note))
            a.updated_at, a.updated_by = _now(), by
            self._audit(s, by, "action.update", "action", a.id,
                        ", ".join(f"{k}={_txt(v)}" for k, v in changes.items()) + (" +note" if note else ""))
            _ = list(a.history)
            return a


def _status(v: str) -> str:
    v = v.replace("-", "_").replace(" ", "_").lower()
    if v not in STATUSES:
        raise SpecError(f"--status: unknown status '{v}' (one of: {', '.join(STATUSES)})")
    return v


def _txt(v) -> str | None:
    return None if v is None else v.isoformat() if isinstance(v, (date, datetime)) else str(v)


def open_actions(project) -> ActionStore:
    """The project's backlog (``app_db`` in carejourney.yml; relative SQLite paths from the project folder)."""
    return ActionStore(project.config.app_db, project.root)


# -- exports ----------------------------------------------------------------------------
EXPORT_FIELDS = ["id", "status", "owner_team", "title", "journey", "stage", "touchpoint", "due_date", "done_on",
                 "notes", "updated_at", "updated_by", "finding_id"]


def export_csv(actions: list[Action]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    w.writeheader()
    for a in actions:
        w.writerow(a.as_dict())
    return buf.getvalue()


def export_markdown(actions: list[Action], title: str = "Action backlog") -> str:
    """One section per owner team, open work first — made for a team meeting."""
    order = {"open": 0, "in_progress": 1, "done": 2, "wont_fix": 3}
    lines = [f"# {title}", ""]
    teams = sorted({a.owner_team for a in actions})
    if not teams:
        lines.append("No actions yet: run `carejourney actions sync`.")
    for team in teams:
        mine = sorted([a for a in actions if a.owner_team == team], key=lambda a: (order.get(a.status, 9), a.id))
        lines += [f"## {team.replace('_', ' ').title()} ({len(mine)})", "",
                  "| # | status | due | what | where | notes |", "|---|---|---|---|---|---|"]
        for a in mine:
            where = " / ".join(x for x in (a.journey, a.stage, a.touchpoint) if x)
            note = (a.notes or "").splitlines()[-1] if a.notes else ""
            lines.append(f"| {a.id} | {a.status.replace('_', ' ')} | {a.due_date or ''} | {_md(a.title)} | "
                         f"{_md(where)} | {_md(note)} |")
        lines.append("")
    return "\n".join(lines)


def _md(s: str) -> str:
    return (s or "").replace("|", "\\|").replace("\n", " ")


# -- did it work? -----------------------------------------------------------------------
BEFORE_AFTER_RULES = CellRules(
    counts=("before_n", "before_converted", "after_n", "after_converted"),
    pairs=(("before_n", "before_converted"), ("after_n", "after_converted")),
    derived={c: ("before_n", "before_converted", "after_n", "after_converted") for c in (
        "before_rate", "after_rate", "diff", "diff_lo", "diff_hi", "p", "before_median_hours",
        "after_median_hours", "ratio", "ratio_lo", "ratio_hi")},
)


def before_after(action: Action, ctx, window: timedelta = timedelta(days=90),
                 conversion_window: timedelta = timedelta(days=90), min_support: int = 30) -> dict:
    """Compare the action's metric before and after ``done_on`` (see the module docstring)."""
    from .analyses import _stats as st
    from .analyses._steps import delay_bin
    from .analyses.drivers import step_wide
    if action.done_on is None:
        raise SpecError(f"action {action.id} has no done date: "
                        f"`carejourney actions update {action.id} --status done --done-on YYYY-MM-DD`")
    if not action.step or ">" not in action.step:
        raise SpecError(f"action {action.id} ({action.kind}) has no journey step to measure before and after")
    a, b = action.step.split(">", 1)
    group_dim = action.dimension if action.kind in ("conversion", "delay") else None
    dims = [] if group_dim is None or group_dim.startswith("had_") else [group_dim]
    feats = [group_dim[4:]] if group_dim and group_dim.startswith("had_") else []
    x, _ = step_wide(ctx, action.journey, None, [(a, b)], dims, feats, conversion_window, True)
    if group_dim:
        x = x.filter(ibis.coalesce(x[group_dim].cast("string"), "(unknown)") == action.value)
    done = datetime.combine(action.done_on, datetime.min.time())
    lo, hi = done - window, done + window
    x = x.filter((x.a_ts >= lo) & (x.a_ts < hi))
    x = x.mutate(period=ibis.ifelse(x.a_ts < done, "before", "after"),
                 bin=ibis.ifelse(x.converted, delay_bin(x.delay_us), -1))
    agg = ctx.to_pandas(x.group_by("period", "bin").aggregate(n=x.person_key.count(), last=x.a_ts.max()))
    end = ctx.to_pandas(ctx.events.aggregate(m=ctx.events.ts.max()))["m"].iloc[0]
    res = {"action": action.id, "metric": action.metric or action.kind, "done_on": action.done_on.isoformat()}
    nb = int(max(agg["bin"].max(), 0)) + 2 if len(agg) else 2
    hist, n, conv = {}, {}, {}
    for per in ("before", "after"):
        g = agg[agg["period"] == per]
        h = np.zeros(nb)
        c = g[g["bin"] >= 0]
        np.add.at(h, c["bin"].astype(int).to_numpy(), c["n"].to_numpy(float))
        hist[per], n[per], conv[per] = h, int(g["n"].sum()), int(c["n"].sum())
        res[f"{per}_n"], res[f"{per}_converted"] = n[per], conv[per]
        res[f"{per}_rate"] = conv[per] / n[per] if n[per] else np.nan
        res[f"{per}_median_hours"] = st.hist_median(h)
    res.update(diff=np.nan, diff_lo=np.nan, diff_hi=np.nan, p=np.nan, ratio=np.nan, ratio_lo=np.nan, ratio_hi=np.nan)
    if n["before"] and n["after"]:
        res["diff"], res["diff_lo"], res["diff_hi"] = st.newcombe(conv["after"], n["after"], conv["before"], n["before"])
        res["p"] = st.prop_test(conv["after"], n["after"], conv["before"], n["before"])[0]
    if conv["before"] >= min_support and conv["after"] >= min_support:
        res["ratio"], res["ratio_lo"], res["ratio_hi"] = st.ratio_ci(hist["after"], hist["before"])
        if action.kind == "delay":
            res["p"] = st.mw_binned(hist["after"], hist["before"])[1]
    notes = []
    observed_after = (pd.Timestamp(end) - pd.Timestamp(done)).days - conversion_window.days if pd.notna(end) else 0
    if observed_after < window.days:
        notes.append(f"the after window is short: {max(observed_after, 0)} of {window.days} days have closed "
                     f"(people need {conversion_window.days} days to convert)")
    if min(n["before"], n["after"]) < max(min_support, ctx.min_cell):
        notes.append(f"too few people to tell (need {max(min_support, ctx.min_cell)} before and after)")
    res["verdict"] = _verdict(action.kind, res, notes)
    res["note"] = "; ".join(notes)
    return res


def _verdict(kind: str, r: dict, notes: list[str]) -> str:
    if any(n.startswith("too few") for n in notes):
        return "too early to tell"
    if not (r["p"] == r["p"] and r["p"] < 0.05):  # the interval and the test must agree
        return "no clear change"
    if kind == "delay":
        if r["ratio_hi"] == r["ratio_hi"] and r["ratio_hi"] < 1:
            return "improved"
        if r["ratio_lo"] == r["ratio_lo"] and r["ratio_lo"] > 1:
            return "worse"
        return "no clear change"
    if r["diff_lo"] == r["diff_lo"] and r["diff_lo"] > 0:
        return "improved"
    if r["diff_hi"] == r["diff_hi"] and r["diff_hi"] < 0:
        return "worse"
    return "no clear change"


def before_after_suppressed(action: Action, ctx, **kw) -> Suppressed:
    """:func:`before_after` as a one-row table through small-cell suppression (for display)."""
    return suppress(pd.DataFrame([before_after(action, ctx, **kw)]), BEFORE_AFTER_RULES, ctx.min_cell)
