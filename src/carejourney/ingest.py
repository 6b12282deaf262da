"""The one ingest pipeline: connector → pseudonymise → map → store, with a receipt per file.

For each file: hash it; if the same file (same bytes, same source settings) was ingested
before, nothing is added. Otherwise the connector stages it in memory, identifiers become keyed
hashes, quasi-identifiers are generalised (birth date → age band, ZIP → ZIP3), free text is
scrubbed of PHI, events are mapped to touchpoints and stages in the engine, and everything is
written to the store in one transaction that also replaces the file's earlier rows. Identity
is then re-stitched. Rows read = rows loaded + rows rejected, always; rejects keep row number,
field and reason (never the raw value, which might be an identifier).
"""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .connectors.base import ReadContext, Staged, get_connector
from .errors import IngestError
from .identity import rebuild_identity
from .ingest_mapping import encode_rule_columns, map_batch
from .model.project import SourceSpec
from .prefetch import prefetch
from .privacy.keys import load_key
from .privacy.pseudonymise import KeyCache, age_band_for_age, pseudonymise_array, zip3
from .store import Store, WriteBatch, open_store

__all__ = ["Receipt", "ingest_file", "ingest_sources", "ingest_paths", "expand_paths", "project_key"]


@dataclass
class Receipt:
    """What one ingest of one file did. ``rows_read == rows_loaded + rows_rejected``."""

    source: str
    kind: str
    path: str
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_unmapped: int = 0
    events: int = 0
    persons: int = 0
    feedback: int = 0
    status: str = "loaded"  # loaded | unchanged
    reject_reasons: dict[str, int] = field(default_factory=dict)
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def project_key(project) -> bytes:
    p = project.config.privacy
    return load_key(p.key_env, project.resolve(p.key_file))


def expand_paths(project, pattern: str) -> list[Path]:
    """Files matching a path or glob (relative to the project folder), sorted. A folder means
    the data files directly in it (e.g. a FHIR Bulk export folder of *.ndjson)."""
    full = str(project.resolve(pattern))
    if Path(full).is_dir():
        return sorted(p for p in Path(full).iterdir() if p.is_file() and not p.name.startswith(".")
                      and p.name.lower().endswith(_DATA_SUFFIXES))
    matches = sorted(Path(p) for p in glob.glob(full, recursive=True) if Path(p).is_file())
    return matches


_DATA_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz", ".json", ".json.gz", ".csv", ".csv.gz",
                  ".tsv", ".parquet", ".pq")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _shown_path(spec: SourceSpec, rel: str, digest: str) -> str:
    """The path kept in receipts. Per-patient FHIR Bundles are often named after the patient
    (Synthea: ``Given_Family_<uuid>.json``), so by default (option ``redact_file_names``, on for
    ``kind: fhir`` .json files) the file name is replaced by a content hash."""
    name = Path(rel).name
    default = spec.kind == "fhir" and name.lower().endswith((".json", ".json.gz"))
    if not spec.options.get("redact_file_names", default):
        return rel
    suffix = "".join(Path(name).suffixes[-2:]) if name.lower().endswith(".gz") else Path(name).suffix
    return str(Path(rel).parent / f"file-{digest[:16]}{suffix}")


def _rel(project, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(project.root.resolve()))
    except ValueError:
        return str(path.resolve())


def ingest_file(project, store: Store, spec: SourceSpec, path: Path, *, key: bytes,
                restitch: bool = True) -> Receipt:
    """Ingest one file of one source. Idempotent and atomic."""
    if not path.is_file():
        raise IngestError(f"{path}: no such file (source '{spec.name}', path '{spec.path}')")
    digest = _sha256(path)
    rel = _shown_path(spec, _rel(project, path), digest)
    config_hash = hashlib.sha256(spec.model_dump_json().encode() + project.journeys_hash().encode()).hexdigest()[:16]
    file_id = hashlib.sha256(f"{spec.name}|{rel}|{digest}|{config_hash}".encode()).hexdigest()[:20]
    previous = store.receipt_for(spec.name, rel)
    if previous is not None and previous["file_id"] == file_id:
        return Receipt(spec.name, spec.kind, rel, digest, int(previous["rows_read"]), int(previous["rows_loaded"]),
                       int(previous["rows_rejected"]), int(previous["rows_unmapped"]), status="unchanged")
    connector = get_connector(spec.kind)
    catalog = project.touchpoint_catalog()
    ctx = ReadContext(timezone=project.timezone, spec=spec, root=project.root, touchpoints=frozenset(catalog))
    # the connector reads and stages the next batch while this one is de-identified (read-ahead)
    batches = prefetch(connector.read_batches(path, ctx)) if hasattr(connector, "read_batches") \
        else iter([connector.read(path, ctx)])
    done: list[Receipt] = []
    first_id = next_event_id(store)
    batch = WriteBatch(file_id=file_id, replaces=[previous["file_id"]] if previous is not None else [],
                       stream=_stream(project, batches, spec, rel, digest, file_id, config_hash, key, done,
                                      first_id=first_id))
    store.write(batch)  # one transaction: every chunk, then the receipt (the stream's last chunk)
    if restitch:
        rebuild_identity(store, project.config.identity.max_links_per_key)
    return done[0]


