"""The journey map's stage funnel steps over the stages people cannot skip.

A stage whose touchpoints are all optional (reminders, intake forms) is not a funnel step: as a
step it dropped everyone who skipped it from every later stage (the demo's urgent-care map showed
fewer than 11 people reaching the visit). Its lanes show its conversion target's check, if any.
"""

from __future__ import annotations

import re

import pandas as pd

from carejourney.cli import main
from carejourney.project import load_project
from carejourney.reports.render import build_report
from carejourney.reports.sections.journey_map import funnel_stages
from tests.conftest import MINI_JOURNEY
from tests.unit.test_report import views_html


#: MINI_JOURNEY with a conversion target on its optional pre-visit stage
WITH_PRE_VISIT_TARGET = MINI_JOURNEY.replace("  - {id: pre_visit, owner: operations}",
                                             "  - {id: pre_visit, owner: operations, target: {conversion: 0.9}}")


def _project(make_project, journey: str):
    root = make_project({"journeys/care.yml": journey})
    rows = []
    for i in range(40):
        day = pd.Timestamp("2025-02-03 09:00") + pd.Timedelta(days=7 * i)  # (targets count closed windows)
        steps = ["site_visit", "referral_received", "appointment_booked"]
        steps += ["reminder_sent"] if i < 15 else []  # 15 of 40 get a reminder; all 40 are seen
        steps += ["visit_completed", "bill_sent"]
        rows += [(f"P{i:03d}", str(day + pd.Timedelta(days=k)), tp) for k, tp in enumerate(steps)]
    pd.DataFrame(rows, columns=["person_id", "ts", "touchpoint"]).to_csv(root / "events.csv", index=False)
    assert main(["--project", str(root), "ingest", str(root / "events.csv")]) == 0
    return load_project(root)


def _lane(body: str, lane: str) -> list[str]:
    row = re.search(rf'data-lane="{lane}">(.*?)</tr>', body, re.S).group(1)
    return [re.sub(r"<[^>]+>", " ", cell).split()[0] if cell.strip() else "" for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]


def test_people_who_skip_an_optional_stage_still_reach_the_later_ones(make_project):
    project = _project(make_project, MINI_JOURNEY)
    assert funnel_stages(project.journey()) == ["awareness", "access", "care", "post_visit"]
    body = views_html(build_report(project).html)["map"]
    # awareness, access, pre_visit (optional: not measured here), care, post_visit
    assert _lane(body, "reached") == ["40", "40", "—", "40", "40"]
    assert body.count("optional stage: people may skip it") == 1
    assert _lane(body, "conversion")[:2] == ["100%", "100%"]  # access → care: the reminder is not a step


def test_an_optional_stage_with_a_conversion_target_shows_its_check(make_project):
    journey = WITH_PRE_VISIT_TARGET
    project = _project(make_project, journey)
    report = build_report(project)
    body = views_html(report.html)["map"]
    # the 15 people who got the reminder entered pre-visit; all of them reached care
    assert _lane(body, "reached") == ["40", "40", "15", "40", "40"]
    assert _lane(body, "conversion")[2] == "100%"
    kinds = {getattr(r.spec, "kind", None) for s in report.sections for v in s.views if v.id == "map"
             for r in v.footnotes}
    assert {"funnel", "targets"} <= kinds  # (each number traces to its analysis)


def test_journeys_without_interior_optional_stages_step_through_every_stage(make_project):
    project = _project(make_project, MINI_JOURNEY.replace(
        "  - {id: reminder_sent, stage: pre_visit, channel: digital, optional: true}",
        "  - {id: reminder_sent, stage: pre_visit, channel: digital}"))
    assert funnel_stages(project.journey()) == ["awareness", "access", "pre_visit", "care", "post_visit"]


def test_the_map_reads_the_findings_targets_check_rather_than_running_another(make_project, monkeypatch):
    from carejourney.analyses.targets import TargetsAnalysis
    journey = WITH_PRE_VISIT_TARGET
    project = _project(make_project, journey)
    built = []
    original = TargetsAnalysis.build
    monkeypatch.setattr(TargetsAnalysis, "build", lambda self, spec, ctx: built.append(spec) or original(self, spec, ctx))
    build_report(project)
    assert len(built) == 1, built  # (the second asker is answered from the kept result)
