"""How an analysis is shaped, and the one place analyses are executed.

An analysis is a typed ``Spec`` (pydantic, with a ``kind``) plus a class that *builds* a lazy
Ibis expression from the spec and an :class:`AnalysisContext`; it never executes anything
itself. :func:`run` executes the expression on whatever engine the context holds (DuckDB,
Spark…), applies optional pandas post-processing on the small aggregate (intervals, tests),
and passes the table through :func:`carejourney.privacy.suppress`. The returned
:class:`Result` carries the rows, the spec, the engine, the compiled SQL, the data
freshness and how many cells were suppressed, so every number a user sees can be traced.

Adding an analysis: subclass :class:`Analysis`, set ``kind`` and ``spec``, implement
``build`` and ``rules``, decorate with :func:`register`. Built-ins use the same seam.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import Field

from ..errors import SpecError
from ..model.base import Strict
from ..model.journey import did_you_mean
from ..privacy.suppression import CellRules, Suppressed, suppress
from ._cache import NO_SQL
from .context import AnalysisContext

__all__ = ["Spec", "Analysis", "Result", "register", "get_analysis", "analysis_kinds", "run",
           "execute", "compile_sql"]


class Spec(Strict):
    """Base of every analysis spec."""

    kind: str
    journey: str | None = Field(default=None, description="journey id (default: the project's first)")
    segment: str | None = Field(default=None, description="restrict to one segment of the journey")


class Analysis:
    kind: ClassVar[str]
    spec: ClassVar[type[Spec]]
    title: ClassVar[str] = ""

    def resolve(self, spec: Spec, ctx: AnalysisContext) -> Spec:
        """Fill defaults that come from the project or journey (e.g. a journey's conversion
        window). Runs before ``build``; the resolved spec is what the Result reports."""
        return spec

    def build(self, spec: Spec, ctx: AnalysisContext) -> ir.Table:
        """The lazy Ibis expression. Must not execute anything."""
        raise NotImplementedError

    def rules(self, spec: Spec) -> CellRules:
        """Which output columns count people and what derives from them (for suppression)."""
        raise NotImplementedError

    def postprocess(self, df: pd.DataFrame, spec: Spec, ctx: AnalysisContext) -> pd.DataFrame:
        """Optional finishing on the executed aggregate (ordering, intervals). Default: none."""
        return df


@dataclass
class Result:
    """A suppressed analysis result with everything needed to trace it."""

    rows: Suppressed
    spec: Spec
    engine: str
    sql: str
    suppressed: int
    freshness: datetime | None
    elapsed: float
    notes: list[str] = field(default_factory=list)

    @property
    def frame(self) -> pd.DataFrame:
        return self.rows.frame

    def records(self) -> list[dict]:
        return self.rows.records()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.spec.kind, "spec": self.spec.model_dump(mode="json", by_alias=True),
            "engine": self.engine, "suppressed_cells": self.suppressed, "min_cell": self.rows.k,
            "freshness": self.freshness.isoformat() if self.freshness else None,
            "elapsed_seconds": round(self.elapsed, 3), "notes": self.notes, "sql": self.sql,
            "rows": self.records(),
        }


_REGISTRY: dict[str, type[Analysis]] = {}


def register(cls: type[Analysis]) -> type[Analysis]:
    _REGISTRY[cls.kind] = cls
    return cls


def _load_builtins() -> None:
    import importlib
    import pkgutil
    from .. import analyses as pkg
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("base", "context") and not mod.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")


def analysis_kinds() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get_analysis(kind: str) -> Analysis:
    _load_builtins()
    if kind not in _REGISTRY:
        raise SpecError(f"unknown analysis '{kind}'{did_you_mean(kind, _REGISTRY)} "
                        f"(analyses: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[kind]()


def parse_spec(data: dict) -> Spec:
    """A spec from a dict (YAML, JSON, CLI); errors name the field."""
    from pydantic import ValidationError as PydanticValidationError
    kind = data.get("kind")
    analysis = get_analysis(kind)
    try:
        return analysis.spec.model_validate(data)
    except PydanticValidationError as exc:
        msgs = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise SpecError(f"invalid {kind} spec: " + "; ".join(msgs)) from None


def compile_sql(expr: ir.Expr, ctx: AnalysisContext) -> str:
    try:
        if ctx.con is None:
            return str(ibis.to_sql(expr))
        return ctx.describe_shared(expr) + str(ctx.con.compile(expr))
    except Exception as exc:  # some expressions (memtables, UDF-free python steps) have no single SQL
        return f"{NO_SQL}: {type(exc).__name__}"


def execute(spec: Spec, ctx: AnalysisContext) -> tuple[pd.DataFrame, str, float]:
    """Build and execute an analysis **without** suppression (internal: friction, tests)."""
    analysis = get_analysis(spec.kind)
    start = time.perf_counter()
    spec = analysis.resolve(spec, ctx)
    # built only when it is not answered from kept results (building is most of a warm report)
    df, sql = ctx.analysis_frame(spec, lambda: analysis.build(spec, ctx))
    df = analysis.postprocess(df, spec, ctx)
    return df, sql, time.perf_counter() - start


def run(spec: Spec, ctx: AnalysisContext) -> Result:
    """Execute an analysis and suppress small cells. The only way results leave analyses/."""
    analysis = get_analysis(spec.kind)
    spec = analysis.resolve(spec, ctx)
    df, sql, elapsed = execute(spec, ctx)
    rows = suppress(df, analysis.rules(spec), ctx.min_cell)
    return Result(rows=rows, spec=spec, engine=ctx.engine, sql=sql, suppressed=rows.cells,
                  freshness=ctx.freshness(), elapsed=elapsed, notes=list(getattr(df, "attrs", {}).get("notes", [])))
