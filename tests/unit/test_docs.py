"""Docs are tested: every setting is documented, every CLI command appears in docs/cli.md."""

from pathlib import Path

from carejourney.model.project import IdentitySettings, PrivacySettings, ProjectConfig, SourceSpec

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_project_setting_is_documented():
    text = (DOCS / "configuration.md").read_text()
    for name in ProjectConfig.model_fields:
        assert f"`{name}`" in text, f"carejourney.yml setting '{name}' is not in docs/configuration.md"
    for name in PrivacySettings.model_fields:
        assert f"`privacy.{name}`" in text, f"privacy.{name} is not in docs/configuration.md"
    for name in IdentitySettings.model_fields:
        assert f"`identity.{name}`" in text, f"identity.{name} is not in docs/configuration.md"
    for name in SourceSpec.model_fields:
        assert f"`{name}`" in text, f"source field '{name}' is not in docs/configuration.md"


def test_every_cli_command_is_documented():
    import typer.main

    from carejourney.cli import app
    group = typer.main.get_command(app)
    text = (DOCS / "cli.md").read_text()
    for name in group.commands:
        assert f"carejourney {name}" in text, f"command '{name}' is missing from docs/cli.md (run scripts/gen_cli_docs.py)"
