"""The seam between analyses and the report: a section fetches suppressed results and turns
them into views (chart, table, text summary, "how this was computed" footnote).

Sections register with :func:`section` in display order. A section whose analysis is not
installed, or whose analysis cannot run on this project, renders a clear "not available"
box instead of failing the report. The report accepts only :class:`Result` objects whose
rows are :class:`~carejourney.privacy.Suppressed` — privacy by type.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd
from markupsafe import Markup

from ...analyses.base import Result, analysis_kinds, get_analysis, parse_spec, run
from ...errors import CarejourneyError, PrivacyError
from ...model.names import Names
from ...privacy.suppression import Suppressed
from ..format import Fmt, is_suppressed, to_number

__all__ = ["ReportContext", "Section", "View", "Table", "Unavailable", "section", "sections",
           "result_table", "people_columns", "footnote"]

log = logging.getLogger(__name__)


@dataclass
class Unavailable:
    """Why a view cannot be shown (analysis missing, no data, not applicable)."""

    reason: str


@dataclass
class Traced:
    """A suppressed table that is not one analysis run (the ranked findings combine several).

    Carries the same facts as a :class:`Result` so its view gets the same footnote.
    """

    rows: Suppressed
    kind: str
    spec: dict
    engine: str
    sql: str
    freshness: object = None
    notes: list[str] = field(default_factory=list)
    people: tuple[str, ...] = ()  # columns that count people

    @property
    def suppressed(self) -> int:
        return self.rows.cells

    def records(self) -> list[dict]:
        return self.rows.records()


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[Any]]   # cells are Markup or plain text
    note: str | None = None


@dataclass
class View:
    id: str
    title: str
    intro: str = ""
    result: Result | None = None
    results: list = field(default_factory=list)  # further Result / Traced the view also shows
    figure: Any = None            # a plotly Figure (aggregates only)
    chart_label: str = ""         # aria-label of the chart
    summary: list[Markup] = field(default_factory=list)  # the chart's text alternative
    table: Table | None = None
    html: Markup | None = None    # custom body (the journey map)
    unavailable: str | None = None
    source: str | None = None     # where a view's data comes from when it is not an analysis result

    @property
    def footnotes(self) -> list:
        return [r for r in ([self.result] if self.result else []) + self.results]


@dataclass
class Section:
    id: str
    title: str
    intro: str
    views: list[View]


class ReportContext:
    """What every section sees: the analysis context, the journey, segment and formatter.

    :meth:`fetch` runs an analysis once per (kind, parameters) and caches the result, so the
    journey map and the funnel view share one funnel run.
    """

    def __init__(self, actx, journey, segment: str | None = None, *, store=None, strict: bool = False):
        self.actx = actx
        self.journey = journey
        self.segment = segment
        self.store = store
        self.project = actx.project
        self.fmt = Fmt(actx.min_cell)
        self.names = Names(journey)  # ids → the journey's words, for every label a reader sees
        self.strict = strict
        self.problems: list[str] = []
        self._cache: dict[str, Result | Unavailable] = {}
        self._kinds: list[str] | None = None
        self._period: str | None = None
        self.memo: dict = {}  # shared non-analysis data (findings, actions)

    @property
    def period(self) -> str:
        """First to latest event of the journey's events (the data period of every view)."""
        if self._period is None:
            try:
                ev = self.actx.journey_event_times(self.journey.journey, self.segment)
                df = self.actx.to_pandas(ev.aggregate(lo=ev.ts.min(), hi=ev.ts.max()))
                lo, hi = df["lo"].iloc[0], df["hi"].iloc[0]
                self._period = "no events" if pd.isna(lo) else f"{lo:%Y-%m-%d} to {hi:%Y-%m-%d}"
            except Exception as exc:  # an empty or unreadable store still gets a report
                self._period = f"unknown ({type(exc).__name__})"
        return self._period

    @property
    def has_feedback(self) -> bool:
        """Whether any feedback was ingested (skips three feedback runs on projects without any)."""
        if "has_feedback" not in self.memo:
            fb = self.actx.feedback
            try:
                n = 0 if fb is None else int(self.actx.to_pandas(fb.aggregate(n=fb.count()))["n"].iloc[0])
            except Exception:  # a store without a feedback table behaves like one without rows
                n = 0
            self.memo["has_feedback"] = n > 0
        return self.memo["has_feedback"]

    @property
    def kinds(self) -> list[str]:
        if self._kinds is None:
            self._kinds = analysis_kinds()
        return self._kinds

    def has(self, kind: str) -> bool:
        return kind in self.kinds

    def fetch(self, kind: str, *, scoped: bool = True, **params) -> Result | Unavailable:
        """Run ``kind`` with ``params`` for this journey (and segment, when ``scoped``)."""
        key = kind + json.dumps(params, sort_keys=True, default=str) + str(scoped)
        if key not in self._cache:
            self._cache[key] = self._run(kind, params, scoped)
        return self._cache[key]

    def _run(self, kind: str, params: dict, scoped: bool) -> Result | Unavailable:
        if not self.has(kind):
            return Unavailable(f"the '{kind}' analysis is not installed in this version of carejourney")
        data = {"kind": kind, "journey": self.journey.journey, **params}
        if scoped and self.segment is not None and "segment" in get_analysis(kind).spec.model_fields:
            data.setdefault("segment", self.segment)
        try:
            result = run(parse_spec(data), self.actx)
        except CarejourneyError as exc:
            if self.strict:
                raise
            return Unavailable(f"the '{kind}' analysis cannot run on this project: {exc}")
        except Exception as exc:  # a bug in one analysis must not take the whole report down
            if self.strict:
                raise
            log.debug("analysis %s failed", kind, exc_info=True)
            self.problems.append(f"{kind}: {type(exc).__name__}: {exc}")
            return Unavailable(f"the '{kind}' analysis failed ({type(exc).__name__}); see the log")
        return accept(result)


