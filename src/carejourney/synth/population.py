"""People: who they are, vectorised per chunk with numpy.

Attributes follow the scenario's population mix. Identifiers are realistic on purpose (names
from Faker's US / Mexican / Vietnamese name lists with their frequency weights, Massachusetts
phone numbers, e-mail addresses, SSNs, MRNs, GA4 client ids) so that de-identification is
exercised downstream. Identifiers that must be unique (phone, e-mail, MRN, client id, lead id)
are derived from the person's global index through bijections, so no two people share one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone

import numpy as np
from faker.providers.person.en_US import Provider as _En
from faker.providers.person.es_MX import Provider as _Es
from faker.providers.person.pt_BR import Provider as _Pt
from faker.providers.person.vi_VN import Provider as _Vi

from .scenario import CARE_TYPES, Scenario

__all__ = ["Chunk", "make_chunk", "email_for", "ZIP3", "RESTRICTED", "AGE_GROUPS", "epoch"]

AGE_GROUPS = ("pediatric", "adult", "senior")
OTHER_LANGS = ("vi", "pt")  # the "other" group: Vietnamese and Portuguese speakers (names to match)
AREA_CODES = ("617", "857", "781", "339", "508", "774", "978", "351")
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "comcast.net")

#: (zip3, city, state, weight); the last three are HIPAA-restricted ZIP3 areas (become "000")
ZIP3 = (("021", "Boston", "MA", 18), ("022", "Boston", "MA", 10), ("024", "Newton", "MA", 9),
        ("018", "Woburn", "MA", 9), ("019", "Lynn", "MA", 7), ("020", "Brockton", "MA", 6),
        ("017", "Framingham", "MA", 7), ("023", "Brockton", "MA", 5), ("015", "Worcester", "MA", 5),
        ("016", "Worcester", "MA", 4), ("014", "Fitchburg", "MA", 3), ("027", "New Bedford", "MA", 3),
        ("025", "Buzzards Bay", "MA", 2), ("026", "Hyannis", "MA", 2), ("010", "Springfield", "MA", 2))
RESTRICTED = (("036", "Claremont", "NH"), ("059", "Newport", "VT"), ("063", "Norwich", "CT"))


def epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp())


def _weighted(d) -> tuple[tuple[str, ...], np.ndarray]:
    keys = tuple(d)
    w = np.array([d[k] for k in keys], dtype=float)
    return keys, w / w.sum()


_EN_F = _weighted(_En.first_names_female)
_EN_M = _weighted(_En.first_names_male)
_EN_L = _weighted(_En.last_names)
_ES_F = (tuple(_Es.first_names_female), None)
_ES_M = (tuple(_Es.first_names_male), None)
_ES_L = (tuple(_Es.last_names), None)
_VI_F = (tuple(_Vi.first_names_female), None)
_VI_M = (tuple(_Vi.first_names_male), None)
_VI_L = (tuple(_Vi.last_names), None)
_PT_F = (tuple(_Pt.first_names_female), None)
_PT_M = (tuple(_Pt.first_names_male), None)
_PT_L = (tuple(_Pt.last_names), None)
_STREET_BASE = tuple(sorted({n for n in list(_En.last_names)[:300]}))
_STREET_SUFFIX = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Terrace", "Way", "Parkway")


@dataclass
class Chunk:
    """Attributes of ``n`` people (global indices ``first .. first+n-1``), as Python lists."""

    n: int
    cols: dict[str, list]


def _pick(rng, names_weights, n):
    names, w = names_weights
    if n == 0:
        return []
    idx = rng.choice(len(names), size=n, p=w)
    return [names[i] for i in idx]


def _cat(rng, shares: dict[str, float], n: int) -> np.ndarray:
    keys = tuple(shares)
    p = np.array([shares[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def make_chunk(rng: np.random.Generator, sc: Scenario, first: int, n: int, t_start: int, t_end: int) -> Chunk:
    """Draw ``n`` people. ``t_start``/``t_end`` bound their first touch (epoch seconds)."""
    pop = sc.population
    idx = np.arange(first, first + n, dtype=np.int64)
    care = _cat(rng, pop.care_type, n)
    group = _cat(rng, pop.age_group, n)
    age = np.where(group == "pediatric", rng.integers(0, 18, n),
                   np.where(group == "adult", rng.integers(18, 65, n),
                            65 + np.minimum(rng.exponential(10.0, n).astype(np.int64), 39)))
    sex = np.where(rng.random(n) < 0.52, "female", "male").astype(object)
    lang = _cat(rng, pop.language, n)
    other_lang = np.array(OTHER_LANGS, dtype=object)[rng.integers(0, len(OTHER_LANGS), n)]
    bcp47 = np.where(lang == "other", other_lang, lang)
    payer = np.empty(n, dtype=object)
    for g in AGE_GROUPS:
        m = group == g
        payer[m] = _cat(rng, pop.payer_by_age_group[g], int(m.sum()))
    loc = _cat(rng, pop.location, n)
    mobile_p = np.select([group == g for g in AGE_GROUPS], [pop.mobile_share[g] for g in AGE_GROUPS])
    u = rng.random(n)
    device = np.where(u < mobile_p, "mobile", np.where(u < mobile_p + (1 - mobile_p) * 0.1, "tablet", "desktop"))
    interp = (lang != "en") & (rng.random(n) < pop.interpreter_if_not_english)
    transport = rng.random(n) < np.where(group == "senior", pop.transport * 2, pop.transport)
    disability = rng.random(n) < np.where(group == "senior", pop.disability_access * 2, pop.disability_access)
    lowlit = rng.random(n) < np.select([group == g for g in AGE_GROUPS],
                                       [pop.low_digital_literacy[g] for g in AGE_GROUPS])
    # ZIP: mostly metro ZIP3s, a few from restricted areas
    zw = np.array([z[3] for z in ZIP3], dtype=float)
    zi = rng.choice(len(ZIP3), size=n, p=zw / zw.sum())
    restricted = rng.random(n) < pop.restricted_zip3_share
    ri = rng.integers(0, len(RESTRICTED), n)
    zip5, city, state = [], [], []
    z2 = rng.integers(1, 100, n)
    for i in range(n):
        z = RESTRICTED[ri[i]] if restricted[i] else ZIP3[zi[i]]
        zip5.append(f"{z[0]}{z2[i]:02d}")
        city.append(z[1])
        state.append(z[2])
    # names by language and sex
    first_name = np.empty(n, dtype=object)
    last_name = np.empty(n, dtype=object)
    for lg, (f, m_, last) in {"en": (_EN_F, _EN_M, _EN_L), "es": (_ES_F, _ES_M, _ES_L),
                              "vi": (_VI_F, _VI_M, _VI_L), "pt": (_PT_F, _PT_M, _PT_L)}.items():
        for sx, src in (("female", f), ("male", m_)):
            mask = (bcp47 == lg) & (sex == sx)
            first_name[mask] = _pick(rng, src, int(mask.sum()))
        mask = bcp47 == lg
        last_name[mask] = _pick(rng, last, int(mask.sum()))
    # unique identifiers through bijections of the global index
    local = 2_000_000 + (idx * 104_729 + 1_234_567) % 8_000_000
    area = np.array(AREA_CODES, dtype=object)[rng.integers(0, len(AREA_CODES), n)]
    mrn = 10_000_000 + (idx * 7_919 + 424_242) % 90_000_000
    cid_a = (idx * 2_654_435_761 + 97_531) % 4_294_967_296 + 100_000_000
    domain = np.array(EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(EMAIL_DOMAINS), n)]
    ssn_a = rng.integers(100, 666, n)
    ssn_g = rng.integers(1, 100, n)
    ssn_s = rng.integers(1, 10_000, n)
    house = rng.integers(1, 2_000, n)
    street = np.array(_STREET_BASE, dtype=object)[rng.integers(0, len(_STREET_BASE), n)]
    suffix = np.array(_STREET_SUFFIX, dtype=object)[rng.integers(0, len(_STREET_SUFFIX), n)]
    uuid_hi = rng.integers(0, 2**63, n, dtype=np.int64)
    uuid_lo = rng.integers(0, 2**63, n, dtype=np.int64)
    birth_offset = rng.integers(0, 365, n)
    t0 = rng.integers(t_start, t_end, n)
    cols = {
        "idx": idx.tolist(), "care": care.tolist(), "age_group": group.tolist(), "age": age.tolist(),
        "sex": sex.tolist(), "lang": lang.tolist(), "bcp47": bcp47.tolist(), "payer": payer.tolist(),
        "location": loc.tolist(), "device": device.tolist(), "interpreter": interp.tolist(),
        "transport": transport.tolist(), "disability": disability.tolist(), "low_lit": lowlit.tolist(),
        "zip": zip5, "city": city, "state": state,
        "first": first_name.tolist(), "last": last_name.tolist(),
        "phone_area": area.tolist(), "phone_local": local.tolist(), "mrn": [f"{m:08d}" for m in mrn.tolist()],
        "client_num": cid_a.tolist(), "email_domain": domain.tolist(),
        "ssn": [f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(ssn_a.tolist(), ssn_g.tolist(), ssn_s.tolist())],
        "address": [f"{h} {s} {x}" for h, s, x in zip(house.tolist(), street.tolist(), suffix.tolist())],
        "patient_id": [_uuid(h, lo) for h, lo in zip(uuid_hi.tolist(), uuid_lo.tolist())],
        "birth_offset": birth_offset.tolist(), "t0": t0.tolist(),
        "service_line": [CARE_TYPES[c] for c in care.tolist()],
    }
    return Chunk(n=n, cols=cols)


def _uuid(hi: int, lo: int) -> str:
    h = f"{hi:016x}{lo:016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


def _ascii(s: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", s.lower()) if ch.isascii() and ch.isalnum())


def email_for(first: str, last: str, idx: int, domain: str) -> str:
    """A realistic, unique address (the global index is part of it)."""
    if idx % 3:
        return f"{_ascii(first)}.{_ascii(last)}{idx}@{domain}"
    return f"{_ascii(first)[:1]}{_ascii(last)}{idx}@{domain}"
