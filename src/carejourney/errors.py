"""Exceptions that carejourney raises for user-facing problems.

Every error a *user* can cause (a bad YAML file, a malformed CSV row, a missing key)
is a :class:`CarejourneyError`. The CLI catches these and prints the message; it never
shows a traceback for them. Each message names *where* (file, line/row, field) and *what
to do*. Anything else escaping is a bug in carejourney.

Hierarchy::

    CarejourneyError
    ├── ProjectError        carejourney.yml missing/invalid, project folder problems
    │   └── ValidationError one or more YAML files do not match the schema (carries .problems)
    ├── SpecError           an analysis spec or CLI option is invalid
    ├── IngestError         a source file cannot be read at all (row-level problems are rejects)
    ├── StoreError          the store cannot be opened or written
    ├── PrivacyError        a privacy rule would be broken (e.g. no pseudonymisation key)
    └── EngineError         an optional engine (Spark) is not installed / not reachable
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CarejourneyError",
    "ProjectError",
    "ValidationError",
    "Problem",
    "SpecError",
    "IngestError",
    "StoreError",
    "PrivacyError",
    "EngineError",
]


class CarejourneyError(Exception):
    """Base class: a problem the user can fix. ``exit_code`` is what the CLI returns."""

    exit_code = 1


class ProjectError(CarejourneyError):
    """The project folder or carejourney.yml is missing or unusable."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is and what to do about it."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ValidationError(ProjectError):
    """One or more files failed validation; ``problems`` lists each with file, line, field."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SpecError(CarejourneyError):
    """An analysis spec or a command-line option is invalid."""

    exit_code = 2


class IngestError(CarejourneyError):
    """A whole source file cannot be ingested (unreadable, wrong format, missing columns)."""

    exit_code = 2


class StoreError(CarejourneyError):
    """The store cannot be opened or written."""


class PrivacyError(CarejourneyError):
    """A privacy rule would be broken, or its precondition (a key) is missing."""

    exit_code = 2


class EngineError(CarejourneyError):
    """An optional engine is not installed or cannot start."""
