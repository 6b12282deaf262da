"""PHI scrubbing of free text before it is stored (surveys, reviews, call notes, portal messages).

Replaces direct identifiers with typed placeholders: ``[EMAIL]``, ``[PHONE]``, ``[SSN]``,
``[MRN]``, ``[DATE]``, ``[ADDRESS]``, ``[ZIP]``, ``[URL]``, ``[NAME]``.
"""

from __future__ import annotations

import re

__all__ = ["scrub_text", "scrub_texts"]

_PATTERNS = [
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("URL", re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)),
    ("SSN", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("PHONE", re.compile(r"(?:\+?1[\s.-]?)?(?:\(\d{3}\)|\b\d{3})[\s.-]?\d{3}[\s.-]?\d{4}\b")),
    ("MRN", re.compile(r"\b(?:MRN|medical record(?: number)?|record #|acct|account)\s*[:#]?\s*[\w-]{4,}\b", re.I)),
    ("DATE", re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")),
    ("ADDRESS", re.compile(r"\b\d{1,6}\s+(?:[A-Z][a-z]+\s){1,3}(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Lane|Ln|Dr|Drive|Way|Court|Ct)\b\.?")),
    ("ZIP", re.compile(r"\b\d{5}(?:-\d{4})?\b")),
]


def scrub_text(text: str | None, names: set[str] | None = None) -> str | None:
    if text is None:
        return None
    out = text
    for label, pat in _PATTERNS:
        out = pat.sub(f"[{label}]", out)
    for name in names or ():
        if len(name) > 1:
            out = re.sub(rf"\b{re.escape(name)}\b", "[NAME]", out, flags=re.I)
    return out


def scrub_texts(texts: list[str | None], names: set[str] | None = None) -> list[str | None]:
    return [scrub_text(t, names) for t in texts]
