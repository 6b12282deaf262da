"""carejourney export: the journey event log as XES or OCEL CSV, for process-mining tools."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from .common import console, console_err, load


class ExportFormat(str, Enum):
    xes = "xes"
    ocel = "ocel"


class DatesMode(str, Enum):
    relative = "relative"
    exact = "exact"


_SUFFIX = {ExportFormat.xes: ".xes", ExportFormat.ocel: ".ocel.csv"}


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        fmt: ExportFormat = typer.Argument(..., help="xes (IEEE 1849, PM4Py/ProM) or ocel (OCEL flat CSV, Celonis)."),
        output: Path = typer.Option(None, "--output", "-o", help="File to write (default: target/exports/<journey>.xes "
                                    "or .ocel.csv)."),
        journey: str = typer.Option(None, "--journey", "-j", help="Journey id (default: the project's first journey)."),
        segment: str = typer.Option(None, "--segment", "-s", help="Only this segment of the journey."),
        dates: DatesMode = typer.Option(DatesMode.relative, "--dates", help="relative (default): each person's "
                                        "timeline starts at 1970-01-01, safe-harbor; exact: real timestamps — a "
                                        "LIMITED DATA SET that needs a data use agreement."),
    ) -> None:
        """Export the journey event log (pseudonymous person keys, no person attributes)."""
        from ..analyses.context import AnalysisContext
        from ..errors import SpecError
        from ..exports import export_frame
        from ..exports.ocel import write_ocel_csv
        from ..exports.xes import write_xes
        from ..store import open_store
        project = load()
        j = project.journey(journey)
        store = open_store(project)
        try:
            df = export_frame(AnalysisContext.from_store(project, store), j.journey, segment, dates.value)
        finally:
            store.close()
        if df.empty:
            raise SpecError(f"journey '{j.journey}' has no events in the store; run `carejourney ingest` first")
        out = output or project.target_dir / "exports" / f"{j.journey}{_SUFFIX[fmt]}"
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == ExportFormat.xes:
            write_xes(df, out, log_name=j.journey)
        else:
            write_ocel_csv(df, out)
        if dates == DatesMode.exact:
            console_err.print("[bold yellow]warning:[/] --dates exact keeps real event dates: this file is a "
                              "limited data set (HIPAA); share it only under a data use agreement")
        console.print(f"[bold green]Exported[/] {len(df):,} events of {df['case'].nunique():,} people to {out} "
                      f"(dates: {dates.value})")
