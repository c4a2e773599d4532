"""The lab in a real browser: Playwright drives Debian's Chromium (headless) through the page.

It starts a playground training and watches the boundary and the loss curve update, opens a
run's report and a lesson report, uploads an image and sees its feature maps, types a sentence
and sees the gate heatmaps; no console error on the way. Screenshots are kept in
``build/lab-screenshots/`` (``$NNATLAS_SCREENSHOTS`` overrides).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(
    os.environ.get("NNATLAS_SCREENSHOTS", Path(__file__).parents[2] / "build" / "lab-screenshots")
)

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason="Chromium is not installed (/usr/bin/chromium): `make browser` installs Debian's",
)


@pytest.fixture(scope="module")
def browser() -> Any:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def painted(page: Any, selector: str) -> int:
    """How many of a canvas's pixels are neither white nor transparent."""
    return page.evaluate(
        """(sel) => { const c = document.querySelector(sel);
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let n = 0; for (let i = 0; i < d.length; i += 4)
               if (d[i + 3] > 0 && (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245)) n++;
             return n; }""",
        selector,
    )


def loaded(page: Any, selector: str, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "(sel) => { const i = document.querySelector(sel); "
        "return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
        timeout=timeout,
    )


def test_click_through_the_lab(
    lab: Any, browser: Any, trained_runs: dict[str, str], tmp_path: Path
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(lab.url)
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)

    # Playground: a three-class spiral, watched while it trains.
    page.select_option("#pg-data", "spirals")
    page.fill("#pg-epochs", "120")
    page.fill("#pg-pace", "25")
    page.click("#pg-start")
    page.wait_for_function(
        "() => Number(document.querySelector('#pg-boundary').dataset.frames) >= 3"
    )
    first = int(page.get_attribute("#pg-boundary", "data-frames"))
    first_points = int(page.get_attribute("#pg-curve", "data-points"))
    page.screenshot(path=str(SHOTS / "1-playground-training.png"))
    page.wait_for_function(
        "(n) => Number(document.querySelector('#pg-boundary').dataset.frames) > n", arg=first + 3
    )
    assert int(page.get_attribute("#pg-curve", "data-points")) > first_points  # the curve grew
    assert painted(page, "#pg-boundary") > 10_000  # the boundary is coloured, not blank
    assert painted(page, "#pg-curve") > 100
    page.wait_for_selector("#pg-export:not([hidden])", timeout=30_000)
    assert "done" in page.inner_text("#pg-status")
    page.screenshot(path=str(SHOTS / "2-playground-done.png"))

    # Run browser: the CNN run's report (metrics, curves, plots, checkpoints), a lesson report.
    page.click("#tabs button[data-tab='runs']")
    page.click(f"#runs-list tr[data-run='{trained_runs['cnn']}']")
    page.wait_for_selector("#run-metrics td")
    assert "test accuracy" in page.inner_text("#run-metrics")
    assert painted(page, "#run-curve") > 100
    assert "best.pt" in page.inner_text("#run-detail")
    loaded(page, "#run-detail figure img")
    page.screenshot(path=str(SHOTS / "3-run-report.png"))
    page.click("#reports-list a")
    frame = page.frame_locator("#report-frame")
    assert "hidden layer" in frame.locator("#finding").inner_text(timeout=10_000)

    # CNN explorer: an uploaded photo's feature maps and Grad-CAM.
    photo = tmp_path / "red.png"
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 80, (40, 40, 3), dtype=np.uint8)
    pixels[8:26, 10:28, 0] = 230
    from PIL import Image

    Image.fromarray(pixels).save(photo)
    page.click("#tabs button[data-tab='cnn']")
    page.wait_for_function(
        "(run) => [...document.querySelectorAll('#cnn-run option')].some(o => o.value === run)",
        arg=trained_runs["cnn"],
    )
    page.select_option("#cnn-run", trained_runs["cnn"])
    page.set_input_files("#cnn-file", str(photo))
    loaded(page, "#cnn-featuremaps", timeout=60_000)
    loaded(page, "#cnn-gradcam")
    assert "predicts" in page.inner_text("#cnn-prediction")
    page.screenshot(path=str(SHOTS / "4-cnn-explorer.png"))

    # Sequence explorer: the LSTM's gates over a typed sentence.
    page.click("#tabs button[data-tab='seq']")
    page.wait_for_function(
        "(run) => [...document.querySelectorAll('#seq-run option')].some(o => o.value === run)",
        arg=trained_runs["lstm"],
    )
    page.select_option("#seq-run", trained_runs["lstm"])
    page.fill("#seq-text", "great acting but a boring story")
    page.click("#seq-go")
    page.wait_for_function(
        "() => document.querySelectorAll('#seq-heatmaps canvas.gate-heatmap').length === 4",
        timeout=60_000,
    )
    gates = page.eval_on_selector_all("canvas.gate-heatmap", "cs => cs.map(c => c.dataset.gate)")
    assert gates == ["i", "f", "g", "o"]  # the LSTM's gates, torch's order
    assert painted(page, "canvas.gate-heatmap") > 500
    loaded(page, "#seq-gates")
    page.screenshot(path=str(SHOTS / "5-sequence-explorer.png"), full_page=True)

    time.sleep(0.3)  # let any late console message arrive
    page.close()
    assert not problems, problems
