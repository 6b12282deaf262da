"""Turn what a user typed (a kind, a spec file, ``key=value`` settings) into a validated spec.

Shared by ``carejourney analyze`` and :meth:`carejourney.project.Project.analyze`, so the
command line and Python accept the same names: dashes map to underscores
(``process-map`` → ``process_map``) and a few friendly aliases are known.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError
from .base import Spec, analysis_kinds, parse_spec

__all__ = ["ALIASES", "resolve_kind", "load_spec_file", "parse_settings", "make_spec"]

#: Friendly names for analysis kinds (after dashes become underscores).
ALIASES = {
    "return_care": "retention", "returns": "retention", "cohorts": "retention",
    "segments": "compare", "comparison": "compare",
    "dfg": "process_map", "processmap": "process_map", "variants": "paths", "delay": "delays",
}


def resolve_kind(kind: str) -> str:
    k = kind.strip().lower().replace("-", "_")
    if k in analysis_kinds():
        return k
    return ALIASES.get(k, k)  # unknown kinds fail in parse_spec with a did-you-mean


def load_spec_file(path: Path) -> dict:
    """A spec from YAML/JSON; errors name the file."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a spec file holds a mapping like 'kind: funnel' followed by its fields")
    return data


def _value(text: str) -> Any:
    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(v, (date, datetime)) or v is None and text.strip() not in ("null", "~") else v


def parse_settings(pairs: list[str]) -> dict:
    """``["window=14d", "analysis.kind=funnel"]`` → nested dict; values are read as YAML."""
    out: dict = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SpecError(f"--set {pair}: write key=value (e.g. --set window=14d)")
        key, text = pair.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise SpecError(f"--set {pair}: the key is empty")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise SpecError(f"--set {pair}: '{p}' is already a value")
        node[parts[-1]] = _value(text)
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def make_spec(kind: str | Spec | None = None, fields: dict | None = None, spec_file: Path | None = None) -> Spec:
    """A validated spec from a kind (or spec), a spec file and fields (later ones win)."""
    if isinstance(kind, Spec):
        return parse_spec(_merge(kind.model_dump(mode="json", by_alias=True, exclude_unset=True)
                                 | {"kind": kind.kind}, fields or {}))
    data = load_spec_file(spec_file) if spec_file else {}
    data = _merge(data, fields or {})
    if kind:
        named = resolve_kind(kind)
        if "kind" in data and resolve_kind(str(data["kind"])) != named:
            raise SpecError(f"{spec_file}: kind '{data['kind']}' does not match the command's '{kind}'")
        data["kind"] = named
    elif "kind" in data:
        data["kind"] = resolve_kind(str(data["kind"]))
    else:
        raise SpecError("which analysis? name a kind (e.g. funnel) or give a spec file with 'kind:'")
    if isinstance(data.get("analysis"), dict) and "kind" in data["analysis"]:
        data["analysis"] = {**data["analysis"], "kind": resolve_kind(str(data["analysis"]["kind"]))}
    return parse_spec(data)
