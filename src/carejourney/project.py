"""A carejourney project: a folder with carejourney.yml, sources/ and journeys/ (dbt-style).

:func:`load_project` finds and validates everything and returns a :class:`Project`;
every problem in every file is collected and reported together (file, line, field, fix).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Problem, ProjectError, ValidationError
from .model.journey import Journey, did_you_mean
from .model.project import ProjectConfig, SourceSpec, SourcesFile
from .yamlio import validate_file

__all__ = ["Project", "load_project", "find_project_root", "PROJECT_FILE"]

PROJECT_FILE = "carejourney.yml"


@dataclass
class Project:
    """A loaded, validated project. Paths in it are absolute."""

    root: Path
    config: ProjectConfig
    journeys: dict[str, Journey] = field(default_factory=dict)
    sources: list[SourceSpec] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def target_dir(self) -> Path:
        return self.root / "target"

    @property
    def min_cell(self) -> int:
        return self.config.privacy.min_cell

    @property
    def timezone(self) -> str:
        return self.config.timezone

    def journeys_hash(self) -> str:
        """A hash of every journey definition: what ingest's file ids and kept query results
        depend on (a changed journey maps and measures differently). Labels, descriptions and
        the map's research lanes are left out (``Journey.measured``): nothing measured reads them."""
        return hashlib.sha256("".join(json.dumps(j.measured(), sort_keys=True, default=str)
                                      for j in self.journeys.values()).encode()).hexdigest()

    def journey(self, journey_id: str | None = None) -> Journey:
        """The named journey, or the only/first one when no name is given."""
        if not self.journeys:
            raise ProjectError(f"{self.root / 'journeys'}: no journeys defined; add one with "
                               "`carejourney init --template primary` or write journeys/<name>.yml")
        if journey_id is None:
            journey_id = self.config.default_journey or next(iter(self.journeys))
        if journey_id not in self.journeys:
            raise ProjectError(f"unknown journey '{journey_id}'{did_you_mean(journey_id, self.journeys)} "
                               f"(journeys: {', '.join(self.journeys)})")
        return self.journeys[journey_id]

    def source(self, name: str) -> SourceSpec:
        for s in self.sources:
            if s.name == name:
                return s
        raise ProjectError(f"unknown source '{name}'{did_you_mean(name, [s.name for s in self.sources])}")

    def resolve(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.root / p

    def analyze(self, kind_or_spec, **fields):
        """Run one analysis on the store; a suppressed ``Result`` (e.g. ``analyze("funnel", window="14d")``)."""
        from .analyses._request import make_spec
        from .analyses.base import run
        from .analyses.context import AnalysisContext
        from .store import open_store
        spec = make_spec(kind_or_spec, fields)
        store = open_store(self)
        try:
            return run(spec, AnalysisContext.from_store(self, store))
        finally:
            store.close()

    def touchpoint_catalog(self) -> dict:
        """Every touchpoint across journeys, by id (the first definition wins; they must agree on stage)."""
        catalog = {}
        for j in self.journeys.values():
            for tp in j.touchpoints:
                catalog.setdefault(tp.id, (j, tp))
        return catalog


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds carejourney.yml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise ProjectError(f"no {PROJECT_FILE} in {here} or any parent folder; run `carejourney init DIR` "
                       "to create a project, or pass --project DIR")


def load_project(path: Path | str | None = None) -> Project:
    """Load and validate the project at ``path`` (or the nearest one above the current folder)."""
    start = Path(path) if path is not None else None
    if start is not None and start.is_file() and start.name == PROJECT_FILE:
        start = start.parent
    if start is not None and not start.exists():
        raise ProjectError(f"{start}: no such folder; pass the folder that holds {PROJECT_FILE}")
    root = find_project_root(start)
    problems: list[Problem] = []

    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(root))
        except ValueError:
            return str(p)

    def attempt(p: Path, model):
        try:
            return validate_file(p, model, display=rel(p))
        except ValidationError as exc:
            problems.extend(exc.problems)
            return None

    config = attempt(root / PROJECT_FILE, ProjectConfig)
    journeys: dict[str, Journey] = {}
    for p in sorted((root / "journeys").glob("*.y*ml")):
        j = attempt(p, Journey)
        if j is None:
            continue
        if j.journey in journeys:
            problems.append(Problem(rel(p), None, "journey", f"journey id '{j.journey}' is used by another file"))
        journeys[j.journey] = j
    sources: list[SourceSpec] = []
    for p in sorted((root / "sources").glob("*.y*ml")):
        sf = attempt(p, SourcesFile)
        if sf is None:
            continue
        for s in sf.sources:
            if any(s.name == o.name for o in sources):
                problems.append(Problem(rel(p), None, "sources", f"source name '{s.name}' is used twice"))
            sources.append(s)
    problems.extend(_cross_checks(journeys, rel, root))
    if config is not None and config.default_journey and journeys and config.default_journey not in journeys:
        problems.append(Problem(PROJECT_FILE, None, "default_journey",
                                f"unknown journey '{config.default_journey}'"
                                f"{did_you_mean(config.default_journey, journeys)} (journeys: {', '.join(journeys)})"))
    if problems:
        raise ValidationError(problems)
    return Project(root=root, config=config, journeys=journeys, sources=sources)


def _cross_checks(journeys: dict[str, Journey], rel, root: Path) -> list[Problem]:
    """Checks that span files: a touchpoint id means one stage everywhere."""
    problems, seen = [], {}
    for j in journeys.values():
        for tp in j.touchpoints:
            if tp.id in seen and seen[tp.id][1] != tp.stage:
                problems.append(Problem(f"journeys ({j.journey})", None, f"touchpoints.{tp.id}",
                                        f"stage '{tp.stage}' differs from '{seen[tp.id][1]}' in journey "
                                        f"'{seen[tp.id][0]}'; a touchpoint id must mean the same stage in every journey"))
            seen.setdefault(tp.id, (j.journey, tp.stage))
    return problems
