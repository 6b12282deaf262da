"""Voice of the patient per journey stage: volume, sentiment, ratings, topics, the emotion curve
and representative verbatims. Semantics in docs/voice.md; in short:

- **items**: distinct feedback items (a survey response counts once even when it answers both
  NPS and CSAT). **people**: distinct identified people plus one per anonymous item (reviews
  carry no person; each is counted as its own author — this count drives small-cell suppression).
- **sentiment**: the mean of the item scores (VADER compound, -1..1) over items with text, with
  a 95% t-interval (sums and sums of squares are computed in the engine).
- **NPS** (0-10 ratings): % promoters (9-10) − % detractors (0-6), from -100 to 100.
  **CSAT** (1-5 ratings whose ``source_event`` is ``csat``): % of 4 or 5.
  **stars**: the mean of the other 1-5 ratings (online reviews).
- **top topics**: the three topics mentioned by the most people in the cell, each with its mean
  sentiment; only topics mentioned by at least k people are eligible.

Kinds: ``feedback`` (per stage, optionally by segment / person attribute and by period),
``feedback_topics`` (per stage × topic), ``emotion_curve`` (per stage: evidence mood on the
journey's -2..2 mood scale beside the designed mood, and the gap) and ``verbatims``
(up to ``n`` scrubbed texts per stage or stage × topic, only from cells of at least k people,
never with a person key; see :func:`verbatims`).
"""

from __future__ import annotations

import math
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pydantic import Field

from ..errors import SpecError
from ..privacy.suppression import CellRules
from .base import Analysis, Spec, register, run
from .context import AnalysisContext
from .periods import with_period
from .timing import with_group

__all__ = ["FeedbackSpec", "Feedback", "FeedbackTopicsSpec", "FeedbackTopics", "EmotionCurveSpec",
           "EmotionCurve", "VerbatimsSpec", "Verbatims", "verbatims", "mood_from_sentiment", "NEGATIVE"]

#: VADER's conventional threshold: a compound score at or below -0.05 is negative.
NEGATIVE = -0.05
TOP_TOPICS = 3


class _FeedbackBase(Spec):
    by: str | None = Field(default=None, description="'segment' or a person attribute (age_band, language…)")
    period: Literal["day", "week", "month"] | None = Field(default=None, description="also break down by calendar period")
    source: str | None = Field(default=None, description="only feedback from this source (name in sources/*.yml)")


class FeedbackSpec(_FeedbackBase):
    kind: Literal["feedback"] = "feedback"


class FeedbackTopicsSpec(_FeedbackBase):
    kind: Literal["feedback_topics"] = "feedback_topics"


class EmotionCurveSpec(Spec):
    kind: Literal["emotion_curve"] = "emotion_curve"
    source: str | None = Field(default=None, description="only feedback from this source")


class VerbatimsSpec(Spec):
    kind: Literal["verbatims"] = "verbatims"
    n: int = Field(default=3, ge=1, le=20, description="texts per cell")
    by_topic: bool = Field(default=False, description="cells are stage × topic instead of stage")
    stage: str | None = Field(default=None, description="only this stage")
    topic: str | None = Field(default=None, description="only this topic (implies by_topic)")
    tone: Literal["representative", "negative", "positive"] = Field(
        default="representative", description="closest to the cell's mean sentiment, most negative, or most positive")
    min_length: int = Field(default=20, ge=0, description="shortest text worth quoting (characters)")


# -- shared building blocks ------------------------------------------------------------------
def scoped_feedback(ctx: AnalysisContext, journey_id: str | None, segment: str | None,
                    source: str | None = None) -> ir.Table:
    """Feedback on the journey's stages (and service lines), optionally one segment / source."""
    if ctx.feedback is None:
        raise SpecError("no feedback in this context: ingest a survey, reviews or portal source first")
    j = ctx.journey(journey_id)
    fb = ctx.feedback
    fb = fb.filter(fb.stage.isin([s.id for s in j.stages]))
    if j.service_lines:
        fb = fb.filter(fb.service_line.isnull() | fb.service_line.isin(list(j.service_lines)))
    if source is not None:
        fb = fb.filter(fb.source == source)
    if segment is not None:
        fb = fb.semi_join(ctx.segment_members(j, segment), "person_key")
    return fb


