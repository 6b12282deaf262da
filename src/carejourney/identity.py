"""Identity stitching: one person across web visitor ids, leads, callers and patient records.

Every source identifier is a keyed hash (``subject_key``); sources that carry two identifiers
(a lead form with email and phone, a FHIR Patient with an MRN) add *links* between them. A
person is a connected component of the link graph (a union-find over keyed hashes), found
**in the engine** so it scales with the engine:

1. keys get dense integer ids (joins on integers, not 32-character strings);
2. every key starts with the smallest id among itself and its neighbours;
3. each round, every key *hooks* to its smallest neighbour; *pointer jumping* (parent ←
   parent of parent, until nothing moves) turns those trees into stars; then the graph is
   *contracted* to the star roots and the next round works on that much smaller graph;
4. stop when no edge is left between different roots, and compose the rounds' maps.

Plain min-label propagation needs as many rounds as the longest path in a component (a chain
of 2,000 keys: 2,000 rounds); hooking + contraction needs O(log n) rounds.

The person key is the component's smallest subject key — itself a keyed hash, never a raw
identifier. Raw keys (emails, phones, MRNs) never reach this module: ingest hashes them first.

**Shared identifiers.** A placeholder email (``none@none.com``), a clinic's main phone number or
a lobby kiosk's device id is linked to hundreds or thousands of other identifiers; followed, it
would merge everyone who ever used it into one "person" — wrong counts, and one person with
more events than a whole clinic. An identifier linked to more than ``max_links`` others
(``identity.max_links_per_key``, default :data:`MAX_LINKS_PER_KEY`) joins nobody: its links are
left out, and it stays a person of its own. :func:`shared_identifiers` counts them.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from .model.project import MAX_LINKS_PER_KEY

__all__ = ["resolve_components", "rebuild_identity", "match_rates", "shared_identifiers", "MAX_LINKS_PER_KEY"]

_MAX_ROUNDS = 64


class _Held:
    """Intermediate tables materialised in the engine; released when stitching is done."""

    def __init__(self):
        self.tables = []

    def cache(self, t: ir.Table) -> ir.Table:
        t = t.cache()
        self.tables.append(t)
        return t

    def release(self) -> None:
        for t in self.tables:
            t.release()
        self.tables.clear()


def _roots(parent: ir.Table, held: _Held) -> ir.Table:
    """Pointer jumping: parent(u) ← parent(parent(u)) until every tree is a star."""
    for _ in range(_MAX_ROUNDS):
        p = parent.select(pu=parent.u, ph=parent.h)
        j = parent.join(p, parent.h == p.pu)
        parent = held.cache(j.select(u=j.u, h=j.ph, moved=j.ph != j.h))
        if parent.filter(parent.moved).count().execute() == 0:
            break
    return parent.select("u", "h")


def resolve_components(links: ir.Table, max_links: int | None = None) -> ir.Table:
    """subject_key → person_key for every key that appears in ``links`` (key_a, key_b); with
    ``max_links``, keys linked to more than that many others are left out (see the module)."""
    return _components(links, _Held(), max_links)


def _edges(links: ir.Table) -> ir.Table:
    e = links.select(a=links.key_a, b=links.key_b)
    return e.filter(e.a.notnull() & e.b.notnull())


def _shared(e: ir.Table, max_links: int) -> ir.Table:
    """Keys (``h``) linked to more than ``max_links`` distinct other keys."""
    pairs = e.filter(e.a != e.b)
    pairs = pairs.select(x=ibis.least(pairs.a, pairs.b), y=ibis.greatest(pairs.a, pairs.b)).distinct()
    ends = ibis.union(pairs.select(k=pairs.x), pairs.select(k=pairs.y), distinct=False)
    degree = ends.group_by("k").aggregate(n=ends.count())
    return degree.filter(degree.n > max_links).select(h=degree.k)


def shared_identifiers(store, max_links: int = MAX_LINKS_PER_KEY) -> int:
    """How many identifiers in the store's links are linked to more than ``max_links`` others
    (and so join nobody). A count of identifiers, not people; callers showing it to anyone
    suppress it like a count of people."""
    return int(_shared(_edges(store.table("links")), max_links).count().execute())


def _components(links: ir.Table, held: _Held, max_links: int | None = None) -> ir.Table:
    """Connected components by hooking and contraction (in the engine; O(log n) rounds).

    Each round, every node of the current graph hooks to its smallest neighbour (or itself
    if it is the smallest), pointer jumping turns the resulting forest into stars, and the
    graph is contracted to its roots. Local minima are the only roots left, so the graph at
    least halves in practice each round; components of a few keys finish in one round.
    """
    e = _edges(links)
    if max_links is not None:
        # the shared identifiers as a list of keys (a handful in practice; at most links / max_links),
        # not an engine-side table joined twice: that cached, usually empty table was the one new
        # step on the way to two py4j deadlocks on Spark (both sides waiting, no task running)
        hubs = _shared(e, max_links).to_pyarrow().column("h").to_pylist()
        if hubs:
            e = e.filter(~e.a.isin(hubs) & ~e.b.isin(hubs))
    keys = e.select(k=e.a).union(e.select(k=e.b), distinct=True)
    ids = held.cache(keys.mutate(i=ibis.row_number().over(order_by=keys.k)))
    ia, ib = ids.view(), ids.view()
    ea = e.join(ia, e.a == ia.k).select(b=e.b, a=ia.i)
    pairs = ea.join(ib, ea.b == ib.k).select(a=ea.a, b=ib.i)
    pairs = pairs.filter(pairs.a != pairs.b)
    edges = held.cache(pairs.union(pairs.select(a=pairs.b, b=pairs.a), distinct=True))
    maps = []
    for _ in range(_MAX_ROUNDS):
        if edges.count().execute() == 0:
            break
        hook = edges.group_by(u=edges.a).aggregate(h=ibis.least(edges.a.min(), edges.b.min()))
        root = held.cache(_roots(held.cache(hook), held))
        maps.append(root)
        ra, rb = root.view(), root.view()
        ja = edges.join(ra, edges.a == ra.u).select(b=edges.b, a=ra.h)
        jb = ja.join(rb, ja.b == rb.u).select(a=ja.a, b=rb.h)
        edges = held.cache(jb.filter(jb.a != jb.b).distinct())
    # compose the rounds' maps: node -> root of round 0 -> root of round 1 -> ...
    label = ids.select(u=ids.i, h=ids.i)
    for m in maps:
        j = label.left_join(m, label.h == m.u)
        label = held.cache(j.select(u=j.u, h=ibis.coalesce(j.h_right, j.h)))
    by_id, person = ids.view(), ids.view()
    out = label.join(by_id, label.u == by_id.i).select(subject_key=by_id.k, h=label.h)
    return out.join(person, out.h == person.i).select(subject_key=out.subject_key, person_key=person.k)


def rebuild_identity(store, max_links: int | None = MAX_LINKS_PER_KEY) -> int:
    """Recompute the identity table from every link in the store, leaving out identifiers linked
    to more than ``max_links`` others (None: follow every link). Returns the number of keys mapped."""
    links = store.table("links")
    if links.count().execute() == 0:
        store.replace_identity(pa.table({"subject_key": pa.array([], pa.int64()),
                                         "person_key": pa.array([], pa.int64())}))
        return 0
    held = _Held()
    try:
        mapping = _components(links, held, max_links).to_pyarrow()
    finally:
        held.release()
    store.replace_identity(mapping)
    return mapping.num_rows


def match_rates(store) -> list[dict]:
    """Per ordered pair of sources (A, B): of A's people, how many also appear in B.

    ``total`` = people with events from A; ``matched`` = those of them who also have events
    from B (after stitching); ``rate`` = matched / total. Raw counts: callers showing them to
    anyone must suppress small cells (the CLI does, via :func:`carejourney.privacy.suppress`).
    """
    ev = store.events()
    per = ev.select("person_key", "source").distinct()
    a, b = per.view(), per.view()
    pairs = a.join(b, a.person_key == b.person_key).filter(lambda t: t.source != t.source_right)
    counts = pairs.group_by(src_a=pairs.source, src_b=pairs.source_right).aggregate(
        matched=pairs.person_key.nunique())
    totals = per.group_by("source").aggregate(total=per.person_key.nunique())
    srcs = totals.select(src=totals.source)
    grid = totals.cross_join(srcs).filter(lambda t: t.source != t.src)
    grid = grid.select(src_a=grid.source, src_b=grid.src, total=grid.total)
    out = grid.left_join(counts, (grid.src_a == counts.src_a) & (grid.src_b == counts.src_b))
    out = out.select(src_a=out.src_a, src_b=out.src_b, matched=ibis.coalesce(out.matched, 0), total=out.total)
    rows = out.order_by(["src_a", "src_b"]).to_pyarrow().to_pylist()
    for r in rows:
        r["matched"], r["total"] = int(r["matched"]), int(r["total"])
        r["rate"] = r["matched"] / r["total"] if r["total"] else None
    return rows
