"""Rules → Ibis predicates, and the touchpoint / stage mapping of staged events.

Everything here builds Ibis expressions, so mapping runs inside the engine (vectorised),
never row by row in Python.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from .model.journey import Journey
from .model.match import Condition, MatchRule

__all__ = ["rule_predicate", "map_touchpoints", "catalog_table"]


def _cond(col: ir.Column, cond) -> ir.BooleanValue:
    if isinstance(cond, Condition):
        if cond.in_ is not None:
            return col.cast("string").isin([str(v) for v in cond.in_])
        if cond.not_ is not None:
            return col.isnull() | (col.cast("string") != str(cond.not_))
        if cond.not_in is not None:
            return col.isnull() | ~col.cast("string").isin([str(v) for v in cond.not_in])
        if cond.startswith is not None:
            return col.cast("string").startswith(cond.startswith)
        if cond.contains is not None:
            return col.cast("string").contains(cond.contains)
        if cond.exists is not None:
            return col.notnull() if cond.exists else col.isnull()
    if isinstance(cond, list):
        return col.cast("string").isin([_text(v) for v in cond])
    if isinstance(cond, bool) and col.type().is_boolean():
        return col == cond
    return col.cast("string") == _text(cond)


def _text(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def rule_predicate(table: ir.Table, rule: MatchRule | None) -> ir.BooleanValue:
    """AND of every condition in ``rule`` over ``table``'s columns (missing rule = always true)."""
    pred = ibis.literal(True)
    if rule is None:
        return pred
    for field, cond in rule.root.items():
        pred = pred & _cond(table[field], cond).fill_null(False)
    return pred


def catalog_table(journeys: list[Journey]) -> ir.Table:
    """touchpoint → stage, channel, owner (first definition across journeys wins)."""
    rows, seen = [], set()
    for j in journeys:
        for tp in j.touchpoints:
            if tp.id in seen:
                continue
            seen.add(tp.id)
            rows.append({"tp_id": tp.id, "tp_stage": tp.stage, "tp_channel": tp.channel.value,
                         "tp_owner": j.owner_of(tp.id)})
    if not rows:
        rows = [{"tp_id": None, "tp_stage": None, "tp_channel": None, "tp_owner": None}]
    import pyarrow as pa
    return ibis.memtable(pa.Table.from_pylist(rows, schema=pa.schema(
        [("tp_id", pa.string()), ("tp_stage", pa.string()), ("tp_channel", pa.string()), ("tp_owner", pa.string())])))


def map_touchpoints(events: ir.Table, journeys: list[Journey]) -> ir.Table:
    """Fill ``touchpoint`` from match rules where it is missing; add stage, channel, owner.

    Rules are tried in journey file order, then touchpoint order; the first match wins.
    A touchpoint given by the source is kept. Events that match nothing keep a null touchpoint
    (counted as *unmapped* in the receipt, visible in ``carejourney status``).
    """
    case = ibis.cases(*[
        (rule_predicate(events, tp.match), tp.id)
        for j in journeys for tp in j.touchpoints if tp.match is not None
    ], else_=ibis.null("string")) if any(tp.match for j in journeys for tp in j.touchpoints) \
        else ibis.null("string")
    mapped = events.mutate(touchpoint=ibis.coalesce(events.touchpoint, case))
    cat = catalog_table(journeys)
    j = mapped.left_join(cat, mapped.touchpoint == cat.tp_id)
    return j.mutate(
        stage=j.tp_stage,
        channel=ibis.coalesce(j.channel, j.tp_channel),
        owner=j.tp_owner,
    ).drop("tp_id", "tp_stage", "tp_channel", "tp_owner")
