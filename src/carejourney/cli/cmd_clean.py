"""carejourney clean: delete what reports keep to be fast (never the data)."""

from __future__ import annotations

import shutil

import typer

from .common import console, load


def register(app: typer.Typer) -> None:
    @app.command()
    def clean(cache_only: bool = typer.Option(False, "--cache-only",
                                              help="Keep the store's derived tables; delete only target/cache."),
              ) -> None:
        """Delete target/cache (kept query results and content audits) and the store's derived tables
        (journey logs, kept person-level tables). Never the data: the next report builds them again,
        which at 1M people takes 15-45 s a journey. Use it to reclaim disk, or when in doubt."""
        from ..store import open_store
        project = load()
        cache = project.target_dir / "cache"
        files = [f for f in cache.rglob("*") if f.is_file()] if cache.exists() else []
        size = sum(f.stat().st_size for f in files)
        shutil.rmtree(cache, ignore_errors=True)
        console.print(f"Deleted {cache}: {len(files):,} file(s), {size / 1e6:,.1f} MB.")
        if cache_only:
            return
        store = open_store(project)
        try:
            dropped = store.drop_derived()
        finally:
            store.close()
        console.print(f"Dropped {len(dropped):,} derived table(s) from the store (journey logs, kept person-level "
                      "tables); the next report builds what it needs again.")