def next_event_id(store: Store) -> int:
    """The first unused event id of the store: event ids are int64 numbers, unique across the
    store, handed out in ingest order (a file's events get the next ``n`` numbers)."""
    t = store.table("events")
    top = t.event_id.max().execute()
    return 0 if top is None or top != top else int(top) + 1  # None/NaN: no events yet


def _stream(project, batches, spec: SourceSpec, rel: str, digest: str, file_id: str, config_hash: str,
            key: bytes, done: list, *, first_id: int = 0):
    """Tables to write, chunk by chunk (one per batch the connector reads); the last chunk holds
    the file's links (de-duplicated across chunks) and its receipt row, appended to ``done``.
    Event ids run from ``first_id`` (see :func:`next_event_id`)."""
    cache, memo = KeyCache(), {}
    rows_read = rows_rejected = unmapped = n_events = n_feedback = 0
    reasons: dict[str, int] = {}
    detail: dict = {}
    links: list[pa.Table] = []
    # keying runs a batch ahead in its own thread (see _keyed), overlapping the mapping and the write
    for staged, keyed in prefetch(_keyed(_head_start(batches), key, cache)):
        tables, counts = _build_batch(project, staged, spec, rel, file_id, key, start=first_id + n_events,
                                      keyed=keyed, memo=memo)
        links.append(tables.pop("links"))
        rows_read += staged.rows_read
        rows_rejected += counts["rejected"]
        unmapped += counts["unmapped"]
        n_events += tables["events"].num_rows
        n_feedback += tables["feedback"].num_rows if "feedback" in tables else 0
        for label, k in counts["reasons"].items():
            reasons[label] = reasons.get(label, 0) + k
        detail.update(staged.detail)
        del staged
        yield tables
    receipt = Receipt(
        source=spec.name, kind=spec.kind, path=rel, sha256=digest, rows_read=rows_read,
        rows_loaded=rows_read - rows_rejected, rows_rejected=rows_rejected, rows_unmapped=unmapped,
        events=n_events, persons=cache.count_distinct_all(), feedback=n_feedback,
        reject_reasons=reasons, detail=detail)
    receipt_row = pa.Table.from_pylist([{
        "file_id": file_id, "source": spec.name, "kind": spec.kind, "path": rel, "sha256": digest,
        "config_hash": config_hash, "ingested_at": datetime.now(timezone.utc).replace(tzinfo=None),
        "rows_read": receipt.rows_read, "rows_loaded": receipt.rows_loaded,
        "rows_rejected": receipt.rows_rejected, "rows_unmapped": receipt.rows_unmapped,
        "detail": orjson.dumps({"reject_reasons": receipt.reject_reasons, **receipt.detail}).decode(),
    }])
    done.append(receipt)
    nonempty = [t for t in links if t.num_rows]
    last = {"receipts": receipt_row}
    if nonempty:
        last["links"] = pa.concat_tables(nonempty).group_by(["key_a", "key_b", "file_id"]).aggregate([])
    yield last


def _head_start(batches, rows: int = 1 << 18):
    """The connector's batches, with the first ``rows`` events of a large first batch sent ahead
    on their own: the store starts writing while the rest of that batch is prepared, instead of
    waiting for a whole million-row batch (the pipeline fills sooner)."""
    it = iter(batches)
    first = next(it, None)
    if first is None:
        return
    if first.events.num_rows > 2 * rows:
        yield Staged(rows_read=0, events=first.events.slice(0, rows))
        first.events = first.events.slice(rows)
    yield first
    yield from it


def _keyed(staged_batches, key: bytes, cache: KeyCache):
    """Each staged batch with its events keyed (:func:`_key_events`), one at a time in order (the
    cache carries pseudonyms across batches). The events' raw identifiers are dropped here."""
    for staged in staged_batches:
        keyed = _key_events(staged.events, key, cache)
        staged.events = None
        yield staged, keyed


def _key_events(events: pa.Table, key: bytes, cache: KeyCache) -> pa.Table:
    """Pseudonymise: the events with ``subject_key`` and ``episode_id`` (dictionary-encoded
    keyed HMACs) in place of the raw identifiers, which go no further."""
    n = events.num_rows
    ev_keys = pseudonymise_array(key, events["id_type"], events["id_value"], dictionary=True, cache=cache) if n \
        else pa.array([], pa.int64())
    episode = events["episode_ref"]
    ep_keys = pseudonymise_array(key, pa.repeat(pa.scalar("episode"), n), episode, dictionary=True) \
        if n and pc.any(pc.is_valid(episode)).as_py() else pa.nulls(n, pa.int64())
    return events.drop_columns(["id_type", "id_value", "episode_ref", "row_num"]).append_column(
        "subject_key", ev_keys).append_column("episode_id", ep_keys)


