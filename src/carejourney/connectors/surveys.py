"""The post-visit survey connector (``kind: survey``): a CSV export of survey responses.

Default columns (docs/raw-formats.md; override any with ``mapping: {field: column}``)::

    response_id, mrn, visit_date, completed_at, location, service_line, nps, csat, comment

Each response yields:

- a ``survey_completed`` event at ``completed_at`` for the person (id type ``mrn``, stored
  only as a keyed hash), detail = the survey kind (``options: {survey_kind: post_visit}``,
  default ``survey``), with location and service line;
- one feedback row per rating answered, sharing the response's feedback id:
  ``source_event = "nps"`` (0-10, ``rating_scale = 10``) and ``source_event = "csat"``
  (1-5, ``rating_scale = 5``). The comment goes on the first of them only (the NPS row when
  there is one), so its sentiment and topics count once per response. A response with a
  comment but no rating still yields one feedback row (``source_event = "comment"``).

Rejected rows: unreadable or empty ``completed_at``; an NPS outside 0-10 or a CSAT outside
1-5 (or not a whole number). A response without an MRN is kept as anonymous feedback (no
event). ``visit_date`` is not stored (an exact date of service is an identifier).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ._exports import Export
from .base import STAGED_FEEDBACK, ReadContext, Staged, register

__all__ = ["SurveyConnector", "DEFAULT_MAPPING", "parse_scale"]

DEFAULT_MAPPING = {f: f for f in ("response_id", "mrn", "visit_date", "completed_at", "location",
                                  "service_line", "nps", "csat", "comment")}


def parse_scale(values: pa.Array | None, low: int, high: int, n: int) -> tuple[list, list[bool]]:
    """Whole-number ratings in [low, high] → (floats or None, invalid flags). Blanks are valid (None)."""
    if values is None:
        return [None] * n, [False] * n
    out, bad = [], []
    for v in values.to_pylist():
        if v is None:
            out.append(None)
            bad.append(False)
            continue
        try:
            f = float(v)
        except ValueError:
            out.append(None)
            bad.append(True)
            continue
        ok = f.is_integer() and low <= f <= high
        out.append(f if ok else None)
        bad.append(not ok)
    return out, bad


@register("survey")
class SurveyConnector:
    """Survey responses → survey_completed events + NPS / CSAT feedback rows with the comment."""

    def read(self, path: Path, ctx: ReadContext) -> Staged:
        x = Export(path, ctx, DEFAULT_MAPPING, required=("completed_at",))
        completed = x.require_ts("completed_at")
        for field, low, high in (("nps", 0, 10), ("csat", 1, 5)):
            _, bad = parse_scale(x.column(field), low, high, x.table.num_rows)
            x.reject(pa.array(bad), x.map[field], f"{x.map[field]} must be a whole number from {low} to {high}")
        n = x.table.num_rows
        kind = str(x.spec.options.get("survey_kind", "survey"))
        mrn = x.column("mrn")
        if mrn is not None and n:
            x.stage(id_field="mrn", id_type="mrn", ts_col=completed,
                    fields={"location": x.real("location"), "service_line": x.real("service_line")},
                    constants={"source_event": "survey_completed", "detail": kind},
                    where=pc.is_valid(mrn))
        if n:
            x.add_feedback(self._feedback(x, completed, mrn))
        x.detail["identifier_columns_not_stored"] = [c for c in (x.real("visit_date"),) if c]
        return x.staged()

    @staticmethod
    def _feedback(x: Export, completed: str, mrn: pa.Array | None) -> pa.Table:
        n = x.table.num_rows
        nps, _ = parse_scale(x.column("nps"), 0, 10, n)
        csat, _ = parse_scale(x.column("csat"), 1, 5, n)
        comment = x.column("comment")
        comment = comment.to_pylist() if comment is not None else [None] * n
        ids = mrn.to_pylist() if mrn is not None else [None] * n
        loc, line = x.column("location"), x.column("service_line")
        loc = loc.to_pylist() if loc is not None else [None] * n
        line = line.to_pylist() if line is not None else [None] * n
        rows = x.table["row_num"].to_pylist()
        ts = x.table[completed].to_pylist()
        touchpoint = x.spec.constants.get("touchpoint")
        out = []
        for i in range(n):
            answers = [("nps", nps[i], 10.0), ("csat", csat[i], 5.0)]
            answers = [a for a in answers if a[1] is not None] or ([("comment", None, None)] if comment[i] else [])
            for j, (event, rating, scale) in enumerate(answers):
                out.append({"row_num": rows[i], "id_type": "mrn" if ids[i] else None, "id_value": ids[i],
                            "ts": ts[i], "source": x.spec.name, "source_event": event, "touchpoint": touchpoint,
                            "location": loc[i], "service_line": line[i], "rating": rating,
                            "rating_scale": scale, "text": comment[i] if j == 0 else None})
        return pa.Table.from_pylist(out, schema=STAGED_FEEDBACK) if out else STAGED_FEEDBACK.empty_table()