def _people(fb: ir.Table) -> ir.IntegerValue:
    """Distinct identified people + one per anonymous item."""
    return fb.person_key.nunique() + fb.feedback_id.nunique(where=fb.person_key.isnull())


def _keyed(ctx: AnalysisContext, spec: _FeedbackBase) -> tuple[ir.Table, list[str]]:
    j = ctx.journey(spec.journey)
    fb = scoped_feedback(ctx, spec.journey, spec.segment, spec.source)
    keys = ["stage"]
    if spec.by is not None:
        fb = with_group(ctx, j, fb, spec.by)
        keys.append("group")
    if spec.period is not None:
        fb = with_period(fb, "ts", ctx.timezone, spec.period)
        keys.append("period")
    return fb, keys


def exploded_topics(fb: ir.Table) -> ir.Table:
    """One row per (feedback row, topic) from the JSON list in ``topics``."""
    t = fb.filter(fb.topics.notnull())
    t = t.mutate(topic=t.topics.re_replace(r'[\[\]" ]', "").split(",")).unnest("topic")
    return t.filter(t.topic != "")


def _sentiment_sums(fb: ir.Table) -> dict:
    return {"sentiment_n": fb.sentiment.count(), "sentiment_sum": fb.sentiment.sum(),
            "sentiment_sumsq": (fb.sentiment * fb.sentiment).sum()}


def _mean_ci(df: pd.DataFrame, prefix: str = "sentiment") -> pd.DataFrame:
    """Mean and 95% t-interval from n, sum and sum of squares (computed in the engine)."""
    n = pd.to_numeric(df[f"{prefix}_n"], errors="coerce").fillna(0).astype(float)
    s = pd.to_numeric(df[f"{prefix}_sum"], errors="coerce").fillna(0).astype(float)
    ss = pd.to_numeric(df[f"{prefix}_sumsq"], errors="coerce").fillna(0).astype(float)
    mean = np.where(n > 0, s / n.where(n > 0, 1), np.nan)
    var = np.where(n > 1, (ss - n * np.nan_to_num(mean) ** 2) / (n - 1).where(n > 1, 1), np.nan)
    se = np.sqrt(np.clip(var, 0, None)) / np.sqrt(n.where(n > 0, 1))
    # Student's t quantile from scipy.special (0.08 s to import; scipy.stats takes 0.5 s, and this
    # runs on every report with feedback, warm ones included)
    from scipy.special import stdtrit
    t = np.where(n > 1, stdtrit(np.maximum(n - 1, 1), 0.975), np.nan)
    out = df.drop(columns=[f"{prefix}_sum", f"{prefix}_sumsq"])
    out[f"{prefix}_mean"] = mean
    out[f"{prefix}_ci_low"] = mean - t * se
    out[f"{prefix}_ci_high"] = mean + t * se
    return out


def _stage_order(ctx: AnalysisContext, journey_id: str | None) -> dict[str, int]:
    return {s.id: i for i, s in enumerate(ctx.journey(journey_id).stages)}


def _sort(df: pd.DataFrame, order: dict[str, int], then: list[str]) -> pd.DataFrame:
    if df.empty:
        return df.reset_index(drop=True)
    df = df.assign(_o=df["stage"].map(order).fillna(len(order)))
    return df.sort_values(["_o", *then], kind="mergesort").drop(columns="_o").reset_index(drop=True)


