from tests.conftest import key_of


def test_smoke(events_for):
    ctx = events_for({"p1": [("referral_received", "2026-01-03"), ("visit_completed", "2026-01-20")],
                      "p2": {"events": [("site_visit", "2026-01-01")], "attrs": {"age_band": "65-74"}}})
    df = ctx.to_pandas(ctx.journey_events(None).group_by("touchpoint").aggregate(n=ctx.events.person_key.nunique()))
    assert set(df.touchpoint) == {"referral_received", "visit_completed", "site_visit"}
    seg = ctx.to_pandas(ctx.journey_events(None, "senior"))
    assert list(seg.person_key.unique()) == [key_of("p2")]
