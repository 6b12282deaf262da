"""`carejourney validate`: every problem names file, line and field; exit 2; no tracebacks."""

import json

from carejourney.cli import main
from tests.conftest import MINI_JOURNEY


def _validate(root, capsys, *extra):
    code = main(["--project", str(root), "validate", *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_valid_project(make_project, capsys):
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    code, out = _validate(root, capsys, "--format", "json")
    assert code == 0 and json.loads(out)["journeys"] == ["care"]


def test_typo_in_stage_names_line_field_and_suggestion(make_project, capsys):
    broken = MINI_JOURNEY.replace("{id: appointment_booked, stage: access", "{id: appointment_booked, stage: acess")
    root = make_project({"journeys/care.yml": broken})
    code, out = _validate(root, capsys)
    assert code == 2
    assert "journeys/care.yml:" in out and "unknown stage 'acess'" in out and "did you mean 'access'" in out
    assert "Traceback" not in out


def test_field_errors_point_at_their_line(make_project, capsys):
    text = MINI_JOURNEY.replace("  - {id: bill_sent, stage: post_visit, channel: mail}",
                                "  - {id: bill_sent, stage: post_visit, channel: fax}\n  - {id: survey, stage: post_visit, chanel: mail}")
    root = make_project({"journeys/care.yml": text})
    code, out = _validate(root, capsys, "--format", "json")
    problems = json.loads(out)["problems"]
    lines = text.splitlines()
    fax = next(i for i, l in enumerate(lines, 1) if "channel: fax" in l)
    by_field = {p["field"]: p for p in problems}
    assert by_field["touchpoints[7].channel"]["line"] == fax
    assert by_field["touchpoints[8].chanel"]["line"] == fax + 1
    assert "did you mean 'channel'" in by_field["touchpoints[8].chanel"]["message"]
    assert by_field["touchpoints[8].channel"]["message"] == "required field is missing"
    assert code == 2


def test_yaml_syntax_error_and_bad_settings(make_project, capsys):
    root = make_project({"journeys/care.yml": "journey: x\nstages: [\n", "carejourney.yml": "name: p\ntimezone: Mars/Olympus\nprivacy: {min_cell: 1}\n"})
    code, out = _validate(root, capsys)
    assert code == 2
    assert "journeys/care.yml:" in out and "YAML syntax error" in out
    assert "carejourney.yml:2: timezone: unknown time zone 'Mars/Olympus'" in out
    assert "carejourney.yml:3: privacy.min_cell" in out


def test_no_project_is_a_clear_error(tmp_path, capsys):
    code = main(["--project", str(tmp_path), "validate"])
    out = capsys.readouterr()
    assert code == 2 and "no carejourney.yml" in out.err and "carejourney init" in out.err


def test_conflicting_touchpoint_stage_across_journeys(make_project, capsys):
    other = MINI_JOURNEY.replace("journey: care", "journey: other").replace(
        "{id: reminder_sent, stage: pre_visit", "{id: reminder_sent, stage: access")
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "journeys/other.yml": other})
    code, out = _validate(root, capsys)
    assert code == 2 and "reminder_sent" in out and "must mean the same stage" in out


def test_usage_errors_exit_2_without_traceback(capsys):
    from carejourney.cli import main
    assert main(["export", "parquet"]) == 2
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "parquet" in err