def _build_batch(project, staged: Staged, spec: SourceSpec, rel: str, file_id: str, key: bytes, *,
                 keyed: pa.Table, start: int = 0, memo: dict | None = None) -> tuple[dict[str, pa.Table], dict]:
    """De-identified, mapped tables for one staged chunk, and its counts for the receipt.

    ``keyed`` is the chunk's events already keyed by :func:`_key_events`; ``start`` is the chunk's
    first event id; ``memo`` keeps the previous chunk's touchpoint mapping. The chunk's events
    are grouped by person (file order kept within a person) before they are numbered: each
    person's events are then stored together, which DuckDB compresses far better (and analyses
    read per person) — see docs/benchmarks.md.
    """
    rejects = staged.rejects
    rejected_rows = set(rejects["row_num"].to_pylist())
    if staged.rows_read < len(rejected_rows):
        raise IngestError(f"{rel}: connector '{spec.kind}' rejected more rows than it read (bug)")
    n = keyed.num_rows
    ev_keys = keyed["subject_key"].combine_chunks() if n else None
    mapped = map_batch(project, encode_rule_columns(keyed), memo)
    del keyed
    if n:
        mapped = _reorder(mapped, _person_order(ev_keys))
    mapped = mapped.append_column("event_id", pa.array(np.arange(start, start + n, dtype=np.int64))) \
        .append_column("file_id", _constant(file_id, n))
    subjects = _subjects(project, staged.subjects, key, file_id)
    links = _links(staged.links, key, file_id)
    feedback = _feedback(project, staged.feedback, key, file_id)
    unmapped = int(pc.sum(pc.is_null(mapped["touchpoint"])).as_py() or 0) if mapped.num_rows else 0
    reasons: dict[str, int] = {}
    for f, r in zip(rejects["field"].to_pylist(), rejects["reason"].to_pylist()):
        label = f"{f}: {r}"
        reasons[label] = reasons.get(label, 0) + 1
    rj = rejects.append_column("file_id", pa.repeat(file_id, rejects.num_rows)) \
        .append_column("source", pa.repeat(spec.name, rejects.num_rows)) \
        .append_column("path", pa.repeat(rel, rejects.num_rows))
    tables = {"events": mapped, "subjects": subjects, "links": links, "rejects": rj}
    if feedback is not None:
        tables["feedback"] = feedback
    return tables, {"rejected": len(rejected_rows), "unmapped": unmapped, "reasons": reasons}


def _person_order(keys: pa.DictionaryArray) -> np.ndarray:
    """Row order that puts each person's rows together (by dictionary index; stable, so a
    person's rows keep their file order). Rows without a key come first."""
    idx = keys.indices
    codes = (pc.fill_null(idx, -1) if idx.null_count else idx).to_numpy(zero_copy_only=False)
    return np.argsort(codes, kind="stable")


def _reorder(table: pa.Table, order: np.ndarray) -> pa.Table:
    """``table.take(order)``, column by column: dictionary columns move their indices only and
    all-null columns are not moved at all. Three times cheaper than ``Table.take`` here, which
    dominated the cost of grouping a batch by person (see docs/benchmarks.md)."""
    idx = pa.array(order)
    cols = []
    for col in table.columns:
        if col.null_count == len(col):
            cols.append(pa.nulls(len(order), col.type))
            continue
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if pa.types.is_dictionary(arr.type):
            cols.append(pa.DictionaryArray.from_arrays(arr.indices.take(idx), arr.dictionary))
        else:
            cols.append(arr.take(idx))
    return pa.table(cols, schema=table.schema)


