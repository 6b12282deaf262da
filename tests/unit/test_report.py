"""The journey report: structure, traceability footnotes, self-containment, accessibility basics."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from carejourney.analyses.base import Result
from carejourney.cli import main
from carejourney.errors import PrivacyError
from carejourney.reports import render
from carejourney.reports.format import Fmt
from carejourney.reports.glossary import GLOSSARY
from carejourney.reports.render import PdfError, build_report, write_pdf
from carejourney.reports.sections.base import (ReportContext, Section, accept, generic_view, sections)
from carejourney.reports.theme import PALETTE, SERIES, STATUS, contrast_ratio
from tests.report_fixtures import build_project

MAX_BYTES = 15 * 1024 * 1024


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return build_project(tmp_path_factory.mktemp("report") / "proj", people=800, seed=3)


@pytest.fixture(scope="module")
def report(project):
    return build_report(project)


class _Tags(HTMLParser):
    """Collects start tags with attributes, and script bodies."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


def views_html(html: str) -> dict[str, str]:
    """view id -> the HTML of its <article>."""
    return dict(re.findall(r'<article class="view" id="view-([\w-]+)".*?>(.*?)</article>', html, re.S))


def test_every_section_is_present_with_a_nav_link(report):
    ids = [s.id for s in report.sections]
    assert len(ids) == len(sections()) and len(set(ids)) == len(ids)
    for sid in [*ids, "glossary"]:
        assert f'<section class="report-section" id="sec-{sid}"' in report.html
        assert f'<a href="#sec-{sid}">' in report.html
    for expected in ("map", "funnel", "paths", "timing", "process", "retention", "equity", "feedback",
                     "content", "findings"):
        assert expected in ids


def test_every_view_has_a_how_this_was_computed_footnote(report):
    arts = views_html(report.html)
    available = [v for s in report.sections for v in s.views if not v.unavailable]
    assert len([v for v in available if v.footnotes]) >= 6  # map, funnel, paths, delays, process map…
    for v in available:
        body = arts[v.id]
        assert "How this was computed:" in body, v.id
        if not v.footnotes:  # not an analysis result (action backlog, content audit): says where it comes from
            assert v.source and "data-source" in body, v.id
            continue
        assert "data period 20" in body and "engine" in body, v.id
        assert re.search(r'data-suppressed="\d+">\d+ cells? suppressed', body), v.id
        assert '<pre class="sql">' in body, v.id
        if any(isinstance(r, Result) for r in v.footnotes):
            assert "SELECT" in body.upper(), v.id
        specs = re.findall(r'<pre class="spec">(.*?)</pre>', body, re.S)
        assert specs, v.id
        for spec in specs:
            parsed = json.loads(spec.replace("&#34;", '"').replace("&quot;", '"'))
            assert parsed["kind"] and (parsed.get("journey") == "care" or parsed.get("journeys") == ["care"])


def test_footnote_counts_the_suppressed_cells_of_its_results(report):
    for s in report.sections:
        for v in s.views:
            if v.unavailable or not v.footnotes:
                continue
            total = sum(r.suppressed for r in v.footnotes)
            assert f'data-suppressed="{total}"' in views_html(report.html)[v.id]


def test_unavailable_views_say_why(project, report):
    for s in report.sections:
        for v in s.views:
            if v.unavailable:
                body = views_html(report.html)[v.id]
                assert "Not available:" in body and v.unavailable.split("'")[0] in body


def test_an_analysis_that_is_not_installed_renders_a_not_available_box(project):
    from carejourney.analyses.context import AnalysisContext
    from carejourney.store import open_store
    store = open_store(project)
    try:
        ctx = ReportContext(AnalysisContext.from_store(project, store), project.journey(), None)
        view = generic_view(ctx, "x", "no_such_analysis", "Something", "", "Caption")
        html = render.render_html(ctx, [Section("extra", "Extra", "", [view])])
    finally:
        store.close()
    assert view.unavailable and "'no_such_analysis' analysis is not installed" in view.unavailable
    assert "Not available:</strong> the &#39;no_such_analysis&#39; analysis is not installed" in html


def test_the_report_accepts_only_suppressed_results(report):
    good = next(r for s in report.sections for v in s.views for r in v.footnotes)
    assert accept(good) is good
    raw = Result(rows=pd.DataFrame({"people": [3]}), spec=good.spec, engine="duckdb", sql="", suppressed=0,
                 freshness=None, elapsed=0.0)
    with pytest.raises(PrivacyError, match="only suppressed"):
        accept(raw)


def test_self_contained_no_external_requests(report):
    tags = parse(report.html)
    for tag, attrs in tags.tags:
        for a in ("src", "href", "action", "data", "poster"):
            v = attrs.get(a) or ""
            assert not re.match(r"\s*(https?:)?//", v), (tag, a, v)
        assert not (tag == "link" and attrs.get("rel") == "stylesheet"), "stylesheets must be inlined"
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", report.html.split("<script>")[0])
    bundles = [b for a, b in tags.scripts if not a and "plotly.js" in b[:2000].lower()]
    assert len(bundles) == 1, "Plotly's bundle must be inlined exactly once"
    assert "cdn.plot.ly" not in report.html.replace(bundles[0], "")
    assert "default-src 'none'" in report.html  # the page may not load anything


