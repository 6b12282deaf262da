"""Read YAML while remembering where every value came from, so errors can name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from .errors import Problem, ValidationError

__all__ = ["load_yaml", "validate_file", "Located"]

M = TypeVar("M", bound=BaseModel)


class Located:
    """Parsed YAML data plus a lookup from a field path to its 1-based line number."""

    def __init__(self, data: Any, root: yaml.Node | None):
        self.data = data
        self._root = root

    def line_of(self, path: tuple) -> int | None:
        node, line = self._root, None
        for key in path:
            if node is None:
                break
            line = node.start_mark.line + 1
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == str(key)), None)
                if node is None:  # key missing (or an error on the key itself): point at the mapping
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
            else:
                break
        return (node.start_mark.line + 1) if node is not None else line


def safe_load(text: str):
    """``yaml.safe_load`` with libyaml's parser where PyYAML has it (several times faster)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_yaml(path: Path, *, display: str | None = None) -> Located:
    """Parse a YAML file; syntax errors become a :class:`ValidationError` naming the line."""
    name = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError([Problem(name, None, "", f"cannot read file: {exc.strerror}")]) from None
    # one parse gives the node tree (for line numbers) and the data; libyaml's parser where PyYAML
    # was built with it (the pure-Python one took 0.7 s for the four journey templates)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ValidationError([Problem(name, line, "", f"YAML syntax error: {exc.problem or exc}")]) from None
    finally:
        loader.dispose()
    return Located(data, root)


def _field_path(loc: tuple) -> tuple:
    # pydantic adds pseudo-steps for unions/validators ("function-after[...]", "str", ...): drop them
    return tuple(p for p in loc if isinstance(p, int) or ("[" not in p and p not in
                 {"str", "int", "float", "bool", "list[...]", "Condition", "root"}))


def _field_names(model: type[BaseModel], seen: set | None = None) -> set[str]:
    """Every field name and alias in a model tree, for "did you mean" on unknown keys."""
    import typing
    seen = seen if seen is not None else set()
    names: set[str] = set()
    if model in seen:
        return names
    seen.add(model)
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        stack = [info.annotation]
        while stack:
            tp = stack.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                names |= _field_names(tp, seen)
            stack.extend(typing.get_args(tp))
    return names


def validate_file(path: Path, model: type[M], *, display: str | None = None) -> M:
    """Load ``path`` and validate it as ``model``; every problem names file, line and field."""
    name = display or str(path)
    located = load_yaml(path, display=name)
    if located.data is None:
        raise ValidationError([Problem(name, 1, "", "file is empty; expected a mapping")])
    try:
        return model.model_validate(located.data)
    except PydanticValidationError as exc:
        problems, seen = [], set()
        for err in exc.errors(include_url=False):
            loc = _field_path(tuple(err["loc"]))
            field = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                from .model.journey import did_you_mean
                msg = "unknown field" + did_you_mean(str(loc[-1]), _field_names(model))
            elif err["type"] == "missing":
                msg = "required field is missing"
            key = (field, msg)
            if key in seen:
                continue
            seen.add(key)
            problems.append(Problem(name, located.line_of(loc), field, msg))
        raise ValidationError(problems) from None