def _constant(value: str, n: int) -> pa.Array:
    """n copies of one string as a dictionary array: 4 bytes a row instead of a copy of the text."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string()))


def _subjects(project, subjects: pa.Table, key: bytes, file_id: str) -> pa.Table:
    if subjects.num_rows == 0:
        return pa.table({"subject_key": pa.array([], pa.int64())})
    privacy = project.config.privacy
    today = datetime.now(timezone.utc).date()
    keys = pseudonymise_array(key, subjects["id_type"], subjects["id_value"])
    bands = []
    for bd, age, band in zip(subjects["birth_date"].to_pylist(), subjects["age"].to_pylist(),
                             subjects["age_band"].to_pylist()):
        if bd is not None:
            years = today.year - bd.year - ((today.month, today.day) < (bd.month, bd.day))
            bands.append(age_band_for_age(years, privacy.age_bands))
        elif age is not None:
            bands.append(age_band_for_age(int(age), privacy.age_bands))
        else:
            bands.append(_band_label(band))
    zips = [zip3(z, privacy.restricted_zip3) for z in subjects["zip"].to_pylist()]
    lower = lambda name: pc.utf8_lower(subjects[name])  # noqa: E731
    return pa.table({
        "subject_key": keys, "age_band": pa.array(bands, pa.string()), "sex": _sex(subjects["sex"]),
        "language": lower("language"), "payer_type": lower("payer_type"), "zip3": pa.array(zips, pa.string()),
        "needs_interpreter": subjects["needs_interpreter"], "needs_transport": subjects["needs_transport"],
        "needs_disability_access": subjects["needs_disability_access"],
        "low_digital_literacy": subjects["low_digital_literacy"],
        "file_id": pa.repeat(file_id, subjects.num_rows),
    }).filter(pc.is_valid(keys))


def _band_label(band):
    """An age band supplied by the source; anything implying an age over 89 becomes 90+."""
    if band is None:
        return None
    b = str(band).strip()
    try:
        lo = int(b.split("-")[0].rstrip("+"))
        return "90+" if lo >= 90 else b
    except ValueError:
        return b


def _sex(col: pa.ChunkedArray) -> pa.Array:
    norm = {"m": "male", "male": "male", "f": "female", "female": "female", "o": "other", "other": "other",
            "u": "unknown", "unknown": "unknown"}
    return pa.array([None if v is None else norm.get(str(v).strip().lower(), "other") for v in col.to_pylist()],
                    pa.string())


def _links(links: pa.Table, key: bytes, file_id: str) -> pa.Table:
    if links.num_rows == 0:
        return pa.table({"key_a": pa.array([], pa.string())})
    a = pseudonymise_array(key, links["id_type_a"], links["id_value_a"])
    b = pseudonymise_array(key, links["id_type_b"], links["id_value_b"])
    t = pa.table({"key_a": a, "key_b": b, "file_id": pa.repeat(file_id, links.num_rows)})
    return t.filter(pc.and_(pc.is_valid(a), pc.is_valid(b))).group_by(["key_a", "key_b", "file_id"]).aggregate([])


def _feedback(project, fb: pa.Table, key: bytes, file_id: str) -> pa.Table | None:
    if fb.num_rows == 0:
        return None
    from .voice.enrich import enrich_feedback
    keys = pseudonymise_array(key, fb["id_type"], fb["id_value"]) if pc.any(pc.is_valid(fb["id_value"])).as_py() \
        else pa.nulls(fb.num_rows, pa.string())
    ids = pc.binary_join_element_wise(pa.repeat(file_id, fb.num_rows),
                                      pc.cast(fb["row_num"], pa.string()), ":")
    base = fb.drop_columns(["id_type", "id_value", "row_num"]).append_column("subject_key", keys) \
        .append_column("feedback_id", ids)
    enriched = enrich_feedback(project, base)  # scrubs text, scores sentiment and topics, fills stage
    return enriched.append_column("file_id", pa.repeat(file_id, enriched.num_rows))


def ingest_paths(project, store: Store, spec: SourceSpec, paths: list[Path], *,
                 on_file: Callable[[Receipt], None] | None = None) -> list[Receipt]:
    """Ingest files of one source, then re-stitch identity once (if anything was loaded)."""
    return _ingest_all(project, store, [(spec, p) for p in paths], on_file)


def _ingest_all(project, store: Store, work: list[tuple[SourceSpec, Path]], on_file) -> list[Receipt]:
    key = project_key(project)
    receipts = []
    for spec, p in work:
        r = ingest_file(project, store, spec, p, key=key, restitch=False)
        receipts.append(r)
        if on_file:
            on_file(r)
    if any(r.status == "loaded" for r in receipts):
        rebuild_identity(store, project.config.identity.max_links_per_key)
    return receipts


def ingest_sources(project, names: list[str] | None = None, *, store: Store | None = None,
                   on_file: Callable[[Receipt], None] | None = None) -> list[Receipt]:
    """Ingest every declared source (or the named ones). Raises if a source matches no file."""
    own = store is None
    store = store or open_store(project)
    try:
        specs = [project.source(n) for n in names] if names else list(project.sources)
        if not specs:
            raise IngestError(f"{project.root / 'sources'}: no sources declared; add sources/<name>.yml "
                              "or ingest a canonical events file with `carejourney ingest FILE`")
        work = []
        for spec in specs:
            paths = expand_paths(project, spec.path)
            if not paths:
                raise IngestError(f"source '{spec.name}': no files match '{spec.path}' "
                                  f"(relative to {project.root})")
            work += [(spec, p) for p in paths]
        return _ingest_all(project, store, work, on_file)
    finally:
        if own:
            store.close()
