"""Browser fixtures: Debian's chromium driven by Playwright (never `playwright install`).

The report under test comes from a project built here: the demo pipeline (scaffold +
:func:`carejourney.synth.synthesize` + ingest + report) when the synthetic generator is
available, else a project whose canonical events CSV is ingested for real
(:mod:`tests.report_fixtures`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CAREJOURNEY_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[dev]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory) -> Path:
    """The report file of a freshly built project (synthetic data when the generator exists)."""
    root = tmp_path_factory.mktemp("browser") / "demo"
    try:
        from carejourney.pipeline import demo
        from carejourney.synth import synthesize  # noqa: F401
    except ImportError:
        from tests.report_fixtures import build_project
        from carejourney.reports.render import write_report
        return write_report(build_project(root, people=1500, seed=5))
    summary = demo(root, people=1500, seed=5)
    return summary.report


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