# -- kind: feedback ----------------------------------------------------------------------------
@register
class Feedback(Analysis):
    kind = "feedback"
    spec = FeedbackSpec
    title = "Voice of the patient per stage"

    def build(self, spec: FeedbackSpec, ctx: AnalysisContext) -> ir.Table:
        fb, keys = _keyed(ctx, spec)
        rating, ev = fb.rating, fb.source_event.fill_null("")
        is_nps = (fb.rating_scale == 10) & rating.notnull()
        is_csat = (ev == "csat") & (fb.rating_scale == 5) & rating.notnull()
        is_star = (ev != "csat") & (fb.rating_scale == 5) & rating.notnull()
        main = fb.group_by(keys).aggregate(
            items=fb.feedback_id.nunique(), people=_people(fb), **_sentiment_sums(fb),
            nps_n=rating.count(where=is_nps), nps_promoters=rating.count(where=is_nps & (rating >= 9)),
            nps_detractors=rating.count(where=is_nps & (rating <= 6)),
            csat_n=rating.count(where=is_csat), csat_satisfied=rating.count(where=is_csat & (rating >= 4)),
            stars_n=rating.count(where=is_star), stars_sum=rating.sum(where=is_star))
        top = _top_topics(fb, keys, ctx.min_cell)
        j = main.left_join(top, keys)
        return j.select(*[main[k] for k in keys], *[main[c] for c in main.columns if c not in keys],
                        *[top[c] for c in top.columns if c not in keys])

    def postprocess(self, df: pd.DataFrame, spec: FeedbackSpec, ctx: AnalysisContext) -> pd.DataFrame:
        df = _mean_ci(df)
        num = lambda c: pd.to_numeric(df[c], errors="coerce").astype(float)  # noqa: E731
        nps_n = num("nps_n")
        df["nps"] = np.where(nps_n > 0, 100 * (num("nps_promoters") - num("nps_detractors")) / nps_n.where(nps_n > 0, 1), np.nan)
        csat_n = num("csat_n")
        df["csat_pct"] = np.where(csat_n > 0, 100 * num("csat_satisfied") / csat_n.where(csat_n > 0, 1), np.nan)
        stars_n = num("stars_n")
        df["stars_avg"] = np.where(stars_n > 0, num("stars_sum") / stars_n.where(stars_n > 0, 1), np.nan)
        df = df.drop(columns=["nps_promoters", "nps_detractors", "csat_satisfied", "stars_sum"])
        keys = [c for c in ("stage", "group", "period") if c in df.columns]
        first = keys + ["items", "people", "sentiment_n", "sentiment_mean", "sentiment_ci_low", "sentiment_ci_high",
                        "nps_n", "nps", "csat_n", "csat_pct", "stars_n", "stars_avg"]
        df = df[first + [c for c in df.columns if c not in first]]
        return _sort(df, _stage_order(ctx, spec.journey), keys[1:])

    def rules(self, spec: FeedbackSpec) -> CellRules:
        ppl = ("people",)
        derived = {"sentiment_mean": ("sentiment_n", *ppl), "sentiment_ci_low": ("sentiment_n", *ppl),
                   "sentiment_ci_high": ("sentiment_n", *ppl), "nps": ("nps_n", *ppl),
                   "csat_pct": ("csat_n", *ppl), "stars_avg": ("stars_n", *ppl)}
        counts = ["items", "people", "sentiment_n", "nps_n", "csat_n", "stars_n"]
        for i in range(1, TOP_TOPICS + 1):
            counts.append(f"topic_{i}_people")
            derived[f"topic_{i}_sentiment"] = (f"topic_{i}_people",)
        return CellRules(counts=tuple(counts), derived=derived)


def _top_topics(fb: ir.Table, keys: list[str], k: int) -> ir.Table:
    """Per cell, the TOP_TOPICS topics mentioned by most people (at least k), pivoted to columns."""
    t = exploded_topics(fb)
    agg = t.group_by([*keys, "topic"]).aggregate(t_people=_people(t), t_sum=t.sentiment.sum(), t_n=t.sentiment.count())
    agg = agg.filter(agg.t_people >= k)
    agg = agg.mutate(rank=ibis.row_number().over(group_by=[agg[c] for c in keys],
                                                  order_by=[agg.t_people.desc(), agg.topic]))
    agg = agg.filter(agg["rank"] < TOP_TOPICS)
    cols = {}
    for i in range(TOP_TOPICS):
        hit = agg["rank"] == i
        cols[f"topic_{i + 1}"] = agg.topic.max(where=hit)
        cols[f"topic_{i + 1}_people"] = agg.t_people.max(where=hit)
        cols[f"topic_{i + 1}_sentiment"] = (agg.t_sum / agg.t_n.nullif(0)).max(where=hit)
    return agg.group_by(keys).aggregate(**cols)


