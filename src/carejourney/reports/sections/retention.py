"""Return care: cohorts of people by the month of their first visit, and the share coming back."""

from __future__ import annotations

from .. import charts
from .base import ReportContext, Section, Unavailable, View, result_table, section, unavailable_view


@section(60)
def retention_section(ctx: ReportContext) -> Section:
    title = "Return care by cohort"
    intro = ("People grouped by the month of their first visit (a cohort). Each cell is the share of the "
             "cohort who came back for care that many months later; months that have not ended yet are blank.")
    r = ctx.fetch("retention", period="month", periods=12)
    if isinstance(r, Unavailable):
        view = unavailable_view("retention", title, r, intro)
    elif not r.records():
        view = unavailable_view("retention", title, Unavailable("nobody in this journey has a first visit yet"), intro)
    else:
        fmt = ctx.fmt
        recs = r.records()
        cohorts = sorted({str(x["cohort"])[:7] for x in recs})
        periods = sorted({int(x["period"]) for x in recs})
        grid = {(str(x["cohort"])[:7], int(x["period"])): x.get("rate") for x in recs}
        rates = [[grid.get((c, p)) for p in periods] for c in cohorts]
        labels = [f"+{p} mo" for p in periods]
        first = [x for x in recs if int(x["period"]) == 1]
        summary = [f"{len(cohorts)} monthly cohorts, followed for up to {max(periods)} months."]
        summary += [f"Cohort {str(x['cohort'])[:7]}: " + fmt.people(x.get("cohort_size")) + " people, "
                    + fmt.rate_text(x.get("rate")) + " came back the next month." for x in first[:6]]
        view = View(id="retention", title=title, intro=intro, result=r, summary=summary,
                    figure=charts.cohort_heatmap(fmt, cohorts, labels, rates),
                    chart_label="Heatmap: share of each monthly cohort returning for care, by months since first visit",
                    table=result_table(ctx, r, "Return care by cohort and month", limit=60,
                                       columns=["cohort", "period", "cohort_size", "returned", "rate", "complete"],
                                       labels={"period": "Months after", "cohort_size": "People in cohort",
                                               "returned": "People returning", "rate": "Share returning",
                                               "complete": "Month complete"}))
    return Section("retention", "Return care", "Whether people come back for follow-up care.", [view])