def accept(result: Result | Traced) -> Result | Traced:
    """Privacy by type: only suppressed results may enter the report."""
    if not isinstance(result, (Result, Traced)) or not isinstance(result.rows, Suppressed):
        raise PrivacyError("the report accepts only suppressed analysis results "
                           "(made by carejourney.analyses.base.run)")
    return result


_SECTIONS: list[tuple[int, Callable[[ReportContext], Section]]] = []


def section(order: int):
    """Register a section builder; sections render in ``order``."""
    def deco(fn: Callable[[ReportContext], Section]):
        _SECTIONS.append((order, fn))
        return fn
    return deco


def sections() -> list[Callable[[ReportContext], Section]]:
    from . import _load  # noqa: F401  (imports every section module once)
    return [fn for _, fn in sorted(_SECTIONS, key=lambda p: p[0])]


def people_columns(result) -> set[str]:
    """Columns of a result that count people (from the analysis's own suppression rules)."""
    if isinstance(result, Traced):
        return set(getattr(result, "people", ()))
    try:
        rules = get_analysis(result.spec.kind).rules(result.spec)
    except Exception:
        return set()
    return set(rules.counts)


_RATE_WORDS = ("rate", "conversion", "share", "pct", "percent", "ratio")
_DAY_WORDS = ("days",)
_SECOND_WORDS = ("seconds",)


def cell(fmt: Fmt, col: str, value, people: set[str]) -> Any:
    """Format one result cell by what the column means: people counts (never small), shares as
    percentages, durations (``*_days``, ``*_seconds``) in the unit that reads best, yes / no."""
    if col in people:
        return fmt.people(value)
    low = col.lower()
    if is_suppressed(value):
        return fmt.number(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    n = to_number(value)
    if n is not None and any(w in low for w in _RATE_WORDS) and -1 <= n <= 1:
        return fmt.rate(value, 1)
    if n is not None and any(w in low for w in _DAY_WORDS):
        return fmt.days(value)
    if n is not None and any(w in low for w in _SECOND_WORDS):
        return fmt.days(n / 86400)
    if n is not None:
        return fmt.number(value)
    if value is None:
        return Markup('<span class="n missing">—</span>')
    if isinstance(value, (list, tuple)):
        return " → ".join(str(v) for v in value)
    return str(value)


def pretty(col: str) -> str:
    return col.replace("_", " ").capitalize()


def result_table(ctx: ReportContext, result: Result, caption: str, *, columns: list[str] | None = None,
                 limit: int = 50, labels: dict[str, str] | None = None,
                 values: dict[str, Callable[[Any], Any]] | None = None) -> Table:
    """A table of a result (top ``limit`` rows), people counts marked up and small cells hidden.
    ``labels``: column headings; ``values``: column → how its ids read (e.g. ``ctx.names.touchpoint``)."""
    recs = result.records()
    cols = columns or (list(recs[0]) if recs else list(result.frame.columns))
    cols = [c for c in cols if not recs or c in recs[0]]
    people = people_columns(result)
    values = values or {}

    def shown(c, v):
        return values[c](v) if c in values and v is not None and not is_suppressed(v) else v
    rows = [[cell(ctx.fmt, c, shown(c, r.get(c)), people) for c in cols] for r in recs[:limit]]
    note = f"Showing the first {limit} of {len(recs):,} rows." if len(recs) > limit else None
    labels = labels or {}
    return Table(caption=caption, columns=[labels.get(c, pretty(c)) for c in cols], rows=rows, note=note)


def footnote(ctx: ReportContext, result: Result) -> dict:
    """The "how this was computed" facts for one result."""
    accept(result)
    if isinstance(result, Traced):
        kind, spec = result.kind, result.spec
    else:
        kind, spec = result.spec.kind, result.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        "kind": kind,
        "spec": json.dumps(spec, indent=1, sort_keys=True),
        "engine": result.engine,
        "freshness": ctx.fmt.when(result.freshness),
        "period": ctx.period,
        "suppressed": result.suppressed,
        "k": result.rows.k,
        "sql": result.sql,
        "notes": result.notes,
    }


def unavailable_view(vid: str, title: str, why: Unavailable | str, intro: str = "") -> View:
    return View(id=vid, title=title, intro=intro, unavailable=why.reason if isinstance(why, Unavailable) else why)


def generic_view(ctx: ReportContext, vid: str, kind: str, title: str, intro: str, caption: str,
                 params: dict | None = None, limit: int = 30) -> View:
    """A table view of any analysis result (used until a section knows the result's shape)."""
    r = ctx.fetch(kind, **(params or {}))
    if isinstance(r, Unavailable):
        return unavailable_view(vid, title, r, intro)
    return View(id=vid, title=title, intro=intro, result=r, table=result_table(ctx, r, caption, limit=limit))
