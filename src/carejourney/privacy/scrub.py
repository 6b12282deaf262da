"""PHI scrubbing of free text before it is stored (surveys, reviews, call notes, portal messages).

Direct identifiers become typed placeholders: ``[EMAIL]``, ``[URL]``, ``[SSN]``, ``[MRN]``
(medical record, account, licence and other ID numbers), ``[PHONE]``, ``[DATE]`` (every date
element smaller than a year, per HIPAA Safe Harbor), ``[ADDRESS]``, ``[ZIP]`` and ``[NAME]``.

How (all offline, no model download):

- **Patterns**: one compiled alternation for emails, URLs, SSNs, labelled and long ID numbers,
  UUIDs, dates (numeric, ISO, "March 3, 2024", "3rd of March"), street addresses (street
  suffixes from Faker's ``en_US`` address provider, with unit and "City, ST 01234" tails),
  North-American phone numbers and ZIP codes. Then ``phonenumbers`` (libphonenumber) finds any
  phone number left, international formats included; it only runs on texts that still hold
  seven or more digits, which keeps the common case fast.
- **Names**: capitalised word runs are checked against the first- and last-name lists Faker
  ships (``en``, ``en_US``, ``es_MX``). A name that is also an everyday word (Rose, Price,
  Will, Hope) is replaced only when it stands next to an unambiguous name or after a cue
  ("Dr.", "Nurse", "Mrs.", "my name is", "this is"), so "Price was unclear" stays readable.
  Callers can pass names they know belong to the record (a review's author) with ``names=``;
  those are replaced wherever they appear, in any case.

The scrubber is deliberately aggressive on numbers (a 7+ digit run is treated as an ID) and
conservative on words. It is a safeguard, not a guarantee: free text should still be treated
as sensitive (see docs/voice.md).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

__all__ = ["scrub_text", "scrub_texts", "PLACEHOLDERS", "name_lists"]

PLACEHOLDERS = ("NAME", "PHONE", "EMAIL", "DATE", "ADDRESS", "ZIP", "SSN", "MRN", "URL")

_MONTHS = (r"(?i:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
           r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_UP = "[A-ZÁÉÍÓÚÑÜÀÈÌÒÙÂÊÎÔÛÄËÏÖÇ]"
_LOW = "[a-záéíóúñüàèìòùâêîôûäëïöçß]"
_STATE_ABBR = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
               "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR").split()


def _street_suffixes() -> list[str]:
    from faker.providers.address.en_US import Provider as Address
    short = ["St", "Ave", "Av", "Rd", "Blvd", "Dr", "Ln", "Ct", "Pl", "Pkwy", "Hwy", "Ter", "Cir", "Sq", "Trl", "Way"]
    return sorted(set(Address.street_suffixes) | set(short), key=len, reverse=True)


def _states() -> list[str]:
    from faker.providers.address.en_US import Provider as Address
    return sorted(set(Address.states) | set(_STATE_ABBR), key=len, reverse=True)


def _es_prefixes() -> list[str]:
    from faker.providers.address.es_MX import Provider as Address
    return sorted(set(Address.street_prefixes) | {"Av.", "Blvd.", "Calz.", "Carretera", "Camino", "Colonia", "Col."},
                  key=len, reverse=True)


def _pattern_parts() -> list[tuple[str, str]]:
    suffix = "|".join(map(re.escape, _street_suffixes()))
    state = "|".join(map(re.escape, _states()))
    es = "|".join(map(re.escape, _es_prefixes()))
    word = rf"(?:{_UP}(?:[^\W\d_]|['’.-])*|\d+(?:st|nd|rd|th))"
    unit = r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|Floor|Fl|Bldg|#)\.?\s*#?\s*[A-Za-z0-9-]+)?"
    city_tail = rf"(?:,?\s+[A-Z][a-z]+(?:\s[A-Z][a-z]+){{0,2}},?\s+(?:{state})(?:\s+\d{{5}}(?:-\d{{4}})?)?\b)?"
    parts = [
        ("EMAIL", r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"),
        ("URL", r"\b(?:https?://|www\.)[^\s<>\"')\]]+"),
        ("SSN", r"\b(?:SSN|social security(?: number| no\.?| #)?)\s*[:#]?\s*\d{3}[- ]?\d{2}[- ]?\d{4}\b"
                r"|\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b"),
        ("MRN", r"\b(?:MRN|MR\s?#|medical record(?: number| no\.?| #)?|record (?:number|no\.?|#)|"
                r"patient (?:id|number|no\.?|#)|account (?:number|no\.?|#)|acct\.?(?: #| no\.?)?|member id|"
                r"policy (?:number|no\.?|#)|id (?:number|no\.?|#)|claim (?:number|no\.?|#))"
                r"\s*(?:is\s*)?[:#]?\s*[A-Za-z0-9][A-Za-z0-9-]{3,}"
                r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
                r"|\b(?=[A-Za-z0-9]*\d{5})(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{6,}\b"),
        ("DATE", rf"\b\d{{4}}-\d{{1,2}}-\d{{1,2}}(?:[T ]\d{{1,2}}:\d{{2}}(?::\d{{2}})?)?\b"
                 rf"|\b\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})\b"
                 rf"|\b\d{{1,2}}/\d{{1,2}}\b(?!/)"
                 rf"|\b{_MONTHS}\s+{_DAY}(?:,?\s+\d{{4}})?\b"
                 rf"|\b{_DAY}\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?\b"
                 rf"|\b{_MONTHS}\s+\d{{4}}\b"),
        ("ADDRESS", rf"(?<!\w)(?:{es})\s+(?:(?:{word}|[A-Z]{{2,}}|de|del|la|las|los|y)\s+){{1,6}}(?:No\.?\s*|#\s*)?\d{{1,6}}"
                    r"(?:\s+(?:Interior|Int\.)\s+\w+|\s+Edif\.\s*\w+\s*,?\s*Depto\.\s*\w+|\s+\d{1,6}\b)?"),
        ("ADDRESS", rf"\b(?:P\.?\s?O\.?\s?Box\s+\d+|\d{{1,6}}\s+(?:[NSEW]\.?\s+)?(?:{word}\s+){{1,4}}(?:{suffix})\b\.?{unit}{city_tail})"),
        ("PHONE", r"(?<![\w-])(?:\+\d{1,3}\s?(?:\(\d{1,3}\))?[\s.-]?|\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-]?)\d{3}[\s.-]?\d{4}(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w-])"),
        ("MRN", r"(?<![\w$.,])\d{7,}(?![\w.,]\d)"),
        ("ZIP", r"(?<![\w$.,-])\d{5}(?:-\d{4})?(?![\w,.]\d|\s?(?:dollars|usd|\$))"),
    ]
    return parts


def _compile(parts: list[tuple[str, str]]) -> re.Pattern:
    return re.compile("|".join(f"(?P<{label}{i}>{rx})" for i, (label, rx) in enumerate(parts)))


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """(emails, URLs, everything that needs a digit): each runs only on texts that can match it."""
    parts = _pattern_parts()
    email = [p for p in parts if p[0] == "EMAIL"]
    url = [p for p in parts if p[0] == "URL"]
    digit = [p for p in parts if p[0] not in ("EMAIL", "URL")]
    return _compile(email), _compile(url), _compile(digit)


_HAS_DIGIT = re.compile(r"\d")


def _placeholder(m: re.Match) -> str:
    label = m.lastgroup.rstrip("0123456789")
    return f"[{label}]"


# -- names ---------------------------------------------------------------------------------
_TOKEN = rf"{_UP}(?:[^\W\d_]|['’-])*{_LOW}"
_PARTICLE = r"(?:\s+(?:de|del|la|las|los|van|von|der|da|di|du|y))*"
_RUN = re.compile(rf"\b{_TOKEN}(?:(?:\s+[A-Z]\.)?{_PARTICLE}\s+{_TOKEN}){{0,3}}\b")
_CUE = re.compile(
    rf"\b(?P<cue>(?:Dr|Doctor|Nurse|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Dra|Sr|Sra)\.?\s+)"
    rf"(?P<name>{_TOKEN}(?:{_PARTICLE}\s+{_TOKEN})?)"
    rf"|\b(?P<cue2>(?:[Mm]y name is|[Nn]ame:|[Tt]his is|I am|I'm|I’m|[Ss]igned,?|[Mm]e llamo|[Ss]oy)\s+)"
    rf"(?P<name2>{_TOKEN}(?:{_PARTICLE}\s+{_TOKEN})?)")
_NAME_PLACE = "[NAME]"
_LOWCUE = re.compile(rf"\b((?i:my name is|me llamo|this is)\s+)({_LOW}+)(?:(\s+)({_LOW}+))?\b")
_MIDCAP = re.compile(rf"[^\W\d_,]\s+{_UP}|,\s*{_UP}")
_CAPS = re.compile(rf"{_UP}[^\W\d_]*{_LOW}")  # capitalised words, split at ' and - (Maria's → Maria)


#: Faker locales whose first and last names make up the name list (Latin-script, common in US care).
NAME_LOCALES = ("en", "en_US", "en_GB", "en_IE", "es", "es_MX", "es_ES", "de_DE", "fr_FR", "it_IT", "pt_BR",
                "nl_NL", "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI", "cs_CZ", "hu_HU", "ro_RO", "hr_HR", "tr_TR")


@lru_cache(maxsize=1)
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(names, common words): Faker's first/last names, and everyday words (some are also names)."""
    import importlib
    names: set[str] = set()
    for loc in NAME_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except ImportError:  # a locale dropped by a newer Faker: the others still apply
            continue
        for attr in ("first_names", "first_names_male", "first_names_female", "last_names"):
            names.update(getattr(provider, attr, ()) or ())
    names = {n for n in names if len(n) > 1 and n[0].isupper()}
    return frozenset(names), frozenset(_common_words())


