"""``carejourney identity``: how well the sources stitch together (match rates per source pair)."""

from __future__ import annotations

import pandas as pd
import typer

from .common import FormatOption, OutputFormat, console, emit, load

__all__ = ["register", "match_rate_rows"]

_COLUMNS = ["src_a", "src_b", "total", "matched", "rate"]


def match_rate_rows(project, store) -> tuple[list[dict], int]:
    """Suppressed match-rate rows (counts of 1..k-1 people hidden) and the number of hidden cells."""
    from ..identity import match_rates
    from ..privacy import CellRules, suppress
    frame = pd.DataFrame(match_rates(store), columns=_COLUMNS)
    rules = CellRules(counts=("total", "matched"), derived={"rate": ("matched", "total")},
                      pairs=(("total", "matched"),))
    result = suppress(frame, rules, project.config.privacy.min_cell)
    rows = result.records()
    for r in rows:  # suppression turns a partly hidden count column to float; counts are whole
        for c in ("total", "matched"):
            if isinstance(r[c], float):
                r[c] = int(r[c])
    return rows, result.cells


def _suppressed_count(n: int, k: int) -> int | str:
    """One count through the suppression step, like a count of people (1..k-1 → ``"<k"``)."""
    from ..privacy import CellRules, suppress
    return suppress(pd.DataFrame({"n": [n]}), CellRules(counts=("n",)), k).records()[0]["n"]


def register(app: typer.Typer) -> None:
    @app.command("identity")
    def identity(fmt: OutputFormat = FormatOption) -> None:
        """Match rates per source pair: of source A's people, how many were also found in source B.

        A person is found in both when their identifiers in the two sources are linked (directly
        or through other sources: a web visitor → lead → caller → patient). Counts of fewer than
        min_cell people are shown as <k. Also says how many identifiers are shared by so many
        others that they join nobody (identity.max_links_per_key).
        """
        from ..identity import shared_identifiers
        from ..store import open_store
        project = load()
        store = open_store(project)
        limit = project.config.identity.max_links_per_key
        try:
            rows, hidden = match_rate_rows(project, store)
            shared = shared_identifiers(store, limit)
        finally:
            store.close()
        k = project.config.privacy.min_cell
        shown = _suppressed_count(shared, k)
        if fmt == OutputFormat.table:
            for r in rows:
                if isinstance(r.get("rate"), float):
                    r["rate"] = f"{r['rate']:.1%}"
        emit(rows, fmt, title="Identity match rates (A's people also found in B)",
             meta={"min_cell": k, "suppressed_cells": hidden, "max_links_per_key": limit,
                   "shared_identifiers": shown})
        if fmt == OutputFormat.table and shared:
            console.print(f"{shown} identifier(s) are linked to more than {limit} others (a placeholder email, a "
                          "main phone number, a kiosk?): they join nobody (identity.max_links_per_key).")
