"""Build the journey report: one self-contained HTML file (optionally a PDF).

Everything the page needs is inside the file: the CSS, Plotly's JavaScript (inlined once from
the installed package via ``plotly.offline.get_plotlyjs()``, never a CDN) and the chart data
(aggregates only). A Content-Security-Policy meta tag forbids the page from loading anything,
so it opens offline and makes no network request.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Callable

import jinja2

from .. import __version__
from ..analyses.context import AnalysisContext
from ..errors import CarejourneyError, SpecError
from ..model.journey import did_you_mean
from .charts import figure_json
from .glossary import glossary_for
from .sections.base import ReportContext, Section, footnote, sections

__all__ = ["Report", "build_report", "report_from_context", "render_html", "write_report", "write_pdf", "PdfError"]


class PdfError(CarejourneyError):
    """The PDF could not be made (no chromium, or printing failed)."""

    exit_code = 2


@dataclass
class Report:
    html: str
    sections: list[Section]
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: "analyses" (sections), "render" (HTML)


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    import plotly.offline
    return plotly.offline.get_plotlyjs().replace("</script", "<\\/script")


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("carejourney.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=False, lstrip_blocks=False,
        undefined=jinja2.StrictUndefined)


def _asset(name: str) -> str:
    return files("carejourney.reports").joinpath("templates", name).read_text(encoding="utf-8")


#: ``on_section(name, position, count)``: called before each section is computed (``name`` in
#: words, e.g. "journey map"; ``position`` from 1), so a caller can say what a long report is doing.
Progress = Callable[[str, int, int], None]


def build_report(project, *, journey: str | None = None, segment: str | None = None, store=None,
                 strict: bool = False, on_section: Progress | None = None) -> Report:
    """Run every section against the project's store and render the HTML (in memory)."""
    j = project.journey(journey)
    if segment is not None and segment not in {s.id for s in j.segments}:
        ids = [s.id for s in j.segments]
        raise SpecError(f"--segment: journey '{j.journey}' has no segment '{segment}'{did_you_mean(segment, ids)} "
                        f"(segments: {', '.join(ids) or 'none defined'})")
    own = store is None
    if own:
        from ..store import open_store
        store = open_store(project)
    try:
        return report_from_context(AnalysisContext.from_store(project, store), j.journey, segment,
                                   store=store, strict=strict, on_section=on_section)
    finally:
        if own:
            store.close()


def report_from_context(actx: AnalysisContext, journey: str | None = None, segment: str | None = None, *,
                        store=None, strict: bool = False, on_section: Progress | None = None) -> Report:
    """The report for an existing analysis context (any engine, any tables)."""
    ctx = ReportContext(actx, actx.journey(journey), segment, store=store, strict=strict)
    start = time.perf_counter()
    built = []
    todo = sections()
    for i, build in enumerate(todo, start=1):
        if on_section is not None:
            on_section(build.__name__.removesuffix("_section").replace("_", " "), i, len(todo))
        built.append(build(ctx))
    ctx.period  # noqa: B018  (computed with the analyses, not counted as rendering)
    mid = time.perf_counter()
    html = render_html(ctx, built)
    timings = {"analyses": mid - start, "render": time.perf_counter() - mid}
    return Report(html=html, sections=built, problems=ctx.problems, timings=timings)


def render_html(ctx: ReportContext, built: list[Section]) -> str:
    figures, notes = {}, {}
    for s in built:
        for v in s.views:
            if v.figure is not None:
                figures[v.id] = figure_json(v.figure)
            notes[v.id] = [footnote(ctx, r) for r in v.footnotes]
    j = ctx.journey
    seg = next((s for s in j.segments if s.id == ctx.segment), None) if ctx.segment else None
    subtitle = (f"Journey: {j.name}" + (f" · Segment: {seg.label or seg.id}" if seg else " · Everyone in the journey")
                + f" · Project: {ctx.project.name}")
    others = [k for k in ctx.project.journeys if k != j.journey]
    if others:
        subtitle += f" · Other journeys: {', '.join(others)} (carejourney report --journey …)"
    return _env().get_template("report.html.j2").render(
        title=f"{j.name}: journey report", subtitle=subtitle, period=ctx.period,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), engine=ctx.actx.engine,
        k=ctx.fmt.k, sections=built, figures=figures, footnotes=notes, problems=ctx.problems,
        glossary=glossary_for(), version=__version__, css=_asset("report.css"),
        plotly_js=_plotly_js(), report_js=_asset("report.js"))


def write_report(project, *, journey: str | None = None, segment: str | None = None,
                 output: str | Path | None = None, pdf: bool = False, store=None,
                 on_section: Progress | None = None) -> Path:
    """Write the report to ``output`` (default ``target/report.html``); with ``pdf``, also a PDF
    next to it. Returns the HTML path."""
    report = build_report(project, journey=journey, segment=segment, store=store, on_section=on_section)
    out = Path(output) if output is not None else project.target_dir / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(report.html, encoding="utf-8")
    tmp.replace(out)
    for p in report.problems:
        print(f"warning: {p}", file=sys.stderr)
    if pdf:
        write_pdf(out, out.with_suffix(".pdf"))
    return out


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def write_pdf(html: Path, pdf: Path, *, timeout: float = 180) -> Path:
    """Print ``html`` to ``pdf`` with headless chromium (charts are drawn before printing)."""
    browser = find_chromium()
    if browser is None:
        raise PdfError("--pdf needs chromium, which is not installed: install it (Debian/Ubuntu: "
                       "`apt-get install chromium`) or open the HTML report and print it to PDF")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", "--virtual-time-budget=20000", f"--print-to-pdf={pdf.resolve()}",
               html.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PdfError(f"chromium did not finish printing {html} within {timeout:.0f} s") from None
    if proc.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise PdfError(f"chromium could not print {html} to PDF (exit {proc.returncode}): {' '.join(tail)}")
    return pdf
