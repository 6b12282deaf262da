import hmac

import pandas as pd
import pyarrow as pa
import pytest

from carejourney.privacy.pseudonymise import (age_band, age_band_for_age, age_band_labels, normalise_identifier,
                                               pseudonym, pseudonymise_array, zip3)
from carejourney.privacy.suppression import CellRules, Suppressed, suppress
from datetime import date

KEY = b"k" * 32


def test_pseudonym_is_keyed_and_normalised():
    a = pseudonym(KEY, "phone", "(555) 010-2000")
    assert a == pseudonym(KEY, "phone", "+1 555.010.2000")
    assert a != pseudonym(b"x" * 32, "phone", "(555) 010-2000")
    assert a != pseudonym(KEY, "mrn", "(555) 010-2000")  # id types are namespaced
    assert pseudonym(KEY, "email", " Ann@X.com ") == pseudonym(KEY, "email", "ann@x.com")
    # the key is the HMAC-SHA256's first 63 bits as a non-negative int64
    msg = b"phone:" + normalise_identifier("phone", "(555) 010-2000").encode()
    assert a == int.from_bytes(hmac.digest(KEY, msg, "sha256")[:8], "big") >> 1
    assert isinstance(a, int) and 0 <= a < 2**63


def test_pseudonymise_array_keeps_order_and_nulls():
    out = pseudonymise_array(KEY, pa.array(["person"] * 4), pa.array(["b", None, "a", "b"]))
    vals = out.to_pylist()
    assert vals[1] is None and vals[0] == vals[3] != vals[2]
    assert vals[2] == pseudonym(KEY, "person", "a")


def test_age_bands_collapse_90_plus():
    bounds = [0, 18, 35, 50, 65, 75, 90]
    assert age_band_labels(bounds) == ["0-17", "18-34", "35-49", "50-64", "65-74", "75-89", "90+"]
    assert age_band(date(1930, 1, 1), date(2026, 1, 1), bounds) == "90+"
    assert age_band(date(2008, 6, 2), date(2026, 6, 1), bounds) == "0-17"  # the day before the 18th birthday
    assert age_band(date(2008, 6, 1), date(2026, 6, 1), bounds) == "18-34"
    assert age_band_for_age(104, bounds) == "90+"


def test_zip3_safe_harbor():
    restricted = ["036", "059"]
    assert zip3("02139", restricted) == "021"
    assert zip3("03601-1234", restricted) == "000"
    assert zip3("12", restricted) is None
    assert normalise_identifier("patient", "urn:uuid:ABC") == "abc"


def test_primary_and_derived_suppression():
    df = pd.DataFrame({"step": ["a", "b", "c"], "people": [100, 5, 0], "rate": [1.0, 0.05, 0.0]})
    s = suppress(df, CellRules(counts=("people",), derived={"rate": ("people",)}), k=11)
    recs = s.records()
    assert recs[0]["people"] == 100 and recs[1]["people"] == "<11" and recs[1]["rate"] == "<11"
    assert recs[2]["people"] == 0  # zero is not a small cell
    assert s.cells == 2


def test_difference_rule_hides_the_smaller_count():
    df = pd.DataFrame({"entered": [100, 100], "reached": [95, 50]})
    s = suppress(df, CellRules(counts=("entered", "reached"), pairs=(("entered", "reached"),)), k=11)
    assert s.records()[0]["reached"] == "<11"  # 100 - 95 = 5 people would be revealed
    assert s.records()[1]["reached"] == 50


def test_complementary_suppression_in_groups():
    df = pd.DataFrame({"g": ["x"] * 4, "v": ["a", "b", "c", "d"], "people": [50, 3, 20, 40]})
    s = suppress(df, CellRules(counts=("people",), groups=("g",)), k=11)
    hidden = [r["v"] for r in s.records() if r["people"] == "<11"]
    assert hidden == ["b", "c"]  # the next-smallest cell is hidden too, so 3 cannot be recovered


def test_suppressed_cannot_be_built_by_hand():
    with pytest.raises(TypeError):
        Suppressed(pd.DataFrame(), pd.DataFrame(), 11, 0)


def test_sentences_are_put_back_without_unsuppressing_anything():
    """Suppressed.with_text replaces text written from the shown cells; the mask and the count of
    hidden cells stay, and a column that holds a hidden cell cannot be overwritten."""
    rows = suppress(pd.DataFrame({"n": [40, 500], "affected": [3, 200], "rate": [3 / 40, 0.4], "title": ["", ""]}),
                    CellRules(counts=("n", "affected"), derived={"rate": ("n", "affected")}), 11)
    shown = rows.frame.to_dict("records")
    out = rows.with_text(title=[f"{'hidden' if r['rate'] is None else format(r['rate'], '.0%')}" for r in shown])
    assert [r["title"] for r in out.records()] == ["hidden", "40%"]
    assert out.cells == rows.cells == 2 and out.records()[0]["affected"] == "<11"
    with pytest.raises(ValueError, match="suppressed cells"):
        rows.with_text(rate=["x", "y"])
