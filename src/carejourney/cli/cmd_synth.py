"""carejourney synth: write a synthetic health system's raw exports (with planted frictions)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..errors import SpecError
from .common import FormatOption, OutputFormat, console, emit, project_path


def _default_out() -> Path:
    """The project's data/ folder when run inside a project, else ./data."""
    from ..errors import ProjectError
    from ..project import find_project_root
    try:
        return find_project_root(project_path()) / "data"
    except ProjectError:
        return Path("data")


def register(app: typer.Typer) -> None:
    @app.command()
    def synth(
        out_dir: Path = typer.Argument(None, help="Where to write the raw exports (default: the project's data/ "
                                                  "folder, or ./data outside a project)."),
        people: int = typer.Option(20_000, "--people", "-n", help="How many people to generate."),
        seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives byte-identical files."),
        scenario: str = typer.Option(None, "--scenario", help="Scenario YAML merged over the built-in defaults, "
                                                             "or 'none' for no planted frictions."),
        fhir_backbone: Path = typer.Option(None, "--fhir-backbone", help="Folder of Synthea FHIR Bundles whose "
                                                                         "encounters become the clinical visits."),
        months: int = typer.Option(None, "--months", help="Length of the period (default: the scenario's, 12)."),
        start: str = typer.Option(None, "--start", help="First day, YYYY-MM-DD (default: the scenario's)."),
        workers: int = typer.Option(None, "--workers", help="Worker processes (default: up to 4 CPUs)."),
        fmt: OutputFormat = FormatOption,
    ) -> None:
        """Generate people, their journeys and the raw exports of every system, plus truth.json."""
        from ..synth import synthesize
        if scenario is not None and scenario != "none" and not Path(scenario).is_file():
            raise SpecError(f"--scenario {scenario}: no such file (give a YAML file, or 'none' for no frictions)")
        if fhir_backbone is not None and not fhir_backbone.is_dir():
            raise SpecError(f"--fhir-backbone {fhir_backbone}: not a folder (point it at a folder of Synthea "
                            "FHIR Bundle .json files)")
        first = None
        if start is not None:
            try:
                first = date.fromisoformat(start)
            except ValueError:
                raise SpecError(f"--start {start!r}: expected a date like 2025-01-01") from None
        if months is not None and not 1 <= months <= 120:
            raise SpecError(f"--months {months}: give 1 to 120")
        out = out_dir if out_dir is not None else _default_out()
        with Progress(SpinnerColumn(), TextColumn("synthesising people"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True,
                      disable=fmt != OutputFormat.table) as progress:
            task = progress.add_task("people", total=people)
            summary = synthesize(out, people=people, seed=seed, scenario=scenario, fhir_backbone=fhir_backbone,
                                 start=first, months=months, workers=workers,
                                 progress=lambda done: progress.update(task, completed=done))
        rows = [{"file": f, "records": n} for f, n in summary.files.items()]
        if fmt == OutputFormat.table:
            emit(rows, fmt, title=f"Synthetic exports in {out}")
            console.print(f"{summary.people:,} people, {summary.raw_records:,} raw records; "
                          f"planted frictions: {', '.join(summary.frictions) or 'none'}")
            console.print(f"truth: {summary.truth_path} (and {out / 'truth' / 'people.parquet'}, which holds raw "
                          "synthetic identifiers: test truth only, never ingest or share it)")
        else:
            emit(rows, fmt, meta={"out_dir": str(out), "people": summary.people, "seed": summary.seed,
                                  "frictions": summary.frictions, "truth": str(summary.truth_path)})
