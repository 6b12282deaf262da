"""The store and the ingest pipeline on a Spark store URL (local mode), end to end."""

import pytest

from carejourney.ingest import ingest_paths
from carejourney.model.project import SourceSpec
from carejourney.project import load_project
from carejourney.store import Store
from tests.conftest import MINI_JOURNEY

pytestmark = pytest.mark.spark


def test_ingest_into_spark_store_is_idempotent(make_project):
    pytest.importorskip("pyspark")
    from tests.conftest import spark_backend
    con = spark_backend()
    for name in ("events", "subjects", "links", "identity", "feedback", "receipts", "rejects"):
        con.drop_table(name, force=True)
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "carejourney.yml": "name: sp\nstore: pyspark://local[2]\n"})
    (root / "e.csv").write_text("person_id,ts,touchpoint,email\n"
                                "a,2026-01-01,site_visit,a@x.org\n"
                                "a,2026-01-02,appointment_booked,\n"
                                "b,2026-01-03,site_visit,a@x.org\n"
                                "c,2026-01-03,nope,\n")
    project = load_project(root)
    store = Store(con, project.config.store)
    spec = SourceSpec(name="events", kind="events", path="e.csv")
    r = ingest_paths(project, store, spec, [root / "e.csv"])[0]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 3, 1)
    assert ingest_paths(project, store, spec, [root / "e.csv"])[0].status == "unchanged"
    ev = store.events().to_pandas()
    assert len(ev) == 3
    assert ev.person_key.nunique() == 1  # a and b share an email: stitched into one person
    assert set(ev.stage) == {"awareness", "access"}
    assert store.table("rejects").count().execute() == 1
