"""Property: no count of people between 1 and k-1 appears anywhere in the rendered report.

Hypothesis builds small event logs from cohorts of random sizes — many of them 1..k-1 — with
random depth into the journey, language and age band, so small cells turn up in every
analysis (funnel steps, paths, delays, equity groups, conformance deviations…). The report's
HTML marks every count of people (``<span class="n" data-kind="people">``) and every chart
declares which trace attributes hold people (``meta.people``), so the check is precise: each
such number must be 0, at least k, or the ``<k`` label.
"""

from __future__ import annotations

import json
import re

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from carejourney.analyses.context import AnalysisContext
from carejourney.model.events import PERSON_ATTRIBUTES, SCHEMAS
from carejourney.project import load_project
from carejourney.reports.render import report_from_context
from tests.conftest import write_project
from tests.report_fixtures import AGE_BANDS, JOURNEY, WALK

K = 11

cohort = st.fixed_dictionaries({
    "size": st.one_of(st.integers(1, K - 1), st.integers(K, 40)),
    "depth": st.integers(1, len(WALK)),
    "language": st.sampled_from(["en", "es", "zh", "vi"]),
    "age_band": st.sampled_from(AGE_BANDS),
    "gap_hours": st.integers(1, 24 * 20),
})


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = write_project(tmp_path_factory.mktemp("privacy") / "proj", {
        "carejourney.yml": f"name: privacy_test\ntimezone: UTC\nprivacy: {{min_cell: {K}}}\n",
        "journeys/care.yml": JOURNEY})
    return load_project(root)


def context(project, cohorts: list[dict]) -> AnalysisContext:
    journey = project.journey()
    rows, persons, n = [], [], 0
    for c_i, c in enumerate(cohorts):
        for _ in range(c["size"]):
            pk = f"p{n:05d}"
            n += 1
            persons.append({"person_key": pk, "age_band": c["age_band"], "language": c["language"]})
            t = pd.Timestamp("2026-01-05") + pd.Timedelta(hours=c_i * 7 + n % 5)
            for tp, _, _ in WALK[:c["depth"]]:
                t += pd.Timedelta(hours=c["gap_hours"])
                tpd = journey.touchpoint(tp)
                rows.append({"event_id": len(rows), "person_key": pk, "ts": t, "touchpoint": tp,
                             "stage": tpd.stage, "channel": tpd.channel.value, "owner": journey.owner_of(tp),
                             "source": "test"})
    con = ibis.duckdb.connect()
    schema = ibis.schema({"person_key": "string", **{k: v for k, v in SCHEMAS["events"].items() if k != "subject_key"}})
    ev = pd.DataFrame(rows).reindex(columns=list(schema.names))
    ev["ts"] = pd.to_datetime(ev["ts"]).astype("datetime64[us]")
    events = con.create_table("events", ibis.memtable(ev).cast(schema))
    p = pd.DataFrame(persons).reindex(columns=["person_key", *PERSON_ATTRIBUTES])
    span = ev.groupby("person_key")["ts"].agg(["min", "max"]).rename(columns={"min": "first_seen", "max": "last_seen"})
    p = p.merge(span, left_on="person_key", right_index=True)
    pschema = ibis.schema({"person_key": "string", **{a: SCHEMAS["subjects"][a] for a in PERSON_ATTRIBUTES},
                           "first_seen": "timestamp", "last_seen": "timestamp"})
    people = con.create_table("persons", ibis.memtable(p).cast(pschema))
    return AnalysisContext(events=events, persons=people, project=project, con=con)


def _numbers(text: str) -> list[float]:
    return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]


def _label_counts(label) -> list[float]:
    """Counts in a chart label: a bare number, or one followed by 'people' / 'did not' / '·'."""
    if not isinstance(label, str):
        return []
    found = re.findall(r"(?<![\d.])(\d[\d,]*)(?= people| did not|\s*·|$)", label)
    return [float(x.replace(",", "")) for x in found]


def _at(trace: dict, path: str):
    node = trace
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def assert_no_small_people_counts(html: str, k: int) -> int:
    """Check every marked people count and every people field of every chart; returns how many."""
    checked = 0
    for text in re.findall(r'<span class="n[^"]*" data-kind="people"[^>]*>([^<]*)</span>', html):
        if text in ("—", f"&lt;{k}"):
            continue
        for v in _numbers(text):
            assert v == 0 or v >= k, f"people count {text!r} is between 1 and {k - 1}"
            checked += 1
    for blob in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
        fig = json.loads(blob)
        for trace in fig["data"]:
            for path in (trace.get("meta") or {}).get("people", []):
                for v in _at(trace, path) or []:
                    if v is None:
                        continue
                    assert v == 0 or v >= k, f"chart {trace.get('type')} {path} holds {v}"
                    checked += 1
            if (trace.get("meta") or {}).get("people"):  # labels of people traces show counts too
                for attr in ("text", "customdata"):
                    for label in trace.get(attr) or []:
                        for v in _label_counts(label):
                            assert v == 0 or v >= k, f"chart label {label!r}"
                            checked += 1
    return checked


@pytest.mark.slow  # each example runs every analysis of the report (~10-25 s on a shared 2-core box)
@settings(max_examples=3, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cohorts=st.lists(cohort, min_size=2, max_size=6).filter(
    lambda cs: any(c["size"] < K for c in cs) and sum(c["size"] for c in cs) >= K))
def test_no_small_count_of_people_appears_in_the_report(project, cohorts):
    report = report_from_context(context(project, cohorts))
    assert report.html.count('data-kind="people"') > 0
    assert_no_small_people_counts(report.html, K)


def test_the_check_catches_a_small_count():
    bad = '<p><span class="n" data-kind="people">7</span></p>'
    with pytest.raises(AssertionError, match="between 1 and 10"):
        assert_no_small_people_counts(bad, K)
    fig = {"data": [{"type": "bar", "x": [25, 3], "meta": {"people": ["x"]}}]}
    with pytest.raises(AssertionError, match="holds 3"):
        assert_no_small_people_counts(f'<script type="application/json">{json.dumps(fig)}</script>', K)
    assert assert_no_small_people_counts('<span class="n" data-kind="people">12</span>', K) == 1
    ok = {"data": [{"type": "scatter", "customdata": ["a → b: 25 people, median 4.2 days"], "meta": {"people": []}}]}
    assert assert_no_small_people_counts(f'<script type="application/json">{json.dumps(ok)}</script>', K) == 0
    ok["data"][0]["meta"]["people"] = ["x"]
    ok["data"][0]["customdata"] = ["a → b: 3 people, median 4.2 days"]
    with pytest.raises(AssertionError, match="chart label"):
        assert_no_small_people_counts(f'<script type="application/json">{json.dumps(ok)}</script>', K)
