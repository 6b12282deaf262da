"""Handoffs between teams, and re-contact (failure demand).

``view: handoffs`` — two kinds of rows:

- ``designed``: consecutive steps of the journey's key-step chain whose owner team changes
  (marketing → patient access → front desk → clinical → billing): people entering, people
  reaching the next step within the window, the drop-out share, median and p90 delay (hours);
- ``observed``: consecutive events in each person's history (ordered by time, ties by
  touchpoint) whose owner team changes: people making that transition, median and p90 delay.

``view: recontact`` — contacts are inbound calls and patient portal messages (``source_event``
in ``contact_events``, portal messages sent by the clinic excluded) or events on
``contact_touchpoints``. The *same thing* is the same touchpoint and detail (call queue,
message topic):

- ``repeat``: contacts whose previous contact by the same person about the same thing was at
  most ``within`` earlier; people with at least one such repeat, out of people contacting;
- ``after_visit``: people with a visit (``visit_touchpoints``, default: the ``care`` stage) who
  contacted about that thing within ``within`` after it, out of people with a visit.

Shares carry Wilson intervals. A row is flagged when the lower end of the interval is above
``max_share`` (failure demand that is clearly too high).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pydantic import Field

from ..model.base import Duration
from ..privacy.suppression import CellRules
from . import _stats as st
from ._steps import US_PER_HOUR, journey_step_table, resolve_steps
from .base import Analysis, Spec, register
from .context import AnalysisContext

__all__ = ["HandoffsSpec", "HandoffsAnalysis"]


class HandoffsSpec(Spec):
    kind: Literal["handoffs"] = "handoffs"
    view: Literal["handoffs", "recontact"] = "handoffs"
    window: Duration = Field(default=timedelta(days=90), description="conversion window of designed handoffs")
    censor: bool = True
    within: Duration = Field(default=timedelta(days=7), description="re-contact window")
    contact_events: list[str] = Field(default_factory=lambda: ["call_inbound", "portal_message"])
    contact_touchpoints: list[str] = Field(default_factory=list)
    visit_touchpoints: list[str] | None = Field(default=None, description="default: touchpoints of the 'care' stage")
    max_share: float = Field(default=0.2, ge=0, le=1, description="re-contact share above which a row is flagged")
    observed: bool = Field(default=True, description="handoffs view: also the team changes seen in people's "
                                                     "histories (a window over every event), not only the designed chain's")


def _designed(ctx: AnalysisContext, spec: HandoffsSpec) -> ir.Table | None:
    j = ctx.journey(spec.journey)
    steps = [(a, b) for a, b in resolve_steps(j) if j.owner_of(a) != j.owner_of(b)]
    if not steps:
        return None
    t = journey_step_table(ctx, spec.journey, spec.segment, steps, spec.window, spec.censor)
    t = t.filter(~t.censored)
    return t.group_by("step").aggregate(
        n=t.person_key.count(), converted=t.converted.sum().cast("int64"),
        median_hours=t.delay_us.median().cast("float64") / US_PER_HOUR,
        p90_hours=t.delay_us.quantile(0.9).cast("float64") / US_PER_HOUR,
    ).mutate(kind=ibis.literal("designed"))


def _observed(ev: ir.Table) -> ir.Table:
    w = ibis.window(group_by=ev.person_key, order_by=[ev.ts, ev.touchpoint])
    x = ev.mutate(to_tp=ev.touchpoint.lead().over(w), to_owner=ev.owner.lead().over(w), to_ts=ev.ts.lead().over(w))
    x = x.filter(x.to_tp.notnull() & (x.owner != x.to_owner))
    x = x.mutate(step=x.touchpoint.concat(">", x.to_tp), d=x.to_ts.delta(x.ts, unit="microsecond"))
    return x.group_by("step").aggregate(
        n=x.person_key.nunique(), converted=x.person_key.nunique(),
        median_hours=x.d.median().cast("float64") / US_PER_HOUR,
        p90_hours=x.d.quantile(0.9).cast("float64") / US_PER_HOUR,
    ).mutate(kind=ibis.literal("observed"))


def _recontact(ctx: AnalysisContext, spec: HandoffsSpec, ev: ir.Table) -> ir.Table:
    j = ctx.journey(spec.journey)
    is_contact = ev.source_event.isin(spec.contact_events) & ~ev.status.fill_null("").isin(["clinic_to_patient"])
    if spec.contact_touchpoints:
        is_contact = is_contact | ev.touchpoint.isin(spec.contact_touchpoints)
    c = ev.filter(is_contact.fill_null(False))
    c = c.mutate(thing=c.touchpoint.concat(":", c.detail.fill_null("-")))
    w = ibis.window(group_by=[c.person_key, c.thing], order_by=[c.ts, c.event_id])
    c = c.mutate(prev_ts=c.ts.lag().over(w))
    within = int(spec.within.total_seconds() * 1_000_000)
    c = c.mutate(rep=c.prev_ts.notnull() & (c.ts.delta(c.prev_ts, unit="microsecond") <= within))
    per = c.group_by("thing", "person_key").aggregate(contacts=c.count(), repeats=c.rep.sum().cast("int64"),
                                                      owner=c.owner.max())
    repeat = per.group_by("thing").aggregate(
        n=per.count(), converted=(per.repeats > 0).sum().cast("int64"),
        contacts=per.contacts.sum().cast("int64"), repeat_contacts=per.repeats.sum().cast("int64"),
        owner=per.owner.max()).mutate(kind=ibis.literal("repeat"))
    visits = spec.visit_touchpoints if spec.visit_touchpoints is not None else [t.id for t in j.touchpoints_in("care")]
    v = ev.filter(ev.touchpoint.isin(visits or ["__none__"]))
    n_visitors = v.select("person_key").distinct().count().as_scalar()
    # a contact is after a visit when the person's latest visit before it is within ``within``:
    # contacts and (contacting people's) visits in one sequence per person, the visits sorting
    # after contacts at the same instant, and the latest visit so far carried down. Joining every
    # contact to every earlier visit costs contacts × visits per person (a care home calling about
    # its residents under one number: millions of rows); the sequence costs n log n.
    seq = ibis.union(
        c.select("person_key", "ts", "event_id", "thing", "owner", visit=ibis.literal(False)),
        v.semi_join(c, "person_key").select("person_key", "ts", event_id=ibis.null("int64"),
                                            thing=ibis.null("string"), owner=ibis.null("string"),
                                            visit=ibis.literal(True)),
        distinct=False)
    w = ibis.window(group_by=seq.person_key, order_by=[seq.ts, seq.visit], preceding=None, following=0)
    seq = seq.mutate(last_visit=ibis.ifelse(seq.visit, seq.ts, ibis.null("timestamp")).max().over(w))
    jv = seq.filter(~seq.visit & seq.last_visit.notnull())
    jv = jv.filter(jv.ts.delta(jv.last_visit, unit="microsecond") <= within)
    after = jv.group_by("thing").aggregate(converted=jv.person_key.nunique(), contacts=jv.event_id.nunique(),
                                           owner=jv.owner.max())
    after = after.mutate(n=n_visitors.cast("int64"), repeat_contacts=ibis.null("int64"),
                         kind=ibis.literal("after_visit"))
    return ibis.union(repeat, after.select(*repeat.columns), distinct=False)


def _finish(df: pd.DataFrame, spec: HandoffsSpec, ctx: AnalysisContext) -> pd.DataFrame:
    j = ctx.journey(spec.journey)
    if df.empty:
        return df
    df = df.copy()
    if spec.view == "handoffs":
        parts = df["step"].str.split(">", n=1, expand=True)
        df["from"], df["to"] = parts[0], parts[1]
        own = {t.id: j.owner_of(t.id) for t in j.touchpoints}
        df["from_owner"], df["to_owner"] = df["from"].map(own), df["to"].map(own)
        df["stage"] = df["to"].map({t.id: t.stage for t in j.touchpoints})
        df["dropout"] = np.where(df["kind"] == "designed", 1 - df["converted"] / df["n"], np.nan)
        df.loc[df["kind"] == "observed", "converted"] = np.nan
        return df.sort_values(["kind", "n"], ascending=[True, False]).reset_index(drop=True)
    df["touchpoint"] = df["thing"].str.split(":", n=1).str[0]
    df["detail"] = df["thing"].str.split(":", n=1).str[1]
    df["stage"] = df["touchpoint"].map({t.id: t.stage for t in j.touchpoints})
    df["share"] = df["converted"] / df["n"]
    ci = [st.wilson(x, n) if n else (np.nan, np.nan) for x, n in zip(df["converted"], df["n"])]
    df["share_lo"], df["share_hi"] = [c[0] for c in ci], [c[1] for c in ci]
    df["flagged"] = df["share_lo"] > spec.max_share
    return df.drop(columns=["thing"]).sort_values(["kind", "touchpoint", "detail"]).reset_index(drop=True)


@register
class HandoffsAnalysis(Analysis):
    kind = "handoffs"
    spec = HandoffsSpec
    title = "Handoffs between teams and re-contact"

    def build(self, spec: HandoffsSpec, ctx: AnalysisContext) -> ir.Table:
        ev = ctx.journey_events(spec.journey, spec.segment)
        if spec.view == "recontact":
            return _recontact(ctx, spec, ev)
        des = _designed(ctx, spec)
        if des is not None and not spec.observed:  # (the designed rows read the shared pair rows: cheap)
            return des
        obs = _observed(ev if spec.observed else ev.filter(ibis.literal(False)))
        return obs if des is None else ibis.union(des, obs.select(*des.columns), distinct=False)

    def rules(self, spec: HandoffsSpec) -> CellRules:
        derived = {c: ("n", "converted") for c in ("median_hours", "p90_hours", "dropout", "share", "share_lo", "share_hi")}
        derived["contacts"] = ("converted",)
        derived["repeat_contacts"] = ("converted",)
        return CellRules(counts=("n", "converted"), pairs=(("n", "converted"),), derived=derived)

    def postprocess(self, df: pd.DataFrame, spec: HandoffsSpec, ctx: AnalysisContext) -> pd.DataFrame:
        return _finish(df, spec, ctx)

