"""Drivers of drop-off and delay: which attributes go with dropping out or waiting longer, per step.

For each step ``a → b`` of a journey (key steps, named delays, form start → completion; see
``_steps.resolve_steps``) and each dimension
(segment, age band, language, payer, ZIP3, access needs, first contact channel / weekday / hour
in the project timezone, traffic source, lead time, the location / device / channel of the event
that starts the step, and whether the person had an earlier pre-visit touchpoint such as a
reminder or intake form), every value's group is compared with *the rest of the step*:

- conversion: share reaching ``b`` within the window; difference with a Newcombe interval;
  two-proportion z test (Fisher's exact when an expected cell is < 5);
- delay (converters only): ratio of medians (bootstrap interval, computed where the difference
  is significant); Mann-Whitney U on the binned delays;
- a test runs only when both the group and the rest have ``min_support`` people (and ≥ k);
- every p-value of the run is adjusted together with Benjamini-Hochberg (``q``).

The engine computes only counts per ``(step, dimension, value, delay bin)`` (one scan, one
cross join, lazy Ibis); the statistics run in :meth:`DriversAnalysis.postprocess`.
See docs/analyses/friction.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pydantic import Field

from ..errors import SpecError
from ..model.base import Duration
from ..model.journey import Journey, did_you_mean
from ..privacy.suppression import CellRules
from . import _stats as st
from ._steps import (ALL_DIMS, delay_bin, dim_name, person_dims, resolve_steps, stack_dims, step_key,
                     journey_step_table, weekday_name)
from .base import Analysis, Spec, register
from .context import AnalysisContext

__all__ = ["DriversSpec", "DriversAnalysis", "step_counts", "step_wide", "step_meta", "default_features"]

DAYS_PER_MONTH = 30.4375


class DriversSpec(Spec):
    kind: Literal["drivers"] = "drivers"
    steps: list[tuple[str, str]] | None = Field(default=None, description="(from, to) touchpoint pairs; default: consecutive key steps")
    dimensions: list[str] | None = Field(default=None, description=f"dimensions to test (default: all of {', '.join(ALL_DIMS)})")
    features: list[str] | None = Field(default=None, description="touchpoints tested as 'had it before the step ended' (default: optional pre-visit touchpoints)")
    window: Duration = Field(default=timedelta(days=90), description="conversion window from entering the step")
    censor: bool = Field(default=True, description="leave out people whose window is still open at the end of the data")
    min_support: int = Field(default=30, ge=1, description="people needed in the group and in the rest to test")
    fdr: float = Field(default=0.05, gt=0, lt=1, description="Benjamini-Hochberg false discovery rate")
    min_effect: float = Field(default=0.05, ge=0, description="smallest conversion gap (absolute) that counts as friction")
    min_delay_ratio: float = Field(default=1.25, ge=1, description="smallest ratio of medians that counts as friction")
    bootstrap: int = Field(default=400, ge=50)
    seed: int = 0


def default_features(journey: Journey) -> list[str]:
    """Optional touchpoints of a ``pre_visit`` stage (reminders, intake forms)."""
    return [t.id for t in journey.touchpoints if t.optional and t.stage == "pre_visit"]


def _check(journey: Journey, steps, dims, features) -> None:
    tps = [t.id for t in journey.touchpoints]
    for a, b in steps:
        for tp in (a, b):
            if tp not in tps:
                raise SpecError(f"steps: journey '{journey.journey}' has no touchpoint '{tp}'{did_you_mean(tp, tps)}")
    for d in dims:
        if d not in ALL_DIMS:
            raise SpecError(f"dimensions: unknown dimension '{d}'{did_you_mean(d, ALL_DIMS)} (dimensions: {', '.join(ALL_DIMS)})")
    for f in features:
        if f not in tps:
            raise SpecError(f"features: journey '{journey.journey}' has no touchpoint '{f}'{did_you_mean(f, tps)}")


def step_wide(ctx: AnalysisContext, journey_id: str | None, segment: str | None, steps, dims, features,
              window: timedelta, censor: bool) -> tuple[ir.Table, list[str]]:
    """Lazy: one row per (person, step) with every dimension as a column; and the dimension names."""
    j = ctx.journey(journey_id)
    steps = resolve_steps(j, steps)
    if not steps:
        raise SpecError(f"journey '{j.journey}' has no steps: mark at least two touchpoints key_step: true")
    features = default_features(j) if features is None else list(features)
    dims = list(ALL_DIMS if dims is None else dims)
    _check(j, steps, dims, features)
    # a person's dimensions and first feature events depend on their own events alone: with shared
    # tables, everyone's (kept, read by every segment's report); the step rows pick the people
    ev = ctx.journey_events(journey_id, None if ctx.shares_tables else segment)
    stp = journey_step_table(ctx, journey_id, segment, steps, window, censor)
    stp = stp.filter(~stp.censored)
    pd_ = ctx.shared("person_dims", [j.measured(), ctx.timezone],
                     lambda: person_dims(ev, ctx.persons, j, ctx.timezone, ctx.with_segments))
    x = stp.left_join(pd_, stp.person_key == pd_.person_key).drop("person_key_right")
    # lead time is known at the booking and goes with attending: steps from the booking to the visit
    care = [step_key(a, b) for a, b in steps if j.touchpoint(b).stage == "care"] or [step_key(a, b) for a, b in steps]
    x = x.mutate(lead_time=ibis.ifelse(x.step.isin(care) & (x.book_ts == x.a_ts), x.lead_time, ibis.null("string")),
                 location=x.a_location, device=x.a_device, channel=x.a_channel,
                 service_line=x.a_service_line, weekday=weekday_name(x.a_ts, ctx.timezone))
    x = x.mutate(weekend=ibis.ifelse(x.weekday.isin(["Sat", "Sun"]), "yes", "no"))
    order = {t.id: i for i, t in enumerate(j.touchpoints)}
    feat_dims = []
    if features:
        end = ibis.coalesce(x.b_ts, x.a_ts + ibis.interval(seconds=int(window.total_seconds())))
        x = x.mutate(end_ts=end)
        # had f by the end of the step: the person's first f came by then. Per person, not per
        # (person, step): one group-by and a join, instead of joining every step to every f event.
        # Where the person had no feature event by then at all, the column is null, as a join gives.
        def feature_firsts() -> ir.Table:
            fe = ev.filter(ev.touchpoint.isin(features))
            return fe.group_by(pk_f=fe.person_key).aggregate(
                _f_any=fe.ts.min(), **{f"_f_{i}": fe.ts.min(where=fe.touchpoint == f) for i, f in enumerate(features)})
        firsts = ctx.shared("feature_firsts", [j.measured(), features], feature_firsts)
        x = x.left_join(firsts, x.person_key == firsts.pk_f).drop("pk_f")
        x = x.mutate(**{f"had_{f}": ibis.ifelse(x._f_any <= x.end_ts, (x[f"_f_{i}"] <= x.end_ts).fill_null(False),
                                                ibis.null("boolean")) for i, f in enumerate(features)})
        x = x.drop("_f_any", *[f"_f_{i}" for i in range(len(features))])
        for f in features:
            # a feature counts for steps it precedes, and not for its own form (intake started → completed)
            ok = [step_key(a, b) for a, b in steps if f not in (a, b) and order[f] < order[b]
                  and f.rsplit("_", 1)[0] != b.rsplit("_", 1)[0]]
            if not ok:
                continue
            col = f"had_{f}"
            x = x.mutate(**{col: ibis.ifelse(x.step.isin(ok), ibis.ifelse(x[col].fill_null(False), "yes", "no"),
                                             ibis.literal("(n/a)"))})
            feat_dims.append(col)
    return x, dims + feat_dims


def step_counts(ctx: AnalysisContext, journey_id: str | None, segment: str | None, steps, dims, features,
                window: timedelta, censor: bool) -> ir.Table:
    """Lazy: people per (step, dimension, value, delay bin); bin -1 = did not convert.

    Drivers, equity and the findings ask this of the same steps with different dimensions. Each
    dimension's counts depend on that dimension alone, so the counts of *every* dimension (and
    of the journey's default features with the ones asked for) are computed once per journey,
    segment, steps, window and data version (``AnalysisContext.shared``) and each caller reads
    its dimensions' rows."""
    j = ctx.journey(journey_id)
    wanted = list(ALL_DIMS if dims is None else dims)
    asked = default_features(j) if features is None else list(features)
    resolved = resolve_steps(j, steps)
    if resolved:  # (without steps, building the counts raises the error that says so)
        _check(j, resolved, wanted, asked)
    every = sorted(set(default_features(j)) | set(asked))
    key = [j.measured(), segment, resolved, every, window.total_seconds(), censor, ctx.timezone]
    made = []  # the input: the expression and the SQL must name the same in-memory tables

    def build() -> ir.Table:
        made.append(_step_counts_input(ctx, journey_id, segment, steps, None, every, window, censor))
        return _step_counts(*made[-1])

    def sql(compile_expr) -> str:
        x, all_dims, names = made[-1]
        return _step_counts_sql(compile_expr(x), all_dims, names)
    counts = ctx.shared("step_counts", key, build, sql=sql)
    return counts.filter(counts.dimension.isin(wanted + [f"had_{f}" for f in asked]))


