"""carejourney init / validate / schema."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import ValidationError
from .common import FormatOption, OutputFormat, console, load, project_path


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        folder: Path = typer.Argument(Path("."), help="Folder for the new project (created if missing)."),
        template: str = typer.Option("all", "--template", "-t",
                                     help="Journey template: primary, specialty, urgent, elective or all."),
        name: str = typer.Option(None, help="Project name (default: the folder name)."),
        timezone: str = typer.Option("America/New_York", help="IANA time zone of the organisation."),
        force: bool = typer.Option(False, help="Overwrite an existing carejourney.yml."),
    ) -> None:
        """Scaffold a project: carejourney.yml, journeys/, sources/, a pseudonymisation key."""
        from ..scaffold import init_project
        written = init_project(folder, template=template, name=name, timezone=timezone, force=force)
        console.print(f"[green]Created project in {folder}[/]")
        for p in written:
            if p.name == "key":
                console.print(f"  {p.relative_to(folder)}  (pseudonymisation key, mode 0600 — keep it secret, never commit it)")
            else:
                console.print(f"  {p.relative_to(folder)}")
        console.print("Next: describe your exports in sources/, then `carejourney ingest` and `carejourney run`.")

    @app.command()
    def validate(fmt: OutputFormat = FormatOption) -> None:
        """Check carejourney.yml, journeys/ and sources/ (exit 2 with file:line: field: problem)."""
        try:
            project = load()
        except ValidationError as exc:
            if fmt == OutputFormat.json:
                typer.echo(json.dumps({"valid": False, "problems": [p.__dict__ for p in exc.problems]}, indent=2))
            else:
                console.print(f"[bold red]{len(exc.problems)} problem(s):[/]")
                for p in exc.problems:
                    console.print(f"  {p}", soft_wrap=True)
            raise typer.Exit(2)
        summary = {"valid": True, "project": project.name, "journeys": list(project.journeys),
                   "sources": [s.name for s in project.sources]}
        if fmt == OutputFormat.json:
            typer.echo(json.dumps(summary, indent=2))
        else:
            console.print(f"[green]valid[/] project '{project.name}': {len(project.journeys)} journey(s) "
                          f"({', '.join(project.journeys) or 'none'}), {len(project.sources)} source(s)")

    @app.command()
    def schema(out: Path = typer.Option(None, "--out", "-o", help="Folder to write the JSON Schemas to "
                                        "(default: <project>/schemas).")) -> None:
        """Write JSON Schemas for carejourney.yml, journeys/*.yml and sources/*.yml (editor validation)."""
        from ..project import find_project_root
        from ..scaffold import write_schemas
        folder = out or find_project_root(project_path()) / "schemas"
        for p in write_schemas(folder):
            console.print(str(p))
