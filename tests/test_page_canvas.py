"""A page's canvases: the first rendering travels in the widget state; a front-end's draw
request is answered from the buffer when nothing changed (explorer/apps/_canvas.py).

The apps are built with ipympl canvases, as in a kernel, and the front-end's side of the
protocol is played here message by message (the browser tests play it for real)."""

import base64
import io
import json

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from explorer.apps import _shell, ntk_app, sbm_app
from explorer.apps._canvas import PageCanvas


@pytest.fixture
def page_app(monkeypatch):
    """A factory of apps whose figures are on PageCanvases (the kernel's kind)."""
    monkeypatch.setattr(_shell, "kernel_io_loop", lambda: object())
    return lambda make, **kw: make(query_string="", **kw)


def _decode(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,"), url[:40]
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _fresh_rendering(canvas) -> np.ndarray:
    """The figure rendered again from scratch (the app's animated artists included), in the
    layout it has (constrained layout run again may move an axes by a pixel)."""
    fig = canvas.figure
    engine = fig.get_layout_engine()
    fig.set_layout_engine("none")
    try:
        FigureCanvasAgg.draw(canvas)
    finally:
        fig.set_layout_engine(engine)
    return np.asarray(canvas.buffer_rgba()).copy()


def _sent(canvas, monkeypatch) -> list:
    """Record what the canvas sends to its front-end: (json content, buffers, image mode)."""
    log = []
    real = canvas.send

    def send(content, buffers=None):
        log.append((json.loads(content["data"]), buffers, canvas._image_mode))
        return real(content, buffers)

    monkeypatch.setattr(canvas, "send", send)
    return log


@pytest.mark.parametrize("build", [sbm_app.make_app, ntk_app.make_app], ids=["sbm", "ntk"])
def test_first_rendering_is_in_the_widget_state_and_is_the_figure(page_app, build):
    app = page_app(build)
    for name, fig in app.figures.items():
        canvas = fig.canvas
        assert isinstance(canvas, PageCanvas), name
        state = canvas.get_state()
        shown = _decode(state["_data_url"])
        assert shown.shape[:2] == tuple(int(v) for v in fig.bbox.size[::-1]), name
        assert np.array_equal(shown, _fresh_rendering(canvas)), name


def test_a_change_before_any_page_repaints_the_state(page_app):
    app = page_app(sbm_app.make_app)
    before = {n: f.canvas._data_url for n, f in app.figures.items()}
    app.set_state({"p": 0.25})
    changed = [n for n, f in app.figures.items() if f.canvas._data_url != before[n]]
    assert changed, "no view repainted after p changed"
    for name in changed:
        canvas = app.figures[name].canvas
        assert np.array_equal(_decode(canvas._data_url), _fresh_rendering(canvas)), name


def test_front_end_draw_requests_reuse_the_buffer_until_something_changes(page_app,
                                                                          monkeypatch):
    app = page_app(sbm_app.make_app)
    name = next(iter(app.figures))
    fig = app.figures[name]
    canvas = fig.canvas
    renders = []
    fig.canvas.mpl_connect("draw_event", lambda e: renders.append(e))
    sent = _sent(canvas, monkeypatch)

    # What ipympl's front-end sends when its view starts, then answers to "draw".
    for kind in ("refresh", "send_image_mode", "initialized"):
        canvas._handle_message(canvas, {"type": kind}, [])
    assert canvas.front_end and not canvas.syncing_data_url
    assert any(c.get("type") == "draw" for c, *_ in sent)      # it asked the page to ask
    canvas._handle_message(canvas, {"type": "draw"}, [])
    assert renders == [] and canvas.n_reused == 1
    images = [b for c, b, _ in sent if c.get("type") == "binary"]
    assert len(images) == 1
    got = np.asarray(Image.open(io.BytesIO(bytes(images[0][0]))).convert("RGBA"))
    assert np.array_equal(got, _fresh_rendering(canvas))

    # A change now goes to the page as a draw request, not into the widget state.
    url, paints = canvas._data_url, canvas.n_paints
    sent.clear()
    app.set_state({"p": 0.25})
    assert canvas._data_url == url and canvas.n_paints == paints
    assert sent, "the page heard nothing of the change"


def test_a_save_or_a_resize_forces_a_real_rendering(page_app, monkeypatch):
    app = page_app(sbm_app.make_app)
    canvas = next(iter(app.figures.values())).canvas
    renders = []
    canvas.mpl_connect("draw_event", lambda e: renders.append(e))
    _sent(canvas, monkeypatch)
    canvas._handle_message(canvas, {"type": "initialized"}, [])
    assert canvas.is_current()
    app.export_figure("png")             # renders into the same buffer at its own settings
    assert not canvas.is_current()
    renders.clear()
    canvas._handle_message(canvas, {"type": "draw"}, [])
    assert len(renders) == 1 and canvas.is_current()
    canvas.figure.set_size_inches(5, 3)
    assert not canvas.is_current()


def _png(data) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGBA"))


def test_the_page_rebuilds_each_view_from_full_and_diff_images(page_app, monkeypatch):
    """What ipympl's front-end does with the images (a full one replaces, a diff one is drawn
    over the last), done here, gives the kernel's rendering after every change."""
    app = page_app(sbm_app.make_app)
    logs = {name: _sent(fig.canvas, monkeypatch) for name, fig in app.figures.items()}

    def answer_draw_requests():
        for name, fig in app.figures.items():
            while any(c.get("type") == "draw" for c, *_ in logs[name]):
                logs[name][:] = [e for e in logs[name] if e[0].get("type") != "draw"]
                fig.canvas._handle_message(fig.canvas, {"type": "draw"}, [])

    for fig in app.figures.values():
        for kind in ("refresh", "send_image_mode", "initialized"):
            fig.canvas._handle_message(fig.canvas, {"type": kind}, [])
    answer_draw_requests()
    screens = {}
    modes = set()
    for p in (0.25, 0.35, 0.32):
        app.set_state({"p": p})
        answer_draw_requests()
        for name, fig in app.figures.items():
            for content, buffers, mode in logs[name]:
                if content.get("type") != "binary":
                    continue
                image = _png(buffers[0])
                modes.add(mode)
                if mode == "full" or name not in screens:
                    screens[name] = image.copy()
                else:
                    drawn = image[..., 3] == 255
                    screens[name][drawn] = image[drawn]
            logs[name].clear()
            assert np.array_equal(screens[name], np.asarray(fig.canvas.buffer_rgba())), (p, name)
    assert modes == {"full", "diff"}


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (550, 901)])
def test_png_bytes_decodes_to_the_same_pixels(shape):
    """The hand-written encoder (unfiltered rows, zlib level 1) against Pillow's decoder:
    random pixels, transparency included, odd sizes."""
    from explorer.apps._canvas import png_bytes

    rgba = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 4), dtype=np.uint8)
    image = Image.open(io.BytesIO(png_bytes(rgba)))
    assert image.mode == "RGBA" and image.size == shape[::-1]
    assert np.array_equal(np.asarray(image), rgba)


def test_png_bytes_refuses_what_is_not_rgba():
    from explorer.apps._canvas import png_bytes

    with pytest.raises(ValueError, match=r"rgba must have shape \(rows, columns, 4\); got \(2, 3"):
        png_bytes(np.zeros((2, 3), np.uint8))
