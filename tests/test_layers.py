"""An axes whose limits moved is drawn again in its own part of the kept rendering
(explorer/apps/_layers.py): the pixels are those of the app's own full draw, and anything
that part cannot hold (a new layout, a neighbour in the way, a new text) gets a full draw."""

from types import SimpleNamespace

import numpy as np
import pytest

from explorer.apps import iqp_app, sbm_app
from explorer.apps._shell import App, Param, Stage, View


def _pixels(fig) -> np.ndarray:
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def _full_draw(app, name) -> np.ndarray:
    """The view rendered again from scratch by the app's own full draw (same layout)."""
    del app._kept[name]
    app._blit_figure(name, overlay_only=False)
    return _pixels(app.figures[name])


def _two_axes_app(note: bool = False):
    """Two axes side by side; ``k`` moves the left one's limits, ``label`` its title.
    ``note``: a figure text over the left axes."""
    def wave(k):
        x = np.linspace(0, 6, 200)
        return x, k * np.sin(x)

    def build(fig):
        left, right = fig.subplots(1, 2)
        (line,) = left.plot([], [], label="a wave")
        left.legend(loc="upper right")
        right.plot(np.arange(5), np.arange(5.0) ** 2)
        right.set_title("stays")
        if note:
            fig.text(0.25, 0.5, "a note")
        return SimpleNamespace(left=left, line=line, right=right)

    def draw(a, wave, label):
        x, y = wave
        a.line.set_data(x, y)
        a.left.set_xlim(0, 6)
        a.left.set_ylim(-1.1 * abs(y).max(), 1.1 * abs(y).max())
        a.left.set_title(label)

    return App(title="t", params=[Param("k", "float", 1.0, lo=0.5, hi=9.0),
                                  Param("label", "choice", "moves",
                                        options=("moves", "moved"))],
               stages=[Stage(wave)], views=[View("v", build, draw)], query_string="")


@pytest.mark.parametrize("k", [1.3, 2.0, 7.5])
def test_new_limits_redraw_one_axes_with_the_pixels_of_a_full_draw(k):
    app = _two_axes_app()
    fig = app.figures["v"]
    before = _pixels(fig)
    app.controls["k"].value = k
    assert app.n_reframed == 1 and app.n_layered == 1, "not redrawn in its part"
    assert app.artists["v"].left.get_ylim()[1] == pytest.approx(1.1 * k, rel=1e-3)
    reframed = _pixels(fig)
    assert np.array_equal(reframed, _full_draw(app, "v"))
    # the moved axes' tick labels changed; the other axes is as it was
    width = reframed.shape[1]
    assert not np.array_equal(reframed[:, :width // 2], before[:, :width // 2])
    assert np.array_equal(reframed[:, -width // 3:], before[:, -width // 3:])


def test_a_part_that_reaches_a_neighbour_or_a_new_text_means_a_full_draw():
    noted = _two_axes_app(note=True)
    noted.controls["k"].value = 2.0
    assert noted.n_reframed == 0
    assert np.array_equal(_pixels(noted.figures["v"]), _full_draw(noted, "v"))
    plain = _two_axes_app()
    plain.controls["label"].value = "moved"            # a title: not a limit
    assert plain.n_reframed == 0 and plain.artists["v"].left.get_title() == "moved"


def test_the_iqp_loss_slice_moves_its_limits_without_drawing_the_2d_slice():
    app = iqp_app.make_app(query_string="?n_train=10&steps=20&n_ops=40")
    fig = app.figures["landscape"]
    for scale in (-1.5, -1.0):
        before = app.n_reframed
        app.controls["log_scale"].value = scale
        assert app.n_reframed == before + 1, scale
        assert np.array_equal(_pixels(fig), _full_draw(app, "landscape")), scale


def test_sbm_elbo_limits_move_in_their_part():
    app = sbm_app.make_app(query_string="")
    for p in (0.31, 0.33):
        app.controls["p"].value = p
    assert app.n_reframed >= 2
    for name in app.figures:
        shown = _pixels(app.figures[name])
        assert np.array_equal(shown, _full_draw(app, name)), name


def test_a_data_text_drawn_again_the_same_way_comes_from_its_cached_rendering():
    """A label in the data layer that keeps its wording while the data move: the second
    time it is drawn the same way it is composited from its own rendering, with the pixels
    of a plain render (Agg's rounding aside); new wording is drawn afresh and cached anew
    only once seen twice."""
    def curve(k):
        return np.sin(np.linspace(0, 6, 200) * k)

    def build(fig):
        ax = fig.add_subplot()
        (line,) = ax.plot([], [], lw=3)
        label = ax.text(0.97, 0.05, "", transform=ax.transAxes, ha="right", fontsize="small")
        ax.set(xlim=(0, 6), ylim=(-1.1, 1.1), title="fixed")
        return SimpleNamespace(ax=ax, line=line, label=label)

    def draw(a, curve, word):
        a.line.set_data(np.linspace(0, 6, 200), curve)
        a.label.set_text(f"{word} of 8 runs go down")

    def make():
        return App(title="t", params=[Param("k", "float", 1.0, lo=0.5, hi=3.0),
                                      Param("word", "choice", "no", options=("no", "two"))],
                   stages=[Stage(curve)], views=[View("v", build, draw)], query_string="")

    def plain(**state) -> np.ndarray:
        """A fresh app at ``state``, its figure drawn in one pass with nothing animated."""
        other = make()
        other.set_state(state)
        fig = other.figures["v"]
        for artist in fig.findobj(lambda a: a.get_animated()):
            artist.set_animated(False)
        fig.set_layout_engine("none")
        fig.canvas.draw()
        return _pixels(fig).astype(int)

    app = make()
    fig = app.figures["v"]

    def cached():
        return [k[1] for k in app._kept["v"].texts.cache]

    assert cached() == []                      # the full draw: seen once
    app.controls["k"].value = 1.5
    assert cached() == ["no of 8 runs go down"]   # seen twice: rendered alone and kept
    app.controls["k"].value = 2.5              # drawn from the cache
    assert np.abs(_pixels(fig).astype(int) - plain(k=2.5)).max() <= 2
    app.controls["word"].value = "two"         # new wording: drawn as usual, not cached yet
    assert cached() == ["no of 8 runs go down"]
    assert np.abs(_pixels(fig).astype(int) - plain(k=2.5, word="two")).max() <= 2
