"""The main job: ingest every declared source, run the analyses, write the journey report.

``carejourney run`` calls :func:`run_project`; ``carejourney demo`` scaffolds a project,
synthesises a population into it (:mod:`carejourney.synth`) and then does the same.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import ProjectError

__all__ = ["RunSummary", "run_project", "demo", "DEMO_SOURCES"]

#: sources/*.yml for the raw files the synthetic generator writes (docs/raw-formats.md).
DEMO_SOURCES = """\
# The exports of a synthetic health system (carejourney synth). Formats: docs/raw-formats.md
sources:
  - {name: web,     kind: ga4,     path: data/web/*.jsonl}
  - {name: crm,     kind: leads,   path: data/crm/leads.csv}
  - {name: calls,   kind: calls,   path: data/calls/calls.csv}
  - {name: ehr,     kind: fhir,    path: data/fhir/*.ndjson}
  - {name: portal,  kind: portal,  path: data/portal/messages.csv}
  - {name: survey,  kind: survey,  path: data/surveys/responses.csv}
  - {name: reviews, kind: reviews, path: data/reviews/reviews.csv}
"""

Phase = Callable[[str], None]


@dataclass
class RunSummary:
    receipts: list = field(default_factory=list)
    report: Path | None = None  # the default journey's
    #: the other journeys' reports, by journey id
    reports: dict[str, Path] = field(default_factory=dict)
    #: with ``segments``: each declared segment's report, by (journey id, segment id)
    segment_reports: dict[tuple[str, str], Path] = field(default_factory=dict)
    findings: int | None = None


def run_project(project, *, on_phase: Phase | None = None, on_file=None, on_step: Phase | None = None,
                report: bool = True, segments: bool = False) -> RunSummary:
    """Ingest declared sources (idempotent), order each journey's events once (the stored journey
    log the sequence analyses read), then write every journey's report: the default journey's to
    ``target/report.html``, each other one's to ``target/report-<journey>.html``. Analysing is
    the pipeline's job: afterwards ``carejourney report`` of any journey reads kept results.

    With ``segments``, also every segment each journey declares, to
    ``target/report-<journey>-<segment>.html``: one more analysis per segment (~5 s each at 1M
    people, docs/benchmarks.md), after which those segments' reports read kept results
    too. Off by default: a project with many segments pays for all of them on every run.
    ``on_step(text)`` says which segment's report is being written ("primary/senior (3/12)")."""
    from .ingest import ingest_sources
    from .store import open_store
    say = on_phase or (lambda s: None)
    summary = RunSummary()
    store = open_store(project)
    try:
        if project.sources:
            say("ingest")
            summary.receipts = ingest_sources(project, store=store, on_file=on_file)
        elif store.table("events").count().execute() == 0:
            raise ProjectError(f"{project.root}: no sources declared and the store is empty; add sources/*.yml "
                               "or ingest a canonical events file with `carejourney ingest FILE`")
        say("journey log")
        from .analyses.context import AnalysisContext
        ctx = AnalysisContext.from_store(project, store)
        for journey_id in project.journeys:  # order every journey's events once (analyses/_log.py)
            ctx.journey_log(journey_id)
        if report:
            say("report")
            from .reports.render import write_report
            summary.report = write_report(project, store=store)
            others = [j for j in project.journeys if j != project.journey().journey]
            if others:
                say("other reports")
            for journey_id in others:
                summary.reports[journey_id] = write_report(
                    project, journey=journey_id, store=store,
                    output=project.target_dir / f"report-{journey_id}.html")
            wanted = [(j, s.id) for j in project.journeys for s in project.journey(j).segments] if segments else []
            if wanted:
                say("segment reports")
            for i, (journey_id, segment_id) in enumerate(wanted):
                if on_step is not None:
                    on_step(f"{journey_id}/{segment_id} ({i + 1}/{len(wanted)})")
                summary.segment_reports[(journey_id, segment_id)] = write_report(
                    project, journey=journey_id, segment=segment_id, store=store,
                    output=project.target_dir / f"report-{journey_id}-{segment_id}.html")
    finally:
        store.close()
    return summary


def demo(folder: Path, *, people: int = 20_000, seed: int = 7, on_phase: Phase | None = None,
         on_file=None, on_step: Phase | None = None, force: bool = False) -> RunSummary:
    """Scaffold a demo project in ``folder``, synthesise a population, run everything."""
    from .project import load_project
    from .scaffold import init_project
    from .synth import synthesize
    say = on_phase or (lambda s: None)
    folder = Path(folder)
    if not (folder / "carejourney.yml").exists() or force:
        say("scaffold")
        init_project(folder, template="all", name="demo_health_system", force=force)
        (folder / "sources" / "demo.yml").write_text(DEMO_SOURCES)
        # sample patient-facing pages for the plain-language audit (report: content view)
        shutil.copytree(Path(__file__).parent / "synth" / "content", folder / "content", dirs_exist_ok=True)
        config = folder / "carejourney.yml"
        # the specialty journey (referral → cardiology) shows the most of the planted frictions
        config.write_text(config.read_text() + "default_journey: specialty\n")
    project = load_project(folder)
    say("synthesise")
    synthesize(project.root / "data", people=people, seed=seed)
    return run_project(project, on_phase=on_phase, on_file=on_file, on_step=on_step)
