"""End to end: a live Voila (``python -m explorer serve``) in headless Debian Chromium.

Expected texts are computed from the backend through the app's pure stage and summary
functions (by a fresh graph), never pasted from an earlier run.
"""

from __future__ import annotations

import itertools
import json
import re
import time

import numpy as np
import pytest

from conftest import ARTIFACTS, ROOT
from explorer.apps import sbm_app
from explorer.apps._graph import evaluate_once

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = pytest.mark.browser

READY_TIMEOUT = 120_000   # ms; a cold kernel on a busy 2-core machine
UPDATE_TIMEOUT = 30_000
SBM = "/voila/render/01_sbm_mean_field.ipynb"
DEFAULTS = {p.name: p.default for p in sbm_app.PARAMS} | {"seed": 0}
# Console errors we accept: offline, Voila's lab template links Font Awesome from a CDN; and
# when a page is left, Voila 0.5's front end asks /voila/api/shutdown/<kernel> without an XSRF
# token and gets 403 (the server then culls the idle kernel itself, see `serve`).
KNOWN_OFFLINE = ("cdn.jsdelivr.net", "fonts.googleapis", "fonts.gstatic", "/voila/api/shutdown/")
TIMINGS: dict[str, float] = {}


def expected_status(**changes) -> str:
    state = DEFAULTS | changes
    return evaluate_once(sbm_app.STAGES, sbm_app.summary, state)


