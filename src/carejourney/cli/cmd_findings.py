"""carejourney findings: the ranked friction findings, each with an owner team."""

from __future__ import annotations

import typer

from .common import FormatOption, OutputFormat, emit, load

#: What fits a terminal with the sentence readable; --format json|csv gives every column (id, q,
#: effect interval, evidence, verbatims).
_TABLE_COLUMNS = ("rank", "owner", "journey", "stage", "title", "impact")


def context_for(project):
    """An analysis context on the project's store (the caller closes ``store``)."""
    from ..analyses.context import AnalysisContext
    from ..store import open_store
    store = open_store(project)
    return AnalysisContext.from_store(project, store), store


def current_findings(project, journey: str | None = None, segment: str | None = None, top: int | None = None):
    """Suppressed findings of the project (see carejourney.findings.find)."""
    from ..findings import FindingsConfig, find
    ctx, store = context_for(project)
    try:
        if journey is not None:
            project.journey(journey)  # a clear error for an unknown journey
        return find(ctx, FindingsConfig(journeys=[journey] if journey else None, segment=segment), top=top)
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    @app.command()
    def findings(
        journey: str = typer.Option(None, "--journey", "-j", help="Only this journey (default: all)."),
        segment: str = typer.Option(None, "--segment", help="Only this segment of the journey."),
        top: int = typer.Option(20, "--top", "-n", help="How many findings to show (0 = all)."),
        fmt: OutputFormat = FormatOption,
    ) -> None:
        """Friction findings, ranked by people affected × effect, with owner team and evidence."""
        rows = current_findings(load(), journey, segment, top or None)
        recs = rows.records()
        if fmt == OutputFormat.table:
            recs = [{k: r[k] for k in _TABLE_COLUMNS} for r in recs]
            if not recs:
                typer.echo("No findings at the current thresholds (see docs/analyses/friction.md).")
                return
        emit(recs, fmt, title="Findings", meta={"min_cell": rows.k, "suppressed_cells": rows.cells},
             widths={"title": 24})
