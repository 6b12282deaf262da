"""carejourney ingest / status."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import IngestError
from .common import FormatOption, OutputFormat, console, emit, load


def _receipt_table(receipts) -> Table:
    t = Table(title="Ingest receipts")
    for c in ("source", "file", "status", "read", "loaded", "rejected", "unmapped"):
        t.add_column(c, justify="right" if c in ("read", "loaded", "rejected", "unmapped") else "left")
    for r in receipts:
        t.add_row(r.source, r.path, r.status, f"{r.rows_read:,}", f"{r.rows_loaded:,}",
                  f"{r.rows_rejected:,}", f"{r.rows_unmapped:,}")
    return t


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        files: list[Path] = typer.Argument(None, help="Canonical events files to ingest directly "
                                           "(person_id, ts, touchpoint …). Without files: every declared source."),
        source: list[str] = typer.Option(None, "--source", "-s", help="Only these declared sources."),
        fmt: OutputFormat = FormatOption,
    ) -> None:
        """Ingest sources: de-identify, map to touchpoints, store. Idempotent; one receipt per file."""
        from ..ingest import expand_paths, ingest_paths, ingest_sources, project_key
        from ..model.project import SourceSpec
        from ..store import open_store
        project = load()
        project_key(project)  # fail early and clearly when the key is missing
        store = open_store(project)
        receipts = []
        try:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                          TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                          console=console, transient=True, disable=fmt != OutputFormat.table) as progress:
                if files:
                    missing = [f for f in files if not f.is_file()]
                    if missing:
                        raise IngestError(f"{missing[0]}: no such file")
                    task = progress.add_task("ingesting events files", total=len(files))
                    spec = SourceSpec(name="events", kind="events", path=str(files[0]))
                    receipts = ingest_paths(project, store, spec, [f.resolve() for f in files],
                                            on_file=lambda r: progress.advance(task))
                else:
                    names = list(source) if source else None
                    specs = [project.source(n) for n in names] if names else project.sources
                    total = sum(len(expand_paths(project, s.path)) for s in specs)
                    task = progress.add_task("ingesting sources", total=total or None)
                    receipts = ingest_sources(project, names, store=store,
                                              on_file=lambda r: progress.update(task, advance=1,
                                                                                description=f"{r.source}: {r.path}"))
        finally:
            store.close()
        if fmt == OutputFormat.table:
            console.print(_receipt_table(receipts))
            for r in receipts:
                for reason, n in list(r.reject_reasons.items())[:5]:
                    console.print(f"  [yellow]{r.path}[/]: {n:,} row(s) rejected — {reason}", soft_wrap=True)
                if r.detail.get("identifier_columns_not_stored"):
                    console.print(f"  {r.path}: identifier columns used only as keyed hashes or dropped: "
                                  f"{', '.join(r.detail['identifier_columns_not_stored'])}")
            console.print("Rejected rows with their row numbers: `carejourney status --rejects`.")
        else:
            emit([r.as_dict() for r in receipts], fmt)

    @app.command()
    def status(
        rejects: bool = typer.Option(False, "--rejects", help="List rejected rows (file, row, field, reason)."),
        fmt: OutputFormat = FormatOption,
    ) -> None:
        """What is in the store: per source and per stage (counts of people suppressed below k)."""
        from ..privacy.suppression import CellRules, suppress
        from ..store import open_store
        project = load()
        store = open_store(project)
        try:
            k = project.min_cell
            if rejects:
                r = store.table("rejects").order_by(["path", "row_num"]).limit(1000).to_pandas()
                emit(r.drop(columns=["file_id"]).to_dict("records"), fmt, title="Rejected rows (first 1,000)")
                return
            rec = store.receipts().order_by("ingested_at").to_pandas()
            ev = store.events()
            by_source = ev.group_by("source").aggregate(events=ev.count(), people=ev.person_key.nunique(),
                                                        unmapped=ev.touchpoint.isnull().sum(),
                                                        first=ev.ts.min(), last=ev.ts.max()).order_by("source").to_pandas()
            by_stage = ev.group_by("stage").aggregate(events=ev.count(), people=ev.person_key.nunique()) \
                .order_by("stage").to_pandas()
            src = suppress(by_source, CellRules(counts=("people",)), k)
            stg = suppress(by_stage, CellRules(counts=("people",)), k)
            files = [{"source": x.source, "path": x.path, "read": int(x.rows_read), "loaded": int(x.rows_loaded),
                      "rejected": int(x.rows_rejected), "unmapped": int(x.rows_unmapped),
                      "ingested_at": f"{x.ingested_at:%Y-%m-%d %H:%M:%S}"} for x in rec.itertuples()]
            if fmt == OutputFormat.json:
                typer.echo(json.dumps({"store": project.config.store, "engine": store.engine, "min_cell": k,
                                       "files": files, "by_source": src.records(), "by_stage": stg.records()},
                                      indent=2, default=str))
                return
            console.print(f"Store: {project.config.store} ({store.engine}); counts of 1..{k - 1} people show as <{k}")
            emit(files, fmt, title="Files ingested")
            emit(src.records(), fmt, title="Per source")
            emit(stg.records(), fmt, title="Per stage")
        finally:
            store.close()