# -- kind: feedback_topics ---------------------------------------------------------------------
@register
class FeedbackTopics(Analysis):
    kind = "feedback_topics"
    spec = FeedbackTopicsSpec
    title = "Feedback topics per stage"

    def build(self, spec: FeedbackTopicsSpec, ctx: AnalysisContext) -> ir.Table:
        fb, keys = _keyed(ctx, spec)
        t = exploded_topics(fb)
        return t.group_by([*keys, "topic"]).aggregate(
            items=t.feedback_id.nunique(), people=_people(t), **_sentiment_sums(t),
            negative_items=t.feedback_id.nunique(where=t.sentiment <= NEGATIVE))

    def postprocess(self, df: pd.DataFrame, spec: FeedbackTopicsSpec, ctx: AnalysisContext) -> pd.DataFrame:
        from ..voice.topics import load_taxonomy
        tax = load_taxonomy(ctx.project)
        df = _mean_ci(df)
        items = pd.to_numeric(df["items"], errors="coerce").astype(float)
        df["share_negative"] = np.where(items > 0, pd.to_numeric(df["negative_items"]).astype(float) / items.where(items > 0, 1), np.nan)
        df["label"] = [tax.label(t) for t in df["topic"]]
        keys = [c for c in ("stage", "group", "period") if c in df.columns]
        df = df[[*keys, "topic", "label", "items", "people", "negative_items", "share_negative", "sentiment_n",
                 "sentiment_mean", "sentiment_ci_low", "sentiment_ci_high"]]
        df = df.assign(_p=-pd.to_numeric(df["people"]), _t=df["topic"])
        return _sort(df, _stage_order(ctx, spec.journey), [*keys[1:], "_p", "_t"]).drop(columns=["_p", "_t"])

    def rules(self, spec: FeedbackTopicsSpec) -> CellRules:
        ppl = ("people",)
        return CellRules(counts=("items", "people", "negative_items", "sentiment_n"),
                         derived={"sentiment_mean": ppl, "sentiment_ci_low": ppl, "sentiment_ci_high": ppl,
                                  "share_negative": ("negative_items", *ppl)},
                         pairs=(("items", "negative_items"),))


