"""Feedback: what people say (surveys, reviews, portal messages) — topics, and sentiment per stage."""

from __future__ import annotations

from .. import charts
from ..format import to_number
from .base import ReportContext, Section, Unavailable, View, result_table, section, unavailable_view

NO_FEEDBACK = Unavailable("no feedback has been ingested for this journey (add a survey, reviews or portal source)")


def _fetch(ctx: ReportContext, view_id: str, title: str, intro: str, kind: str, empty: Unavailable = NO_FEEDBACK,
           **fields):
    """``(result, None)`` for a feedback analysis with rows, else ``(None, the view saying why not)``."""
    r = ctx.fetch(kind, **fields) if ctx.has_feedback else NO_FEEDBACK
    if not isinstance(r, Unavailable) and not r.records():
        r = empty
    if isinstance(r, Unavailable):
        return None, unavailable_view(view_id, title, r, intro)
    return r, None


def topics_view(ctx: ReportContext) -> View:
    title = "Feedback topics"
    intro = ("Themes people raise, by how many people mentioned them; green = mostly positive, red = mostly "
             "negative, grey = mixed. Topics mentioned by too few people are hidden.")
    r, missing = _fetch(ctx, "topics", title, intro, "feedback_topics")
    if missing:
        return missing
    recs = r.records()
    totals: dict[str, dict] = {}
    for x in recs:  # a topic across stages: people add up per stage (a person may count in two stages)
        n = ctx.fmt.safe_people(x.get("people"))
        t = totals.setdefault(x.get("label") or x["topic"], {"people": 0.0, "weighted": 0.0, "n": 0.0})
        if n:
            t["people"] += n
            s = to_number(x.get("sentiment_mean"))
            if s is not None:
                t["weighted"] += s * n
                t["n"] += n
    ranked = sorted(((k, v) for k, v in totals.items() if v["people"]), key=lambda kv: -kv[1]["people"])[:15]
    topics = [k for k, _ in ranked]
    counts = [v["people"] for _, v in ranked]
    sent = [v["weighted"] / v["n"] if v["n"] else None for _, v in ranked]
    summary = [f"{k}: " + ctx.fmt.people(n) + " mentions by people, mean sentiment " + _signed(s)
               for k, n, s in zip(topics[:5], counts, sent)]
    return View(id="topics", title=title, intro=intro, result=r, summary=summary,
                figure=charts.topic_bars(ctx.fmt, topics, counts, sent) if topics else None,
                chart_label="Bar chart of feedback topics by number of people mentioning them",
                table=result_table(ctx, r, "Topics per stage", limit=30,
                                   columns=["stage", "label", "people", "items", "share_negative", "sentiment_mean"],
                                   labels={"label": "Topic", "items": "Comments", "share_negative": "Share negative",
                                           "sentiment_mean": "Mean sentiment (-1..1)"},
                                   values={"stage": ctx.names.stage}))


def per_stage_view(ctx: ReportContext) -> View:
    title = "Sentiment and ratings per stage"
    intro = ("How positive feedback sounds at each stage (-1 to +1), with NPS (-100 to 100), CSAT (% satisfied) "
             "and review stars where people gave them.")
    r, missing = _fetch(ctx, "feedback", title, intro, "feedback")
    if missing:
        return missing
    return View(id="feedback", title=title, intro=intro, result=r, table=result_table(
        ctx, r, "Feedback per stage", columns=["stage", "people", "items", "sentiment_mean", "sentiment_ci_low",
                                               "sentiment_ci_high", "nps", "csat_pct", "stars_avg", "topic_1"],
        labels={"items": "Comments", "sentiment_mean": "Mean sentiment", "sentiment_ci_low": "95% low",
                "sentiment_ci_high": "95% high", "nps": "NPS", "csat_pct": "CSAT %", "stars_avg": "Stars",
                "topic_1": "Top topic"},
        values={"stage": ctx.names.stage, "topic_1": _topic_label(ctx)}))


def quotes_view(ctx: ReportContext) -> View:
    title = "In their words"
    intro = ("Typical comments per stage (closest to the stage's average sentiment), with names and contact "
             "details removed. Quotes come only from stages where at least "
             f"{ctx.fmt.k} people gave feedback.")
    r, missing = _fetch(ctx, "quotes", title, intro, "verbatims",
                        empty=Unavailable("no stage has comments from enough people to quote"), n=2)
    if missing:
        return missing
    return View(id="quotes", title=title, intro=intro, result=r, table=result_table(
        ctx, r, "Representative comments", columns=["stage", "text", "sentiment", "cell_people"],
        labels={"text": "Comment", "sentiment": "Sentiment (-1..1)", "cell_people": "People giving feedback here"},
        values={"stage": ctx.names.stage}))


def _signed(s) -> str:
    """A sentiment with its sign, "0.00" rather than "-0.00"."""
    return "—" if s is None else "0.00" if not round(s, 2) else f"{s:+.2f}"


def _topic_label(ctx: ReportContext):
    """A topic id as the taxonomy's plain-language label (the project's own topics.yml first)."""
    try:
        from ...voice.topics import load_taxonomy
        return load_taxonomy(ctx.project).label
    except Exception:  # a broken topics file is reported by `carejourney validate`; ids still read
        return str


@section(80)
def feedback_section(ctx: ReportContext) -> Section:
    return Section("feedback", "Feedback", "What people tell us about the journey.",
                   [topics_view(ctx), per_stage_view(ctx), quotes_view(ctx)])
