"""carejourney report: write the self-contained journey report (HTML, optionally PDF)."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import console, load


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        journey: str = typer.Option(None, "--journey", "-j", help="Journey id (default: the project's first journey)."),
        segment: str = typer.Option(None, "--segment", "-s", help="Only this segment of the journey."),
        output: Path = typer.Option(None, "--output", "-o", help="HTML file to write (default: target/report.html)."),
        pdf: bool = typer.Option(False, "--pdf", help="Also print a PDF next to the HTML (needs chromium)."),
    ) -> None:
        """Write the journey report: one HTML file that opens offline, every number traceable."""
        from ..reports.render import write_report
        project = load()
        # a report over a large store takes seconds the first time after new data: say what it is doing
        with console.status("Computing the report…") as status:
            out = write_report(project, journey=journey, segment=segment, output=output, pdf=pdf,
                               on_section=lambda name, i, n: status.update(f"Computing the report: {name} ({i}/{n})…"))
        size = out.stat().st_size / 1e6
        console.print(f"[bold green]Journey report:[/] {out} ({size:.1f} MB)")
        if pdf:
            console.print(f"[bold green]PDF:[/] {out.with_suffix('.pdf')}")
