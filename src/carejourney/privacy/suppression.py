"""Small-cell suppression: the only door between analysis results and anything a person sees.

Rules (CMS cell-size policy, default k = 11, see docs/privacy.md):

1. **Primary**: a count of people between 1 and k-1 is suppressed. Zero is allowed.
2. **Differences**: where two shown counts differ by a number of people (entered vs reached,
   total vs a part), a difference of 1..k-1 would reveal a small cell, so the smaller count is
   suppressed too.
3. **Derived cells**: a rate, median, share or interval computed from a suppressed count, or from
   a group of fewer than k people, is suppressed.
4. **Complementary**: within a group of rows whose counts add up to a shown total (breakdowns),
   a single suppressed cell could be recovered by subtraction, so the next-smallest non-zero cell
   is suppressed as well.

:class:`Suppressed` can only be created by :func:`suppress`; reports and the web layer accept
nothing else. That is privacy by type: forgetting to suppress is a type error, not a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["CellRules", "Suppressed", "suppress", "SUPPRESSED_LABEL"]

_TOKEN = object()

SUPPRESSED_LABEL = "<{k}"


@dataclass(frozen=True)
class CellRules:
    """Which output columns count people, and what depends on them.

    counts:   columns holding numbers of people (or episodes).
    derived:  column -> count columns it was computed from (rates, medians, intervals).
    pairs:    (larger, smaller) count columns whose difference is itself a count of people.
    groups:   key columns; rows sharing them add up to a total that is shown (complementary rule).
    sums:     (total, (parts...)) columns of one row with total = sum(parts): when one of them is
              suppressed, the smallest other non-zero one is too (complementary rule within a row).
    carry:    (column, next_column): rows sharing the ``sequence`` key columns are consecutive
              steps in frame order, and ``next_column`` of a row repeats ``column`` of the row
              before (a funnel's "previous step"); either suppressed → both suppressed.
    """

    counts: tuple[str, ...] = ()
    derived: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pairs: tuple[tuple[str, str], ...] = ()
    groups: tuple[str, ...] | None = None
    sums: tuple[tuple[str, tuple[str, ...]], ...] = ()
    carry: tuple[tuple[str, str], ...] = ()
    sequence: tuple[str, ...] = ()


class Suppressed:
    """A result table that has been through :func:`suppress`. Immutable by convention."""

    def __init__(self, frame: pd.DataFrame, mask: pd.DataFrame, k: int, cells: int, *, _token=None):
        if _token is not _TOKEN:
            raise TypeError("Suppressed results are made only by carejourney.privacy.suppress()")
        self._frame = frame
        self._mask = mask
        self.k = k
        self.cells = cells

    @property
    def frame(self) -> pd.DataFrame:
        """The suppressed table (suppressed cells are null). A copy: callers cannot un-suppress."""
        return self._frame.copy()

    def is_suppressed(self, row: int, column: str) -> bool:
        return bool(self._mask.iloc[row][column]) if column in self._mask else False

    @property
    def mask(self) -> pd.DataFrame:
        return self._mask.copy()

    def records(self) -> list[dict]:
        """Rows as dicts; suppressed cells become the string ``"<k"`` so no one mistakes them for 0."""
        out = []
        label = SUPPRESSED_LABEL.format(k=self.k)
        hidden = self._mask.to_dict("records")  # (row by row, in the frame's order: one lookup a cell)
        for row, masked in zip(self._frame.to_dict("records"), hidden, strict=True):
            out.append({col: label if masked.get(col, False) else _plain(val) for col, val in row.items()})
        return out

    def __len__(self) -> int:
        return len(self._frame)

    def with_text(self, **columns: list) -> "Suppressed":
        """A copy with the given text columns replaced (same cells suppressed, same count).

        For sentences written from the shown cells of this very table (a finding's title and
        evidence): the new values must be built from :attr:`frame` — where suppressed cells are
        null — never from the numbers before suppression. A column holding a suppressed cell
        cannot be replaced (its value is what was hidden)."""
        frame = self._frame.copy()
        for col, values in columns.items():
            if col in self._mask.columns and bool(self._mask[col].any()):
                raise ValueError(f"column '{col}' holds suppressed cells; it cannot be rewritten")
            if len(values) != len(frame):
                raise ValueError(f"column '{col}': {len(values)} values for {len(frame)} rows")
            frame[col] = pd.Series(list(values), index=frame.index, dtype=object)
        mask = self._mask.copy()
        for col in columns:
            if col not in mask.columns:
                mask[col] = False
        return Suppressed(frame, mask, self.k, self.cells, _token=_TOKEN)


def _plain(v):
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, pd.Timedelta):
        return v.total_seconds()
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _small(values: pd.Series, k: int) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    return (v >= 1) & (v < k)


def suppress(frame: pd.DataFrame, rules: CellRules, k: int) -> Suppressed:
    """Apply the four rules above and return a :class:`Suppressed` result."""
    if k < 2:
        raise ValueError("k must be at least 2")
    df = frame.reset_index(drop=True).copy()
    mask = pd.DataFrame(False, index=df.index, columns=df.columns)
    for c in rules.counts:
        if c in df:
            mask[c] |= _small(df[c], k).fillna(False).to_numpy()
    changed = True
    while changed:  # differences and complements can cascade; iterate to a fixed point
        changed = False
        for big, small in rules.pairs:
            if big not in df or small not in df:
                continue
            diff = pd.to_numeric(df[big], errors="coerce") - pd.to_numeric(df[small], errors="coerce")
            hit = _small(diff, k).fillna(False) & ~mask[big] & ~mask[small]
            if hit.any():
                mask.loc[hit, small] = True
                changed = True
        if rules.groups is not None:
            changed |= _complement(df, mask, rules, k)
        changed |= _within_rows(df, mask, rules)
    for col, deps in rules.derived.items():
        if col not in df:
            continue
        for d in deps:
            if d in df:
                mask[col] |= mask[d] | _small(df[d], k).fillna(False)
    cells = int(mask.to_numpy().sum())
    for col in df.columns:
        if mask[col].any():
            if df[col].dtype.kind in "iub":
                df[col] = df[col].astype("float64")
            df[col] = df[col].astype(object).where(~mask[col], None)
    return Suppressed(df, mask, k, cells, _token=_TOKEN)


def _complement(df: pd.DataFrame, mask: pd.DataFrame, rules: CellRules, k: int) -> bool:
    changed = False
    keys = list(rules.groups or ())
    by = keys[0] if len(keys) == 1 else keys
    grouped = df.groupby(by, dropna=False, sort=False).groups.values() if keys else [df.index]
    for idx in grouped:
        idx = list(idx)
        for c in rules.counts:
            if c not in df:
                continue
            hidden = [i for i in idx if mask.at[i, c]]
            if len(hidden) != 1:
                continue
            vals = pd.to_numeric(df.loc[idx, c], errors="coerce")
            candidates = [i for i in idx if not mask.at[i, c] and (vals.get(i) or 0) > 0]
            if not candidates:
                continue
            pick = min(candidates, key=lambda i: vals[i])
            mask.at[pick, c] = True
            changed = True
    return changed


def _within_rows(df: pd.DataFrame, mask: pd.DataFrame, rules: CellRules) -> bool:
    """The ``sums`` and ``carry`` rules (see :class:`CellRules`)."""
    changed = False
    for total, parts in rules.sums:
        cols = [c for c in (total, *parts) if c in df]
        for i in df.index:
            if sum(bool(mask.at[i, c]) for c in cols) != 1:
                continue
            vals = {c: pd.to_numeric(pd.Series([df.at[i, c]]), errors="coerce").iloc[0] for c in cols}
            open_ = [c for c in cols if not mask.at[i, c] and (vals[c] or 0) > 0]
            if open_:  # prefer a part over the total, then the smallest
                mask.at[i, min(open_, key=lambda c: (c == total, vals[c]))] = True
                changed = True
    if rules.carry:
        keys = [c for c in rules.sequence if c in df]
        by = keys[0] if len(keys) == 1 else keys
        grouped = df.groupby(by, dropna=False, sort=False).groups.values() if keys else [df.index]
        for idx in grouped:
            idx = list(idx)
            for a, b in zip(idx, idx[1:]):
                for col, nxt in rules.carry:
                    if col in df and nxt in df and mask.at[a, col] != mask.at[b, nxt]:
                        mask.at[a, col] = mask.at[b, nxt] = True
                        changed = True
    return changed
