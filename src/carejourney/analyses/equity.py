"""Equity view: step conversion and delay stratified by language, payer, age band, access needs, ZIP3.

For each step ``a → b`` and each value of each equity dimension: people entering the step, the
share converting (Wilson interval), the gap to the overall rate with its interval, and the
median delay of those who converted next to the overall median. The gap to the overall rate is
``(1 − w)·(p_group − p_rest)`` where ``w`` is the group's share of the step, so its interval is
Newcombe's interval for ``p_group − p_rest`` scaled by ``(1 − w)``. Cells under k are suppressed
(and their complements, so no small group can be recovered by subtraction).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pydantic import Field

from ..model.base import Duration
from ..model.events import NEEDS
from ..privacy.suppression import CellRules
from . import _stats as st
from .base import Analysis, Spec, register
from .context import AnalysisContext
from .drivers import collapse, step_counts, step_meta

__all__ = ["EquitySpec", "EquityAnalysis", "EQUITY_DIMS"]

EQUITY_DIMS = ("language", "payer_type", "age_band", *NEEDS, "zip3")


class EquitySpec(Spec):
    kind: Literal["equity"] = "equity"
    steps: list[tuple[str, str]] | None = Field(default=None, description="(from, to) pairs; default: consecutive key steps")
    dimensions: list[str] = Field(default_factory=lambda: list(EQUITY_DIMS))
    window: Duration = Field(default=timedelta(days=90))
    censor: bool = True


COLUMNS = ["step", "from", "to", "stage", "owner", "dimension", "value", "n", "converted", "rate", "rate_lo",
           "rate_hi", "overall_n", "overall_rate", "gap", "gap_lo", "gap_hi", "median_hours", "overall_median_hours",
           "median_gap_hours"]


def stratify(df: pd.DataFrame, spec: EquitySpec, ctx: AnalysisContext) -> pd.DataFrame:
    counts, hist, totals = collapse(df)
    meta = step_meta(ctx.journey(spec.journey), spec.steps)
    rows = []
    for (step, dim), g in counts.groupby(["step", "dimension"], sort=True):
        tot_n, tot_c = int(g.n.sum()), int(g.converted.sum())
        overall = tot_c / tot_n if tot_n else np.nan
        overall_med = st.hist_median(totals[(step, dim)])
        for r in g.itertuples():
            rn, rc = tot_n - r.n, tot_c - r.converted
            lo, hi = st.wilson(r.converted, r.n)
            gap = gap_lo = gap_hi = np.nan
            if r.n and rn:
                w = r.n / tot_n
                d, dlo, dhi = st.newcombe(r.converted, r.n, rc, rn)
                gap, gap_lo, gap_hi = (1 - w) * d, (1 - w) * dlo, (1 - w) * dhi
            med = st.hist_median(hist[(step, dim, r.value)])
            m = meta.get(step, {})
            rows.append({"step": step, "from": m.get("from"), "to": m.get("to"), "stage": m.get("stage"),
                         "owner": m.get("owner"), "dimension": dim, "value": r.value, "n": r.n,
                         "converted": r.converted, "rate": r.converted / r.n if r.n else np.nan,
                         "rate_lo": lo, "rate_hi": hi, "overall_n": tot_n, "overall_rate": overall,
                         "gap": gap, "gap_lo": gap_lo, "gap_hi": gap_hi, "median_hours": med,
                         "overall_median_hours": overall_med, "median_gap_hours": med - overall_med})
    return pd.DataFrame(rows, columns=COLUMNS)  # (with no step rows, e.g. a segment of browsers only: empty)


RULES = CellRules(
    counts=("n", "converted", "overall_n"),
    pairs=(("n", "converted"), ("overall_n", "n")),
    derived={"rate": ("n", "converted"), "rate_lo": ("n", "converted"), "rate_hi": ("n", "converted"),
             "gap": ("n", "converted"), "gap_lo": ("n", "converted"), "gap_hi": ("n", "converted"),
             "median_hours": ("converted",), "median_gap_hours": ("converted",)},
    groups=("step", "dimension"),
)


@register
class EquityAnalysis(Analysis):
    kind = "equity"
    spec = EquitySpec
    title = "Equity: step conversion and delay by population group"

    def build(self, spec: EquitySpec, ctx: AnalysisContext) -> ir.Table:
        return step_counts(ctx, spec.journey, spec.segment, spec.steps, spec.dimensions, [],
                           spec.window, spec.censor)

    def rules(self, spec: EquitySpec) -> CellRules:
        return RULES

    def postprocess(self, df: pd.DataFrame, spec: EquitySpec, ctx: AnalysisContext) -> pd.DataFrame:
        return stratify(df, spec, ctx)