def _step_counts_input(ctx: AnalysisContext, journey_id: str | None, segment: str | None, steps, dims, features,
                       window: timedelta, censor: bool) -> tuple[ir.Table, list[str], list[str]]:
    """The person-steps to count (person_key, step_no, a_ts, bin, one column per dimension), the
    dimensions' names and the steps' keys."""
    x, all_dims = step_wide(ctx, journey_id, segment, steps, dims, features, window, censor)
    x = x.mutate(bin=ibis.ifelse(x.converted, delay_bin(x.delay_us), -1))
    names = [step_key(a, b) for a, b in resolve_steps(ctx.journey(journey_id), steps)]
    return x.select("person_key", "step_no", "a_ts", "bin", *all_dims), all_dims, names


def _step_counts(x: ir.Table, all_dims: list[str], names: list[str]) -> ir.Table:
    """Counts of :func:`_step_counts_input`'s rows per (step, dimension, value, bin), in Ibis: every
    person-step stacked once per dimension, then grouped (any engine)."""
    long = stack_dims(x, all_dims)
    long = long.filter(long.value != "(n/a)")
    # grouped by numbers (step, dimension), named on the counts
    counts = long.group_by("step_no", "dim", "value", "bin").aggregate(
        n=long.person_key.count(), first_ts=long.a_ts.min(), last_ts=long.a_ts.max())
    return counts.select(step=ibis.cases(*[(counts.step_no == i, n) for i, n in enumerate(names)]),
                         dimension=dim_name(counts.dim, all_dims), value="value", bin="bin", n="n",
                         first_ts="first_ts", last_ts="last_ts")


