"""Findings: one ranked, de-duplicated list of frictions, each with an owner team.

Sources, per journey (see docs/analyses/friction.md for every rule in plain words):

- ``drivers``: a group converting worse than the rest of its step (q < fdr and a gap of at least
  ``min_effect``), or waiting longer (q < fdr and a ratio of medians of at least
  ``min_delay_ratio``); the "(unknown)" value is tested but never reported;
- ``targets``: a journey target missed (one-sided test, BH-adjusted);
- ``handoffs`` (recontact view): failure demand whose share is clearly above ``max_share``;
- feedback topics: a journey whose feedback at a stage mentions a topic negatively clearly more
  often than the same stage of the other journeys, pooled and each on its own (built on
  :mod:`carejourney.analyses.feedback`).

How many people it costs per month: lost conversions ``(overall rate − group rate) × group
entrants per month``; for delays the excess waiting days per month; for targets the people
short of the target per month. Ranking is by *impact* = people affected per month × effect
(see :func:`_impact`). Findings on the same journey step whose affected populations overlap
strongly (``|A∩B| / min(|A|, |B|) ≥ overlap``, counted in the engine) are merged into the one
with the highest impact; the others are listed in ``also``.

:func:`collect` is internal (unsuppressed); :func:`find` is the only way findings are shown —
it passes the table through :func:`carejourney.privacy.suppress`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

import ibis
import numpy as np
import pandas as pd

from .analyses._checks import target_checks
from .analyses.base import execute
from .analyses.context import AnalysisContext
from .analyses.drivers import DriversSpec, step_wide
from .analyses.handoffs import HandoffsSpec
from .analyses.targets import TargetsSpec
from .model.names import Names, readable, spoken_duration
from .privacy.suppression import CellRules, Suppressed, suppress

__all__ = ["FindingsConfig", "collect", "find", "finding_id", "FINDING_RULES", "COLUMNS"]

COLUMNS = ["rank", "id", "kind", "title", "journey", "segment", "stage", "touchpoint", "step", "dimension",
           "value", "metric", "effect", "effect_lo", "effect_hi", "effect_unit", "q", "n", "affected",
           "rest_n", "rest_affected", "rate", "rest_rate", "median_days", "rest_median_days", "target",
           "people_per_month", "lost_per_month", "excess_wait_days_per_month", "impact", "owner", "also",
           "evidence", "verbatims"]

FINDING_RULES = CellRules(
    counts=("n", "affected", "rest_n", "rest_affected"),
    pairs=(("n", "affected"), ("rest_n", "rest_affected")),
    derived={**{c: ("n", "affected") for c in ("rate", "rest_rate", "effect", "effect_lo", "effect_hi", "q",
                                               "median_days", "people_per_month", "lost_per_month",
                                               "excess_wait_days_per_month", "impact")},
             "rest_median_days": ("rest_n", "rest_affected")},
)


#: Dimensions findings test: who the people are, where and when they came, on what device. Process
#: dimensions (channel of the step event, earlier touchpoints, first channel / hour) stay in the
#: drivers table as context: in any journey they partly *are* the mechanism, not a friction.
FINDING_DIMS = ("segment", "age_band", "language", "payer_type", "zip3", "needs_interpreter", "needs_transport",
                "needs_disability_access", "low_digital_literacy", "traffic_source", "lead_time", "location",
                "device", "service_line", "weekend")
NOT_A_GROUP = ("(unknown)", "other", "all")


@dataclass
class FindingsConfig:
    journeys: list[str] | None = None
    segment: str | None = None
    window: timedelta = timedelta(days=90)
    min_support: int = 30
    fdr: float = 0.01  # findings create work for a team: stronger evidence than the drivers table's 0.05
    min_effect: float = 0.05
    min_delay_ratio: float = 1.25
    min_feedback_ratio: float = 2.0
    overlap: float = 0.5
    max_recontact_share: float = 0.2
    sources: tuple[str, ...] = ("drivers", "targets", "handoffs", "feedback")
    verbatims: int = 3
    dimensions: tuple[str, ...] = FINDING_DIMS
    extra: list[dict] = field(default_factory=list)  # e.g. content audit findings, already in COLUMNS shape


def finding_id(*parts) -> str:
    """Stable id: the same friction gets the same id on every run (actions rely on it)."""
    return hashlib.sha1("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:12]


def _impact(kind: str, r: dict) -> float:
    """People affected per month × effect: lost conversions; people delayed × min(ratio − 1, 1); shortfall."""
    if kind == "conversion":
        return max(r.get("lost_per_month") or 0.0, 0.0)
    if kind == "delay":
        return (r.get("affected") or 0) / max(r.get("months") or 1.0, 1.0) * min(max((r["effect"] or 1) - 1, 0), 1)
    return max(r.get("lost_per_month") or 0.0, 0.0)


def _drivers(ctx: AnalysisContext, jid: str, cfg: FindingsConfig) -> list[dict]:
    spec = DriversSpec(journey=jid, segment=cfg.segment, window=cfg.window, min_support=cfg.min_support,
                       fdr=cfg.fdr, min_effect=cfg.min_effect, min_delay_ratio=cfg.min_delay_ratio,
                       dimensions=list(cfg.dimensions), features=[])
    df, _, _ = execute(spec, ctx)
    out = []
    if df.empty:
        return out
    df = df[~df["value"].isin(NOT_A_GROUP)]
    for r in df[df["friction_conversion"] | df["friction_delay"]].to_dict("records"):
        months = r["n"] / r["entrants_per_month"] if r["entrants_per_month"] else 1.0
        base = {"journey": jid, "segment": r["value"] if r["dimension"] == "segment" else (cfg.segment or "all"),
                "stage": r["stage"], "touchpoint": r["to"], "step": r["step"], "dimension": r["dimension"],
                "value": r["value"], "owner": r["owner"], "n": r["n"], "rest_n": r["rest_n"],
                "people_per_month": r["entrants_per_month"], "months": months}
        if r["friction_conversion"]:
            rec = {**base, "kind": "conversion", "metric": "conversion", "effect": r["diff"], "effect_lo": r["diff_lo"],
                   "effect_hi": r["diff_hi"], "effect_unit": "difference in share", "q": r["q_conversion"],
                   "affected": r["converted"], "rest_affected": r["rest_converted"], "rate": r["rate"],
                   "rest_rate": r["rest_rate"], "lost_per_month": r["lost_per_month"],
                   "excess_wait_days_per_month": np.nan}
            out.append(rec)
        if r["friction_delay"]:
            rec = {**base, "kind": "delay", "metric": "median_delay", "effect": r["ratio"], "effect_lo": r["ratio_lo"],
                   "effect_hi": r["ratio_hi"], "effect_unit": "ratio of medians", "q": r["q_delay"],
                   "affected": r["converted"], "rest_affected": r["rest_converted"], "rate": r["rate"],
                   "rest_rate": r["rest_rate"], "lost_per_month": np.nan,
                   "excess_wait_days_per_month": r["excess_wait_days_per_month"],
                   "median_days": r["median_hours"] / 24, "rest_median_days": r["rest_median_hours"] / 24}
            out.append(rec)
    return out


def _targets(ctx: AnalysisContext, jid: str, cfg: FindingsConfig) -> list[dict]:
    df, _, _ = execute(TargetsSpec(journey=jid, segment=cfg.segment, window=cfg.window, fdr=cfg.fdr), ctx)
    checks = {c["check"]: c["target"] for c in target_checks(ctx.journey(jid))}
    out = []
    for r in ([] if df.empty else df[df["missed"]].to_dict("records")):
        tg = checks[int(r["check"])]
        limit = {"sla": tg.sla.within if tg.sla else None, "median": tg.median, "p90": tg.p90}.get(r["metric"])
        target = f"{r['required_share']:.0%}" if r["metric"] in ("conversion", "sla") else r["target"]
        if limit is not None:  # the target as people say it: "80% within 2 weeks", "3 days"
            target = f"{target} within {spoken_duration(limit)}" if r["metric"] == "sla" else spoken_duration(limit)
        out.append({"kind": "target", "journey": jid, "segment": cfg.segment or "all", "stage": r["stage"],
                    "touchpoint": r["touchpoint"], "step": f"{r['from']}>{r['to']}", "dimension": None,
                    "value": r["where"], "metric": f"{r['level']}_{r['metric']}", "owner": r["owner"],
                    "effect": r["share_within"] - r["required_share"], "effect_lo": r["share_lo"] - r["required_share"],
                    "effect_hi": r["share_hi"] - r["required_share"], "effect_unit": "share vs target",
                    "q": r["q"], "n": r["n"], "affected": r["successes"], "rest_n": np.nan, "rest_affected": np.nan,
                    "rate": r["share_within"], "rest_rate": np.nan, "people_per_month": np.nan,
                    "lost_per_month": r["shortfall_per_month"], "excess_wait_days_per_month": np.nan,
                    "target": target})
    return out


def _recontact(ctx: AnalysisContext, jid: str, cfg: FindingsConfig, months: float) -> list[dict]:
    spec = HandoffsSpec(journey=jid, segment=cfg.segment, view="recontact", max_share=cfg.max_recontact_share)
    df, _, _ = execute(spec, ctx)
    out = []
    for r in ([] if df.empty else df[df["flagged"]].to_dict("records")):
        out.append({"kind": "recontact", "journey": jid, "segment": cfg.segment or "all", "stage": r["stage"],
                    "touchpoint": r["touchpoint"], "step": None, "dimension": "detail", "value": r["detail"],
                    "metric": r["kind"], "owner": r["owner"], "effect": r["share"] - cfg.max_recontact_share,
                    "effect_lo": r["share_lo"] - cfg.max_recontact_share,
                    "effect_hi": r["share_hi"] - cfg.max_recontact_share, "effect_unit": "share above tolerated",
                    "q": np.nan, "n": r["n"], "affected": r["converted"], "rest_n": np.nan, "rest_affected": np.nan,
                    "rate": r["share"], "rest_rate": np.nan, "people_per_month": r["n"] / months,
                    "lost_per_month": (r["share"] - cfg.max_recontact_share) * r["n"] / months,
                    "excess_wait_days_per_month": np.nan})
    return out


def _feedback(ctx: AnalysisContext, cfg: FindingsConfig, months: float) -> list[dict]:
    """Feedback topics a journey's patients complain about more than the same stage of other journeys.

    Built on :mod:`carejourney.analyses.feedback` (topic explosion, negative threshold). Feedback is
    placed in a journey by its service line. For each (journey, stage, feedback source, topic) where
    the topic belongs to the stage (the taxonomy's stage hints): the share of that journey's items
    at that stage and source mentioning the topic negatively, against the same share at the same
    stage and source in the other journeys; two-proportion test, BH across these tests, the same
    ``min_effect`` and support rules as the drivers — and, because care types differ in case mix, the
    journey must stand out against *each* other journey with enough items too: its p-value is the
    largest of the pooled and the per-journey tests (an intersection-union test), and its rate must be
    at least ``min_feedback_ratio`` (2) times the pooled rate and every other journey's rate.
    """
    if ctx.feedback is None:
        return []
    from .analyses import _stats as st
    from .analyses import feedback as fbm  # the voice analyses: required for feedback findings
    from .model.journey import TEAMS
    fb = ctx.feedback
    fb = fb.filter(fb.service_line.notnull() & fb.stage.notnull())
    fb = fb.select("feedback_id", "stage", "source", "service_line", "topics", "sentiment")
    items = ctx.to_pandas(fb.group_by("service_line", "stage", "source").aggregate(n=fb.feedback_id.nunique()))
    neg = fbm.exploded_topics(fb)
    neg = neg.filter(neg.sentiment <= fbm.NEGATIVE)
    neg = ctx.to_pandas(neg.group_by("service_line", "stage", "source", "topic").aggregate(x=neg.feedback_id.nunique()))
    if items.empty or neg.empty:
        return []
    from .voice.topics import load_taxonomy
    tax = load_taxonomy(ctx.project)
    floor = max(cfg.min_support, ctx.min_cell)
    lines = {jid: list(ctx.journey(jid).service_lines or []) for jid in ctx.project.journeys}

    def counts(sls):
        return (items[items.service_line.isin(sls)].groupby(["stage", "source"])["n"].sum(),
                neg[neg.service_line.isin(sls)].groupby(["stage", "source", "topic"])["x"].sum())
    tests = []
    for jid in cfg.journeys or list(ctx.project.journeys):
        j = ctx.journey(jid)
        if not j.service_lines:
            continue
        mine_i, mine_x = counts(j.service_lines)
        rest_i = items[~items.service_line.isin(j.service_lines)].groupby(["stage", "source"])["n"].sum()
        rest_x = neg[~neg.service_line.isin(j.service_lines)].groupby(["stage", "source", "topic"])["x"].sum()
        peers = [counts(sls) for pj, sls in lines.items() if pj != jid and sls and not set(sls) & set(j.service_lines)]
        for (stage, source, topic), x in mine_x.items():
            n, rn = int(mine_i.get((stage, source), 0)), int(rest_i.get((stage, source), 0))
            rx = int(rest_x.get((stage, source, topic), 0))
            hints = tax.topics[topic].stages if topic in tax.topics else []
            if n < floor or rn < floor or stage not in {s.id for s in j.stages} or (hints and stage not in hints):
                continue
            d, lo, hi = st.newcombe(x, n, rx, rn)
            # case mix: the pooled rest mixes journeys whose baseline differs by design (urgent care has no
            # appointment wait); the journey must also stand out against every other journey on its own
            # (intersection-union: the test's p-value is the largest of the pooled and per-journey ones)
            p, peer_rate = st.prop_test(int(x), n, rx, rn)[0], 0.0
            for pi, px in peers:
                pn, pxx = int(pi.get((stage, source), 0)), int(px.get((stage, source, topic), 0))
                if pn >= floor:
                    p, peer_rate = max(p, st.prop_test(int(x), n, pxx, pn)[0]), max(peer_rate, pxx / pn)
            tests.append((j, stage, source, topic, int(x), n, rx, rn, d, lo, hi, peer_rate, p))
    if not tests:
        return []
    out = []
    for t, q in zip(tests, st.bh([t[-1] for t in tests])):
        j, stage, source, topic, x, n, rx, rn, d, lo, hi, peer_rate, _ = t
        if not (q < cfg.fdr and d >= cfg.min_effect and x / n >= cfg.min_feedback_ratio * max(rx / rn, peer_rate)):
            continue
        single = len(j.service_lines) == 1
        owner = next((tm for tm in TEAMS if tm in str(topic)), j.stage(stage).owner)
        out.append({"journey": j.journey, "segment": cfg.segment or "all", "kind": "feedback", "stage": stage,
                    "touchpoint": None, "step": None, "dimension": "service_line" if single else "journey",
                    "value": j.service_lines[0] if single else j.journey, "metric": f"topic:{topic}:{source}",
                    "owner": owner, "effect": d, "effect_lo": lo, "effect_hi": hi,
                    "effect_unit": "difference in share of feedback", "q": q, "n": n, "affected": x,
                    "rest_n": rn, "rest_affected": rx, "rate": x / n, "rest_rate": rx / rn,
                    "people_per_month": n / months, "lost_per_month": d * n / months,
                    "excess_wait_days_per_month": np.nan})
    return out


def _merge(ctx: AnalysisContext, jid: str, cands: list[dict], cfg: FindingsConfig) -> list[dict]:
    """Merge findings on the same step whose affected populations overlap strongly."""
    driv = [i for i, c in enumerate(cands) if c["kind"] in ("conversion", "delay")]
    by_step: dict[str, list[int]] = {}
    for i in driv:
        by_step.setdefault(cands[i]["step"], []).append(i)
    pairs = [(i, j) for idx in by_step.values() for a, i in enumerate(idx) for j in idx[a + 1:]]
    parent = list(range(len(cands)))
    # the same group losing people from the same starting touchpoint, seen through a longer step
    # (a named delay spanning several key steps) is the same friction
    same_start = [(i, j) for a, i in enumerate(driv) for j in driv[a + 1:]
                  if cands[i]["step"] != cands[j]["step"]
                  and cands[i]["step"].split(">")[0] == cands[j]["step"].split(">")[0]
                  and (cands[i]["dimension"], cands[i]["value"]) == (cands[j]["dimension"], cands[j]["value"])]

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if pairs:
        dims = sorted({cands[i]["dimension"] for i in driv})
        x, _ = step_wide(ctx, jid, cfg.segment, None, [d for d in dims if not d.startswith("had_")],
                         None, cfg.window, True)

        def member(c):
            return (x.step == c["step"]) & (ibis.coalesce(x[c["dimension"]].cast("string"), "(unknown)") == c["value"])

        aggs = {f"o_{i}_{j}": (member(cands[i]) & member(cands[j])).sum().cast("int64") for i, j in pairs}
        ov = ctx.to_pandas(x.aggregate(**aggs)).iloc[0]
        for i, j in pairs:
            smaller = min(cands[i]["n"], cands[j]["n"]) or 1
            if ov[f"o_{i}_{j}"] / smaller >= cfg.overlap:
                parent[root(i)] = root(j)
    for i, j in same_start:
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(cands)):
        groups.setdefault(root(i), []).append(i)
    merged = []
    for idx in groups.values():
        idx.sort(key=lambda i: -cands[i]["impact"])
        head = dict(cands[idx[0]])
        # names only: a merged finding's own counts are not in the row, so no number derived from
        # them may be (its effect once was, unsuppressed)
        head["also"] = "; ".join(f"{cands[i]['kind']}: {cands[i]['dimension']}={cands[i]['value']}" for i in idx[1:])
        head["members"] = [(cands[i]["kind"], cands[i]["step"], cands[i]["dimension"], cands[i]["value"]) for i in idx]
        merged.append(head)
    return merged


def _attach_or_add(found: list[dict], fb: dict) -> None:
    """Complaints at the same journey and stage as a measured drop-off or delay are how that friction
    sounds: attach them to the strongest such finding as evidence instead of listing them apart."""
    same = [f for f in found if f["kind"] in ("conversion", "delay") and f["journey"] == fb["journey"]
            and f["stage"] == fb["stage"]]
    if not same:
        found.append({**fb, "also": "", "members": [(fb["kind"], None, fb["dimension"], fb["value"])]})
        return
    head = max(same, key=lambda f: f["impact"])
    note = f"feedback: {fb['metric'].split(':')[1]} complaints (more than in other journeys)"
    head["also"] = f"{head['also']}; {note}" if head.get("also") else note
    head["members"] = list(head.get("members") or []) + [(fb["kind"], None, fb["dimension"], fb["value"])]


def _verbatims(ctx: AnalysisContext, f: dict, limit: int) -> str:
    """Up to ``limit`` negative, already-scrubbed comments on the finding's stage from its group (≥ k people)."""
    if ctx.feedback is None or limit <= 0:
        return "[]"
    fb = ctx.feedback.filter(ctx.feedback.text.notnull() & (ctx.feedback.stage == f["stage"])
                             & (ctx.feedback.sentiment < 0))
    if f.get("dimension") in ("age_band", "language", "payer_type", "zip3", "sex"):
        p = ctx.persons.filter(ctx.persons[f["dimension"]].cast("string") == f["value"]).select(pk="person_key")
        fb = fb.semi_join(p, fb.person_key == p.pk)
    people = int(ctx.to_pandas(fb.aggregate(n=fb.person_key.nunique()))["n"].iloc[0] or 0)
    if people < ctx.min_cell:
        return "[]"
    texts = ctx.to_pandas(fb.order_by([fb.sentiment, fb.feedback_id]).select("text").limit(limit))["text"].tolist()
    return json.dumps(texts)


def collect(ctx: AnalysisContext, cfg: FindingsConfig | None = None) -> pd.DataFrame:
    """Internal: every finding, merged and ranked, **unsuppressed**. Show only through :func:`find`."""
    cfg = cfg or FindingsConfig()
    journeys = cfg.journeys or list(ctx.project.journeys)
    span = ctx.to_pandas(ctx.events.aggregate(a=ctx.events.ts.min(), b=ctx.events.ts.max())).iloc[0]
    months = max((pd.Timestamp(span["b"]) - pd.Timestamp(span["a"])).days / 30.4375, 1.0) if pd.notna(span["a"]) else 1.0
    found = []
    for jid in journeys:
        cands = []
        if "drivers" in cfg.sources:
            cands += _drivers(ctx, jid, cfg)
        if "targets" in cfg.sources:
            cands += _targets(ctx, jid, cfg)
        if "handoffs" in cfg.sources:
            cands += _recontact(ctx, jid, cfg, months)
        for c in cands:
            c.setdefault("months", months)
            c["impact"] = _impact(c["kind"], c)
            c["id"] = finding_id(jid, c["kind"], c.get("step"), c.get("dimension"), c.get("value"), c.get("metric"),
                                 cfg.segment)
        found += _merge(ctx, jid, cands, cfg)
    if "feedback" in cfg.sources:
        for c in _feedback(ctx, cfg, months):
            c["months"] = months
            c["impact"] = _impact(c["kind"], c)
            c["id"] = finding_id(c["journey"], c["kind"], None, c["dimension"], c["value"], c["metric"], cfg.segment)
            _attach_or_add(found, c)
    found += [dict(e) for e in cfg.extra]
    df = pd.DataFrame(found)
    if df.empty:
        return pd.DataFrame(columns=COLUMNS + ["members"])
    df = df.sort_values(["impact", "id"], ascending=[False, True]).reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    recs = df.to_dict("records")
    names = {jid: Names(ctx.journey(jid)) for jid in ctx.project.journeys}
    topic = _topic_label(ctx) if any(r.get("kind") == "feedback" for r in recs) else None
    # (written again from the shown cells when findings are shown: :func:`find`)
    df["title"] = [describe(r, names.get(r.get("journey")), topic) for r in recs]
    df["evidence"] = [_evidence(r) for r in recs]
    df["verbatims"] = [_verbatims(ctx, r, cfg.verbatims) if i < 25 else "[]" for i, r in enumerate(df.to_dict("records"))]
    for c in COLUMNS + ["members"]:
        if c not in df:
            df[c] = None
    return df[COLUMNS + ["members"]]


def _evidence(r: dict, hidden: set[str] = frozenset(), k: int = 11) -> str:
    """The counts behind a finding in one line. ``hidden``: the columns suppressed in this row
    (shown as ``<k`` for counts, "hidden" for what is computed from them); other missing values
    read "n/a", and a finding with no comparison group (targets, re-contact) has no "vs" part."""
    def num(col, fmt):
        v = r.get(col)
        if col in hidden:
            return f"<{k}" if col in FINDING_RULES.counts else "hidden"
        return "n/a" if _missing(v) else format(v, fmt)
    text = f"{num('affected', ',.0f')} of {num('n', ',.0f')} ({num('rate', '.1%')})"
    if not (_missing(r.get("rest_n")) and "rest_n" not in hidden):
        text += f" vs {num('rest_affected', ',.0f')} of {num('rest_n', ',.0f')} ({num('rest_rate', '.1%')})"
    return (f"{text}; effect {num('effect', '.3f')} [{num('effect_lo', '.3f')}, {num('effect_hi', '.3f')}] "
            f"{r.get('effect_unit') or ''}; q={num('q', '.2g')}")


def find(ctx: AnalysisContext, cfg: FindingsConfig | None = None, top: int | None = None) -> Suppressed:
    """The ranked findings table, through small-cell suppression (the only way findings are shown).

    Evidence text embeds counts, so it is rebuilt from the suppressed cells.
    """
    cfg = cfg or FindingsConfig()
    cache = ctx.query_cache
    if cache is not None:  # kept from an earlier run on the same data and code (analyses/_cache.py)
        df = cache.frame(f"findings\x1f{cfg!r}\x1f{ctx.project.config.model_dump_json()}",
                         lambda: collect(ctx, cfg).drop(columns=["members"]))
    else:
        df = collect(ctx, cfg).drop(columns=["members"])
    if top is not None:
        df = df.head(top)
    rows = suppress(df, FINDING_RULES, ctx.min_cell)
    # the sentences are written here, from the shown cells only (suppressed ones are null), in the
    # journey's own words (labels are presentation: never part of a kept result)
    shown = rows.frame.to_dict("records")
    mask = rows.mask
    hidden = [set(mask.columns[mask.iloc[i].to_numpy()]) for i in range(len(shown))]
    names = {jid: Names(ctx.journey(jid)) for jid in {r.get("journey") for r in shown} if jid in ctx.project.journeys}
    topic = _topic_label(ctx) if any(r.get("kind") == "feedback" for r in shown) else None
    return rows.with_text(title=[describe(r, names.get(r.get("journey")), topic) for r in shown],
                          evidence=[_evidence(r, h, ctx.min_cell) for r, h in zip(shown, hidden)])


def _topic_label(ctx: AnalysisContext) -> Callable[[str], str]:
    """A feedback topic id as the taxonomy's label (the project's topics.yml first)."""
    from .voice.topics import load_taxonomy
    return load_taxonomy(ctx.project).label


def recontact_phrase(kind: str) -> str:
    """What a re-contact row counts (``analyses.handoffs``, view ``recontact``), in words, with the
    window the findings ask it for (the analysis' default)."""
    within = spoken_duration(HandoffsSpec().within)
    return f"contacted again within {within}" if kind == "repeat" else f"contacted within {within} of their visit"


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def describe(r: dict, names: Names | None, topic_label: Callable[[str], str] | None = None) -> str:
    """A finding as one plain sentence, from its shown cells: the journey's labels instead of
    ids, and where a share or a median is suppressed (a count behind it is small, or would
    reveal one), a sentence that says so instead of the number."""
    label = names or _NoNames()
    hidden = "hidden to protect privacy"  # (a count behind it is small, or would reveal one)

    def pct(v) -> str | None:
        return None if _missing(v) else f"{v:.0%}"

    def days(v) -> str | None:
        return None if _missing(v) else f"{v:.1f} days"
    kind, dim, value = r.get("kind"), r.get("dimension"), r.get("value")
    group = f"{Names.dimension(dim) if dim else ''} {label.segment(value) if dim == 'segment' else value}".strip()
    a, _, b = str(r.get("step") or "").partition(">")
    a, b = label.step(a), label.step(b)
    rate, rest = pct(r.get("rate")), pct(r.get("rest_rate"))
    if kind == "conversion":
        if rate is None:
            others = rest or "a hidden share"
            return f"{group}: the share going on from {a} to {b} is {hidden} ({others} of others go on)"
        return f"{group}: {rate} go on from {a} to {b}, vs {rest or 'a hidden share'} of others"
    if kind == "delay":
        m, rm = days(r.get("median_days")), days(r.get("rest_median_days"))
        return f"{group}: median wait from {a} to {b} {m or hidden}, vs {rm or 'a hidden median'} for others"
    if kind == "target":
        level, _, metric = str(r.get("metric") or "").partition("_")
        where = (f"Stage {label.stage(value)}" if level == "stage" else label.delay(value) if level == "delay"
                 else label.touchpoint(value))
        within = f"{rate} within it" if rate is not None else f"the share within it is {hidden}"
        target = r.get("target") or "its target"
        if metric == "conversion":
            got = f"{rate} go on" if rate is not None else f"the share going on is {hidden}"
            return f"{where} misses its conversion target: {got}, {target} needed"
        if metric == "sla":
            return f"{where} misses its target of {target}: {within}"
        what = "median" if metric == "median" else "90th-percentile"
        need = "50%" if metric == "median" else "90%"
        return f"{where} misses its {what} wait target of {target}: {within}, {need} needed"
    if kind == "recontact":
        about = f"about {label.touchpoint(r.get('touchpoint'))} ({value}) {recontact_phrase(r.get('metric'))}"
        return f"{rate} of people {about}" if rate is not None else f"People {about} (share {hidden})"
    if kind == "feedback":
        _, topic, source = (str(r.get("metric") or "").split(":") + ["", ""])[:3]
        topic = (topic_label or readable)(topic)
        at = f"{source} feedback at {label.stage(r.get('stage'))}"
        if rate is None:
            return f"'{topic}' complaints in {at} (share {hidden}), vs {rest or 'a hidden share'} in other journeys"
        return f"'{topic}' complaints in {rate} of {at}, vs {rest or 'a hidden share'} in other journeys"
    return str(r.get("title") or kind)


class _NoNames:
    """Ids as they are, for a finding whose journey is not in the project (``FindingsConfig.extra``)."""

    def __getattr__(self, _name):
        return lambda v: v
