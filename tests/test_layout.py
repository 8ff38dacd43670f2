"""Figures that fill the screen, checked headlessly: at the widths a browser reports (and in
lecture mode on a 1280 x 720 projector) every view gets its share of the plot area, and no
text the figure draws is cut at its edge or runs into another text.

The browser test (tests/test_browser.py) checks the same sizes on the page itself.
"""

import importlib
import itertools

import pytest
from matplotlib.text import Text

from explorer.apps import APPS as REGISTERED
from explorer.apps._layout import GAP, SizeProbe

#: (viewport width, lecture mode); the plot area is the viewport minus the controls column.
SIZES = [(1920, False), (1400, False), (1024, False), (1280, True)]
CONTROLS_AND_MARGINS = 340
#: Pixels a text may touch the figure's edge or another text by (antialiasing).
SLACK = 1.0
#: Every registered app (a new one is covered without editing this file).
APPS = {name: importlib.import_module(path) for name, path in REGISTERED.items()}


def drawn_texts(fig):
    """Every non-empty text the figure actually draws, with its extent in pixels."""
    seen = []
    original = Text.draw

    def record(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            seen.append((self.get_text(), self.get_window_extent(renderer)))

    Text.draw = record
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return seen


def layout_problems(fig) -> list[str]:
    texts = drawn_texts(fig)
    w, h = fig.bbox.width, fig.bbox.height
    out = [f"cut at the edge: {t[:40]!r}" for t, bb in texts
           if bb.x0 < -SLACK or bb.y0 < -SLACK or bb.x1 > w + SLACK or bb.y1 > h + SLACK]
    for (a, ba), (b, bb) in itertools.combinations(texts, 2):
        dx = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        dy = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if dx > SLACK and dy > SLACK:
            out.append(f"overlap: {a[:30]!r} / {b[:30]!r}")
    return out


@pytest.fixture(scope="module", params=list(APPS))
def app(request):
    return APPS[request.param].make_app(query_string="")


@pytest.mark.parametrize(("viewport", "lecture"), SIZES)
def test_views_share_the_width_and_no_text_is_cut_or_overlaps(app, viewport, lecture):
    app.lecture.value = lecture
    width = viewport - CONTROLS_AND_MARGINS
    app.resize(width, 720 if lecture else 1000)
    columns = app.grid.columns
    # Each column's views are as wide as the column; together they fill the plot area.
    widths = {round(f.bbox.width) for f in app.figures.values()}
    assert len(widths) == 1
    used = columns * widths.pop() + (columns - 1) * GAP
    assert used >= 0.95 * width
    problems = {name: layout_problems(fig) for name, fig in app.figures.items()}
    assert not any(problems.values()), problems
    app.lecture.value = False


def test_a_narrow_screen_gets_one_column(app):
    app.resize(500, 900)
    assert {round(f.bbox.width) for f in app.figures.values()} == {500 - 4}
    app.grid.measured(500, 900)
    assert app.grid.grid.layout.grid_template_columns == "repeat(1, minmax(0, 1fr))"
    app.grid.measured(1200, 900)
    assert app.grid.grid.layout.grid_template_columns.startswith(f"repeat({app.grid.columns},")


@pytest.mark.parametrize("report", [(-5, 700), (10**9, 700), (800, "a lot"), (800, None)])
def test_size_reports_from_a_client_are_validated(report):
    """The probe's values come from the browser: out-of-range or wrong types are ignored."""
    app = APPS["sbm"].make_app(query_string="")
    before = {name: tuple(f.get_size_inches()) for name, f in app.figures.items()}
    assert not app.grid.measured(*report)
    assert {name: tuple(f.get_size_inches()) for name, f in app.figures.items()} == before


def test_the_probe_reports_through_synced_traits():
    probe = SizeProbe()
    assert {"width", "viewport_height"} <= set(probe.keys)


def test_lecture_mode_puts_the_app_first(app):
    assert app.intro is not None and app.about is not None
    app.about.selected_index = 0                 # someone opened "read more"
    app.lecture.value = True
    assert app.about.selected_index is None      # folded away
    assert "explorer-lecture" in app.widget._dom_classes
    app.lecture.value = False
