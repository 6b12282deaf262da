"""The survey and review connectors: staged rows, ratings, rejects, names never staged."""

from __future__ import annotations

from pathlib import Path

import pytest

from carejourney.connectors.base import ReadContext, get_connector
from carejourney.errors import IngestError
from carejourney.model.project import SourceSpec

SURVEY = """\
response_id,mrn,visit_date,completed_at,location,service_line,nps,csat,comment
r1,MRN-0001,2026-01-02,2026-01-03 10:00,downtown,cardiology,9,5,The nurse explained everything. Call me at 617-555-0199.
r2,MRN-0002,2026-01-02,2026-01-04 11:00,downtown,cardiology,3,,Waited two hours and got a surprise bill
r3,,2026-01-02,2026-01-05 12:00,uptown,cardiology,,2,
r4,MRN-0004,2026-01-02,not a date,uptown,cardiology,8,4,fine
r5,MRN-0005,2026-01-02,2026-01-06 09:00,uptown,cardiology,11,4,out of range
r6,MRN-0006,2026-01-02,2026-01-06 09:30,uptown,cardiology,7,4.5,half star
r7,MRN-0007,2026-01-02,2026-01-07 09:30,uptown,cardiology,,,Only a comment
"""

REVIEWS = """\
review_id,posted_at,site,location,rating,author_name,text
v1,2026-02-01T10:00:00,Google,downtown,2,Quentin Abernathy,Quentin here: parking was impossible and nobody called back
v2,2026-02-02T10:00:00,yelp,downtown,5,Zelda M.,Zelda loved the staff. zelda says thanks
v3,2026-02-03T10:00:00,healthgrades,uptown,0,Someone,zero stars
v4,,google,uptown,3,Someone Else,no date
v5,2026-02-05T10:00:00,google,uptown,,Nobody,
"""


def _ctx(tmp_path: Path, kind: str, name: str, **kw) -> ReadContext:
    spec = SourceSpec(name=name, kind=kind, path="x.csv", **kw)
    return ReadContext(timezone="UTC", spec=spec, root=tmp_path)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "x.csv"
    p.write_text(text)
    return p


def test_survey_stages_event_and_rating_rows(tmp_path):
    staged = get_connector("survey").read(_write(tmp_path, SURVEY), _ctx(tmp_path, "survey", "post_survey"))
    assert staged.rows_read == 7
    rejects = {r["row_num"]: (r["field"], r["reason"]) for r in staged.rejects.to_pylist()}
    assert set(rejects) == {4, 5, 6}
    assert rejects[4][0] == "completed_at" and "not a timestamp" in rejects[4][1]
    assert rejects[5][0] == "nps" and "0 to 10" in rejects[5][1]
    assert rejects[6][0] == "csat" and "1 to 5" in rejects[6][1]
    ev = staged.events.to_pylist()
    # r3 has no MRN: anonymous feedback, no event
    assert [(e["row_num"], e["source_event"], e["id_type"], e["id_value"]) for e in ev] == [
        (1, "survey_completed", "mrn", "MRN-0001"), (2, "survey_completed", "mrn", "MRN-0002"),
        (7, "survey_completed", "mrn", "MRN-0007")]
    assert ev[0]["detail"] == "survey" and ev[0]["location"] == "downtown" and ev[0]["service_line"] == "cardiology"
    fb = [(f["row_num"], f["source_event"], f["rating"], f["rating_scale"], f["text"] is not None)
          for f in staged.feedback.to_pylist()]
    assert fb == [(1, "nps", 9.0, 10.0, True), (1, "csat", 5.0, 5.0, False), (2, "nps", 3.0, 10.0, True),
                  (3, "csat", 2.0, 5.0, False), (7, "comment", None, None, True)]
    anon = [f for f in staged.feedback.to_pylist() if f["row_num"] == 3][0]
    assert anon["id_value"] is None and anon["id_type"] is None
    # visit_date never reaches a staged table
    assert "2026-01-02" not in str(staged.events.to_pylist()) + str(staged.feedback.to_pylist())


def test_survey_kind_option_and_missing_column(tmp_path):
    staged = get_connector("survey").read(_write(tmp_path, SURVEY),
                                          _ctx(tmp_path, "survey", "s", options={"survey_kind": "post_visit"}))
    assert set(staged.events["detail"].to_pylist()) == {"post_visit"}
    bad = _write(tmp_path, "response_id,mrn,nps\nr1,M1,9\n")
    with pytest.raises(IngestError, match="completed_at"):
        get_connector("survey").read(bad, _ctx(tmp_path, "survey", "s"))


def test_reviews_anonymous_with_author_scrubbed(tmp_path):
    staged = get_connector("reviews").read(_write(tmp_path, REVIEWS), _ctx(tmp_path, "reviews", "reviews"))
    assert staged.rows_read == 5
    rejects = {r["row_num"]: r["field"] for r in staged.rejects.to_pylist()}
    assert rejects == {3: "rating", 4: "posted_at", 5: "rating"}
    assert staged.events.num_rows == 0
    fb = staged.feedback.to_pylist()
    assert [(f["source_event"], f["rating"], f["rating_scale"]) for f in fb] == [("google", 2.0, 5.0), ("yelp", 5.0, 5.0)]
    assert all(f["id_value"] is None for f in fb)
    dump = str(fb)
    for name in ("Quentin", "Abernathy", "Zelda", "zelda"):
        assert name not in dump
    assert fb[0]["text"].startswith("[NAME] here: parking was impossible")
    assert fb[1]["text"] == "[NAME] loved the staff. [NAME] says thanks"


def test_connectors_are_registered():
    from carejourney.connectors.base import connector_kinds
    assert {"survey", "reviews"} <= set(connector_kinds())
