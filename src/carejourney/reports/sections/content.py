"""Content audit: reading level and clarity of the patient-facing documents in the project's
``content/`` folder (no people are counted here, so nothing needs suppressing)."""

from __future__ import annotations

from pathlib import Path

from ...model.names import readable
from .base import ReportContext, Section, Table, Unavailable, View, section, unavailable_view

FOLDER = "content"


@section(90)
def content_section(ctx: ReportContext) -> Section:
    title = "Content audit"
    intro = ("Patient-facing pages and letters checked for reading grade (target: grade "
             f"{ctx.project.config.reading_grade_target:g}), sentence length, passive voice, unexplained jargon "
             "and missing essentials.")
    folder = ctx.project.root / FOLDER
    try:
        from ...content import audit_paths, findings
    except ImportError:
        return _one(unavailable_view("content", title, Unavailable("the content audit is not installed"), intro))
    if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
        return _one(unavailable_view("content", title, Unavailable(
            f"no documents to audit: put patient-facing pages (HTML, Markdown, text, PDF) in {FOLDER}/ "
            "in the project folder"), intro))
    audits = audit_paths([folder], project=ctx.project, cache_dir=ctx.project.target_dir / "cache" / "content")
    found = findings(audits)
    rows = [[_relative(a.path, ctx), readable(a.touchpoint_type) if a.touchpoint_type else "—", f"{a.words:,}",
             _num(a.fk_grade), _num(a.avg_sentence_length, 0),
             "—" if a.passive_share is None else f"{a.passive_share:.0%}", ", ".join(a.unexplained_jargon) or "—",
             "; ".join(label for _, label in a.missing_essentials) or "—"] for a in audits]
    frows = [[f["severity"], _relative(f["path"], ctx), f["message"]] for f in found[:30]]
    view = View(id="content", title=title, intro=intro,
                source=f"carejourney content audit of {len(audits)} document(s) in {FOLDER}/ "
                       "(Flesch-Kincaid grade, SMOG; thresholds in docs/voice.md).",
                table=Table(caption="Documents", rows=rows,
                            columns=["Document", "Type", "Words", "Reading grade", "Words per sentence",
                                     "Passive", "Unexplained jargon", "Missing essentials"]))
    views = [view]
    if frows:
        views.append(View(id="content-findings", title="Content findings, most severe first", source=view.source,
                          table=Table(caption="Content findings", columns=["Severity", "Document", "Finding"],
                                      rows=frows)))
    return Section("content", "Content audit", "Whether what we write is easy to understand.", views)


def _relative(path: str, ctx: ReportContext) -> str:
    """A document's path from the project folder: a report is shared, the machine's folders are not."""
    try:
        return Path(path).resolve().relative_to(Path(ctx.project.root).resolve()).as_posix()
    except ValueError:
        return Path(path).name


def _one(view: View) -> Section:
    return Section("content", "Content audit", "Whether what we write is easy to understand.", [view])


def _num(v, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"
