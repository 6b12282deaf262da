"""`carejourney init` scaffolds a valid project with a secret key that is never printed."""

import json
import stat

import pytest

from carejourney.cli import main


@pytest.mark.parametrize("template", ["primary", "specialty", "urgent", "elective", "all"])
def test_init_then_validate(tmp_path, capsys, template):
    folder = tmp_path / "clinic"
    assert main(["init", str(folder), "--template", template]) == 0
    out = capsys.readouterr().out
    key = folder / ".carejourney" / "key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().strip() not in out
    assert "target/" in (folder / ".gitignore").read_text() and ".carejourney/" in (folder / ".gitignore").read_text()
    assert (folder / "schemas" / "journey.schema.json").is_file()
    assert main(["--project", str(folder), "validate", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    expected = ["elective", "primary", "specialty", "urgent"] if template == "all" else [template]
    assert sorted(summary["journeys"]) == expected


def test_init_refuses_to_overwrite_and_rejects_unknown_template(tmp_path, capsys):
    assert main(["init", str(tmp_path / "a")]) == 0
    key = (tmp_path / "a" / ".carejourney" / "key").read_text()
    assert main(["init", str(tmp_path / "a")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "a"), "--force"]) == 0
    assert (tmp_path / "a" / ".carejourney" / "key").read_text() == key  # the key is never replaced
    assert main(["init", str(tmp_path / "b"), "--template", "primery"]) == 2
    assert "did you mean 'primary'" in capsys.readouterr().err
