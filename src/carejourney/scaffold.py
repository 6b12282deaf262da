"""``carejourney init``: scaffold a project folder (dbt-style) from the shipped templates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .errors import ProjectError
from .model.journey import Journey, did_you_mean
from .model.project import ProjectConfig, SourcesFile
from .privacy.keys import create_key_file
from .project import PROJECT_FILE

__all__ = ["init_project", "write_schemas", "TEMPLATE_CHOICES"]

TEMPLATE_CHOICES = ("primary", "specialty", "urgent", "elective", "all")

_CONFIG = """\
# carejourney project settings. Reference: docs/configuration.md
name: {name}
# Where the canonical tables live (Ibis URL). duckdb:///relative/path or duckdb:////absolute/path;
# pyspark://local[2] or sc://host:15002 for Spark.
store: duckdb:///target/carejourney.duckdb
# Timestamps without an offset are read in this zone; calendar periods use it too.
timezone: {timezone}
# Journey used when a command is given none (default: the first journeys/*.yml by name).
# default_journey: primary
privacy:
  # Counts of 1..min_cell-1 people are suppressed in every output (CMS cell-size policy: 11).
  min_cell: 11
  # The pseudonymisation key comes from this environment variable, else from key_file (mode 0600).
  key_env: CAREJOURNEY_KEY
  key_file: .carejourney/key
# Plain-language target for patient-facing content (US school grade).
reading_grade_target: 8
"""

_SOURCES_README = """\
# Sources

One YAML file per system export, e.g. `sources/web.yml`:

```yaml
sources:
  - name: web
    kind: ga4              # events | csv | parquet | jsonl | fhir | ga4 | leads | calls | scheduling | portal | survey | reviews
    path: data/web/*.jsonl # file or glob, relative to the project folder
```

The quickest start needs no source file at all: `carejourney ingest my_events.csv` reads a
canonical events file (columns person_id, ts, touchpoint). See docs/connectors.md.
"""

_GITIGNORE = "target/\n.carejourney/\n"


def write_schemas(folder: Path) -> list[Path]:
    """JSON Schemas for carejourney.yml, journeys/*.yml and sources/*.yml (for editor validation)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, model in (("project", ProjectConfig), ("journey", Journey), ("sources", SourcesFile)):
        p = folder / f"{name}.schema.json"
        p.write_text(json.dumps(model.model_json_schema(by_alias=True), indent=2))
        out.append(p)
    return out


def init_project(folder: Path, *, template: str = "all", name: str | None = None,
                 timezone: str = "America/New_York", force: bool = False) -> list[Path]:
    """Create a project in ``folder``. Refuses to overwrite an existing project unless ``force``."""
    from .templates import template_names, template_path
    if template not in TEMPLATE_CHOICES:
        raise ProjectError(f"unknown template '{template}'{did_you_mean(template, TEMPLATE_CHOICES)} "
                           f"(choose from {', '.join(TEMPLATE_CHOICES)})")
    folder = Path(folder)
    if (folder / PROJECT_FILE).exists() and not force:
        raise ProjectError(f"{folder / PROJECT_FILE} already exists; use another folder or --force")
    project_name = (name or folder.resolve().name or "carejourney").lower().replace(" ", "_").replace("-", "_")
    if not project_name[0].isalpha():
        project_name = f"p_{project_name}"
    ProjectConfig(name=project_name, timezone=timezone)  # validate before writing anything
    written: list[Path] = []
    for sub in ("journeys", "sources", "data", "target"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / PROJECT_FILE).write_text(_CONFIG.format(name=project_name, timezone=timezone))
    written.append(folder / PROJECT_FILE)
    names = template_names() if template == "all" else [template]
    for t in names:
        dest = folder / "journeys" / f"{t}.yml"
        text = template_path(t).read_text()
        dest.write_text("# yaml-language-server: $schema=../schemas/journey.schema.json\n" + text)
        written.append(dest)
    (folder / "sources" / "README.md").write_text(_SOURCES_README)
    gi = folder / ".gitignore"
    if not gi.exists():
        gi.write_text(_GITIGNORE)
        written.append(gi)
    written += write_schemas(folder / "schemas")
    key = folder / ".carejourney" / "key"
    if create_key_file(key):
        written.append(key)
    return written