def _collect_errors(page):
    errors = []

    def on_console(msg):
        if msg.type == "error":
            where = (msg.location or {}).get("url", "")
            if not any(k in where or k in msg.text for k in KNOWN_OFFLINE):
                errors.append(f"{msg.text} @ {where}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    return errors


ERROR_OUTPUT = ".voila-error, [data-mime-type='application/vnd.jupyter.stderr']"


def _wait_for_app(page, url_state: str | None = None):
    """The app is up; with ``url_state``, also its URL's state (a preheated kernel gets the
    query string with the request and restores it then: the permalink shows it after)."""
    # Whichever comes first: the app's canvas, or an error the notebook printed.
    page.wait_for_selector(f"div.jupyter-matplotlib-figure canvas, {ERROR_OUTPUT}",
                           timeout=READY_TIMEOUT)
    errors = page.locator(ERROR_OUTPUT)
    assert errors.count() == 0, errors.first.inner_text()[-2000:]
    status = page.locator(".explorer-status")
    expect(status).not_to_have_text("", timeout=READY_TIMEOUT)
    if url_state:
        expect(page.locator(".explorer-permalink-link")).to_contain_text(
            url_state, timeout=UPDATE_TIMEOUT)
    return status


def _set_readout(page, label: str, value: str) -> None:
    slider = page.locator(".widget-slider").filter(has=page.get_by_text(label, exact=True))
    readout = slider.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def _changes(page, locator, before: bytes, timeout_ms: int = UPDATE_TIMEOUT) -> bool:
    """Whether ``locator``'s pixels differ from ``before`` within ``timeout_ms``."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if locator.screenshot() != before:
            return True
        page.wait_for_timeout(250)
    return False


def _record(name: str, seconds: float) -> None:
    TIMINGS[name] = round(seconds, 2)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser_timings.json").write_text(json.dumps(TIMINGS, indent=1))


def test_landing_page_renders_without_errors(page, voila_url):
    errors = _collect_errors(page)
    t0 = time.perf_counter()
    page.goto(voila_url + "/voila/render/index.ipynb")
    expect(page.get_by_role("heading", name="explorer: how initialization decides"))\
        .to_be_visible(timeout=READY_TIMEOUT)
    _record("landing_page_ready_s", time.perf_counter() - t0)
    assert page.locator(".voila-error, .jp-RenderedText[data-mime-type*=stderr]").count() == 0
    # every card shows its app's default view, rendered (a decoded image, not a broken one)
    images = page.locator(".explorer-card img")
    expect(images.first).to_be_visible(timeout=READY_TIMEOUT)
    assert images.count() >= 3
    assert all(page.evaluate("(img) => img.naturalWidth", images.nth(i).element_handle()) > 100
               for i in range(images.count()))
    tour = page.get_by_role("link", name=re.compile("^Tour: SBM"))
    expect(tour).to_have_attribute("href", re.compile(r"01_sbm_mean_field\.ipynb\?tour=.+&step=1"))
    page.screenshot(path=str(ARTIFACTS / "landing.png"), full_page=True)
    link = page.get_by_role("link", name="Open the SBM explorer")
    expect(link).to_have_attribute("href", "01_sbm_mean_field.ipynb")
    link.click()
    _wait_for_app(page)
    assert page.url.endswith(SBM)
    assert errors == [], errors


def test_slider_changes_plot_and_status(page, voila_url):
    errors = _collect_errors(page)
    t0 = time.perf_counter()
    page.goto(voila_url + SBM)
    status = _wait_for_app(page)
    expect(status).to_have_text(expected_status(), timeout=READY_TIMEOUT)
    _record("sbm_cold_page_ready_s", time.perf_counter() - t0)
    page.set_viewport_size({"width": 1280, "height": 1250})
    page.wait_for_timeout(800)   # let the first canvas frame arrive
    page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
    canvas = page.locator("div.jupyter-matplotlib-figure canvas").first
    before = canvas.screenshot()

    t1 = time.perf_counter()
    _set_readout(page, "nodes n", "14")
    expect(status).to_have_text(expected_status(n=14), timeout=UPDATE_TIMEOUT)
    _record("sbm_slider_round_trip_s", time.perf_counter() - t1)
    expect(page.locator(".explorer-permalink-link")).to_have_text("?n=14")
    # the canvas diff follows the status message (later when the server is refilling its
    # pool of preheated kernels on the same two cores)
    assert _changes(page, canvas, before), "the plot did not change"

    # A value the backend refuses: message in the status line, last result kept.
    _set_readout(page, "q (across)", "0.5")
    expect(status).to_contain_text("q must be in (0, p)", timeout=UPDATE_TIMEOUT)
    expect(page.locator(".explorer-permalink-link")).to_have_text("?n=14")
    assert errors == [], errors


def test_permalink_restores_state(page, voila_url):
    changes = {"n": 500, "p": 0.4, "q": 0.05, "starts": 10, "seed": 7}
    query = "&".join(f"{k}={v}" for k, v in changes.items())
    page.goto(f"{voila_url}{SBM}?{query}&bogus=1")
    status = _wait_for_app(page)
    expect(status).to_have_text(expected_status(**changes), timeout=READY_TIMEOUT)
    expect(page.locator(".explorer-warnings")).to_contain_text("unknown key 'bogus' ignored")
    link = page.locator(".explorer-permalink-link")
    expect(link).to_have_text(f"?{query}")
    # Following the app's own permalink gives the same state again.
    link_href = link.get_attribute("href")
    assert link_href == f"{SBM}?{query}"
    page.goto(voila_url + link_href)
    expect(_wait_for_app(page)).to_have_text(expected_status(**changes), timeout=READY_TIMEOUT)


def test_lecture_mode_from_url(page, voila_url):
    page.goto(f"{voila_url}{SBM}?lecture=1")
    _wait_for_app(page, "lecture=1")
    expect(page.locator(".explorer-app.explorer-lecture")).to_have_count(1)
    expect(page.get_by_text("basin grid", exact=True)).to_be_hidden()
    expect(page.get_by_text("nodes n", exact=True)).to_be_visible()


def test_preset_dropdown_applies_a_preset(page, voila_url):
    page.goto(voila_url + SBM)
    status = _wait_for_app(page)
    preset = "joint estimation collapses"
    page.locator(".widget-dropdown select").first.select_option(preset)
    state = DEFAULTS | sbm_app.PRESETS[preset]
    expect(status).to_have_text(evaluate_once(sbm_app.STAGES, sbm_app.summary, state),
                                timeout=UPDATE_TIMEOUT)
    expect(page.locator(".explorer-permalink-link")).to_contain_text("preset=joint")


def test_moving_n_across_a_bifurcation_changes_the_fixed_point_count(page, voila_url):
    from explorer import sbm

    page.goto(voila_url + SBM)
    status = _wait_for_app(page)
    n_star = sbm.thresholds(0.3, 0.1)["all_same_stable"]
    below, above = 2 * int(n_star // 2), 2 * int(n_star // 2) + 4
    for n in (below, above):
        count = len(sbm.fixed_points(n, 0.3, 0.1))
        _set_readout(page, "nodes n", str(n))
        expect(status).to_have_text(expected_status(n=n), timeout=UPDATE_TIMEOUT)
        expect(status).to_contain_text(f"{count} fixed points")
    assert len(sbm.fixed_points(below, 0.3, 0.1)) == 5
    assert len(sbm.fixed_points(above, 0.3, 0.1)) == 9


NTK = "/voila/render/03_ntk_early_stopping.ipynb"


def test_ntk_moving_R_moves_t_hat(page, voila_url):
    from explorer import ntk
    from explorer.apps import ntk_app

    defaults = {p.name: p.default for p in ntk_app.PARAMS} | {"seed": 0}
    page.goto(voila_url + NTK)
    status = _wait_for_app(page)
    expect(status).to_have_text(evaluate_once(ntk_app.STAGES, ntk_app.summary, defaults),
                                timeout=READY_TIMEOUT)
    lam = ntk.spectrum("polynomial", defaults["n"], beta=defaults["beta"])
    for R in (0.25, 4.0):
        t_hat = ntk.stopping_time(lam, R, defaults["sigma"]).t_hat
        _set_readout(page, "R (pretrained)", str(R))
        expect(status).to_contain_text(f"(R={R:g}): T_hat={t_hat:.0f} steps",
                                       timeout=UPDATE_TIMEOUT)


IQP = "/voila/render/02_iqp_born_machine.ipynb"


def test_iqp_short_training_grows_the_curves(page, voila_url):
    page.goto(voila_url + IQP + "?n_train=10&steps=20&n_ops=40&n=6")
    _wait_for_app(page, "n_train=10")
    figure = page.locator("div.jupyter-matplotlib-figure").nth(3)      # the training view
    canvas = figure.locator("canvas").first
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    before = canvas.screenshot()
    page.get_by_role("button", name="Run training").click()
    expect(page.locator(".explorer-task-training .explorer-task-label")).to_contain_text(
        "done in", timeout=120_000)
    page.wait_for_timeout(1500)
    assert canvas.screenshot() != before, "the training curves did not appear"


def _pixel(app, view: str, ax, x: float, y: float, box) -> tuple[float, float]:
    """CSS pixel offset inside a view's canvas of data point (x, y): the same figure built
    headlessly, sized like the canvas on the page (ipympl draws 72 dpi logical pixels), gives
    the transform."""
    fig = app.figures[view]
    fig.set_size_inches(box["width"] / 72, box["height"] / 72)
    fig.canvas.draw()                          # constrained layout places the axes
    px, py = ax.transData.transform((x, y))
    return float(px), float(fig.bbox.height - py)


def _view_box(page, index: int):
    canvas = page.locator("div.jupyter-matplotlib-figure").nth(index).locator("canvas").first
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)                # the page's size report and the resize
    return canvas.bounding_box()


def test_click_on_the_sbm_phase_plane_places_a_start(page, voila_url):
    page.goto(voila_url + SBM)
    _wait_for_app(page)
    app = sbm_app.make_app(query_string="")
    box = _view_box(page, 0)
    dx, dy = _pixel(app, "phase", app.artists["phase"].ax, 0.8, 0.3, box)
    page.mouse.click(box["x"] + dx, box["y"] + dy)
    link = page.locator(".explorer-permalink-link")
    expect(link).to_contain_text("placed=1", timeout=30_000)
    x0 = float(link.inner_text().split("x0=")[1].split("&")[0])
    assert abs(x0 - 0.8) < 0.02                # within a couple of pixels of the aim


def test_click_on_the_iqp_2d_slice_moves_the_start(page, voila_url):
    from explorer.apps import iqp_app

    page.goto(voila_url + IQP + "?n=6")
    _wait_for_app(page, "n=6")
    app = iqp_app.make_app(query_string="n=6")
    a = app.artists["landscape"]
    box = _view_box(page, 0)
    dx, dy = _pixel(app, "landscape", a.ax2, 0.5, -0.5, box)
    page.mouse.click(box["x"] + dx, box["y"] + dy)
    link = page.locator(".explorer-permalink-link")
    expect(link).to_contain_text("shift_u=", timeout=30_000)
    shift_v = float(link.inner_text().split("shift_v=")[1].split("&")[0])
    assert abs(shift_v + 0.5) < 0.05


def test_drag_on_the_ntk_risk_plot_moves_the_time_cursor(page, voila_url):
    from explorer.apps import ntk_app

    page.goto(voila_url + NTK)
    _wait_for_app(page)
    app = ntk_app.make_app(query_string="")
    ax = app.artists["risk"].ax
    y = float(np.sqrt(np.prod(ax.get_ylim())))
    box = _view_box(page, 0)
    x1, y1 = _pixel(app, "risk", ax, 10.0, y, box)
    x2, y2 = _pixel(app, "risk", ax, 1e4, y, box)
    page.mouse.move(box["x"] + x1, box["y"] + y1)
    page.mouse.down()
    for k in range(1, 6):                      # a drag: several moves with the button held
        page.mouse.move(box["x"] + x1 + (x2 - x1) * k / 5, box["y"] + y1)
        page.wait_for_timeout(50)
    page.mouse.up()
    link = page.locator(".explorer-permalink-link")
    expect(link).to_contain_text("log_t=", timeout=30_000)
    page.wait_for_timeout(1500)                # the last moves' round trips
    log_t = float(link.inner_text().split("log_t=")[1].split("&")[0])
    assert abs(log_t - 4.0) < 0.1


LAYOUT_SIZES = [(1920, 1080, False), (1400, 900, False), (1024, 768, False), (1280, 720, True)]
MEASURE = """() => {
  const rect = e => { const r = e.getBoundingClientRect();
                      return [r.left, r.top, r.right, r.bottom]; };
  const seen = new Set(), canvases = [];
  for (const c of document.querySelectorAll("div.jupyter-matplotlib-figure canvas")) {
    const r = rect(c), key = r.map(Math.round).join(",");
    if (r[2] - r[0] > 0 && !seen.has(key)) { seen.add(key); canvases.push(r); }
  }
  const cut = [];
  for (const e of document.querySelectorAll(".explorer-app button, .explorer-app .widget-label")) {
    if (e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1) cut.push(e.innerText);
  }
  const intro = document.querySelector(".explorer-intro");
  return {controls: rect(document.querySelector(".explorer-controls")), canvases, cut,
          page: document.documentElement.clientWidth,
          intro: intro === null ? null : intro.offsetParent !== null,
          markdown: Array.from(document.querySelectorAll(".jp-MarkdownOutput"))
                         .some(e => e.offsetParent !== null)};
}"""


@pytest.mark.parametrize(("width", "height", "lecture"), LAYOUT_SIZES)
@pytest.mark.parametrize("notebook", [SBM, IQP, NTK])
def test_views_fill_the_width_without_overlap_or_cut_text(browser, voila_url, notebook, width,
                                                          height, lecture):
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(voila_url + notebook + ("?lecture=1" if lecture else ""))
        _wait_for_app(page, "lecture=1" if lecture else None)
        expected = page.locator(".explorer-controls")
        expect(expected).to_be_visible()
        page.wait_for_timeout(2500)            # the size report and the figures' resize
        m = page.evaluate(MEASURE)
        ARTIFACTS.mkdir(exist_ok=True)
        name = notebook.rsplit("/", 1)[-1].split("_")[0]
        page.screenshot(path=str(ARTIFACTS / f"layout_{name}_{width}{'_lecture' * lecture}.png"))
    finally:
        page.close()
    right_of_controls = m["page"] - m["controls"][2]
    lefts, rights = [c[0] for c in m["canvases"]], [c[2] for c in m["canvases"]]
    assert (max(rights) - min(lefts)) >= 0.85 * right_of_controls, m
    assert min(lefts) >= m["controls"][2] - 1 and max(rights) <= m["page"] + 1, m
    for a, b in itertools.combinations(m["canvases"], 2):
        overlap_x = min(a[2], b[2]) - max(a[0], b[0])
        overlap_y = min(a[3], b[3]) - max(a[1], b[1])
        assert overlap_x <= 1 or overlap_y <= 1, (a, b)
    assert m["cut"] == [], m["cut"]
    if lecture:
        assert m["intro"] is False and m["markdown"] is False


def test_walking_a_whole_tour_with_the_next_button(page, voila_url):
    """Pick the NTK tour, press Next to its end: each step's narration, status line, focused
    view and permalink step follow (the status computed from the step's own settings)."""
    from explorer.apps import ntk_app
    from explorer.tours import tours_for

    tour = tours_for("ntk")["ntk_early_stopping"]
    defaults = {p.name: p.default for p in ntk_app.PARAMS} | {"seed": 0}
    errors = _collect_errors(page)
    page.goto(voila_url + NTK)
    status = _wait_for_app(page)
    page.locator(".explorer-tour select").select_option(label=tour.title)
    narration = page.locator(".explorer-tour-text")
    view_names = [v.name for v in ntk_app.VIEWS]
    for k, step in enumerate(tour.steps, start=1):
        if k > 1:
            page.locator(".explorer-tour").get_by_role("button", name="Next").click()
        expect(narration).to_contain_text(f"{k}. {step.title}", timeout=UPDATE_TIMEOUT)
        state = defaults | (ntk_app.PRESETS.get(step.preset, {})) | dict(step.values)
        expect(status).to_have_text(evaluate_once(ntk_app.STAGES, ntk_app.summary, state),
                                    timeout=UPDATE_TIMEOUT)
        expect(page.locator(".explorer-permalink-link")).to_contain_text(f"step={k}")
        focus = page.locator(".explorer-focus")
        expect(focus).to_have_count(1)
        index = view_names.index(step.view)
        focused = focus.locator("div.jupyter-matplotlib-figure")
        expect(focused).to_have_count(1)
        assert focused.bounding_box() == page.locator(
            "div.jupyter-matplotlib-figure").nth(index).bounding_box()
        if k == 4:
            page.screenshot(path=str(ARTIFACTS / "tour_step.png"))
    expect(page.locator(".explorer-tour").get_by_role("button", name="Next")).to_be_disabled()
    assert errors == [], errors
