"""carejourney content audit: plain-language audit of patient-facing pages and documents."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from .common import FormatOption, OutputFormat, console, emit, load, project_path


class TouchpointType(str, Enum):
    service_page = "service_page"
    discharge = "discharge"
    reminder = "reminder"
    billing = "billing"
    intake = "intake"


def _project_or_none():
    """The selected project; outside any project the audit still runs with the defaults."""
    from ..errors import ProjectError
    if project_path() is not None:
        return load()
    try:
        return load()
    except ProjectError:
        return None


def register(app: typer.Typer) -> None:
    content = typer.Typer(help="Plain-language audit of patient-facing content.", no_args_is_help=True)
    app.add_typer(content, name="content")

    @content.command("audit")
    def audit(
        paths: list[Path] = typer.Argument(..., help="Files or folders (HTML, Markdown, text, PDF)."),
        touchpoint_type: TouchpointType = typer.Option(
            None, "--touchpoint-type", "-t",
            help="Check the essentials of this kind of document (default: guessed from each file name)."),
        grade: float = typer.Option(None, "--grade", "-g",
                                    help="Target reading grade (default: the project's reading_grade_target, 8)."),
        fmt: OutputFormat = FormatOption,
    ) -> None:
        """Reading grade (Flesch-Kincaid, SMOG), sentence length, passive voice, unexplained jargon
        and missing essentials for each document; findings are listed most severe first."""
        from ..content import audit_paths, findings
        project = _project_or_none()
        audits = audit_paths(paths, touchpoint_type=touchpoint_type.value if touchpoint_type else None,
                             grade_target=grade, project=project)
        if fmt == OutputFormat.json:
            emit([a.as_dict() for a in audits], fmt, meta={"findings": findings(audits)})
            return
        rows = [{"document": a.path, "type": a.touchpoint_type or "", "words": a.words,
                 "FK grade": a.fk_grade, "SMOG": a.smog, "words/sentence": a.avg_sentence_length,
                 "passive": a.passive_share, "unexplained jargon": ", ".join(a.unexplained_jargon),
                 "missing": "; ".join(label for _, label in a.missing_essentials),
                 "note": a.skipped or ("" if a.meets_grade_target else f"above grade {a.grade_target:g}")}
                for a in audits]
        emit(rows, fmt, title="Plain-language audit")
        if fmt == OutputFormat.table:
            found = findings(audits)
            console.print(f"{len(audits)} document(s), {len(found)} finding(s)"
                          + (f", {sum(f['severity'] == 'high' for f in found)} high" if found else ""))
