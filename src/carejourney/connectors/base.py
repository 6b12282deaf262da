"""The connector contract.

A connector reads one file of one kind of export and returns :class:`Staged` Arrow tables in
the *staged* schemas below. Staged tables still hold raw identifiers (``id_value``, free text):
they live only in memory, and :mod:`carejourney.ingest` pseudonymises, generalises and scrubs
them before anything reaches the store.

Row accounting: every record a connector reads (a CSV row, a JSONL line, a FHIR resource) is
either *loaded* (it produced rows in the staged tables, or it is a record the connector
accepts without an event — e.g. an Organization) or *rejected* with a reason. So
``rows_read == rows_loaded + rows_rejected``, always; ``row_num`` ties staged rows to records.

New connectors register with :func:`register` (built-in ones use the same seam a plugin would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import pyarrow as pa

from ..errors import IngestError
from ..model.journey import did_you_mean

__all__ = ["Staged", "Connector", "ReadContext", "register", "get_connector", "connector_kinds",
           "STAGED_EVENTS", "STAGED_SUBJECTS", "STAGED_LINKS", "STAGED_FEEDBACK", "REJECTS",
           "empty", "rejects_table"]

STAGED_EVENTS = pa.schema([
    ("row_num", pa.int64()), ("id_type", pa.string()), ("id_value", pa.string()),
    ("ts", pa.timestamp("us")), ("touchpoint", pa.string()), ("source", pa.string()),
    ("source_event", pa.string()), ("detail", pa.string()), ("status", pa.string()),
    ("channel", pa.string()), ("service_line", pa.string()), ("location", pa.string()),
    ("device", pa.string()), ("value", pa.float64()), ("episode_ref", pa.string()),
    ("attrs", pa.string()),
])
STAGED_SUBJECTS = pa.schema([
    ("row_num", pa.int64()), ("id_type", pa.string()), ("id_value", pa.string()),
    ("birth_date", pa.date32()), ("age", pa.int64()), ("age_band", pa.string()),
    ("sex", pa.string()), ("language", pa.string()), ("payer_type", pa.string()),
    ("zip", pa.string()), ("needs_interpreter", pa.bool_()), ("needs_transport", pa.bool_()),
    ("needs_disability_access", pa.bool_()), ("low_digital_literacy", pa.bool_()),
])
STAGED_LINKS = pa.schema([
    ("id_type_a", pa.string()), ("id_value_a", pa.string()),
    ("id_type_b", pa.string()), ("id_value_b", pa.string()),
])
STAGED_FEEDBACK = pa.schema([
    ("row_num", pa.int64()), ("id_type", pa.string()), ("id_value", pa.string()),
    ("ts", pa.timestamp("us")), ("source", pa.string()), ("source_event", pa.string()),
    ("touchpoint", pa.string()), ("location", pa.string()), ("service_line", pa.string()),
    ("rating", pa.float64()), ("rating_scale", pa.float64()), ("text", pa.string()),
])
REJECTS = pa.schema([("row_num", pa.int64()), ("field", pa.string()), ("reason", pa.string())])


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def rejects_table(rows: list[tuple[int, str, str]]) -> pa.Table:
    if not rows:
        return empty(REJECTS)
    r, f, m = zip(*rows)
    return pa.table({"row_num": pa.array(r, pa.int64()), "field": pa.array(f, pa.string()),
                     "reason": pa.array(m, pa.string())}, schema=REJECTS)


@dataclass
class Staged:
    """What a connector read from one file (raw; in memory only)."""

    rows_read: int
    events: pa.Table = field(default_factory=lambda: empty(STAGED_EVENTS))
    subjects: pa.Table = field(default_factory=lambda: empty(STAGED_SUBJECTS))
    links: pa.Table = field(default_factory=lambda: empty(STAGED_LINKS))
    feedback: pa.Table = field(default_factory=lambda: empty(STAGED_FEEDBACK))
    rejects: pa.Table = field(default_factory=lambda: empty(REJECTS))
    #: free-form counts for the receipt, e.g. {"by_type": {"Encounter": {"read": 16, ...}}}
    detail: dict = field(default_factory=dict)


@dataclass
class ReadContext:
    """What a connector may know about the project: timezone, the source spec, today."""

    timezone: str
    spec: object  # SourceSpec
    root: Path
    touchpoints: frozenset[str] = frozenset()


class Connector(Protocol):
    kind: str
    #: source_event values this connector emits, documented for journey authors
    def read(self, path: Path, ctx: ReadContext) -> Staged: ...


_REGISTRY: dict[str, Callable[[], Connector]] = {}


def register(kind: str):
    """Class decorator: make a connector available as ``kind:`` in sources/*.yml."""
    def deco(cls):
        cls.kind = kind
        _REGISTRY[kind] = cls
        return cls
    return deco


def get_connector(kind: str) -> Connector:
    _load_builtins()
    if kind not in _REGISTRY:
        raise IngestError(f"no connector for kind '{kind}'{did_you_mean(kind, _REGISTRY)} "
                          f"(kinds: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[kind]()


def connector_kinds() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    import importlib
    import pkgutil
    from .. import connectors as pkg
    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_") and mod.name not in ("base", "timeparse", "tabular"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
