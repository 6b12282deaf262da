"""OCEL-compatible flat CSV export (OCEL 2.0 extended-table layout).

One row per event: ``ocel:eid``, ``ocel:activity``, ``ocel:timestamp`` and one column per
object type — ``ocel:type:person`` (the pseudonymous person key) and ``ocel:type:episode``
(the care episode, when known) — holding the related object ids as a list literal
(``['p…']``, ``[]`` for none), the layout PM4Py's ``read_ocel_csv`` and Celonis's OCEL
import read. Event attributes (stage, channel, owner, status, value, days_since_first)
follow as plain columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["write_ocel_csv", "OCEL_COLUMNS"]

OCEL_COLUMNS = ("ocel:eid", "ocel:activity", "ocel:timestamp", "ocel:type:person", "ocel:type:episode")


def _objects(v) -> str:
    return "[]" if v is None or (isinstance(v, float) and v != v) else repr([str(v)])


def write_ocel_csv(df: pd.DataFrame, path: Path) -> None:
    """Write an :func:`carejourney.exports.export_frame` table as OCEL flat CSV."""
    out = pd.DataFrame({
        "ocel:eid": df["event_id"].astype(str),
        "ocel:activity": df["activity"],
        "ocel:timestamp": pd.to_datetime(df["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "ocel:type:person": [repr([str(c)]) for c in df["case"]],
        "ocel:type:episode": [_objects(e) for e in df["episode_id"]],
    })
    for col in ("stage", "channel", "owner", "status", "value", "days_since_first"):
        out[col] = df[col]
    out.to_csv(path, index=False)
