"""The journey templates carejourney ships: primary, specialty, urgent and elective care.

Each template is a complete ``journeys/<name>.yml`` (stages with owner teams and targets,
online and offline touchpoints with match rules over the event vocabulary in
``docs/raw-formats.md``, research moments, segments and named delays). ``carejourney init``
copies them into a new project; users then edit their copy.

The four are designed to be loaded together (``init --template all``): a touchpoint id means
the same stage, channel, owner and match rule in every template, and no two different
touchpoints' rules match the same event, so the result of mapping does not depend on which
templates a project holds or in which order they are tried.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError
from ..model.journey import Journey, did_you_mean

__all__ = ["TEMPLATES", "template_names", "template_path", "load_template"]

#: Shipped templates, in the order they are presented (and written by ``init --template all``).
TEMPLATES = ("primary", "specialty", "urgent", "elective")

_DIR = Path(__file__).resolve().parent / "journeys"


def template_names() -> list[str]:
    """Names of the shipped journey templates: ``["primary", "specialty", "urgent", "elective"]``."""
    return list(TEMPLATES)


def template_path(name: str) -> Path:
    """Path of the shipped YAML file for template ``name``.

    Raises :class:`~carejourney.errors.SpecError` (naming the choices) for an unknown name.
    """
    if name not in TEMPLATES:
        raise SpecError(f"unknown journey template '{name}'{did_you_mean(name, TEMPLATES)} "
                        f"(templates: {', '.join(TEMPLATES)})")
    return _DIR / f"{name}.yml"


def load_template(name: str) -> Journey:
    """The validated :class:`~carejourney.model.journey.Journey` of template ``name``."""
    from ..yamlio import validate_file
    return validate_file(template_path(name), Journey, display=f"templates/journeys/{name}.yml")
