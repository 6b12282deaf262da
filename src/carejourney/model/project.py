"""carejourney.yml (project settings) and sources/*.yml (what to ingest and how)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import ID_PATTERN, Strict, TimeZone

__all__ = ["PrivacySettings", "IdentitySettings", "MAX_LINKS_PER_KEY", "ProjectConfig", "SourceSpec", "SourcesFile",
           "SOURCE_KINDS",
           "DEFAULT_AGE_BANDS", "RESTRICTED_ZIP3"]

#: HIPAA Safe Harbor: three-digit ZIP areas with 20,000 or fewer people (2000 Census) become "000".
RESTRICTED_ZIP3 = ("036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830",
                   "831", "878", "879", "884", "890", "893")

#: Lower bounds of the default age bands; the last band is open ("90+", per Safe Harbor).
DEFAULT_AGE_BANDS = (0, 18, 35, 50, 65, 75, 90)

#: Source kinds carejourney can read. ``events`` is the canonical events file (no mapping needed).
SOURCE_KINDS = ("events", "csv", "parquet", "jsonl", "fhir", "ga4", "leads", "calls",
                "scheduling", "portal", "survey", "reviews")


class PrivacySettings(Strict):
    min_cell: int = Field(default=11, ge=2, description="counts 1..min_cell-1 are suppressed in every output (CMS: 11)")
    key_env: str = Field(default="CAREJOURNEY_KEY", description="environment variable holding the pseudonymisation key")
    key_file: str = Field(default=".carejourney/key", description="file (mode 0600) holding the key when the variable is unset")
    restricted_zip3: list[str] = Field(default_factory=lambda: list(RESTRICTED_ZIP3))
    age_bands: list[int] = Field(default_factory=lambda: list(DEFAULT_AGE_BANDS))

    @field_validator("age_bands")
    @classmethod
    def _bands(cls, v: list[int]) -> list[int]:
        if not v or v[0] != 0 or sorted(set(v)) != v or v[-1] > 90:
            raise ValueError("age_bands must start at 0, increase, and end at or below 90 (90+ is always collapsed)")
        return v


#: Default ``identity.max_links_per_key``: one person's identifiers (emails, phones, an MRN, web
#: client ids over the years) number in the tens; an identifier linked to more than this many
#: others is shared (a placeholder email, a clinic's main number, a kiosk). See carejourney.identity.
MAX_LINKS_PER_KEY = 500


class IdentitySettings(Strict):
    max_links_per_key: int = Field(
        default=MAX_LINKS_PER_KEY, ge=1,
        description="an identifier linked to more other identifiers than this (a placeholder email, a clinic's "
                    "main phone number, a kiosk) joins nobody when people are stitched")


class ProjectConfig(Strict):
    name: str = Field(pattern=ID_PATTERN)
    description: str | None = None
    store: str = Field(default="duckdb:///target/carejourney.duckdb",
                       description="Ibis URL of the store; relative paths are relative to the project folder")
    timezone: TimeZone = Field(default="UTC", description="IANA zone for timestamps without an offset and for calendar periods")
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    default_journey: str | None = Field(default=None, description="journey used when a command is given none "
                                        "(default: the first journeys/*.yml file by name)")
    app_db: str = Field(default="sqlite:///target/app.sqlite", description="SQLAlchemy URL for actions, users and audit log")
    reading_grade_target: float = Field(default=8.0, description="plain-language target grade for patient-facing content")



class SourceSpec(Strict):
    """One source: a kind of export, where its files are, and how its columns map."""

    name: str = Field(pattern=ID_PATTERN)
    kind: Literal[SOURCE_KINDS]  # type: ignore[valid-type]
    path: str = Field(description="file path or glob, relative to the project folder")
    format: Literal["csv", "parquet", "jsonl", "auto"] = "auto"
    timezone: str | None = Field(default=None, description="overrides the project timezone for naive timestamps")
    mapping: dict[str, str] = Field(default_factory=dict, description="canonical field -> column in the file")
    identifiers: dict[str, str] = Field(default_factory=dict, description="identifier type (email, phone, mrn, client_id, patient) -> column")
    constants: dict[str, str] = Field(default_factory=dict, description="canonical field -> fixed value for every row")
    options: dict[str, str | int | float | bool] = Field(default_factory=dict, description="connector-specific options")


class SourcesFile(Strict):
    sources: list[SourceSpec]
