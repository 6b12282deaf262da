"""The plain-language audit of patient-facing documents (``carejourney content audit``).

:func:`audit_paths` reads files and folders (HTML, Markdown, text, PDF), measures each document
(:mod:`carejourney.content.measures`) and returns one :class:`DocumentAudit` per document.
:meth:`DocumentAudit.findings` turns the measures into findings (check, severity, message) for
the report and the friction finder. Thresholds (docs/voice.md): reading grade above the target
(project ``reading_grade_target``, default 8; ``high`` severity when 3+ grades above), average
sentence length over 20 words, passive voice in more than 20% of sentences, every unexplained
jargon term, every missing essential for the document's touchpoint type.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import SpecError
from .extract import SUFFIXES, extract
from .measures import (TOUCHPOINT_TYPES, JargonUse, find_jargon, load_essentials, missing_essentials,
                       passive_share, readability, sentences)

__all__ = ["DocumentAudit", "audit_paths", "audit_file", "guess_touchpoint_type", "findings",
           "MAX_SENTENCE_WORDS", "MAX_PASSIVE_SHARE"]

MAX_SENTENCE_WORDS = 20
MAX_PASSIVE_SHARE = 0.2

_TYPE_HINTS = [("discharge", "discharge"), ("after-visit", "discharge"), ("aftercare", "discharge"),
               ("reminder", "reminder"), ("bill", "billing"), ("statement", "billing"), ("invoice", "billing"),
               ("intake", "intake"), ("questionnaire", "intake"), ("form", "intake"), ("service", "service_page"),
               ("treatment", "service_page"), ("clinic", "service_page")]


@dataclass
class DocumentAudit:
    path: str
    kind: str
    title: str | None = None
    touchpoint_type: str | None = None
    words: int = 0
    sentences: int = 0
    fk_grade: float | None = None
    smog: float | None = None
    avg_sentence_length: float | None = None
    passive_share: float | None = None
    jargon: list[JargonUse] = field(default_factory=list)
    missing_essentials: list[tuple[str, str]] = field(default_factory=list)
    grade_target: float = 8.0
    skipped: str | None = None

    @property
    def unexplained_jargon(self) -> list[str]:
        return [j.term for j in self.jargon if not j.explained]

    @property
    def meets_grade_target(self) -> bool | None:
        return None if self.fk_grade is None else self.fk_grade <= self.grade_target

    def findings(self) -> list[dict]:
        """Problems found, each ``{path, check, severity, message}`` (empty when the page is fine)."""
        out: list[dict] = []

        def add(check: str, severity: str, message: str) -> None:
            out.append({"path": self.path, "check": check, "severity": severity, "message": message})

        if self.skipped:
            add("unreadable", "info", f"not audited: {self.skipped}")
            return out
        if self.fk_grade is not None and self.fk_grade > self.grade_target:
            sev = "high" if self.fk_grade >= self.grade_target + 3 else "medium"
            add("reading_grade", sev, f"reading grade {self.fk_grade:.1f} (Flesch-Kincaid) is above the target "
                                      f"of {self.grade_target:g}; use shorter sentences and everyday words")
        if self.avg_sentence_length is not None and self.avg_sentence_length > MAX_SENTENCE_WORDS:
            add("sentence_length", "medium", f"sentences average {self.avg_sentence_length:.0f} words "
                                             f"(aim for {MAX_SENTENCE_WORDS} or fewer)")
        if self.passive_share is not None and self.passive_share > MAX_PASSIVE_SHARE:
            add("passive_voice", "low", f"{self.passive_share:.0%} of sentences use the passive voice "
                                        f"(aim for {MAX_PASSIVE_SHARE:.0%} or fewer); say who does what")
        for j in self.jargon:
            if not j.explained:
                add("jargon", "medium", f"'{j.term}' is used {j.uses}x without a plain explanation; "
                                        f"say '{j.plain[0]}'" + (" instead or explain it in parentheses" if j.plain else ""))
        for _eid, label in self.missing_essentials:
            add("missing_essential", "high", f"a {self.touchpoint_type.replace('_', ' ')} should tell people {label}")
        return out

    def as_dict(self) -> dict:
        d = asdict(self)
        d["jargon"] = [{**asdict(j), "explained": j.explained} for j in self.jargon]
        d["unexplained_jargon"] = self.unexplained_jargon
        d["missing_essentials"] = [label for _, label in self.missing_essentials]
        d["meets_grade_target"] = self.meets_grade_target
        return d


def guess_touchpoint_type(path: Path) -> str | None:
    """A touchpoint type from the file name ("discharge-knee.html" → discharge), else None."""
    name = re.sub(r"[^a-z]+", " ", path.stem.lower())
    for hint, kind in _TYPE_HINTS:
        if hint in name:
            return kind
    return None


def audit_file(path: Path, *, touchpoint_type: str | None = None, grade_target: float = 8.0,
               project_root: Path | None = None) -> DocumentAudit:
    doc = extract(path)
    ttype = touchpoint_type or guess_touchpoint_type(path)
    audit = DocumentAudit(path=str(path), kind=doc.kind, title=doc.title, touchpoint_type=ttype,
                          grade_target=grade_target, skipped=doc.skipped)
    if doc.skipped:
        return audit
    if not doc.text.strip():
        audit.skipped = "no readable text"
        return audit
    r = readability(doc.text)
    sents = sentences(doc.text)
    audit.words, audit.sentences = r["words"], r["sentences"]
    audit.fk_grade, audit.smog, audit.avg_sentence_length = r["fk_grade"], r["smog"], r["avg_sentence_length"]
    audit.passive_share = passive_share(sents)
    audit.jargon = find_jargon(sents, project_root)
    if ttype is not None:
        audit.missing_essentials = missing_essentials(doc.text, ttype, project_root)
    return audit


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            raise SpecError(f"{p}: no such file or folder; give the pages or documents to audit "
                            f"({', '.join(sorted(SUFFIXES))})")
    return files


def audit_paths(paths, *, touchpoint_type: str | None = None, grade_target: float | None = None,
                project=None, cache_dir: Path | None = None) -> list[DocumentAudit]:
    """Audit files and folders (recursively). ``grade_target`` defaults to the project setting (8).

    ``cache_dir``: keep each document's audit there, under a hash of everything it depends on
    (the file's path and bytes, the type and target, the project's term lists, the code), and
    reuse it — every report audits the same documents, and the readability library's import
    alone takes 0.7 s."""
    root = Path(project.root) if project is not None else None
    types = set(load_essentials(root)) | set(TOUCHPOINT_TYPES)
    if touchpoint_type is not None and touchpoint_type not in types:
        raise SpecError(f"--touchpoint-type: unknown type '{touchpoint_type}' (types: {', '.join(sorted(types))})")
    target = grade_target if grade_target is not None else (
        project.config.reading_grade_target if project is not None else 8.0)
    files = _expand([Path(p) for p in paths])
    if cache_dir is None:
        return [audit_file(f, touchpoint_type=touchpoint_type, grade_target=target, project_root=root) for f in files]
    from ..analyses._cache import code_version
    lists = b"".join(f.read_bytes() for f in (root / "jargon.yml", root / "essentials.yml")
                     if root is not None and f.is_file())
    common = hashlib.sha256(json.dumps([code_version(), touchpoint_type, target]).encode() + lists).hexdigest()
    return [_cached(f, common, cache_dir, lambda f=f: audit_file(f, touchpoint_type=touchpoint_type,
                                                                 grade_target=target, project_root=root))
            for f in files]


def _cached(path: Path, common: str, cache_dir: Path, audit) -> DocumentAudit:
    """``audit()`` of ``path``, kept in ``cache_dir`` by the file's path and bytes and ``common``."""
    key = hashlib.sha256(f"{common}|{path}|".encode() + path.read_bytes()).hexdigest()[:32]
    kept = cache_dir / f"{key}.json"
    try:
        d = json.loads(kept.read_text())
        d["jargon"] = [JargonUse(**j) for j in d["jargon"]]
        d["missing_essentials"] = [tuple(m) for m in d["missing_essentials"]]
        return DocumentAudit(**d)
    except (OSError, ValueError, TypeError, KeyError):  # not kept yet, or unreadable: audit again
        pass
    result = audit()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = kept.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(result)))
    tmp.replace(kept)  # atomic: a reader sees the whole audit or none
    return result


def findings(audits: list[DocumentAudit]) -> list[dict]:
    """Every finding of every document, most severe first."""
    rank = {"high": 0, "medium": 1, "low": 2, "info": 3}
    rows = [f for a in audits for f in a.findings()]
    return sorted(rows, key=lambda f: (rank[f["severity"]], f["path"], f["check"]))
