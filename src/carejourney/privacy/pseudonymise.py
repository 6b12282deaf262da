"""Keyed pseudonyms and Safe-Harbor generalisation of quasi-identifiers.

Person keys are HMAC-SHA256(project key, ``"<id_type>:<normalised value>"``), hex, 32 chars.
The id type namespaces keys (an MRN never collides with a phone number) and normalisation
makes the same person's identifier hash the same in every source (``(555) 010-2000`` and
``555.010.2000`` are one phone). Without the key, the pseudonyms cannot be reversed or
recomputed from a guessed identifier.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["normalise_identifier", "pseudonym", "pseudonymise_array", "age_band",
           "age_band_labels", "zip3", "ID_TYPES"]

#: Identifier types carejourney knows how to normalise. Others are trimmed and lower-cased.
ID_TYPES = ("person", "email", "phone", "mrn", "patient", "client_id", "lead", "ssn", "account", "episode")

_NON_DIGIT = re.compile(r"\D+")


def normalise_identifier(id_type: str, value: str) -> str:
    """Canonical text of an identifier so one person hashes the same everywhere."""
    v = str(value).strip()
    if id_type == "email":
        return v.lower()
    if id_type == "phone":
        digits = _NON_DIGIT.sub("", v)
        return digits[-10:] if len(digits) >= 10 else digits  # drop country code 1 / +1
    if id_type == "ssn":
        return _NON_DIGIT.sub("", v)
    if id_type == "patient":
        return v.removeprefix("urn:uuid:").removeprefix("Patient/").lower()
    return v.lower()


def pseudonym(key: bytes, id_type: str, value: str) -> str:
    msg = f"{id_type}:{normalise_identifier(id_type, value)}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:32]


def pseudonymise_array(key: bytes, id_types: pa.Array, values: pa.Array) -> pa.Array:
    """Pseudonymise parallel arrays of (type, value); nulls and blanks stay null.

    Works on distinct pairs only (dictionary encoding), so repeated identifiers — most events of
    a person — cost one HMAC.
    """
    if isinstance(id_types, pa.ChunkedArray):
        id_types = id_types.combine_chunks()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    types = pc.unique(id_types).to_pylist()
    if len(types) == 1:  # the common case: one identifier type per column
        enc = pc.dictionary_encode(values.cast(pa.string()))
        t = types[0] or "person"
        keys = [None if (v is None or not v.strip()) else pseudonym(key, t, v) for v in enc.dictionary.to_pylist()]
        return pc.take(pa.array(keys, pa.string()), enc.indices)
    combo = pc.binary_join_element_wise(pc.fill_null(id_types.cast(pa.string()), "person"),
                                        values.cast(pa.string()), "\x1f")
    enc = pc.dictionary_encode(combo)
    keys = []
    for v in enc.dictionary.to_pylist():
        t, _, raw = v.partition("\x1f")
        keys.append(None if not raw.strip() else pseudonym(key, t, raw))
    return pc.take(pa.array(keys, pa.string()), enc.indices)


def age_band_labels(bounds: list[int]) -> list[str]:
    """``[0, 18, 35]`` → ``["0-17", "18-34", "35-89", "90+"]`` (90+ always collapsed, Safe Harbor)."""
    edges = [b for b in bounds if b < 90] + [90]
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:])]
    return labels + ["90+"]


def age_band(birth: date | None, on: date, bounds: list[int]) -> str | None:
    """Age band of someone born on ``birth`` as of ``on``; the exact date is never kept."""
    if birth is None:
        return None
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return age_band_for_age(years, bounds)


def age_band_for_age(years: int | None, bounds: list[int]) -> str | None:
    if years is None or years < 0:
        return None
    labels = age_band_labels(bounds)
    edges = [b for b in bounds if b < 90] + [90]
    for label, lo, hi in zip(labels, edges, edges[1:]):
        if lo <= years < hi:
            return label
    return "90+"


def zip3(value: str | None, restricted: list[str] | tuple[str, ...]) -> str | None:
    """First three digits of a US ZIP; small-population areas (Safe Harbor list) become ``000``."""
    if value is None:
        return None
    digits = _NON_DIGIT.sub("", str(value))
    if len(digits) < 3:
        return None
    z = digits[:3] if len(digits) >= 5 or len(digits) == 3 else None
    if z is None:
        return None
    return "000" if z in restricted else z


def zip3_array(values: pa.Array, restricted) -> pa.Array:
    return pa.array([zip3(v, restricted) for v in values.to_pylist()], pa.string())


