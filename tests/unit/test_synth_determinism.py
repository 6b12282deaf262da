"""Seeded output: the same seed gives byte-identical files (however many workers); another
seed gives other people with the same rates."""

from __future__ import annotations

import hashlib
import json
import math

import pandas as pd
import pytest

import carejourney.synth as synth
from carejourney.synth import synthesize


def digest(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setattr(synth, "CHUNK", 700)  # several chunks, so order and per-chunk seeding are exercised
    try:
        a = tmp_path_factory.mktemp("a")
        b = tmp_path_factory.mktemp("b")
        c = tmp_path_factory.mktemp("c")
        synthesize(a, people=2500, seed=42, workers=1)
        synthesize(b, people=2500, seed=42, workers=2)
        synthesize(c, people=2500, seed=43, workers=1)
    finally:
        mp.undo()
    return a, b, c


def test_same_seed_identical_bytes(runs):
    a, b, _ = runs
    da, db = digest(a), digest(b)
    assert len(da) >= 20 and da == db
    assert "truth.json" in da and "truth/people.parquet" in da


def test_different_seed_other_people_same_rates(runs):
    a, _, c = runs
    assert digest(a) != digest(c)
    pa_, pc = pd.read_parquet(a / "truth" / "people.parquet"), pd.read_parquet(c / "truth" / "people.parquet")
    same_name = ((pa_["first_name"] == pc["first_name"]) & (pa_["last_name"] == pc["last_name"])).mean()
    assert same_name < 0.05
    assert (pa_["care_type"] != pc["care_type"]).mean() > 0.3
    ta, tc = (json.loads((x / "truth.json").read_text())["calibration"] for x in (a, c))
    for key in ("read_reviews", "portal_active", "survey_response", "call_abandon", "referral_scheduled"):
        p1, n1, p2, n2 = ta[key]["realised"], ta[key]["n"], tc[key]["realised"], tc[key]["n"]
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        assert abs(p1 - p2) <= 3.3 * se, (key, ta[key], tc[key])
