"""carejourney run / demo: the main job."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .common import console, load

_PHASES = {"scaffold": "Scaffolding the project", "synthesise": "Synthesising a population",
           "ingest": "Ingesting and de-identifying sources",
           "journey log": "Ordering each journey's events (the journey log)", "report": "Running analyses and writing the report",
           "other reports": "The other journeys' reports", "segment reports": "Every journey's segments' reports"}


def _progress():
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console)


def _run_with_progress(fn, **kwargs):
    with _progress() as progress:
        tasks: dict[str, int] = {}

        def phase(name: str) -> None:
            for t in tasks.values():
                progress.update(t, completed=1, total=1)
            tasks[name] = progress.add_task(_PHASES.get(name, name), total=None)

        def on_file(receipt) -> None:
            if "ingest" in tasks:
                progress.update(tasks["ingest"], description=f"{_PHASES['ingest']}: {receipt.source} {receipt.path}")

        def on_step(text: str) -> None:
            if tasks:
                name = list(tasks)[-1]
                progress.update(tasks[name], description=f"{_PHASES.get(name, name)}: {text}")

        summary = fn(on_phase=phase, on_file=on_file, on_step=on_step, **kwargs)
        for t in tasks.values():
            progress.update(t, completed=1, total=1, description=progress.tasks[t].description.split(":")[0])
    return summary


def _print_summary(summary) -> None:
    new = [r for r in summary.receipts if r.status != "unchanged"]
    loaded = sum(r.rows_loaded for r in new)
    rejected = sum(r.rows_rejected for r in new)
    if new:
        console.print(f"Ingested {len(new)} file(s): {loaded:,} rows loaded, {rejected:,} rejected "
                      "(see `carejourney status`).")
    if len(new) < len(summary.receipts):  # (their receipts repeat the earlier counts: nothing was added)
        console.print(f"{len(summary.receipts) - len(new)} file(s) unchanged since they were ingested: nothing added.")
    if summary.report:
        console.print(f"[bold green]Journey report:[/] {summary.report}")
    for journey_id, path in summary.reports.items():
        console.print(f"  {journey_id}: {path}")
    if summary.segment_reports:
        folder = next(iter(summary.segment_reports.values())).parent
        console.print(f"Segment reports: {len(summary.segment_reports)} in {folder} (report-<journey>-<segment>.html)")


def register(app: typer.Typer) -> None:
    @app.command()
    def run(no_report: bool = typer.Option(False, "--no-report", help="Ingest only."),
            segments: bool = typer.Option(
                False, "--segments",
                help="Also write each journey's declared segments' reports (target/report-<journey>-<segment>.html); "
                     "later `carejourney report --segment` then reads kept results. One analysis per segment."),
            ) -> None:
        """Ingest every declared source, run the analyses and write every journey's report
        (target/report.html for the default journey, target/report-<journey>.html for the others)."""
        from ..errors import SpecError
        from ..pipeline import run_project
        if segments and no_report:
            raise SpecError("--segments writes reports: leave out --no-report, or --segments")
        project = load()
        _print_summary(_run_with_progress(run_project, project=project, report=not no_report, segments=segments))

    @app.command()
    def demo(
        folder: Path = typer.Argument(Path("demo"), help="Folder for the demo project."),
        people: int = typer.Option(20_000, help="How many synthetic people."),
        seed: int = typer.Option(7, help="Random seed (same seed, same data)."),
        serve: bool = typer.Option(False, "--serve", help="Open the web dashboard afterwards."),
        force: bool = typer.Option(False, help="Re-scaffold the project folder."),
    ) -> None:
        """The whole tool in one command: scaffold, synthesise, ingest, analyse, report."""
        from ..pipeline import demo as run_demo
        summary = _run_with_progress(run_demo, folder=folder, people=people, seed=seed, force=force)
        _print_summary(summary)
        console.print(f"Project folder: {folder.resolve()}  (try `carejourney -p {folder} findings`)")
        if serve:
            from ..errors import EngineError
            try:
                from ..web.app import serve as serve_app  # type: ignore[attr-defined]
            except ImportError:
                raise EngineError("the web dashboard is not part of this build yet; open the report file above") from None
            serve_app(folder)
