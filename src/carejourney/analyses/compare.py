"""Segment comparison: the same analysis side by side for two or more segments.

A :class:`CompareSpec` wraps any other analysis spec and a list of the journey's segments
(default: all of them; ``overall: true`` adds everyone as ``(all)``). The wrapped analysis is
built once per segment with ``segment`` set, the lazy expressions are unioned into one query,
and the wrapped analysis' own ``postprocess`` finishes each segment's rows. Output rows carry a
``segment`` column first.

Suppression follows the wrapped analysis' rules, applied within each segment: step chains and
complementary groups never cross segments. Segments may overlap (a person can be senior and
Spanish-speaking), so they are not treated as parts of a shown total.
"""

from __future__ import annotations

from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import Field, SerializeAsAny, field_validator

from ..errors import SpecError
from ..model.journey import did_you_mean
from ..privacy.suppression import CellRules
from .base import Analysis, Spec, get_analysis, parse_spec, register
from .context import AnalysisContext

__all__ = ["CompareSpec", "Compare", "OVERALL"]

OVERALL = "(all)"
_COL = "_cmp_segment"


class CompareSpec(Spec):
    kind: Literal["compare"] = "compare"
    analysis: SerializeAsAny[Spec] = Field(description="the analysis to compare, e.g. {kind: funnel, steps: [...]}")
    segments: list[str] | None = Field(default=None, description="journey segments to compare (default: all)")
    overall: bool = Field(default=False, description="add everyone as segment '(all)'")

    @field_validator("analysis", mode="before")
    @classmethod
    def _wrapped(cls, v: Any):
        if isinstance(v, str):
            v = {"kind": v}
        if isinstance(v, dict):
            if v.get("kind") in (None, "compare"):
                raise ValueError("analysis needs a kind other than compare (e.g. {kind: funnel})")
            return parse_spec(dict(v))
        return v

    @field_validator("segments", mode="before")
    @classmethod
    def _segments(cls, v):
        return [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v


def _sub_specs(spec: CompareSpec, ctx: AnalysisContext) -> list[tuple[str, Spec]]:
    inner = spec.analysis
    if inner.segment is not None:
        raise SpecError(f"compare: the wrapped {inner.kind} spec sets segment '{inner.segment}'; "
                        "list segments on the comparison instead (segments: [...])")
    journey_id = inner.journey or spec.journey
    journey = ctx.journey(journey_id)
    known = [s.id for s in journey.segments]
    names = spec.segments if spec.segments is not None else known
    if not names and not spec.overall:
        raise SpecError(f"journey '{journey.journey}' defines no segments to compare; add segments: "
                        "to the journey file or set overall: true")
    for s in names:
        if s not in known:
            raise SpecError(f"compare: unknown segment '{s}'{did_you_mean(s, known)} "
                            f"(segments of '{journey.journey}': {', '.join(known) or 'none'})")
    out = [(s, inner.model_copy(update={"segment": s, "journey": journey_id})) for s in names]
    if spec.overall:
        out.insert(0, (OVERALL, inner.model_copy(update={"journey": journey_id})))
    return out


@register
class Compare(Analysis):
    kind = "compare"
    spec = CompareSpec
    title = "Segment comparison"

    def build(self, spec: CompareSpec, ctx: AnalysisContext) -> ir.Table:
        analysis = get_analysis(spec.analysis.kind)
        together = getattr(analysis, "build_compare", None)  # an analysis that does all segments in one pass
        if together is not None:
            expr = together([(name, analysis.resolve(sub, ctx)) for name, sub in _sub_specs(spec, ctx)], ctx)
            if expr is not None:
                return expr
        parts = []
        for name, sub in _sub_specs(spec, ctx):
            expr = analysis.build(analysis.resolve(sub, ctx), ctx)
            if "segment" in expr.columns or _COL in expr.columns:
                raise SpecError("compare: the wrapped analysis already has a 'segment' column "
                                "(a breakdown by segment); compare by another field")
            parts.append(expr.mutate(**{_COL: ibis.literal(name)}))
        return parts[0] if len(parts) == 1 else ibis.union(*parts)

    def postprocess(self, df: pd.DataFrame, spec: CompareSpec, ctx: AnalysisContext) -> pd.DataFrame:
        analysis = get_analysis(spec.analysis.kind)
        frames, notes = [], []
        for name, sub in _sub_specs(spec, ctx):
            part = df[df[_COL] == name].drop(columns=[_COL]).reset_index(drop=True)
            done = analysis.postprocess(part, analysis.resolve(sub, ctx), ctx)
            notes += [n for n in done.attrs.get("notes", []) if n not in notes]
            frames.append(done.assign(segment=name))
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["segment"])
        out = out[["segment", *[c for c in out.columns if c != "segment"]]]
        out.attrs["notes"] = notes
        return out

    def rules(self, spec: CompareSpec) -> CellRules:
        inner = get_analysis(spec.analysis.kind).rules(spec.analysis)
        return CellRules(
            counts=inner.counts, derived=dict(inner.derived), pairs=inner.pairs,
            groups=None if inner.groups is None else ("segment", *inner.groups),
            sums=inner.sums, carry=inner.carry, sequence=("segment", *inner.sequence),
        )
