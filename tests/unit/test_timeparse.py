import pyarrow as pa

from carejourney.connectors.timeparse import parse_timestamps


def test_formats_and_zones():
    vals = ["2026-03-08T14:30:00Z", "2026-03-08 14:30", "03/08/2026 2:30 PM", "08.03.2026 14:30",
            "1772980200", "1772980200000000", "2026-03-08T14:30:00+02:00", "garbage", None, ""]
    out = [None if v is None else v.isoformat() for v in parse_timestamps(pa.array(vals), "America/New_York").to_pylist()]
    assert out == ["2026-03-08T14:30:00", "2026-03-08T18:30:00", "2026-03-08T18:30:00",
                   "2026-03-08T18:30:00", "2026-03-08T14:30:00", "2026-03-08T14:30:00", "2026-03-08T12:30:00",
                   None, None, None]


def test_dst_spring_forward_and_fall_back():
    # 2026-03-08 is the US spring-forward day: 01:30 EST = 06:30 UTC, 03:30 EDT = 07:30 UTC
    out = parse_timestamps(pa.array(["2026-03-08 01:30", "2026-03-08 03:30", "2026-11-01 12:00"]), "America/New_York")
    assert [v.isoformat() for v in out.to_pylist()] == ["2026-03-08T06:30:00", "2026-03-08T07:30:00",
                                                        "2026-11-01T17:00:00"]
