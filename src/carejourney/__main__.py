"""``python -m carejourney`` runs the CLI."""

from .cli import _entry

_entry()
