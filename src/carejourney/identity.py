"""Identity stitching: one person across web visitor ids, leads, callers and patient records.

Every source identifier is a keyed hash (``subject_key``); sources that carry two identifiers
(a lead form with email and phone, a FHIR Patient with an MRN) add *links* between them. A
person is a connected component of the link graph. Components are found **in the engine** by
label propagation (each key repeatedly takes the smallest label among itself and its
neighbours until nothing changes), so it scales with the engine; the person key is the
component's smallest subject key — itself a keyed hash, never a raw identifier.
"""

from __future__ import annotations

import ibis
import pyarrow as pa

__all__ = ["resolve_components", "rebuild_identity", "match_rates"]

_MAX_ROUNDS = 50


def resolve_components(links: ibis.Table) -> ibis.Table:
    """subject_key → person_key for every key that appears in ``links`` (key_a, key_b)."""
    edges = links.select(a=links.key_a, b=links.key_b).filter(lambda t: t.a.notnull() & t.b.notnull())
    both = edges.union(edges.select(a=edges.b, b=edges.a), distinct=True)
    labels = both.group_by("a").aggregate(label=ibis.least(both.a.min(), both.b.min())).rename(key="a")
    labels = labels.cache()
    for _ in range(_MAX_ROUNDS):
        j = both.join(labels, both.b == labels.key)
        neighbour = j.group_by(j.a).aggregate(nl=j.label.min())
        upd = labels.left_join(neighbour, labels.key == neighbour.a)
        new = upd.select(key=upd.key, label=ibis.least(upd.label, ibis.coalesce(upd.nl, upd.label))).cache()
        changed = new.join(labels, "key").filter(lambda t: t.label != t.label_right).count().execute()
        labels = new
        if changed == 0:
            break
    return labels.select(subject_key=labels.key, person_key=labels.label)


def rebuild_identity(store) -> int:
    """Recompute the identity table from every link in the store. Returns the number of keys mapped."""
    links = store.table("links")
    if links.count().execute() == 0:
        store.replace_identity(pa.table({"subject_key": pa.array([], pa.string()),
                                         "person_key": pa.array([], pa.string())}))
        return 0
    mapping = resolve_components(links).to_pyarrow()
    store.replace_identity(mapping)
    return mapping.num_rows


def match_rates(store) -> "list[dict]":
    """Per pair of sources: how many of A's subjects share a person with some subject of B."""
    ev = store.events()
    per = ev.select("person_key", "source").distinct()
    a, b = per.view(), per.view()
    pairs = a.join(b, a.person_key == b.person_key).filter(lambda t: t.source != t.source_right)
    counts = pairs.group_by(src_a=pairs.source, src_b=pairs.source_right).aggregate(
        matched=pairs.person_key.nunique())
    totals = per.group_by("source").aggregate(total=per.person_key.nunique())
    out = counts.join(totals, counts.src_a == totals.source).select(
        "src_a", "src_b", "matched", "total").order_by(["src_a", "src_b"])
    return out.to_pandas().to_dict("records")