def _common_words() -> set[str]:
    """Everyday English words (textstat's easy-word list, VADER's lexicon, our topic words)."""
    import textstat
    import vaderSentiment
    words: set[str] = set()
    easy = Path(textstat.__file__).parent / "resources" / "en" / "easy_words.txt"
    if easy.is_file():
        words.update(w.strip().lower() for w in easy.read_text().split())
    lex = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    if lex.is_file():
        words.update(line.split("\t", 1)[0].lower() for line in lex.read_text(encoding="utf-8").splitlines())
    words.update(_EXTRA_COMMON)
    from faker.providers.address.en_US import Provider as Address
    words.update(w.lower() for state in Address.states for w in state.split())
    return {w for w in words if w.isalpha()}


_EXTRA_COMMON = """
the this that these those there then thanks thank please also very really just only after before when
while during about again every nobody someone everyone staff doctor nurse front desk clinic hospital
office visit appointment billing bill insurance portal parking wait waiting price cost coverage
call callback phone message results result lab test instructions discharge pharmacy
monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
dr mr mrs ms english spanish interpreter google yelp healthgrades overall great good bad terrible
cardiology orthopedics pediatrics radiology oncology dermatology urgent care primary specialty
north south east west main center medical health january february march april may june july august
september october november december christmas thanksgiving easter medicare medicaid aetna cigna humana
kaiser anthem mychart epic zoom iphone android facebook instagram covid er icu ob gyn ent mri ct ekg
american latino hispanic asian black white french chinese vietnamese arabic portuguese korean russian
""".split()


