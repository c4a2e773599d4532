"""The reports as a reader sees them: headless Chromium opens reports/index.html and a lesson's
page, finds the title, the results table and every image loaded, and no console error.

Playwright drives Debian's Chromium (``make browser`` installs it); never a downloaded browser.
The screenshots are kept in the test's tmp folder, under ``reports/screenshots/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lesson_helpers import missing_extra_lesson, sample_lesson
from test_lessons_quick import TINY

from nnatlas.lessons import tour

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make browser)"
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    from dataclasses import replace

    from nnatlas.lessons import get_lesson

    folder = tmp_path_factory.mktemp("browser") / "reports"
    tiny = get_lesson("ann-basics")
    tiny = replace(tiny, quick={**tiny.quick, **TINY["ann-basics"]})
    tour(
        folder, quick=True, only=[tiny, sample_lesson(), missing_extra_lesson()], log=lambda _: None
    )
    return folder


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _open(browser, page_file: Path, shot: Path):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    page.screenshot(path=str(shot), full_page=True)
    return page, errors


def _keep(shot: Path, reports: Path) -> Path:
    target = reports / "screenshots" / shot.name
    target.parent.mkdir(exist_ok=True)
    shutil.copy(shot, target)
    return target


def test_the_index_shows_the_path_with_links_and_statuses(browser, reports, tmp_path) -> None:
    page, errors = _open(browser, reports / "index.html", tmp_path / "index.png")
    assert "learning path" in page.title()
    rows = page.locator("#path tbody tr")
    assert rows.count() >= 3
    text = page.locator("#path").inner_text()
    assert "ann-basics" in text and "within range" in text and "skipped" in text
    assert page.locator("a[href='ann-basics/index.html']").count() == 1
    assert not errors, errors
    assert _keep(tmp_path / "index.png", reports).stat().st_size > 10_000
    page.close()


def test_a_lesson_page_shows_title_results_and_loaded_images(browser, reports, tmp_path) -> None:
    page, errors = _open(browser, reports / "ann-basics" / "index.html", tmp_path / "lesson.png")
    assert page.locator("h1").inner_text().startswith("ANN basics")
    assert "ANN basics" in page.title()
    results = page.locator("#results tbody tr")
    assert results.count() == 4
    assert "seed 0" in page.locator("#provenance").inner_text()
    images = page.locator("img")
    assert images.count() >= 4
    for i in range(images.count()):
        loaded = images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
        assert loaded, images.nth(i).get_attribute("src")
    assert not errors, errors
    assert _keep(tmp_path / "lesson.png", reports).stat().st_size > 10_000
    page.close()


def test_a_number_outside_its_range_shows_a_visible_flag(browser, tmp_path) -> None:
    from nnatlas.lessons import run_lesson

    folder = tmp_path / "reports"
    run_lesson(sample_lesson(5.0, 6.0), folder, quick=True, log=lambda _: None)
    page, errors = _open(browser, folder / "test-sample" / "index.html", tmp_path / "flag.png")
    flag = page.locator("#flag")
    assert flag.is_visible() and "Outside the expected range" in flag.inner_text()
    assert page.locator("#status").inner_text() == "outside range"
    assert not errors, errors
    page.close()