def test_report_size_and_charts_embed_aggregates_only(report):
    size = len(report.html.encode())
    assert size < MAX_BYTES
    figs = [json.loads(b) for a, b in parse(report.html).scripts if a.get("type") == "application/json"]
    assert len(figs) >= 4
    for fig in figs:
        for trace in fig["data"]:
            for key in ("x", "y", "z"):
                vals = trace.get(key)
                assert vals is None or len(vals) <= 200  # aggregates, never one mark per person (800 here)


def test_journey_map_lanes_and_status_labels(report, project):
    body = views_html(report.html)["map"]
    j = project.journey()
    for lane in ("touchpoints", "doing", "thinking", "feeling", "questions", "reached", "conversion",
                 "median", "p90", "emotion", "curve", "pains", "actions"):
        assert f'data-lane="{lane}"' in body, lane
    for stage in j.stages:
        assert f'id="stage-{stage.id}"' in body
    for tp in j.touchpoints:
        assert tp.title in body
    assert "Will my insurance cover this?" in body and "How long is the wait?" in body
    assert body.count('<svg class="icon"') == len(j.touchpoints)
    # status never by colour alone: each badge carries its label
    for status, (_, _, label) in STATUS.items():
        for m in re.finditer(rf'class="badge status-{status}">([^<]*)<', body):
            assert m.group(1) == label
    assert 'class="badge status-good">on target<' in body or 'class="badge status-bad">off target<' in body


def test_map_numbers_trace_to_the_stage_funnel(report, project):
    body = views_html(report.html)["map"]
    fmt = Fmt(project.min_cell)
    funnel = next(r for s in report.sections for v in s.views if v.id == "map" for r in v.footnotes
                  if r.spec.kind == "funnel")
    assert funnel.spec.steps_kind == "stage"
    row = re.search(r'data-lane="reached">(.*?)</tr>', body, re.S).group(1)
    shown = re.findall(r'data-kind="people"[^>]*>([^<]*)<', row)
    assert shown == [fmt.people_text(r["reached"]) for r in funnel.records()]
    assert shown[0] not in ("—", "0")


def test_people_counts_are_marked_up_and_never_small(report, project):
    k = project.min_cell
    values = re.findall(r'<span class="n[^"]*" data-kind="people"[^>]*>([^<]*)</span>', report.html)
    assert len(values) > 30
    for v in values:
        if v in ("—", f"&lt;{k}"):
            continue
        n = int(v.replace(",", ""))
        assert n == 0 or n >= k, v


def test_palette_meets_wcag_aa():
    for bg, fg, _ in STATUS.values():
        assert contrast_ratio(fg, bg) >= 4.5
    for name in ("text", "muted", "link", "focus"):
        assert contrast_ratio(PALETTE[name], PALETTE["background"]) >= 4.5, name
        assert contrast_ratio(PALETTE[name], PALETTE["panel"]) >= 4.5, name
    assert contrast_ratio(PALETTE["header_text"], PALETTE["header_bg"]) >= 4.5
    for c in SERIES:
        assert contrast_ratio(c, PALETTE["background"]) >= 4.5, c
    assert round(contrast_ratio("#000000", "#ffffff"), 1) == 21.0


def test_accessibility_basics(report):
    html = report.html
    assert '<html lang="en">' in html
    assert '<a class="skip" href="#main">' in html and '<main id="main"' in html
    assert '<nav class="toc" aria-label="Report sections">' in html
    assert ":focus-visible" in html and "@media print" in html and "break-before: page" in html
    for m in re.finditer(r'<div class="chart"[^>]*>', html):
        assert 'role="img"' in m.group(0) and re.search(r'aria-label="[^"]{10,}"', m.group(0))
    assert html.count('<div class="chart"') == html.count("What the chart shows:")
    assert html.count('<th scope="col"') > 10


def test_glossary_covers_the_terms_used(report):
    for term in ("Touchpoint", "Conversion", "Median wait", "90th percentile wait (p90)", "Suppressed (<k)",
                 "Process map", "Sankey diagram", "Data period", "Engine", "Spec", "SQL", "Segment", "Cohort"):
        assert term in GLOSSARY
        assert f"<dt id=" in report.html and term.replace("<", "&lt;") in report.html


def test_progress_names_every_section_in_order(project, report):
    """What the CLI shows while a long report is computed (from the kept results here)."""
    calls = []
    again = build_report(project, on_section=lambda name, i, n: calls.append((name, i, n)))
    count = len(sections())
    assert [i for _, i, _ in calls] == list(range(1, count + 1)) and {n for _, _, n in calls} == {count}
    assert calls[0][0] == "journey map" and all(name and "_" not in name for name, _, _ in calls)
    assert [s.id for s in again.sections] == [s.id for s in report.sections]