def _is_name(tok: str, names: frozenset[str]) -> bool:
    base = tok[:-2] if tok.endswith(("'s", "’s")) else tok
    return base in names or any(p in names for p in base.split("-") if len(p) > 1) and "-" in base


def _scrub_names(text: str) -> str:
    names, common = name_lists()

    found: set[str] = set()

    def remember(name: str, ambiguous: bool = True) -> None:
        found.update(w for w in name.split() if len(w) > 2 and w[0].isupper() and (
            w.lower() not in common or (ambiguous and _is_name(w, names))))

    def cue(m: re.Match) -> str:
        if m.group("cue") is not None:
            remember(m.group("name"), ambiguous=False)
            return m.group("cue") + _NAME_PLACE
        words = m.group("name2").split()
        first, last = words[0], words[-1]

        def ordinary(w: str) -> bool:
            return w.lower() in common and not _is_name(w, names)

        if ordinary(first):  # "I am Happy", "this is Great"
            return m.group(0)
        if len(words) > 1 and ordinary(last):  # "this is Maria Thanks" → keep the last word
            remember(first)
            return m.group("cue2") + _NAME_PLACE + m.group("name2")[len(first):]
        remember(m.group("name2"))
        return m.group("cue2") + _NAME_PLACE

    text = _CUE.sub(cue, text)

    def lowcue(m: re.Match) -> str:  # "my name is maria lopez": names written in lower case
        first, last = m.group(2), m.group(4)
        if first in common and first.capitalize() not in names:
            return m.group(0)
        found.add(first.capitalize())
        if last and (last.capitalize() in names or last not in common):
            found.add(last.capitalize())
            return m.group(1) + _NAME_PLACE
        return m.group(1) + _NAME_PLACE + (m.group(3) + last if last else "")

    if "is " in text or "llamo" in text:
        text = _LOWCUE.sub(lowcue, text)

    def run(m: re.Match) -> str:
        s = m.group(0)
        toks = s.split()
        before = m.string[:m.start()].rstrip()
        mid = bool(before) and before[-1] not in ".!?:;\"'“”([{-–—*#>\n"
        cls = []
        for t in toks:
            if len(t) == 2 and t.endswith("."):
                cls.append("I")  # middle initial
                continue
            low = t.lower().rstrip("'’s") if t.endswith(("'s", "’s")) else t.lower()
            is_name = _is_name(t, names)
            if is_name and low not in common:
                cls.append("N")
            elif is_name:
                cls.append("A")
            elif low in common:
                cls.append("C")
            else:
                cls.append("U")
        if mid and cls[0] == "U":  # an unknown capitalised word inside a sentence: most likely a name
            cls[0] = "N"
        if "N" not in cls and sum(c == "A" for c in cls) < 2:
            return s
        # replace the span of non-common tokens around the strong names
        out, i = [], 0
        while i < len(toks):
            if cls[i] == "C":
                out.append(toks[i])
                i += 1
                continue
            j = i
            while j < len(toks) and cls[j] != "C":
                j += 1
            span = cls[i:j]
            named = "N" in span or sum(c == "A" for c in span) >= 2
            if named:
                found.update(t for t, c in zip(toks[i:j], span) if c in "NAU" and len(t) > 2)
            out.append(_NAME_PLACE if named else " ".join(toks[i:j]))
            i = j
        return " ".join(out)

    if _MIDCAP.search(text) or not names.isdisjoint(_CAPS.findall(text)):  # fast path: most name no one
        text = _RUN.sub(run, text)
    if found:  # a name seen in full ("Robin Hill") is also scrubbed where it stands alone ("Robin")
        plain = tuple(sorted((t for t in found if t.lower() not in common), key=len, reverse=True))
        wordy = tuple(sorted((t for t in found if t.lower() in common), key=len, reverse=True))
        if plain:  # any case: "maria" too
            text = _alone(plain, True).sub(_NAME_PLACE, text)
        if wordy:  # capitalised only: "Will" the name, not "will" the verb
            text = _alone(wordy, False).sub(_NAME_PLACE, text)
    return text