def _step_counts_sql(compiled_input: str, all_dims: list[str], names: list[str]) -> str:
    """:func:`_step_counts`' rows as DuckDB SQL over the compiled input, with ``GROUPING SETS``:
    one hash table per dimension fed from the same person-step rows, instead of stacking every
    person-step once per dimension (44M rows at 1M people) and grouping those: the grouping takes
    a third less time (0.9 → 0.6 s at 1M people). Used where the counts are a shared table
    (DuckDB); tests/functional/test_shared_tables.py compares the two."""
    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def lit(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"
    cols = [f"d{i}" for i in range(len(all_dims))]
    values = ", ".join(f"COALESCE(CAST({q(d)} AS VARCHAR), '(unknown)') AS {c}" for d, c in zip(all_dims, cols))
    which = " ".join(f"WHEN GROUPING({c}) = 0 THEN {lit(d)}" for c, d in zip(cols, all_dims))
    step = " ".join(f"WHEN {i} THEN {lit(n)}" for i, n in enumerate(names))
    sets = ", ".join(f"(step_no, bin, {c})" for c in cols)
    return (f"SELECT CASE step_no {step} END AS step, dimension, value, bin, n, first_ts, last_ts FROM ("
            f"SELECT step_no, bin, CASE {which} END AS dimension, COALESCE({', '.join(cols)}) AS value, "
            f"COUNT(person_key) AS n, MIN(a_ts) AS first_ts, MAX(a_ts) AS last_ts "
            f"FROM (SELECT person_key, step_no, a_ts, bin, {values} FROM ({compiled_input}) AS step_rows) AS coded "
            f"GROUP BY GROUPING SETS ({sets})) AS counted WHERE value <> '(n/a)'")


def step_meta(journey: Journey, steps) -> dict[str, dict]:
    """step key → from, to, stage and owner of the step's target touchpoint."""
    out = {}
    for a, b in resolve_steps(journey, steps):
        tb = journey.touchpoint(b)
        out[step_key(a, b)] = {"from": a, "to": b, "stage": tb.stage, "owner": journey.owner_of(b)}
    return out


def collapse(df: pd.DataFrame) -> tuple[pd.DataFrame, dict, dict]:
    """Counts per (step, dimension, value) + delay histograms per group and per (step, dimension) total.

    Vectorised (one group-by and one scatter-add for every group's histogram): a segment's report
    collapses ~40k count rows into ~1,200 groups, and a loop over pandas groups took ~0.6 s."""
    keys = ["step", "dimension", "value"]
    nb = int(max(df["bin"].max(), 0)) + 2 if len(df) else 2
    if len(df):
        grouped = df.groupby(keys, sort=True)
        labels = grouped.size().index.to_frame(index=False)  # the groups, numbered as ngroup() numbers them
        gid = grouped.ngroup().to_numpy()
        ok = gid >= 0  # (rows with a missing key belong to no group, as in a loop over the groups)
        n = df["n"].to_numpy(float)
        conv = ok & (df["bin"].to_numpy() >= 0)
        sizes = np.bincount(gid[ok], weights=n[ok], minlength=len(labels))
        converted = np.bincount(gid[conv], weights=n[conv], minlength=len(labels))
        hists = np.zeros((len(labels), nb))
        np.add.at(hists, (gid[conv], df["bin"].to_numpy()[conv].astype(int)), n[conv])
        out = labels.assign(n=sizes.astype(int), converted=converted.astype(int))
    else:
        out, hists = pd.DataFrame(columns=[*keys, "n", "converted"]), np.zeros((0, nb))
    hist: dict[tuple, np.ndarray] = {}
    totals: dict[tuple, np.ndarray] = {}
    for key, h in zip(out[keys].itertuples(index=False, name=None), hists):
        hist[key] = h
        totals[key[:2]] = totals.get(key[:2], np.zeros(nb)) + h
    out = out[[*keys, "n", "converted"]]
    span = df.groupby("step").agg(first=("first_ts", "min"), last=("last_ts", "max")) if len(df) else None
    months = {} if span is None else {
        s: max((pd.Timestamp(r["last"]) - pd.Timestamp(r["first"])).days / DAYS_PER_MONTH, 1.0)
        for s, r in span.iterrows()}
    out.attrs["months"] = months
    return out, hist, totals


def compare(df: pd.DataFrame, spec: DriversSpec, ctx: AnalysisContext) -> pd.DataFrame:
    """Group vs rest of the step for every (step, dimension, value): effects, intervals, tests, q."""
    counts, hist, totals = collapse(df)
    months_of = counts.attrs["months"]
    counts.attrs = {}  # (pandas deep-copies attrs into every row and column it hands out)
    j = ctx.journey(spec.journey)
    meta = step_meta(j, spec.steps)
    floor = max(spec.min_support, ctx.min_cell)
    dim_tot = counts.groupby(["step", "dimension"])[["n", "converted"]].transform("sum")
    step_tot = counts.groupby(["step", "dimension"])[["n", "converted"]].sum().groupby("step").max()
    dim_n, dim_c = dim_tot["n"].to_numpy(), dim_tot["converted"].to_numpy()
    step_n, step_c = step_tot["n"].to_dict(), step_tot["converted"].to_dict()
    out, boot = [], []
    for i, r in enumerate(counts.itertuples(index=False)):
        key = (r.step, r.dimension, r.value)
        rn, rc = int(dim_n[i] - r.n), int(dim_c[i] - r.converted)
        m = meta.get(r.step, {})
        months = months_of.get(r.step, 1.0)
        tot_n, tot_c = step_n[r.step], step_c[r.step]
        rec = {"step": r.step, "from": m.get("from"), "to": m.get("to"), "stage": m.get("stage"),
               "owner": m.get("owner"), "dimension": r.dimension, "value": r.value, "n": int(r.n),
               "converted": int(r.converted), "rate": r.converted / r.n if r.n else np.nan,
               "rest_n": rn, "rest_converted": rc, "rest_rate": rc / rn if rn else np.nan,
               "overall_rate": tot_c / tot_n if tot_n else np.nan, "months": months}
        rec.update(diff=np.nan, diff_lo=np.nan, diff_hi=np.nan, p_conversion=np.nan, test="",
                   median_hours=st.hist_median(hist[key]), rest_median_hours=np.nan,
                   ratio=np.nan, ratio_lo=np.nan, ratio_hi=np.nan, p_delay=np.nan)
        if r.n >= floor and rn >= floor:
            rec["diff"], rec["diff_lo"], rec["diff_hi"] = st.newcombe(r.converted, r.n, rc, rn)
            rec["p_conversion"], rec["test"] = st.prop_test(int(r.converted), int(r.n), rc, rn)
        rest_h = totals[key[:2]] - hist[key]
        rec["rest_median_hours"] = st.hist_median(rest_h)
        # lead time is part of the delay of the steps it applies to: compare conversion only
        if r.converted >= floor and rc >= floor and r.dimension != "lead_time":
            rest_med = rec["rest_median_hours"]
            rec["ratio"] = rec["median_hours"] / rest_med if rest_med and rest_med > 0 else np.nan
            rec["p_delay"] = st.mw_binned(hist[key], rest_h)[1]
            boot.append((len(out), hist[key], rest_h))
        out.append(rec)
    res = pd.DataFrame(out)
    if res.empty:
        return res
    q = st.bh(np.concatenate([res["p_conversion"].to_numpy(float), res["p_delay"].to_numpy(float)]))
    res["q_conversion"], res["q_delay"] = q[: len(res)], q[len(res):]
    # the bootstrap interval is the costly part: computed where the delay difference is significant
    for i, h, rest_h in boot:
        if res.at[i, "q_delay"] < spec.fdr:
            _, res.at[i, "ratio_lo"], res.at[i, "ratio_hi"] = st.ratio_ci(h, rest_h, spec.bootstrap, spec.seed)
    res["entrants_per_month"] = res["n"] / res["months"]
    res["lost_per_month"] = (res["overall_rate"] - res["rate"]) * res["entrants_per_month"]
    excess_days = (res["median_hours"] - res["rest_median_hours"]) / 24.0
    res["excess_wait_days_per_month"] = excess_days * res["converted"] / res["months"]
    res["friction_conversion"] = ((res["q_conversion"] < spec.fdr) & (res["diff"] <= -spec.min_effect)).fillna(False)
    res["friction_delay"] = ((res["q_delay"] < spec.fdr) & (res["ratio"] >= spec.min_delay_ratio)
                             & (res["ratio_lo"] > 1)).fillna(False)
    return res.drop(columns=["months"]).sort_values(["step", "dimension", "value"]).reset_index(drop=True)


RULES = CellRules(
    counts=("n", "converted", "rest_n", "rest_converted"),
    pairs=(("n", "converted"), ("rest_n", "rest_converted")),
    derived={c: ("n", "converted", "rest_n", "rest_converted") for c in (
        "rate", "rest_rate", "diff", "diff_lo", "diff_hi", "p_conversion", "q_conversion", "median_hours",
        "rest_median_hours", "ratio", "ratio_lo", "ratio_hi", "p_delay", "q_delay", "entrants_per_month",
        "lost_per_month", "excess_wait_days_per_month")},
    groups=("step", "dimension"),
)


@register
class DriversAnalysis(Analysis):
    kind = "drivers"
    spec = DriversSpec
    title = "Drivers of drop-off and delay"

    def build(self, spec: DriversSpec, ctx: AnalysisContext) -> ir.Table:
        return step_counts(ctx, spec.journey, spec.segment, spec.steps, spec.dimensions, spec.features,
                           spec.window, spec.censor)

    def rules(self, spec: DriversSpec) -> CellRules:
        return RULES

    def postprocess(self, df: pd.DataFrame, spec: DriversSpec, ctx: AnalysisContext) -> pd.DataFrame:
        return compare(df, spec, ctx)
