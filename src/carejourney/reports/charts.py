"""Plotly figures for the report, built from small, already-suppressed aggregates.

Every figure receives numbers that came out of ``analyses.base.run`` (suppressed cells are
``"<k"`` or None) and draws aggregates only — never one mark per person — so a report for a
million people stays a few megabytes. Traces that carry counts of people declare it in
``meta={"people": [<attribute paths>]}`` so tests can check every such number; their labels
are formatted by :class:`~carejourney.reports.format.Fmt`, which never prints 1..k-1.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from typing import Callable

import plotly.graph_objects as go

from .format import Fmt, to_number
from .theme import PALETTE, SERIES

__all__ = ["funnel", "sankey_paths", "delays", "process_network", "cohort_heatmap",
           "segment_bars", "topic_bars", "figure_json"]


def _layout(fig: go.Figure, *, height: int = 380, **kw) -> go.Figure:
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), paper_bgcolor=PALETTE["background"],
        plot_bgcolor=PALETTE["background"], colorway=SERIES, showlegend=kw.pop("showlegend", False),
        font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=13,
                  color=PALETTE["text"]), **kw)
    return fig


def figure_json(fig: go.Figure) -> str:
    """Compact JSON for embedding in a ``<script type="application/json">`` block."""
    import plotly.io as pio
    return pio.to_json(fig, validate=False, pretty=False).replace("<", "\\u003c")


def _safe(fmt: Fmt, v) -> float | None:
    """A people count that may be drawn (None if suppressed or small)."""
    return fmt.safe_people(v)


def funnel(fmt: Fmt, labels: list[str], people: list, conversion: list | None = None,
           dropped: list | None = None) -> go.Figure:
    """Horizontal bars of people reaching each step, stacked with those who did not reach the next."""
    values = [_safe(fmt, v) for v in people]
    conversion = conversion or [None] * len(people)
    text = [fmt.people_text(v) + (f" · {fmt.rate_text(c)} of previous" if c is not None and i else "")
            for i, (v, c) in enumerate(zip(people, conversion))]
    drop = [_safe(fmt, d) for d in (dropped or [None] * len(people))]
    drop_text = [fmt.people_text(d) + " did not continue" if d else "" for d in drop]
    fig = go.Figure()
    fig.add_bar(y=labels, x=values, orientation="h", name="Reached the step", text=text, textposition="auto",
                marker_color=SERIES[0], meta={"people": ["x"]},
                hovertemplate="%{y}: %{text}<extra></extra>")
    fig.add_bar(y=labels, x=drop, orientation="h", name="Dropped out before this step", text=drop_text,
                textposition="auto", marker_color="#d9dee5", textfont_color=PALETTE["text"],
                meta={"people": ["x"]}, hovertemplate="%{y}: %{text}<extra></extra>")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="people")
    return _layout(fig, barmode="stack", height=max(260, 60 * len(labels) + 80), showlegend=True,
                   legend=dict(orientation="h", y=-0.25))


def sankey_paths(fmt: Fmt, variants: list[tuple[list[str], object]], max_steps: int = 6,
                 label: Callable[[str], str] = str) -> go.Figure:
    """Sankey of the top variants: node = (step number, activity), link width = people;
    ``label`` names an activity id for readers."""
    flows: dict[tuple, float] = defaultdict(float)
    for steps, n in variants:
        v = _safe(fmt, n)
        if not v or len(steps) < 2:
            continue
        steps = steps[:max_steps]
        for i in range(len(steps) - 1):
            flows[((i, steps[i]), (i + 1, steps[i + 1]))] += v
    nodes = sorted({n for pair in flows for n in pair})
    index = {n: i for i, n in enumerate(nodes)}
    src = [index[a] for a, _ in flows]
    dst = [index[b] for _, b in flows]
    vals = list(flows.values())
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node=dict(label=[f"{i + 1}. {label(a)}" for i, a in nodes], pad=14, thickness=14, color=SERIES[0]),
        link=dict(source=src, target=dst, value=vals, color="rgba(29,78,216,0.25)",
                  customdata=[fmt.people_text(v) for v in vals],
                  hovertemplate="%{source.label} → %{target.label}: %{customdata} people<extra></extra>"),
        meta={"people": ["link.value"]}))
    return _layout(fig, height=420)


def delays(fmt: Fmt, rows: list[dict]) -> go.Figure:
    """Delay distributions as box plots from precomputed quantiles (days).

    ``rows``: ``{"label", "p10", "p25", "median", "p75", "p90", "target"}`` (any may be None).
    """
    fig = go.Figure()
    for i, r in enumerate(rows):
        q = {k: to_number(r.get(k)) for k in ("p10", "p25", "median", "p75", "p90")}
        if q["median"] is None:
            continue
        lo, hi = q["p25"] if q["p25"] is not None else q["median"], q["p75"] if q["p75"] is not None else q["median"]
        fig.add_box(y=[r["label"]], median=[q["median"]], q1=[lo], q3=[hi],
                    lowerfence=[q["p10"] if q["p10"] is not None else lo],
                    upperfence=[q["p90"] if q["p90"] is not None else hi],
                    orientation="h", name=r["label"], marker_color=SERIES[i % len(SERIES)],
                    hoverinfo="x+name")
        t = to_number(r.get("target"))
        if t is not None:
            fig.add_scatter(x=[t], y=[r["label"]], mode="markers", name="target",
                            marker=dict(symbol="line-ns-open", size=22, color=PALETTE["text"]),
                            hovertemplate="target: %{x:.1f} days<extra></extra>")
    fig.update_xaxes(title_text="days (box: middle half; whiskers: 10th–90th percentile; | target)")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=max(240, 70 * len(rows)))


def process_network(fmt: Fmt, positions: dict[str, tuple[float, float]], edges: list[dict],
                    starts: dict[str, object] | None = None, label: Callable[[str], str] = str) -> go.Figure:
    """The directly-follows graph as a network: nodes placed by stage (x) and order (y),
    arrows whose width grows with the people making that move; ``label`` names a step id."""
    fig = go.Figure()
    shown = [e for e in edges if _safe(fmt, e["people"]) and e["source"] in positions and e["target"] in positions]
    top = max([_safe(fmt, e["people"]) for e in shown] or [1])
    mids_x, mids_y, mids_text, mids_people, arrows = [], [], [], [], []
    for e in shown:
        (x0, y0), (x1, y1) = positions[e["source"]], positions[e["target"]]
        n = _safe(fmt, e["people"])
        if e["source"] == e["target"]:
            mids_x.append(x0 + 0.15)
            mids_y.append(y0 + 0.25)
        else:
            arrows.append(dict(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=2, arrowsize=1, standoff=14, startstandoff=14,
                               arrowwidth=1 + 5 * n / top, arrowcolor="rgba(29,78,216,0.45)", text=""))
            mids_x.append((x0 + x1) / 2)
            mids_y.append((y0 + y1) / 2)
        mids_people.append(n)
        mids_text.append(f"{label(e['source'])} → {label(e['target'])}: {fmt.people_text(n)} people"
                         + (f", median {e['median']}" if e.get("median") else ""))
    # the arrows set at once: each add_annotation validates every annotation so far again (40 arrows:
    # 0.27 s of every report with a process map, against 0.10 s)
    fig.update_layout(annotations=arrows)
    fig.add_scatter(x=mids_x, y=mids_y, mode="markers", marker=dict(size=6, color="rgba(0,0,0,0)"),
                    customdata=mids_people, text=mids_text, hovertemplate="%{text}<extra></extra>",
                    meta={"people": ["customdata"]}, name="moves")
    names = list(positions)
    # labels wrapped onto short lines: a step's name ("Referral worked (records, authorisation,
    # outreach)") would otherwise run into its neighbours' in the next stage column
    fig.add_scatter(x=[positions[n][0] for n in names], y=[positions[n][1] for n in names],
                    mode="markers+text", text=["<br>".join(textwrap.wrap(str(label(n)), 18)) for n in names],
                    textposition="top center",
                    marker=dict(size=16, color=SERIES[1], line=dict(width=1, color=PALETTE["text"])),
                    hovertemplate="%{text}<extra></extra>", name="steps")
    xs = [p[0] for p in positions.values()] or [0]
    fig.update_xaxes(visible=False, range=[min(xs) - 0.6, max(xs) + 0.6])  # room for the outer labels
    ys = [p[1] for p in positions.values()] or [0]
    fig.update_yaxes(visible=False, range=[max(ys) + 0.4, min(ys) - 0.9])  # top down; room for wrapped labels
    return _layout(fig, height=max(320, 110 * (1 + max(ys))))


def cohort_heatmap(fmt: Fmt, cohorts: list[str], periods: list[str], rates: list[list]) -> go.Figure:
    """Return-care heatmap: rows = cohorts, columns = periods since first visit, cell = share returning."""
    z = [[to_number(v) for v in row] for row in rates]
    text = [[fmt.rate_text(v) for v in row] for row in rates]
    fig = go.Figure(go.Heatmap(z=z, x=periods, y=cohorts, text=text, texttemplate="%{text}",
                               colorscale=[[0, "#eef2f7"], [1, "#1d4ed8"]], zmin=0, zmax=1,
                               hovertemplate="%{y}, %{x}: %{text}<extra></extra>",
                               colorbar=dict(title="returned", tickformat=".0%")))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return _layout(fig, height=max(260, 28 * len(cohorts) + 120))


def segment_bars(fmt: Fmt, categories: list[str], series: dict[str, list], *, percent: bool = True,
                 axis: str = "") -> go.Figure:
    """Grouped bars comparing segments (rates by default)."""
    fig = go.Figure()
    for i, (name, values) in enumerate(series.items()):
        y = [to_number(v) for v in values]
        text = [fmt.rate_text(v) if percent else fmt.days_text(v) for v in values]
        fig.add_bar(x=categories, y=y, name=name, text=text, textposition="outside",
                    marker_color=SERIES[i % len(SERIES)], hovertemplate="%{x}: %{text}<extra>" + name + "</extra>")
    fig.update_yaxes(tickformat=".0%" if percent else None, title_text=axis, rangemode="tozero")
    return _layout(fig, barmode="group", showlegend=len(series) > 1, legend=dict(orientation="h", y=-0.25))


def topic_bars(fmt: Fmt, topics: list[str], counts: list, sentiment: list | None = None) -> go.Figure:
    """Feedback topics by how many people raised them, coloured by mean sentiment."""
    x = [_safe(fmt, v) for v in counts]
    colours = [SERIES[2] if (to_number(s) or 0) >= 0.05 else SERIES[3] if (to_number(s) or 0) <= -0.05
               else SERIES[7] for s in (sentiment or [None] * len(topics))]
    fig = go.Figure(go.Bar(y=topics, x=x, orientation="h", marker_color=colours,
                           text=[fmt.people_text(v) for v in counts], textposition="auto",
                           meta={"people": ["x"]}, hovertemplate="%{y}: %{text}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=max(240, 30 * len(topics) + 80))
