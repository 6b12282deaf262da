"""Targets: every conversion, median / p90 delay and SLA target in the journey definition, checked.

Where each target is measured (written down in docs/analyses/friction.md):

- **touchpoint** ``t``: conversion = share of people at ``t`` who reach the next key step after
  it (else the next required touchpoint); delays run from the previous key step (else previous
  required touchpoint) to ``t``;
- **stage** ``s``: conversion = share of people entering ``s`` who reach the next
  stage that has a required touchpoint; delays run from the previous such stage to the first
  event of ``s`` (a stage is entered at its required touchpoints, or any when all are optional);
- **delay** (``delays:`` in the journey): from its ``from`` to its ``to`` touchpoint or stage.

Every target becomes a proportion and a one-sided binomial test of "worse than target":
conversion (reached / entered vs target), SLA (reached within ``within`` / entered vs share),
median (converters within the target time / converters vs 0.5), p90 (vs 0.9). A target is
*missed* when the observed value is worse than the target and the Benjamini-Hochberg adjusted
p-value across all targets of the run is below ``fdr``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pydantic import Field

from ..model.base import Duration, format_duration
from ..model.journey import Target
from ..privacy.suppression import CellRules
from . import _stats as st
from ._checks import target_checks
from ._steps import US_PER_HOUR, journey_pair_rows
from .base import Analysis, Spec, register
from .context import AnalysisContext

__all__ = ["TargetsSpec", "TargetsAnalysis", "target_checks"]

DAYS_PER_MONTH = 30.4375


class TargetsSpec(Spec):
    kind: Literal["targets"] = "targets"
    window: Duration = Field(default=timedelta(days=90), description="conversion window")
    censor: bool = True
    fdr: float = Field(default=0.05, gt=0, lt=1)


def _us(td: timedelta | None) -> int:
    return int(td.total_seconds() * 1_000_000) if td is not None else 0


def _build(ctx: AnalysisContext, spec: TargetsSpec) -> ir.Table:
    """One row per check (``check``): people entering, converting, within each target time, the
    median and p90 delay and the entry period — every check's pairs computed together
    (``_steps.journey_pair_rows``: the report's shared pair rows), one group-by, and a row (n = 0) for a check nobody entered."""
    j = ctx.journey(spec.journey)
    end = ctx.journey_end(spec.journey, spec.segment) if spec.censor else None
    checks = target_checks(j)
    if not checks:
        return ibis.memtable(pd.DataFrame({"check": pd.Series([], dtype="int64")}))
    t = journey_pair_rows(ctx, spec.journey, spec.segment, [(c["from"], c["to"]) for c in checks], spec.window, end)
    t = t.filter(~t.censored)
    aggs = {}
    for k in ("median", "p90", "sla"):
        limits = [(c["target"].sla.within if c["target"].sla else None) if k == "sla" else getattr(c["target"], k)
                  for c in checks]
        limit = ibis.cases(*[(t.pair == i, _us(v)) for i, v in enumerate(limits)])
        aggs[f"within_{k}"] = (t.converted & (t.delay_us <= limit)).sum().cast("int64")
    g = t.group_by("pair").aggregate(
        n=t.person_key.count(), converted=t.converted.sum().cast("int64"), **aggs,
        median_hours=t.delay_us.median().cast("float64") / US_PER_HOUR,
        p90_hours=t.delay_us.quantile(0.9).cast("float64") / US_PER_HOUR,
        first_ts=t.a_ts.min(), last_ts=t.a_ts.max())
    every = ibis.memtable({"check": [c["check"] for c in checks]})
    out = every.left_join(g, every.check == g.pair).drop("pair")
    out = out.mutate(n=out.n.fill_null(0))
    return out.select("n", "converted", "within_median", "within_p90", "within_sla", "median_hours", "p90_hours",
                      "first_ts", "last_ts", "check").order_by("check")


def evaluate(df: pd.DataFrame, spec: TargetsSpec, ctx: AnalysisContext) -> pd.DataFrame:
    j = ctx.journey(spec.journey)
    checks = {c["check"]: c for c in target_checks(j)}
    rows = []
    for r in df.to_dict("records"):
        c = checks[int(r["check"])]
        tg: Target = c["target"]
        months = 1.0
        if pd.notna(r.get("first_ts")) and pd.notna(r.get("last_ts")):
            months = max((pd.Timestamp(r["last_ts"]) - pd.Timestamp(r["first_ts"])).days / DAYS_PER_MONTH, 1.0)
        metrics = []
        if tg.conversion is not None:
            metrics.append(("conversion", tg.conversion, r["converted"], r["n"], tg.conversion, None))
        if tg.sla is not None:
            metrics.append(("sla", tg.sla.share, r["within_sla"], r["n"], tg.sla.share, format_duration(tg.sla.within)))
        if tg.median is not None:
            metrics.append(("median", 0.5, r["within_median"], r["converted"], format_duration(tg.median), r["median_hours"]))
        if tg.p90 is not None:
            metrics.append(("p90", 0.9, r["within_p90"], r["converted"], format_duration(tg.p90), r["p90_hours"]))
        for metric, p0, x, n, shown_target, shown_actual in metrics:
            x, n = int(x or 0), int(n or 0)
            share = x / n if n else np.nan
            lo, hi = st.wilson(x, n) if n else (np.nan, np.nan)
            p = _binomtest(x, n, p0) if n else np.nan
            rows.append({
                "check": c["check"], "level": c["level"], "where": c["where"], "stage": c["stage"],
                "touchpoint": c["touchpoint"], "owner": c["owner"], "from": ",".join(c["from"]),
                "to": ",".join(c["to"]), "metric": metric, "target": str(shown_target),
                "actual": share if metric in ("conversion", "sla") else shown_actual,
                "share_within": share, "share_lo": lo, "share_hi": hi, "required_share": p0,
                "n": n, "successes": x, "p": p,
                "shortfall_per_month": max(p0 - share, 0) * n / months if n else np.nan})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["q"] = st.bh(out["p"].to_numpy(float))
    out["missed"] = ((out["share_within"] < out["required_share"]) & (out["q"] < spec.fdr)).fillna(False)
    return out


RULES = CellRules(counts=("n", "successes"), pairs=(("n", "successes"),),
                  derived={c: ("n", "successes") for c in ("actual", "share_within", "share_lo", "share_hi",
                                                            "p", "q", "shortfall_per_month")})


@register
class TargetsAnalysis(Analysis):
    kind = "targets"
    spec = TargetsSpec
    title = "Targets checked"

    def build(self, spec: TargetsSpec, ctx: AnalysisContext) -> ir.Table:
        return _build(ctx, spec)

    def rules(self, spec: TargetsSpec) -> CellRules:
        return RULES

    def postprocess(self, df: pd.DataFrame, spec: TargetsSpec, ctx: AnalysisContext) -> pd.DataFrame:
        return evaluate(df, spec, ctx)


def _binomtest(x: int, n: int, p0: float) -> float:
    """One-sided exact binomial p-value, P(X <= x) for X ~ Binomial(n, p0): the binomial CDF from
    ``scipy.special``, which is what ``scipy.stats.binomtest(x, n, p0, alternative="less")``
    returns (tests compare the two). Not scipy.stats itself: importing it takes ~0.4 s, and the
    journey map tests targets even in a report answered from kept results."""
    from scipy.special import bdtr
    return float(min(1.0, bdtr(x, n, p0)))
