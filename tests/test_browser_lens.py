"""The initialization lens in a real browser against a live Voila (fixtures in conftest.py)."""

from __future__ import annotations

import pytest
from test_browser import ERROR_OUTPUT, _collect_errors, _set_readout

from conftest import ARTIFACTS
from explorer.apps import lens_app
from explorer.apps._graph import evaluate_once

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = pytest.mark.browser

READY_TIMEOUT = 120_000   # ms; a cold kernel on a busy 2-core machine (msprime data included)
UPDATE_TIMEOUT = 30_000
LENS = "/voila/render/04_initialization_lens.ipynb"
DEFAULTS = {p.name: p.default for p in lens_app.PARAMS} | {"seed": 0}


def expected_status(**changes) -> str:
    return evaluate_once(lens_app.STAGES, lens_app.summary, DEFAULTS | changes)




def test_lens_renders_and_a_control_updates_status_and_plot(page, voila_url):
    errors = _collect_errors(page)
    page.goto(voila_url + LENS)
    page.wait_for_selector(f"div.jupyter-matplotlib-figure canvas, {ERROR_OUTPUT}",
                           timeout=READY_TIMEOUT)
    assert page.locator(ERROR_OUTPUT).count() == 0, page.locator(ERROR_OUTPUT).first.inner_text()
    status = page.locator(".explorer-status")
    expect(status).to_have_text(expected_status(), timeout=READY_TIMEOUT)
    assert page.locator("div.jupyter-matplotlib-figure").count() == len(lens_app.VIEWS)

    page.set_viewport_size({"width": 1280, "height": 1400})
    canvas = page.locator("div.jupyter-matplotlib-figure").nth(2).locator("canvas").first
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)   # let the first canvas frame arrive
    before = canvas.screenshot()
    _set_readout(page, "NTK: R (pretrained)", "4")
    expect(status).to_have_text(expected_status(R=4.0), timeout=UPDATE_TIMEOUT)
    expect(page.locator(".explorer-permalink-link")).to_have_text("?R=4.0")
    page.wait_for_timeout(1000)   # the canvas follows the status message
    assert canvas.screenshot() != before, "the NTK panel did not change"

    # A combination the backend refuses: a message, and the last good result stays.
    _set_readout(page, "SBM: q", "0.5")
    expect(status).to_contain_text("q must be below p", timeout=UPDATE_TIMEOUT)
    expect(page.locator(".explorer-permalink-link")).to_have_text("?R=4.0")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lens.png"), full_page=True)
    assert errors == [], errors
