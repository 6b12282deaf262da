"""carejourney analyze: run any registered analysis on the store and print its suppressed rows.

Generic path: ``carejourney analyze <kind> [--spec FILE.yml] [--set key=value ...]`` works for
every analysis kind (dashes or underscores, e.g. ``process-map``). Friendly options cover the
common funnel / retention fields and are rejected for kinds that do not have them.
``--compare senior,adult`` wraps the analysis in a segment comparison.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import SpecError
from .common import FormatOption, OutputFormat, console, emit, load

# option name -> spec field, for the friendly options (None values are "not given")
_FRIENDLY = {
    "steps": "steps", "window": "window", "order": "order", "by": "by", "unit": "unit",
    "max_gap": "max_gap", "exclude": "exclusions", "open_": "open", "trend": "trend", "top": "top",
    "date_from": "date_from", "date_to": "date_to", "as_of": "as_of",
    "period": "period", "mode": "mode", "entry": "entry", "start": "start", "returns": "returns",
    "periods": "periods",
}


def _fields(spec_cls, given: dict) -> dict:
    """Friendly options that were given, checked against the analysis' spec fields."""
    out = {}
    for opt, value in given.items():
        if value is None or value == [] or value == ():
            continue
        field = _FRIENDLY[opt]
        if spec_cls is not None and field not in spec_cls.model_fields:
            flag = "--" + opt.rstrip("_").replace("_", "-")
            raise SpecError(f"{flag} does not apply to this analysis; use --set field=value with one of "
                            f"its fields: {', '.join(f for f in spec_cls.model_fields if f != 'kind')}")
        if isinstance(value, list):
            value = ",".join(value)
        out[field] = value
    return out


def register(app: typer.Typer) -> None:
    @app.command()
    def analyze(
        kind: str = typer.Argument(None, help="Analysis: funnel, retention, timing, delays, paths, process-map, "
                                              "conformance, compare, feedback, … (optional with --spec)."),
        journey: str = typer.Option(None, "--journey", "-j", help="Journey id (default: the first)."),
        segment: str = typer.Option(None, "--segment", help="Only this segment of the journey."),
        spec_file: Path = typer.Option(None, "--spec", help="YAML file with the spec (kind: …, fields)."),
        settings: list[str] = typer.Option(None, "--set", help="Spec field, key=value (repeatable; "
                                                                "values read as YAML; dots nest)."),
        compare: str = typer.Option(None, "--compare", help="Compare these segments side by side (comma list, "
                                                           "or 'all')."),
        steps: str = typer.Option(None, "--steps", help="Funnel steps, comma-separated ('a|b' = either)."),
        window: str = typer.Option(None, "--window", help="Funnel conversion window, e.g. 30d."),
        order: str = typer.Option(None, "--order", help="Funnel order: ordered, strict, unordered."),
        by: str = typer.Option(None, "--by", help="Breakdown: segment, a person attribute or an event field."),
        unit: str = typer.Option(None, "--unit", help="Funnel unit: person or episode."),
        max_gap: list[str] = typer.Option(None, "--max-gap", help="step=duration, longest time from the "
                                                                  "previous step (repeatable)."),
        exclude: list[str] = typer.Option(None, "--exclude", help="Touchpoint that ends an attempt, "
                                                                  "optionally event:after_step (repeatable)."),
        open_: bool = typer.Option(None, "--open/--closed", help="Open funnel: count people from the step they enter."),
        trend: str = typer.Option(None, "--trend", help="Split by entry period: day, week, month."),
        top: int = typer.Option(None, "--top", help="Breakdown values shown (the rest are 'Other')."),
        date_from: str = typer.Option(None, "--from", help="First entry day, YYYY-MM-DD (project timezone)."),
        date_to: str = typer.Option(None, "--to", help="Last entry day, inclusive."),
        as_of: str = typer.Option(None, "--as-of", help="UTC time the data is complete to (default: newest event)."),
        period: str = typer.Option(None, "--period", help="Retention cohort period: day, week, month."),
        mode: str = typer.Option(None, "--mode", help="Retention: on or on_or_after."),
        entry: str = typer.Option(None, "--entry", help="Retention: first_ever or first_in_range."),
        start: str = typer.Option(None, "--start", help="Retention: touchpoints that start a cohort."),
        returns: str = typer.Option(None, "--returns", help="Retention: touchpoints that count as a return."),
        periods: int = typer.Option(None, "--periods", help="Retention: last period shown."),
        fmt: OutputFormat = FormatOption,
    ) -> None:
        """Run an analysis (suppressed: counts below the project's min_cell show as <k)."""
        from ..analyses._request import make_spec, parse_settings, resolve_kind
        from ..analyses.base import get_analysis, run
        from ..analyses.context import AnalysisContext
        from ..store import open_store

        given = {k: v for k, v in locals().items() if k in _FRIENDLY}
        project = load()
        fields = parse_settings(settings)
        inner_kind = resolve_kind(kind) if kind else None
        spec_cls = get_analysis(inner_kind).spec if inner_kind else None
        fields.update(_fields(spec_cls, given))
        if journey:
            fields["journey"] = journey
        if segment:
            fields["segment"] = segment
        spec = make_spec(kind, fields, spec_file)
        if compare:
            names = None if compare.strip() == "all" else compare
            spec = make_spec("compare", {"analysis": spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
                                         | {"kind": spec.kind}, "segments": names, "journey": spec.journey})
        store = open_store(project)
        try:
            result = run(spec, AnalysisContext.from_store(project, store))
        finally:
            store.close()
        meta = {k: v for k, v in result.as_dict().items() if k != "rows"}
        emit(result.records(), fmt, title=f"{get_analysis(spec.kind).title or spec.kind} ({result.engine})", meta=meta)
        if fmt == OutputFormat.table:
            fresh = result.freshness.isoformat(sep=" ", timespec="minutes") if result.freshness else "unknown"
            console.print(f"{result.suppressed} cell(s) suppressed (<{result.rows.k}); data as of {fresh} UTC; "
                          f"{result.elapsed:.2f}s" + "".join(f"\n{n}" for n in result.notes))