# -- kind: emotion_curve -----------------------------------------------------------------------
def mood_from_sentiment(mean: float | None) -> float | None:
    """Evidence mood on the journey's -2..2 scale: mean sentiment (-1..1) doubled, rounded to 0.1."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return None
    return round(max(-2.0, min(2.0, 2.0 * float(mean))), 1)


@register
class EmotionCurve(Analysis):
    kind = "emotion_curve"
    spec = EmotionCurveSpec
    title = "Emotion curve: evidence vs design"

    def build(self, spec: EmotionCurveSpec, ctx: AnalysisContext) -> ir.Table:
        fb = scoped_feedback(ctx, spec.journey, spec.segment, spec.source)
        return fb.group_by("stage").aggregate(items=fb.feedback_id.nunique(), people=_people(fb), **_sentiment_sums(fb))

    def postprocess(self, df: pd.DataFrame, spec: EmotionCurveSpec, ctx: AnalysisContext) -> pd.DataFrame:
        j = ctx.journey(spec.journey)
        df = _mean_ci(df).set_index("stage")
        rows = []
        for s in j.stages:
            m = j.moments.get(s.id)
            have = s.id in df.index
            mean = float(df.at[s.id, "sentiment_mean"]) if have else math.nan
            mood = mood_from_sentiment(mean)
            designed = m.mood if m is not None else None
            rows.append({
                "stage": s.id, "items": int(df.at[s.id, "items"]) if have else 0,
                "people": int(df.at[s.id, "people"]) if have else 0,
                "sentiment_n": int(df.at[s.id, "sentiment_n"]) if have else 0, "sentiment_mean": mean,
                "sentiment_ci_low": float(df.at[s.id, "sentiment_ci_low"]) if have else math.nan,
                "sentiment_ci_high": float(df.at[s.id, "sentiment_ci_high"]) if have else math.nan,
                "mood_evidence": mood if mood is not None else math.nan,
                "mood_designed": designed if designed is not None else math.nan,
                "feeling_designed": m.feeling if m is not None else None,
                "gap": (mood - designed) if (mood is not None and designed is not None) else math.nan,
            })
        return pd.DataFrame(rows)

    def rules(self, spec: EmotionCurveSpec) -> CellRules:
        ppl = ("people",)
        return CellRules(counts=("items", "people", "sentiment_n"),
                         derived={c: ("sentiment_n", *ppl) for c in ("sentiment_mean", "sentiment_ci_low",
                                                                     "sentiment_ci_high", "mood_evidence", "gap")})


# -- kind: verbatims ---------------------------------------------------------------------------
@register
class Verbatims(Analysis):
    kind = "verbatims"
    spec = VerbatimsSpec
    title = "Representative verbatims"

    def build(self, spec: VerbatimsSpec, ctx: AnalysisContext) -> ir.Table:
        fb = scoped_feedback(ctx, spec.journey, spec.segment)
        if spec.stage is not None:
            fb = fb.filter(fb.stage == spec.stage)
        by_topic = spec.by_topic or spec.topic is not None
        keys = ["stage", "topic"] if by_topic else ["stage"]
        if by_topic:
            fb = exploded_topics(fb)
            if spec.topic is not None:
                fb = fb.filter(fb.topic == spec.topic)
        cells = fb.group_by(keys).aggregate(cell_people=_people(fb), cell_mean=fb.sentiment.mean())
        cells = cells.filter(cells.cell_people >= ctx.min_cell)  # never quote from a small cell
        texts = fb.filter(fb.text.notnull() & (fb.text.length() >= spec.min_length) & fb.sentiment.notnull())
        j = texts.inner_join(cells, keys)
        dist = {"representative": (j.sentiment - j.cell_mean).abs(), "negative": j.sentiment,
                "positive": -j.sentiment}[spec.tone]
        j = j.mutate(_d=dist)
        # ties by feedback id: engine hash functions differ, and both engines must pick the same texts
        j = j.mutate(rank=ibis.row_number().over(group_by=[j[k] for k in keys], order_by=[j._d, j.feedback_id]))
        j = j.filter(j["rank"] < spec.n)
        return j.select(*keys, "cell_people", "rank", "text", "sentiment").order_by([*keys, "rank"])

    def postprocess(self, df: pd.DataFrame, spec: VerbatimsSpec, ctx: AnalysisContext) -> pd.DataFrame:
        keys = ["stage", "topic"] if (spec.by_topic or spec.topic is not None) else ["stage"]
        df = df.drop_duplicates(subset=[*keys, "text"])  # one exploded text can repeat across ranks
        return _sort(df, _stage_order(ctx, spec.journey), [k for k in keys[1:]] + ["rank"])

    def rules(self, spec: VerbatimsSpec) -> CellRules:
        return CellRules(counts=("cell_people",), derived={"text": ("cell_people",), "sentiment": ("cell_people",)})


def verbatims(ctx: AnalysisContext, *, stage: str | None = None, topic: str | None = None, n: int = 3,
              by_topic: bool = False, tone: str = "representative", journey: str | None = None) -> list[dict]:
    """Up to ``n`` scrubbed texts per stage (or stage × topic) from cells of ≥ k people; no person keys."""
    spec = VerbatimsSpec(stage=stage, topic=topic, n=n, by_topic=by_topic, tone=tone, journey=journey)
    return [r for r in run(spec, ctx).records() if isinstance(r.get("text"), str)]
