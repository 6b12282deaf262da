"""Acceptance: on generated data the findings recover the planted frictions (recall ≥ 90%,
precision ≥ 80%), and on data with no planted friction the finder reports (almost) nothing.

The matching rule (docs/analyses/friction.md, "Scoring against truth.json") is implemented by
:func:`matches` below. Target misses are scored separately: they compare the data with the
journey's own targets, not with planted frictions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from carejourney.project import load_project

synth = pytest.importorskip("carejourney.synth", reason="carejourney.synth (the generator) is not importable yet")

PEOPLE = 20_000
SCORED = ("conversion", "delay", "feedback", "recontact")
WEEKEND = {("weekend", "yes"), ("weekday", "Sat"), ("weekday", "Sun"), ("first_weekday", "Sat"),
           ("first_weekday", "Sun")}


def _age_ok(value: str, bands: list[str]) -> bool:
    """An age_band value (e.g. '75-89', '90+') lies inside one of the truth's bands ('65+', '18-34')."""
    lo = int(str(value).split("-")[0].rstrip("+")) if str(value)[:1].isdigit() else None
    if lo is None:
        return False
    for b in bands:
        blo, bhi = (int(b[:-1]), 200) if b.endswith("+") else map(int, b.split("-"))
        if blo <= lo <= bhi:
            return True
    return False


def _member_ok(dim: str, value: str, where: dict) -> bool:
    for key, want in where.items():
        want = want if isinstance(want, list) else [want]
        if key in ("age_band", "age_group"):
            bands = [{"senior": "65+", "pediatric": "0-17", "adult": "18-64"}.get(w, w) for w in want]
            if (dim == "age_band" and _age_ok(value, bands)) or (dim == "segment" and value in want + ["senior"]
                                                                 and "65+" in bands):
                return True
        elif key == "weekend":
            if (dim, value) in WEEKEND:
                return True
        elif key == "language":
            if (dim == "language" and value in want) or (dim == "segment" and value == "spanish_speaking"
                                                        and "es" in want) or (dim, value) == ("needs_interpreter", "yes"):
                return True
        elif key == "min_wait_days":
            if dim == "lead_time" and value.startswith(">") or (dim == "lead_time" and value == "29-42d"):
                return True
        elif dim == key and str(value) in [str(w) for w in want]:
            return True
    return False


def matches(finding: dict, friction: dict, journeys: dict) -> bool:
    """A finding matches a planted friction when journey, place and population all agree.

    - journey: the friction's journey, or any journey when the friction says "all" or its ``where``
      does not name a service line (the generator applies such a friction wherever its mechanism
      runs — weekend web leads exist in every journey with a lead form);
    - place: the finding's stage is the friction's stage, or its step ends at (or is) the
      friction's touchpoint or named delay;
    - population: one of the finding's merged members (dimension = value) describes a condition
      of the friction's ``where`` (age bands nest: 75-89 lies in 65+; the senior segment is 65+;
      weekend = Sat/Sun; Spanish = language es, the spanish_speaking segment or needs an
      interpreter; a wait of 6+ weeks = lead time 29-42 or >42 days).
    """
    if friction["journey"] not in ("all", finding["journey"]) and "service_line" in friction["where"]:
        return False
    step = finding.get("step") if isinstance(finding.get("step"), str) else ""
    frm, _, to = step.partition(">")
    place = finding.get("stage") == friction["stage"] or friction.get("touchpoint") in (to, finding.get("touchpoint"))
    delay = friction.get("delay")
    if delay and finding["journey"] in journeys:
        d = next((x for x in journeys[finding["journey"]].delays if x.id == delay), None)
        place = place or (d is not None and (d.from_, d.to) == (frm, to))
    if not place:
        return False
    members = finding.get("members") if isinstance(finding.get("members"), list) else [(finding["kind"], step, finding.get("dimension"), finding.get("value"))]
    return any(_member_ok(m[2], str(m[3]), friction["where"]) for m in members if m[2])