@lru_cache(maxsize=4096)
def _alone(tokens: tuple[str, ...], any_case: bool) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(map(re.escape, tokens)) + r")\b", re.IGNORECASE if any_case else 0)


@lru_cache(maxsize=4096)
def _explicit(names: tuple[str, ...]) -> re.Pattern | None:
    parts = sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True)
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in parts) + r")(?:'s|’s)?(?!\w)", re.IGNORECASE)


def _explicit_names(names: Iterable[str]) -> tuple[str, ...]:
    """Full names and each of their parts ("Ana María Pérez" → also "Ana", "María", "Pérez")."""
    out: set[str] = set()
    for n in names:
        if not n:
            continue
        n = str(n).strip()
        out.add(n)
        out.update(p.strip(".,") for p in re.split(r"[\s,]+", n) if len(p.strip(".,")) > 1)
    return tuple(sorted(out))


_DIGITS7 = re.compile(r"(?:\d\D{0,3}){7}")


def _phonenumbers(text: str) -> str:
    import phonenumbers
    spans = []
    for region in ("US", "MX"):
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
            spans.append((m.start, m.end))
    if not spans:
        return text
    spans.sort()
    out, last = [], 0
    for s, e in spans:
        if s < last:
            continue
        out.append(text[last:s])
        out.append("[PHONE]")
        last = e
    out.append(text[last:])
    return "".join(out)


def scrub_text(text: str | None, names: Iterable[str] | None = None) -> str | None:
    """``text`` with identifiers replaced by typed placeholders; ``None`` stays ``None``.

    Examples
    --------
    >>> scrub_text("Dr. Koepp called me at (617) 555-0199 on March 3, 2024")
    'Dr. [NAME] called me at [PHONE] on [DATE]'
    """
    if text is None:
        return None
    out = text
    if names:
        rx = _explicit(_explicit_names(names))
        if rx is not None:
            out = rx.sub(_NAME_PLACE, out)
    email, url, digit = _patterns()
    if "@" in out:
        out = email.sub(_placeholder, out)
    if "www." in out or "://" in out or "WWW." in out:
        out = url.sub(_placeholder, out)
    if _HAS_DIGIT.search(out):
        out = digit.sub(_placeholder, out)
    if _DIGITS7.search(out):
        out = _phonenumbers(out)
    return _scrub_names(out)


def scrub_texts(texts: Iterable[str | None], names: Iterable[Iterable[str] | None] | None = None) -> list[str | None]:
    """Scrub many texts; ``names`` (optional) gives per-text names known to belong to the record."""
    if names is None:
        return [scrub_text(t) for t in texts]
    return [scrub_text(t, n) for t, n in zip(texts, names)]
