"""The call-center connector (``kind: calls``): a CSV export of calls.

Default columns (docs/raw-formats.md; override any with ``mapping: {field: column}``)::

    call_id, started_at, caller_phone, direction, queue, wait_seconds, talk_seconds,
    abandoned, outcome, agent_team, callback_of, reason

Each row yields ``call_inbound`` or ``call_outbound`` (from ``direction``) at ``started_at``:
detail = queue, value = wait seconds, channel = phone, status = ``abandoned`` (abandoned = Y or
outcome abandoned), ``voicemail``, ``no_answer`` or else ``answered``. An inbound call and the
outbound callbacks that return it (``callback_of``) share an episode, so time-to-callback is
measurable. The person is the caller's phone number (id type ``phone``), stored only as a keyed
hash. ``reason`` (free text) is not stored.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ._exports import Export
from .base import ReadContext, Staged, register
from .tabular import TRUE_VALUES

__all__ = ["CallsConnector", "DEFAULT_MAPPING"]

DEFAULT_MAPPING = {f: f for f in (
    "call_id", "started_at", "caller_phone", "direction", "queue", "wait_seconds", "talk_seconds",
    "abandoned", "outcome", "agent_team", "callback_of")}
_DIRECTIONS = {"inbound": "call_inbound", "in": "call_inbound", "incoming": "call_inbound",
               "outbound": "call_outbound", "out": "call_outbound", "outgoing": "call_outbound",
               "callback": "call_outbound"}


def _status(abandoned: list, outcome: list) -> list:
    out = []
    for a, o in zip(abandoned, outcome):
        o = (o or "").strip().lower().replace("-", "_").replace(" ", "_")
        if (a or "").strip().lower() in TRUE_VALUES or o == "abandoned":
            out.append("abandoned")
        elif o in ("voicemail", "no_answer"):
            out.append(o)
        else:
            out.append("answered")
    return out


@register("calls")
class CallsConnector:
    """Call-center export → call_inbound / call_outbound events keyed by the caller's phone."""

    def read(self, path: Path, ctx: ReadContext) -> Staged:
        x = Export(path, ctx, DEFAULT_MAPPING, required=("started_at", "caller_phone", "direction"))
        x.require_id("caller_phone")
        started = x.require_ts("started_at")
        direction = pc.utf8_lower(x.column("direction")).to_pylist()
        events = [_DIRECTIONS.get(d) if d else None for d in direction]
        x.reject(pa.array([e is None for e in events]), x.map["direction"],
                 f"{x.map['direction']} must be inbound or outbound")
        direction = pc.utf8_lower(x.column("direction")).to_pylist()
        n = x.table.num_rows
        blank = [None] * n
        abandoned = x.column("abandoned")
        outcome = x.column("outcome")
        status = _status(abandoned.to_pylist() if abandoned is not None else blank,
                         outcome.to_pylist() if outcome is not None else blank)
        call_id, back = x.column("call_id"), x.column("callback_of")
        parts = [c for c in (back, call_id) if c is not None]
        episode = pc.coalesce(*parts) if parts else pa.nulls(n, pa.string())
        x.add("source_event", pa.array([_DIRECTIONS[d] for d in direction], pa.string()))
        x.add("status", pa.array(status, pa.string()))
        x.add("episode", pc.binary_join_element_wise(pa.array(["call"] * n, pa.string()), episode, ":"))
        x.stage(id_field="caller_phone", id_type="phone", ts_col=started,
                fields={"source_event": "_cj_source_event", "status": "_cj_status", "detail": x.real("queue"),
                        "value": x.real("wait_seconds"), "episode_id": "_cj_episode"},
                constants={"channel": "phone"},
                attrs=[x.real(f) for f in ("talk_seconds", "outcome", "agent_team")])
        return x.staged()
