"""Touchpoint/stage/channel/owner mapping of one ingest batch, evaluated by the engine.

The journeys' rules (:func:`carejourney.mapping.map_touchpoints`, an Ibis expression) are run
on in-memory DuckDB over the distinct combinations of the rule columns only, and the answers are
taken back to the rows as dictionary arrays — the same result as mapping every row.
"""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .mapping import map_touchpoints
from .model.match import EVENT_MATCH_FIELDS
from .privacy.pseudonymise import dict_array

__all__ = ["map_batch", "encode_rule_columns"]

_MAP_KEYS = ("touchpoint", *EVENT_MATCH_FIELDS)
_NULL = "\x00"


def map_batch(project, keyed: pa.Table, memo: dict | None = None) -> pa.Table:
    """Touchpoint/stage/owner mapping, evaluated by the engine (Ibis on in-memory DuckDB).

    The rules depend only on a few low-cardinality columns, so they are evaluated once per
    distinct combination of those columns (usually a few hundred) and the answers are taken back
    to the rows by dictionary index — the same result as mapping every row, much faster.
    ``memo`` (one dict per ingest) keeps the last answer: the batches of one file usually have
    the same combinations, and then the engine is not asked again.
    """
    from .model.events import SCHEMAS
    if keyed.num_rows == 0:
        return SCHEMAS["events"].to_pyarrow().empty_table().drop_columns(["event_id", "file_id"])
    combo_indices, combos = _distinct_combos(keyed)
    last = memo.get("map_batch") if memo is not None else None
    if last is not None and last[0].equals(combos):
        mapped = last[1]
    else:
        mapped = _map_combos(project, combos)
        if memo is not None:
            memo["map_batch"] = (combos, mapped)
    out = keyed
    for col in ("touchpoint", "stage", "channel", "owner"):  # dictionary arrays: no per-row copy of the text
        dictionary = mapped[col].combine_chunks() if mapped.num_rows else pa.array([], pa.string())
        values = dict_array(combo_indices, dictionary.cast(pa.string()))
        if col in out.column_names:
            out = out.set_column(out.column_names.index(col), col, values)
        else:
            out = out.append_column(col, values)
    return out


def _map_combos(project, combos: pa.Table) -> pa.Table:
    """The journeys' rules run by the engine on the distinct combinations, in their order."""
    combos = combos.append_column("combo_idx", pa.array(np.arange(combos.num_rows, dtype=np.int64)))
    con = ibis.duckdb.connect()
    try:
        t = ibis.memtable(combos).mutate(stage=ibis.null("string"), owner=ibis.null("string"))
        return con.to_pyarrow(map_touchpoints(t, list(project.journeys.values())).order_by("combo_idx"))
    finally:
        con.disconnect()


def _distinct_combos(keyed: pa.Table) -> tuple[pa.Array, pa.Table]:
    """Distinct combinations of the rule columns, and each row's index into them.

    Each column is dictionary-encoded (nulls kept as an entry) and the per-column codes are
    packed into one integer per row, so finding the combinations is an integer hash, not a
    string concatenation of every row. Falls back to joined strings if the codes do not fit.
    """
    codes, dicts, width = None, [], 1
    for c in _MAP_KEYS:
        idx, dictionary = _codes(keyed[c])
        card = max(len(dictionary), 1)
        if width * card >= 2 ** 62:
            return _distinct_combos_text(keyed)
        codes = idx * width if codes is None else codes + idx * width
        dicts.append((dictionary, width, card))
        width *= card
    combo = pc.dictionary_encode(pa.array(codes))
    uniq = combo.dictionary.to_numpy()
    cols = {c: d.take(pa.array((uniq // w) % card)) for c, (d, w, card) in zip(_MAP_KEYS, dicts)}
    return combo.indices, pa.table(cols)


def encode_rule_columns(keyed: pa.Table) -> pa.Table:
    """The rule columns as dictionary arrays (they are encoded for the mapping anyway): reordering
    rows then moves 4-byte indices, not strings, and DuckDB gets the distinct values once."""
    for c in _MAP_KEYS:
        col = keyed[c] if c in keyed.column_names else None
        if col is not None and pa.types.is_string(col.type) and col.null_count < len(col):
            keyed = keyed.set_column(keyed.column_names.index(c), c, pc.dictionary_encode(col))
    return keyed


def _codes(col) -> tuple[np.ndarray, pa.Array]:
    """Each row's code and the distinct (string) values of a column; null is a value of its own."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_dictionary(col.type):
        enc = pc.dictionary_encode(col.cast(pa.string()), null_encoding="encode")
        return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary
    dictionary, idx = col.dictionary.cast(pa.string()), col.indices
    if idx.null_count:
        idx = pc.fill_null(idx, pa.scalar(len(dictionary), idx.type))
        dictionary = pa.concat_arrays([dictionary, pa.nulls(1, pa.string())])
    return idx.to_numpy(zero_copy_only=False).astype(np.int64), dictionary


def _distinct_combos_text(keyed: pa.Table) -> tuple[pa.Array, pa.Table]:
    filled = [pc.fill_null(keyed[c].cast(pa.string()), _NULL) for c in _MAP_KEYS]
    combo = pc.dictionary_encode(pc.binary_join_element_wise(*filled, "\x1f"))
    combo = combo.combine_chunks() if isinstance(combo, pa.ChunkedArray) else combo
    parts = [v.split("\x1f") for v in combo.dictionary.to_pylist()]
    return combo.indices, pa.table({c: pa.array([None if p[i] == _NULL else p[i] for p in parts], pa.string())
                                    for i, c in enumerate(_MAP_KEYS)})
