"""XES (IEEE 1849-2016) export: one trace per person, one event per journey event.

PM4Py's exporter is used when PM4Py is installed (the ``dev`` extra); otherwise the file is
written with the standard library, streaming one trace at a time so memory stays flat.
Both re-import in PM4Py (``pm4py.read_xes``) and ProM.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

import pandas as pd

__all__ = ["write_xes"]

_EXTENSIONS = (("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
               ("Time", "time", "http://www.xes-standard.org/time.xesext"))
_ATTRS = {"stage": "cj:stage", "channel": "cj:channel", "owner": "org:group", "status": "cj:status",
          "episode_id": "cj:episode", "event_id": "cj:event_id"}


def _pm4py_available() -> bool:
    try:
        import pm4py  # noqa: F401
    except ImportError:
        return False
    return True


def write_xes(df: pd.DataFrame, path: Path, *, log_name: str = "journey",
              engine: Literal["auto", "pm4py", "stdlib"] = "auto") -> str:
    """Write an :func:`carejourney.exports.export_frame` table as XES; returns the engine used."""
    if engine == "pm4py" or (engine == "auto" and _pm4py_available()):
        _write_pm4py(df, path, log_name)
        return "pm4py"
    _write_stdlib(df, path, log_name)
    return "stdlib"


def _write_pm4py(df: pd.DataFrame, path: Path, log_name: str) -> None:
    # Build the EventLog ourselves: a DataFrame would make PM4Py write missing values as "nan".
    import pm4py
    from pm4py.objects.log.obj import Event, EventLog, Trace
    log = EventLog(attributes={"concept:name": log_name})
    for case, events in df.groupby("case", sort=False):
        trace = Trace(attributes={"concept:name": str(case)})
        for row in events.itertuples(index=False):
            trace.append(Event({k: v for k, v in _values(row)}))
        log.append(trace)
    pm4py.write_xes(log, str(path))


def _values(row):
    yield "concept:name", str(row.activity)
    yield "time:timestamp", pd.Timestamp(row.timestamp).tz_localize("UTC").to_pydatetime()
    yield "cj:days_since_first", float(row.days_since_first)
    for col, key in _ATTRS.items():
        v = getattr(row, col)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            yield key, str(v)
    if row.value is not None and not math.isnan(row.value):
        yield "cj:value", float(row.value)


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


_XES_TYPE = {str: "string", float: "float"}


def _event(row) -> ET.Element:
    ev = ET.Element("event")
    for key, v in _values(row):
        if key == "time:timestamp":
            ET.SubElement(ev, "date", key=key, value=_iso(pd.Timestamp(v)))
        else:
            ET.SubElement(ev, _XES_TYPE[type(v)], key=key, value=v if isinstance(v, str) else repr(v))
    return ev


def _write_stdlib(df: pd.DataFrame, path: Path, log_name: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        f.write('<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">\n')
        head = []
        for name, prefix, uri in _EXTENSIONS:
            head.append(ET.Element("extension", name=name, prefix=prefix, uri=uri))
        g = ET.Element("global", scope="trace")
        ET.SubElement(g, "string", key="concept:name", value="__INVALID__")
        head.append(g)
        g = ET.Element("global", scope="event")
        ET.SubElement(g, "string", key="concept:name", value="__INVALID__")
        ET.SubElement(g, "date", key="time:timestamp", value="1970-01-01T00:00:00.000+00:00")
        head.append(g)
        head.append(ET.Element("classifier", name="Activity", keys="concept:name"))
        head.append(ET.Element("string", key="concept:name", value=log_name))
        for el in head:
            f.write("  " + ET.tostring(el, encoding="unicode") + "\n")
        for case, events in df.groupby("case", sort=False):
            trace = ET.Element("trace")
            ET.SubElement(trace, "string", key="concept:name", value=str(case))
            for row in events.itertuples(index=False):
                trace.append(_event(row))
            f.write("  " + ET.tostring(trace, encoding="unicode") + "\n")
        f.write("</log>\n")
