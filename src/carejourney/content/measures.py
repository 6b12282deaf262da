"""Plain-language measures on extracted text: readability (textstat), sentence length, passive
voice, unexplained jargon and missing essentials.

- **Reading grade**: textstat's Flesch-Kincaid grade and SMOG index on the extracted text
  (SMOG is defined for 30+ sentences; textstat returns 0 below 3 sentences).
- **Average sentence length**: words per sentence (textstat's counts).
- **Passive voice share**: sentences with a form of *to be* or *to get* followed (optionally
  after one -ly adverb) by a past participle (a word ending in -ed, or a listed irregular one),
  divided by all sentences. A heuristic: it over-counts adjectives like "tired" (some common
  ones are excluded) and misses passives without an auxiliary.
- **Jargon**: terms from ``jargon.yml`` (and the project's own). A use is *explained* when one
  of the term's plain alternatives occurs in the same sentence or a parenthesis follows the
  term directly; a term is flagged when none of its uses is explained.
- **Essentials**: per touchpoint type (``essentials.yml``), an essential is missing when none of
  its phrases or patterns occurs anywhere in the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from ..errors import ProjectError
from ..yamlio import safe_load

__all__ = ["readability", "sentences", "passive_share", "find_jargon", "missing_essentials", "JargonUse",
           "load_jargon", "load_essentials", "TOUCHPOINT_TYPES"]

HERE = Path(__file__).parent
TOUCHPOINT_TYPES = ("service_page", "discharge", "reminder", "billing", "intake")

_SENT = re.compile(r"(?<=[.!?])['\")\]]*\s+|\n+")
_IRREGULAR = """arisen awoken been beaten become begun bent bet bitten bled blown broken bred brought built
burnt bought caught chosen come cost crept cut dealt done drawn dreamt drunk driven eaten fallen fed felt
fought found fled flown forbidden forgotten forgiven frozen gotten given gone ground grown hung had heard
hidden hit held hurt kept knelt known laid led leant learnt left lent let lain lit lost made meant met
mistaken paid proven put quit read rid ridden rung risen run said seen sought sold sent set sewn shaken
shed shone shot shown shrunk shut sung sunk slain slept slid spoken sped spent spilt spun split spread
sprung stood stolen stuck stung struck sworn swept swollen swum taken taught torn told thought thrown
understood undertaken woken worn woven wept won wound withdrawn withheld written""".split()
_NOT_PASSIVE = {"interested", "concerned", "worried", "tired", "excited", "pleased", "married", "supposed",
                "used", "scared", "bored", "confused", "prepared", "allowed", "located", "based", "involved",
                "need", "needed", "red", "bed", "shed", "hundred"}
_PASSIVE = re.compile(
    r"\b(?:am|is|are|was|were|be|been|being|get|gets|got|gotten|getting|'re|'s)\s+(?:\w+ly\s+)?"
    r"(\w+ed|" + "|".join(_IRREGULAR) + r")\b", re.IGNORECASE)


def readability(text: str) -> dict:
    """Flesch-Kincaid grade, SMOG, words, sentences and words per sentence (textstat)."""
    from ._textstat import textstat
    words = textstat.lexicon_count(text)
    sents = textstat.sentence_count(text) if words else 0
    return {
        "fk_grade": float(textstat.flesch_kincaid_grade(text)) if words else None,
        "smog": float(textstat.smog_index(text)) if words else None,
        "words": int(words), "sentences": int(sents),
        "avg_sentence_length": round(words / sents, 2) if sents else None,
    }


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text) if s and s.strip()]


def passive_share(sents: list[str]) -> float | None:
    if not sents:
        return None
    hits = sum(1 for s in sents if any(m.group(1).lower() not in _NOT_PASSIVE for m in _PASSIVE.finditer(s)))
    return round(hits / len(sents), 3)


# -- term lists ------------------------------------------------------------------------------
def _read(path: Path) -> dict:
    try:
        data = safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(f"{path}: cannot read ({exc}); fix the YAML or remove the file") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected a mapping at the top level")
    return data


def _as_list(v) -> list[str]:
    return [v] if isinstance(v, str) else [str(x) for x in (v or [])]


@lru_cache(maxsize=8)
def _jargon(extra: str | None) -> tuple[dict[str, list[str]], dict[str, str], re.Pattern]:
    terms = dict(_read(HERE / "jargon.yml").get("terms") or {})
    if extra:
        path = Path(extra)
        for term, spec in (_read(path).get("terms") or {}).items():
            if not isinstance(spec, dict) or "plain" not in spec:
                raise ProjectError(f"{path}: terms.{term}: needs `plain: [plain words]` (and optional `forms:`)")
            terms[term] = spec
    forms: dict[str, str] = {}
    for term, spec in terms.items():
        for f in [term, *_as_list(spec.get("forms"))]:
            forms[f.lower()] = term
    alternation = "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in sorted(forms, key=len, reverse=True))
    plain = {t: _as_list(s.get("plain")) for t, s in terms.items()}
    return plain, forms, re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", re.IGNORECASE)


def load_jargon(project_root: Path | None = None) -> tuple[dict[str, list[str]], dict[str, str], re.Pattern]:
    """(term → plain alternatives, spelling → term, one regex for every spelling)."""
    extra = project_root / "jargon.yml" if project_root is not None else None
    return _jargon(str(extra) if extra is not None and extra.is_file() else None)


@dataclass
class JargonUse:
    term: str
    plain: list[str]
    uses: int
    explained_uses: int

    @property
    def explained(self) -> bool:
        return self.explained_uses > 0


def find_jargon(sents: list[str], project_root: Path | None = None) -> list[JargonUse]:
    plains, forms, rx = load_jargon(project_root)
    found: dict[str, JargonUse] = {}
    for s in sents:
        low = s.lower()
        for m in rx.finditer(s):
            term = forms[re.sub(r"\s+", " ", m.group(0).lower())]
            plain = plains[term]
            after = s[m.end():]
            explained = after.lstrip().startswith("(") or any(
                re.search(rf"(?<!\w){re.escape(p.lower())}(?!\w)", low) for p in plain)
            use = found.setdefault(term, JargonUse(term, plain, 0, 0))
            use.uses += 1
            use.explained_uses += int(explained)
    return sorted(found.values(), key=lambda u: u.term)


@lru_cache(maxsize=8)
def _essentials(extra: str | None) -> dict:
    types = {k: dict(v) for k, v in (_read(HERE / "essentials.yml").get("types") or {}).items()}
    if extra:
        for t, items in (_read(Path(extra)).get("types") or {}).items():
            types.setdefault(t, {}).update(items or {})
    return types


def load_essentials(project_root: Path | None = None) -> dict:
    extra = project_root / "essentials.yml" if project_root is not None else None
    return _essentials(str(extra) if extra is not None and extra.is_file() else None)


def _phrase_rx(p: str) -> str:
    star = p.endswith("*")
    body = re.escape(p.rstrip("*").lower()).replace(r"\ ", r"\s+")
    return rf"(?<!\w){body}" + (r"\w*" if star else r"(?!\w)")


def missing_essentials(text: str, touchpoint_type: str, project_root: Path | None = None) -> list[tuple[str, str]]:
    """(id, label) of the essentials of ``touchpoint_type`` that the text never mentions."""
    types = load_essentials(project_root)
    if touchpoint_type not in types:
        raise ProjectError(f"unknown touchpoint type '{touchpoint_type}' (types: {', '.join(sorted(types))}); "
                           "add it to essentials.yml in the project folder")
    missing = []
    for eid, spec in types[touchpoint_type].items():
        pats = [_phrase_rx(p) for p in _as_list(spec.get("phrases"))] + _as_list(spec.get("patterns"))
        if not any(re.search(p, text, re.IGNORECASE) for p in pats):
            missing.append((eid, str(spec.get("label", eid))))
    return missing
