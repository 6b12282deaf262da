"""Paths: journey variants and "what people did after dropping out at step k".

Every analysis here sees a person's events as one ordered sequence, ordered by time, then
(for equal timestamps) by the touchpoint's position in the journey definition, then by
``event_id`` — so ties resolve the same way on DuckDB and Spark (the sequencing helpers
shared with the process map and conformance live in :mod:`._sequence`).

Variants (kind ``paths``)
    A person's variant is their sequence of activities (touchpoints, or stages with
    ``level=stage``) with consecutive repeats collapsed (``collapse_repeats``). Output: the
    top ``top`` variants by people, each with its share of all people; the rest — and any
    variant shared by fewer than ``min_cell`` people — are summed into ``(other)``, so the
    rows always add up to everyone.

After dropout (kind ``after_dropout``)
    Steps are followed in order (step k+1 is the first occurrence after step k). A person
    *drops out at step k* when they reached step k and never reached step k+1 after it. For
    them we report the next activity other than step k itself, or ``(left the journey)``
    when nothing else followed.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field, field_validator

from ..errors import SpecError
from ..model.journey import Journey, did_you_mean
from ..privacy.suppression import CellRules
from .base import Analysis, Spec, register
from ._sequence import (BASE_COLUMNS, Level, Sequence, collapse, ordered, ordered_keys, position_expr,
                        sequence, sequence_window, sequenced, variant_lists)
from .context import AnalysisContext

__all__ = ["PathsSpec", "Paths", "AfterDropoutSpec", "AfterDropout", "sequenced", "resolve_level",
           "split_list", "variants", "OTHER", "LEFT",
           # re-exported from ._sequence (where the sequencing helpers live)
           "BASE_COLUMNS", "Level", "collapse", "ordered", "position_expr", "sequence", "sequence_window"]

OTHER = "(other)"
LEFT = "(left the journey)"
SEP = " > "


def split_list(v):
    """Lists may come from the CLI as ``a,b,c``."""
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    return v


def resolve_level(journey: Journey, ids: list[str], field: str = "steps") -> Level:
    """Whether ``ids`` name touchpoints or stages of ``journey`` (all must be of one kind)."""
    tps, stages = {t.id for t in journey.touchpoints}, {s.id for s in journey.stages}
    if all(i in tps for i in ids):
        return "touchpoint"
    if all(i in stages for i in ids):
        return "stage"
    bad = next(i for i in ids if i not in tps and i not in stages)
    if bad in tps or bad in stages:
        raise SpecError(f"{field}: mixes touchpoints and stages; use touchpoints only or stages only")
    raise SpecError(f"{field}: '{bad}' is not a touchpoint or stage of journey '{journey.journey}'"
                    f"{did_you_mean(bad, tps | stages)}")


def variants(seq: Sequence, ev: ir.Table | None = None) -> ir.Table:
    """One row per person: ``variant`` (activity ids joined by ' > ') and ``steps``."""
    v = variant_lists(seq.table if ev is None else ev)
    return v.select("person_key", "steps", variant=v.variant.map(seq.decode).join(SEP))


class PathsSpec(Spec):
    kind: Literal["paths"] = "paths"
    level: Level = Field(default="touchpoint", description="sequence of touchpoints or of stages")
    top: int = Field(default=20, ge=1, description="variants shown; the rest are summed into (other)")
    collapse_repeats: bool = Field(default=True, description="treat consecutive repeats as one step")


@register
class Paths(Analysis):
    kind = "paths"
    spec = PathsSpec
    title = "Journey variants"

    def build(self, spec: PathsSpec, ctx: AnalysisContext) -> ir.Table:
        j = ctx.journey(spec.journey)
        seq = sequence(ctx, j, spec.segment, spec.level)
        v = variant_lists(collapse(seq.table, neighbours=False) if spec.collapse_repeats else seq.table)
        counts = v.group_by("variant", "steps").aggregate(people=v.person_key.count())
        # codes are named after counting: ~10⁵ distinct variants instead of 10⁶ people
        counts = counts.mutate(variant=counts.variant.map(seq.decode).join(SEP))
        ranked = counts.mutate(rank=ibis.row_number().over(
            ibis.window(order_by=[counts.people.desc(), counts.variant])))
        keep = (ranked["rank"] < spec.top) & (ranked.people >= ctx.min_cell)
        labelled = ranked.mutate(
            variant=ibis.ifelse(keep, ranked.variant, OTHER),
            steps=ibis.ifelse(keep, ranked.steps, ibis.null("int64")),
            order=ibis.ifelse(keep, ranked["rank"], spec.top + 1))
        out = labelled.group_by("variant").aggregate(
            steps=labelled.steps.max(), people=labelled.people.sum(), order=labelled.order.min())
        total = out.people.sum().over(ibis.window())
        out = out.mutate(share=out.people.cast("float64") / total)
        return out.order_by([out.order, out.variant]).select("variant", "steps", "people", "share")

    def rules(self, spec: PathsSpec) -> CellRules:
        return CellRules(counts=("people",), derived={"share": ("people",)}, groups=())


class AfterDropoutSpec(Spec):
    kind: Literal["after_dropout"] = "after_dropout"
    steps: list[str] | None = Field(default=None, description="touchpoints or stages in order "
                                    "(default: the journey's key steps)")
    step: int | None = Field(default=None, ge=1, description="only people who dropped out at this "
                             "step (1-based); default: every step but the last")
    top: int = Field(default=10, ge=1, description="next activities shown per step; the rest are (other)")

    _split = field_validator("steps", mode="before")(split_list)


@register
class AfterDropout(Analysis):
    kind = "after_dropout"
    spec = AfterDropoutSpec
    title = "What people did after dropping out"

    def build(self, spec: AfterDropoutSpec, ctx: AnalysisContext) -> ir.Table:
        j = ctx.journey(spec.journey)
        steps = spec.steps or j.key_steps()
        if len(steps) < 2:
            raise SpecError("after_dropout needs at least two steps: pass steps=a,b,… or mark "
                            "touchpoints key_step: true in the journey")
        if spec.step is not None and spec.step >= len(steps):
            raise SpecError(f"step: {spec.step} is the last of {len(steps)} steps; nobody drops out "
                            f"after the last step (use 1..{len(steps) - 1})")
        keyed = ordered_keys(ctx, j, spec.segment, level=resolve_level(j, steps))
        seqs, code = keyed.table, keyed.encode
        reached = seqs.filter(seqs.activity == code(steps[0])).group_by("person_key").aggregate(s0=seqs.okey.min())
        for i, step in enumerate(steps[1:], start=1):
            cand = seqs.filter(seqs.activity == code(step))
            jn = reached.left_join(cand, (reached.person_key == cand.person_key) & (cand.okey > reached[f"s{i - 1}"]))
            reached = jn.group_by([jn[c] for c in reached.columns]).aggregate(**{f"s{i}": jn.okey.min()})
        wanted = [spec.step] if spec.step else list(range(1, len(steps)))
        parts = []
        for k in wanted:
            at = f"s{k - 1}"
            dropped = reached.filter(reached[at].notnull() & reached[f"s{k}"].isnull()).select("person_key", at=reached[at])
            later = seqs.filter(seqs.activity != code(steps[k - 1]))
            jn = dropped.left_join(later, (dropped.person_key == later.person_key) & (later.okey > dropped.at))
            # events tied on okey share time and touchpoint, hence activity: argmin is deterministic
            nxt = jn.group_by(jn.person_key).aggregate(next=jn.activity.argmin(jn.okey))
            parts.append(nxt.select(step=ibis.literal(k, "int64"), step_activity=ibis.literal(steps[k - 1]),
                                    next=ibis.coalesce(keyed.decode(nxt.next), LEFT)))
        rows = ibis.union(*parts) if len(parts) > 1 else parts[0]
        counts = rows.group_by("step", "step_activity", "next").aggregate(people=rows.count())
        w = ibis.window(group_by=counts.step, order_by=[counts.people.desc(), counts.next])
        ranked = counts.mutate(rank=ibis.row_number().over(w))
        keep = (ranked["rank"] < spec.top) | (ranked.next == LEFT)
        ranked = ranked.mutate(next=ibis.ifelse(keep, ranked.next, OTHER),
                               order=ibis.ifelse(ranked.next == LEFT, -1, ibis.ifelse(keep, ranked["rank"], spec.top + 1)))
        out = ranked.group_by("step", "step_activity", "next").aggregate(people=ranked.people.sum(), order=ranked.order.min())
        dropped_total = out.people.sum().over(ibis.window(group_by=out.step))
        out = out.mutate(dropped=dropped_total, share=out.people.cast("float64") / dropped_total)
        return out.order_by([out.step, out.order, out.next]).select(
            "step", "step_activity", "dropped", "next", "people", "share")

    def rules(self, spec: AfterDropoutSpec) -> CellRules:
        return CellRules(counts=("dropped", "people"), derived={"share": ("people", "dropped")},
                         pairs=(("dropped", "people"),), groups=("step",))