@pytest.mark.slow  # a second full report (every analysis again, for one segment)
def test_cli_writes_the_report_to_target(project, capsys):
    assert main(["-p", str(project.root), "report", "--segment", "senior"]) == 0
    out = project.root / "target" / "report.html"
    html = out.read_text()
    assert "Segment: senior" in html and html.rstrip().endswith("</html>")
    assert "target/report.html" in capsys.readouterr().out.replace("\n", "")


def test_cli_explains_bad_options(project, capsys):
    assert main(["-p", str(project.root), "report", "--segment", "senor"]) == 2
    assert "did you mean 'senior'" in capsys.readouterr().err
    assert main(["-p", str(project.root), "report", "--journey", "nope"]) == 2
    assert "unknown journey 'nope'" in capsys.readouterr().err


def test_pdf_without_chromium_is_a_clear_error(tmp_path, monkeypatch):
    html = tmp_path / "r.html"
    html.write_text("<html><body>x</body></html>")
    monkeypatch.setattr(render, "find_chromium", lambda: None)
    with pytest.raises(PdfError, match="needs chromium.*apt-get install chromium"):
        write_pdf(html, tmp_path / "r.pdf")


@pytest.mark.skipif(render.find_chromium() is None, reason="chromium is not installed")
def test_pdf_export(report, tmp_path):
    html = tmp_path / "r.html"
    html.write_text(report.html)
    pdf = write_pdf(html, tmp_path / "r.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000


def _visible_text(html: str) -> str:
    """What a reader sees: no scripts (chart data), styles, or the 'Spec and SQL' details."""
    for pattern in (r"<script.*?</script>", r"<style.*?</style>", r"<details.*?</details>"):
        html = re.sub(pattern, " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_readers_see_the_journeys_words_not_its_ids(report, project):
    """Readable by everyone: every table, chart, summary and finding names touchpoints, stages, delays
    and segments by their titles (ids stay in the spec and SQL behind each view)."""
    j = project.journey()
    ids = {x.id for x in [*j.touchpoints, *j.stages, *j.delays, *j.segments] if "_" in x.id}
    assert {"appointment_booked", "booking_to_visit", "pre_visit"} <= ids
    text = _visible_text(report.html)
    seen = {i for i in ids if re.search(rf"\b{i}\b", text)}
    assert not seen, f"ids shown to readers: {sorted(seen)}"
    assert "Appointment booked" in text and "Booking to visit" in text and "Pre visit" in text
    for body in (b for a, b in parse(report.html).scripts if a.get("type") == "application/json"):
        data = json.dumps(json.loads(body).get("data"))
        assert not {i for i in ids if re.search(rf"\b{i}\b", data)}, "an id in a chart's labels"
    # durations read as durations, flags as yes / no, counts without decimals
    assert "(seconds)" not in text and not re.search(r"\b(True|False)\b", text)
    assert not re.search(r"<td[^>]*>\s*<span class=\"n\" data-kind=\"value\">0\.00</span>", report.html)


def test_a_report_creates_no_backlog_database(tmp_path):
    """With no `carejourney actions sync` yet the backlog view is empty and nothing is written;
    once the SQLite file exists (or the backlog is another database) it is read."""
    from types import SimpleNamespace

    from carejourney.reports.sections.evidence import backlog_exists

    def project(url):
        return SimpleNamespace(root=tmp_path, config=SimpleNamespace(app_db=url))
    assert not backlog_exists(project("sqlite:///target/app.sqlite"))
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "app.sqlite").write_bytes(b"")
    assert backlog_exists(project("sqlite:///target/app.sqlite"))
    assert backlog_exists(project(f"sqlite:///{tmp_path}/target/app.sqlite"))
    assert not backlog_exists(project(f"sqlite:///{tmp_path}/elsewhere.sqlite"))
    assert backlog_exists(project("postgresql://db/carejourney")) and backlog_exists(project("sqlite:///:memory:"))


def test_handoffs_between_teams_trace_to_the_analysis(report, project):
    """The handoffs view shows the designed chain's team changes (site visit by marketing → booking
    by patient access → intake by operations → visit by clinical), numbers from its own result."""
    body = views_html(report.html)["handoffs"]
    view = next(v for s in report.sections for v in s.views if v.id == "handoffs")
    recs = [r for r in view.result.records() if r["kind"] == "designed"]
    assert view.result.spec.observed is False and len(recs) >= 3
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    assert len(rows) == len(recs)
    fmt = Fmt(project.min_cell)
    for row, rec in zip(rows, recs):
        shown = re.findall(r'data-kind="people"[^>]*>([^<]*)<', row)
        assert shown == [fmt.people_text(rec["n"]), fmt.people_text(rec["converted"])]
    assert "Marketing → Patient access" in body and "Site visit → Appointment booked" in body
    assert "Contacting us again" in report.html  # re-contact: the question the findings ask, one query
