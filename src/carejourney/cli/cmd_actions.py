"""carejourney actions: the owned action backlog (list, sync, update, export, check)."""

from __future__ import annotations

from datetime import date
from enum import Enum
from pathlib import Path

import typer

from ..errors import SpecError
from .common import FormatOption, OutputFormat, console, emit, load

actions_app = typer.Typer(help="The action backlog: findings turned into owned work.", no_args_is_help=True)


class ExportFormat(str, Enum):
    csv = "csv"
    md = "md"


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SpecError(f"{option}: '{value}' is not a date; use YYYY-MM-DD, e.g. 2026-05-01") from None


def _store():
    from ..actions import open_actions
    project = load()
    return project, open_actions(project)


@actions_app.command("list")
def list_(status: str = typer.Option(None, "--status", help="open, in_progress, done or wont_fix."),
          owner: str = typer.Option(None, "--owner", help="Only this owner team."),
          fmt: OutputFormat = FormatOption) -> None:
    """List actions (grouped by owner team)."""
    _, store = _store()
    try:
        rows = [a.as_dict() for a in store.list(status, owner)]
    finally:
        store.close()
    if not rows and fmt == OutputFormat.table:
        typer.echo("No actions yet: run `carejourney actions sync` to create them from the findings.")
        return
    emit(rows, fmt, title="Actions")


@actions_app.command()
def sync(journey: str = typer.Option(None, "--journey", "-j", help="Only findings of this journey."),
         by: str = typer.Option(None, "--by", help="Who is syncing (default: $CAREJOURNEY_USER or $USER).")) -> None:
    """Create an action for every current finding that has none yet (never duplicates)."""
    from ..actions import current_user
    from .cmd_findings import current_findings
    project, store = _store()
    try:
        created, updated = store.sync(current_findings(project, journey), by=by or current_user())
    finally:
        store.close()
    console.print(f"{created} action(s) created, {updated} refreshed.")


@actions_app.command()
def update(action_id: int = typer.Argument(..., help="Action id (see `actions list`)."),
           status: str = typer.Option(None, "--status", help="open, in_progress, done or wont_fix."),
           due: str = typer.Option(None, "--due", help="Due date, YYYY-MM-DD."),
           done_on: str = typer.Option(None, "--done-on", help="When the fix went live, YYYY-MM-DD."),
           note: str = typer.Option(None, "--note", help="A note to append."),
           owner: str = typer.Option(None, "--owner", help="Hand the action to another team."),
           by: str = typer.Option(None, "--by", help="Who made the change (default: $CAREJOURNEY_USER or $USER).")) -> None:
    """Change an action's status, due date, done date, owner or notes (kept in its history)."""
    _, store = _store()
    try:
        a = store.update(action_id, status=status, due=_date(due, "--due"), done_on=_date(done_on, "--done-on"),
                         note=note, owner=owner, by=by)
    finally:
        store.close()
    console.print(f"action {a.id}: {a.status}" + (f", done on {a.done_on}" if a.done_on else ""))


@actions_app.command()
def check(action_id: int = typer.Argument(..., help="A done action."),
          window: int = typer.Option(90, "--window", help="Days before and after the done date to compare."),
          fmt: OutputFormat = FormatOption) -> None:
    """Did it work? The action's metric before and after its done date."""
    from datetime import timedelta
    from ..actions import before_after_suppressed
    from .cmd_findings import context_for
    project, store = _store()
    try:
        action = store.get(action_id)
    finally:
        store.close()
    ctx, data = context_for(project)
    try:
        rows = before_after_suppressed(action, ctx, window=timedelta(days=window))
    finally:
        data.close()
    emit(rows.records(), fmt, title=f"Action {action_id}: before / after")


@actions_app.command()
def export(fmt: ExportFormat = typer.Option(ExportFormat.md, "--format", "-f", help="md (team meeting) or csv."),
           out: Path = typer.Option(None, "--out", "-o", help="Write to this file instead of the terminal."),
           owner: str = typer.Option(None, "--owner", help="Only this owner team.")) -> None:
    """Export the backlog: Markdown grouped by owner team, or CSV."""
    from ..actions import export_csv, export_markdown
    project, store = _store()
    try:
        acts = store.list(owner=owner)
    finally:
        store.close()
    text = export_csv(acts) if fmt == ExportFormat.csv else export_markdown(acts, f"{project.name}: action backlog")
    if out:
        out.write_text(text)
        console.print(f"wrote {out}")
    else:
        typer.echo(text)


def register(app: typer.Typer) -> None:
    app.add_typer(actions_app, name="actions")
