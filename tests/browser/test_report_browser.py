"""The journey report in a real browser: every section renders, no network, keyboard works."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page_session(browser, demo_report):
    """One page with the report open; records console errors and every network request."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    log = {"errors": [], "requests": []}
    page.on("console", lambda m: log["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    context.on("request", lambda r: log["requests"].append(r.url))
    page.goto(demo_report.as_uri())
    page.wait_for_selector("html[data-charts-ready]", timeout=30_000)
    yield page, log, demo_report
    context.close()


def test_every_section_renders_with_charts_and_a_filled_map(page_session):
    page, log, _ = page_session
    sections = page.locator("section.report-section")
    assert sections.count() >= 11
    for i in range(sections.count()):
        s = sections.nth(i)
        assert s.locator("h2").inner_text().strip(), f"section {i} has no heading"
        assert s.locator("article.view, dl.glossary").count() >= 1
    charts = page.locator("div.chart[data-figure]")
    n = charts.count()
    assert n >= 4
    assert int(page.get_attribute("html", "data-charts-ready")) == n
    for i in range(n):  # every chart container was drawn by Plotly into an SVG
        assert charts.nth(i).locator(".main-svg").count() >= 1, charts.nth(i).get_attribute("id")
    assert page.locator(".js-plotly-plot .main-svg").count() >= n
    lanes = page.locator("table.map tr.lane")
    assert lanes.count() >= 12
    for lane in ("touchpoints", "doing", "reached", "conversion", "median", "p90", "emotion"):
        cells = page.locator(f'table.map tr[data-lane="{lane}"] td')
        assert cells.count() >= 3
        texts = [t.strip() for t in cells.all_inner_texts()]
        assert all(texts), f"empty cell in lane {lane}"
    reached = page.locator('table.map tr[data-lane="reached"] td').all_inner_texts()
    assert any(any(ch.isdigit() for ch in t) for t in reached)


def test_no_console_errors_and_no_network_beyond_the_file(page_session):
    page, log, path = page_session
    page.mouse.wheel(0, 20_000)  # scroll everything into view: lazy work would fire now
    page.wait_for_timeout(300)
    assert log["errors"] == []
    assert log["requests"] == [path.as_uri()]


def test_keyboard_reaches_the_section_nav_with_visible_focus(page_session):
    page, _, _ = page_session
    page.evaluate("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    first = page.evaluate("document.activeElement.className + '|' + document.activeElement.getAttribute('href')")
    assert first == "skip|#main"
    assert page.locator("a.skip").bounding_box()["x"] >= 0  # the skip link shows when focused
    reached_nav = None
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('nav.toc')"):
            reached_nav = page.evaluate("document.activeElement.getAttribute('href')")
            break
    assert reached_nav and reached_nav.startswith("#sec-")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle + ' ' + "
                            "getComputedStyle(document.activeElement).outlineWidth")
    assert outline.split()[0] != "none" and outline.split()[1] != "0px"
    page.keyboard.press("Enter")
    page.wait_for_timeout(200)
    assert page.evaluate("location.hash") == reached_nav


def test_print_layout_hides_navigation(page_session):
    page, _, _ = page_session
    page.emulate_media(media="print")
    try:
        assert page.locator("nav.toc").is_hidden()
        assert page.evaluate("getComputedStyle(document.querySelectorAll('section.report-section')[1]).breakBefore") == "page"
    finally:
        page.emulate_media(media="screen")


def test_screenshots_of_the_map_and_the_funnel(page_session, artifacts):
    page, _, _ = page_session
    page.set_viewport_size({"width": 2200, "height": 1200})
    try:
        page.locator("#view-map").screenshot(path=str(artifacts / "report-journey-map.png"))
        page.locator("#view-funnel").screenshot(path=str(artifacts / "report-funnel.png"))
    finally:
        page.set_viewport_size({"width": 1500, "height": 1000})
    for name in ("report-journey-map.png", "report-funnel.png"):
        assert (artifacts / name).stat().st_size > 10_000
