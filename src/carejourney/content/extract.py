"""Plain text out of patient-facing documents: HTML, Markdown, plain text and PDF.

Block elements (paragraphs, headings, list items, table cells, lines of a list) become their own
lines, and a line that does not end in sentence punctuation gets a full stop, so a heading or a
bullet is measured as one sentence instead of being glued to the next one (which would inflate
the reading grade). The readability formulas then run on exactly this text.

HTML is parsed with lxml (scripts, styles, navigation chrome and comments dropped). Markdown
markup is removed with a few regular expressions (links keep their text, images their alt
text, code blocks are dropped). PDFs need ``pypdf`` (the ``nlp`` extra); without it a PDF is
skipped with a message saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Extracted", "extract", "KINDS", "SUFFIXES"]

SUFFIXES = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".txt": "text",
            ".text": "text", ".pdf": "pdf"}
KINDS = tuple(sorted(set(SUFFIXES.values())))

_BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dt", "dd", "blockquote",
           "section", "article", "header", "footer", "tr", "caption", "figcaption", "address", "pre", "title"}
_DROP = ("script", "style", "noscript", "template", "svg", "nav", "head")
_END = re.compile(r"[.!?:;…]['\")\]]*$")


@dataclass
class Extracted:
    kind: str
    text: str
    title: str | None = None
    skipped: str | None = None  # why the document could not be read


def _finish(lines) -> str:
    out = []
    for line in lines:
        line = re.sub(r"\s+", " ", line).strip()
        if not line or not re.search(r"[^\W\d_]", line):
            continue
        out.append(line if _END.search(line) else line + ".")
    return "\n".join(out)


def _html(raw: bytes) -> tuple[str, str | None]:
    import lxml.html
    doc = lxml.html.document_fromstring(raw)
    titles = doc.xpath("//title/text()") or doc.xpath("//h1//text()")
    title = " ".join(t.strip() for t in titles[:1]) or None
    for bad in doc.xpath("|".join(f"//{t}" for t in _DROP) + "|//comment()"):
        bad.drop_tree()
    for br in doc.xpath("//br"):
        br.tail = "\n" + (br.tail or "")
    for el in doc.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
            el.text = "\n" + (el.text or "")
            el.tail = "\n" + (el.tail or "")
    return _finish(doc.text_content().split("\n")), title


_MD_RULES = [
    (re.compile(r"```.*?```", re.S), "\n"),                 # fenced code
    (re.compile(r"<!--.*?-->", re.S), ""),                  # comments
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),         # images → alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),          # links → text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),         # reference links
    (re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$", re.M), ""),  # link definitions
    (re.compile(r"`([^`]+)`"), r"\1"),                      # inline code
    (re.compile(r"<[^>]+>"), ""),                           # inline HTML tags
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),           # headings
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),                # block quotes
    (re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M), ""),    # list markers
    (re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,}|={3,})\s*$", re.M), ""),  # rules, setext underlines
    (re.compile(r"^\|?[\s:|-]+\|[\s:|-]*$", re.M), ""),     # table separator rows
    (re.compile(r"\|"), "\n"),                              # table cells
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),               # bold
    (re.compile(r"(?<!\w)([*_])(.+?)\1(?!\w)"), r"\2"),     # italics
]


def _markdown(text: str) -> tuple[str, str | None]:
    title = next((m.group(1).strip() for m in re.finditer(r"^\s{0,3}#\s+(.+)$", text, re.M)), None)
    text = re.sub(r"^---\n.*?\n---\n", "", text, flags=re.S)  # front matter
    for rx, rep in _MD_RULES:
        text = rx.sub(rep, text)
    return _finish(_paragraph_lines(text)), title


def _pdf(path: Path) -> tuple[str | None, str | None, str | None]:
    try:
        from pypdf import PdfReader
    except ImportError:
        return None, None, "PDF support needs pypdf: pip install 'carejourney[nlp]'"
    try:
        reader = PdfReader(str(path))
        pages = [p.extract_text() or "" for p in reader.pages]
    except Exception as exc:  # pypdf raises many types for damaged files
        return None, None, f"cannot read the PDF ({type(exc).__name__}: {exc})"
    title = (reader.metadata.title if reader.metadata else None) or None
    text = "\n\n".join(pages)
    if not text.strip():
        return None, title, "the PDF has no extractable text (scanned image?); run OCR first"
    return _markdown(text)[0], title, None


def extract(path: Path) -> Extracted:
    """The text of one document, by file suffix."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        return Extracted("unknown", "", skipped=f"unsupported file type '{path.suffix}' "
                                                f"(supported: {', '.join(sorted(SUFFIXES))})")
    if kind == "pdf":
        text, title, why = _pdf(path)
        return Extracted(kind, text or "", title, why)
    raw = path.read_bytes()
    if kind == "html":
        if not raw.strip():
            return Extracted(kind, "", skipped="the file is empty")
        text, title = _html(raw)
        return Extracted(kind, text, title)
    decoded = raw.decode("utf-8", errors="replace")
    if kind == "markdown":
        text, title = _markdown(decoded)
        return Extracted(kind, text, title)
    return Extracted(kind, _finish(_paragraph_lines(decoded)), None)


def _paragraph_lines(text: str) -> list[str]:
    """Paragraphs as lines; a paragraph of short lines (a list, a table) keeps one line each."""
    lines = []
    for para in re.split(r"\n\s*\n", text):
        rows = [r for r in para.split("\n") if r.strip()]
        if len(rows) > 1 and all(len(r.split()) <= 12 for r in rows):
            lines.extend(rows)
        else:
            lines.append(" ".join(rows))
    return lines