def calibrated(finding: dict, params: dict, journeys: dict) -> bool:
    """A finding of an effect the generator builds into every population on purpose (its calibration,
    ``scenario_parameters.rates.no_show.odds_ratios`` in truth.json: lead time over 28 days, Medicaid,
    Spanish) on the booking → visit step. True effects, but not planted frictions: not scored."""
    ors = (params.get("rates", {}).get("no_show", {}) or {}).get("odds_ratios", {}) or {}
    j = journeys.get(finding["journey"])
    step = finding.get("step") if isinstance(finding.get("step"), str) else ""
    to = step.partition(">")[2]
    if j is None or not to or to not in {t.id for t in j.touchpoints} or j.touchpoint(to).stage != "care":
        return False
    members = finding.get("members") if isinstance(finding.get("members"), list) else [
        (finding["kind"], step, finding.get("dimension"), finding.get("value"))]
    known = set()
    if "lead_time_gt_28d" in ors:
        known |= {("lead_time", "29-42d"), ("lead_time", ">42d")}
    if "medicaid" in ors:
        known.add(("payer_type", "medicaid"))
    if "spanish" in ors:
        known |= {("language", "es"), ("segment", "spanish_speaking"), ("needs_interpreter", "yes")}
    return all((m[2], str(m[3])) in known for m in members)


def score(findings: list[dict], truth: list[dict], journeys: dict, params: dict | None = None) -> dict:
    params = params or {}
    scored = [f for f in findings if f["kind"] in SCORED]
    known = [f for f in scored if not any(matches(f, t, journeys) for t in truth) and calibrated(f, params, journeys)]
    scored = [f for f in scored if f not in known]
    hit = {t["id"]: [f["rank"] for f in scored if matches(f, t, journeys)] for t in truth}
    true_pos = [f for f in scored if any(matches(f, t, journeys) for t in truth)]
    return {"recall": sum(bool(v) for v in hit.values()) / len(truth) if truth else 1.0,
            "precision": len(true_pos) / len(scored) if scored else 1.0,
            "hits": hit, "findings": len(scored), "false": [f for f in scored if f not in true_pos],
            "calibrated": known}


def _project(root: Path, scenario: str | None):
    from carejourney.ingest import ingest_sources
    from carejourney.pipeline import DEMO_SOURCES
    from tests.conftest import write_project
    tpl = Path(synth.__file__).resolve().parents[1] / "templates" / "journeys"
    files = {f"journeys/{p.name}": p.read_text() for p in tpl.glob("*.yml")}
    files["sources/demo.yml"] = DEMO_SOURCES
    files["carejourney.yml"] = "name: recall\ntimezone: America/New_York\n"
    write_project(root, files)
    synth.synthesize(root / "data", people=PEOPLE, seed=7, **({"scenario": scenario} if scenario else {}))
    project = load_project(root)
    ingest_sources(project)
    return project


def _findings(project):
    from carejourney.analyses.context import AnalysisContext
    from carejourney.findings import collect
    from carejourney.store import open_store
    store = open_store(project)
    try:
        return collect(AnalysisContext.from_store(project, store)).to_dict("records")
    finally:
        store.close()


@pytest.mark.slow
def test_planted_frictions_are_recovered(tmp_path):
    project = _project(tmp_path / "planted", None)
    doc = json.loads((project.root / "data" / "truth.json").read_text())
    truth = doc["frictions"]
    result = score(_findings(project), truth, project.journeys, doc.get("scenario_parameters"))
    missed = [k for k, v in result["hits"].items() if not v]
    assert result["recall"] >= 0.9, f"missed: {missed}"
    assert result["precision"] >= 0.8, "unmatched: " + "; ".join(
        f"{f['kind']} {f['journey']} {f['step']} {f['dimension']}={f['value']}" for f in result["false"])
    shutil.rmtree(project.root / "data", ignore_errors=True)


@pytest.mark.slow
def test_no_planted_friction_reports_almost_nothing(tmp_path):
    project = _project(tmp_path / "clean", "none")
    doc = json.loads((project.root / "data" / "truth.json").read_text())
    assert doc["frictions"] == []
    found = score(_findings(project), [], project.journeys, doc.get("scenario_parameters"))["false"]
    assert len(found) <= 2, "; ".join(f"{f['kind']} {f['journey']} {f['step']} {f['dimension']}={f['value']}"
                                      for f in found)
