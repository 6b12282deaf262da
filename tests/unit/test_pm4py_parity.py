"""DFG, variants, start/end activities and edge medians equal PM4Py's on the same small log."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from carejourney.analyses.base import execute, parse_spec
from carejourney.analyses.context import AnalysisContext
from carejourney.analyses.paths import collapse, sequence, variants

pm4py = pytest.importorskip("pm4py")

TPS = ["site_visit", "referral_received", "appointment_booked", "appointment_cancelled", "reminder_sent",
       "intake_completed", "visit_completed", "bill_sent"]


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for p in range(300):
        t = pd.Timestamp("2026-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 10_000)))
        state = int(rng.integers(0, 3))
        for _ in range(int(rng.integers(1, 9))):
            rows.append({"person_key": f"p{p:03d}", "touchpoint": TPS[state], "ts": t})
            # mostly forward, sometimes a repeat or a step back, gaps of minutes to days
            state = int(np.clip(state + rng.choice([-1, 0, 1, 1, 2]), 0, len(TPS) - 1))
            t += pd.Timedelta(seconds=int(rng.integers(60, 5 * 86400)))
    df = pd.DataFrame(rows)
    df["event_id"] = list(range(len(df)))
    return df


@pytest.fixture(params=["window", "journey-log"])
def ctx(request, log, duckdb_con, mini_project):
    """Both ways of sequencing: ordering in each query, and the stored journey log."""
    from carejourney.model.events import PERSON_ATTRIBUTES, SCHEMAS
    catalog = mini_project.touchpoint_catalog()
    ev = log.assign(stage=[catalog[t][1].stage for t in log.touchpoint])
    cols = {k: v for k, v in SCHEMAS["events"].items() if k != "subject_key"}
    for c in cols:
        if c not in ev:
            ev[c] = None
    schema = ibis.schema({"person_key": "string", **cols})
    events = duckdb_con.create_table("events", ibis.memtable(ev[list(schema.names)]).cast(schema))
    persons = pd.DataFrame({"person_key": log.person_key.unique(), **{a: None for a in PERSON_ATTRIBUTES}})
    p = duckdb_con.create_table("persons", ibis.memtable(persons).cast(
        {"person_key": "string", **{a: SCHEMAS["subjects"][a] for a in PERSON_ATTRIBUTES}}))
    version = (lambda: "v1") if request.param == "journey-log" else None
    return AnalysisContext(events=events, persons=p, project=mini_project, con=duckdb_con, data_version=version)


def pm_frame(log: pd.DataFrame) -> pd.DataFrame:
    df = log.rename(columns={"person_key": "case:concept:name", "touchpoint": "concept:name", "ts": "time:timestamp"})
    return pm4py.format_dataframe(df, case_id="case:concept:name", activity_key="concept:name",
                                  timestamp_key="time:timestamp")


def _variant_counts(ctx, collapse_repeats: bool) -> dict:
    seq = sequence(ctx, ctx.journey(None), None)
    v = variants(seq, collapse(seq.table) if collapse_repeats else None)
    df = ctx.to_pandas(v.group_by("variant").aggregate(n=v.count()))
    return dict(zip(df.variant, df.n.astype(int)))


def _pm_variants(df) -> dict:
    return {" > ".join(k): (c if isinstance(c, int) else len(c)) for k, c in pm4py.get_variants(df).items()}


def test_dfg_and_start_end_activities_equal_pm4py(ctx, log):
    dfg, start, end = pm4py.discover_dfg(pm_frame(log))
    df, _, _ = execute(parse_spec({"kind": "process_map"}), ctx)
    edges = df[df.element == "edge"]
    assert {(r.source, r.target): r.events for r in edges.itertuples()} == dict(dfg)
    assert df[df.element == "start"].set_index("source").events.to_dict() == dict(start)
    assert df[df.element == "end"].set_index("source").events.to_dict() == dict(end)
    assert edges.events.sum() == len(log) - log.person_key.nunique()


def test_edge_medians_equal_pm4py_performance_dfg(ctx, log):
    perf, _, _ = pm4py.discover_performance_dfg(pm_frame(log))
    df, _, _ = execute(parse_spec({"kind": "process_map"}), ctx)
    ours = {(r.source, r.target): r.median_seconds for r in df[df.element == "edge"].itertuples()}
    theirs = {k: (v["median"] if isinstance(v, dict) else v) for k, v in perf.items()}
    assert ours.keys() == theirs.keys()
    for k in ours:
        assert ours[k] == pytest.approx(theirs[k]), k


def test_variants_equal_pm4py(ctx, log):
    ours = _variant_counts(ctx, collapse_repeats=False)
    assert ours == _pm_variants(pm_frame(log))
    # the paths analysis shows the same counts for the variants it lists (others fold into "(other)")
    df, _, _ = execute(parse_spec({"kind": "paths", "collapse_repeats": False, "top": 1000}), ctx)
    shown = df[df.variant != "(other)"]
    assert len(shown) > 0 and all(ours[r.variant] == r.people for r in shown.itertuples())
    assert df.people.sum() == log.person_key.nunique()


def test_collapsed_variants_equal_pm4py_on_a_deduplicated_log(ctx, log):
    prev = log.groupby("person_key").touchpoint.shift()
    dedup = log[prev.isna() | (prev != log.touchpoint)]
    assert len(dedup) < len(log)  # the log has consecutive repeats to collapse
    assert _variant_counts(ctx, collapse_repeats=True) == _pm_variants(pm_frame(dedup))
