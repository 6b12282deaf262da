"""Options defined once and shared by every command; output helpers."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="carejourney",
    help="Map and measure the healthcare customer journey.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)
console_err = Console(stderr=True, highlight=False)

_STATE: dict[str, Any] = {"project": None}


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.callback()
def _global(
    project: Path = typer.Option(None, "--project", "-p", envvar="CAREJOURNEY_PROJECT",
                                 help="Project folder (default: the current folder or its nearest parent "
                                      "with carejourney.yml)."),
) -> None:
    _STATE["project"] = project


def project_path() -> Path | None:
    return _STATE["project"]


def load():
    """Load the project selected by --project (or found from the current folder)."""
    from ..project import load_project
    return load_project(project_path())


FormatOption = typer.Option(OutputFormat.table, "--format", "-f", help="Output format.")


def emit(rows: list[dict], fmt: OutputFormat, *, title: str | None = None, meta: dict | None = None,
         widths: dict[str, int] | None = None) -> None:
    """Print rows as a Rich table, JSON (with ``meta``) or CSV. ``widths``: the least width of
    columns that must stay readable in a narrow terminal (a finding's sentence), others fold."""
    if fmt == OutputFormat.json:
        payload = {**(meta or {}), "rows": rows} if meta is not None else rows
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    if fmt == OutputFormat.csv:
        import csv
        import sys
        if rows:
            w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        return
    table = Table(title=title, show_lines=False)
    cols = list(rows[0]) if rows else []
    for c in cols:
        table.add_column(c, overflow="fold", min_width=(widths or {}).get(c))
    for r in rows:
        table.add_row(*[_cell(r.get(c)) for c in cols])
    console.print(table)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1 else f"{v:,.1f}"
    return str(v)
