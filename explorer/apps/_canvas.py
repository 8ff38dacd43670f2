"""An ipympl canvas that is on the screen as soon as its page is.

A Voila kernel runs its notebook before anyone asks for the page (a preheated pool), so no
front-end is there to ask for pixels when the views are first drawn. Stock ipympl then
renders nothing until the page connects, and each page's front-end asks for a full Agg
draw of every figure (twice: once when it starts, once after the size handshake). With a
class arriving at once, those draws queue on the kernels and the first canvas waits for
them.

:class:`PageCanvas` changes two things:

* While no front-end has spoken, a draw renders at once and keeps the PNG in the canvas's
  widget state (ipympl's ``_data_url``, which its front-end paints as soon as it has the
  state). The first canvas then arrives with the widget state, with no kernel round trip.
* A front-end asking for a draw while the Agg buffer already holds the figure as it is
  (nothing changed since the last complete rendering) is sent that buffer, not a new
  rendering.

Images are PNG-compressed at zlib level 1, rows unfiltered (:func:`png_bytes`).
"""

from __future__ import annotations

import itertools
import struct
import zlib
from base64 import b64encode

import numpy as np
from ipympl.backend_nbagg import Canvas, FigureManager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["PageCanvas", "page_figure", "png_bytes", "png_data_url"]

_numbers = itertools.count(1)


def png_bytes(rgba: np.ndarray) -> bytes:
    """An RGBA image (rows, columns, 4) as PNG: rows unfiltered, zlib level 1.

    Written here in a few lines of the PNG format (signature, IHDR, one IDAT, IEND) rather
    than by Pillow, whose encoder tries every row filter to pick the best: for these
    figures, mostly flat colour, that search costs two to three times the compression
    itself and gains nothing (measured here on a 900 x 550 view: 15 ms with Pillow at
    level 1, 4.5 ms unfiltered, and the file 10% smaller). Pillow's default level took
    two to three times longer again. A slider change sends one image per view it touches.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> rgba = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    >>> png = png_bytes(rgba)
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    >>> bool((np.asarray(Image.open(io.BytesIO(png))) == rgba).all())
    True
    """
    rgba = np.asarray(rgba, np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"rgba must have shape (rows, columns, 4); got {rgba.shape}")
    height, width = rgba.shape[:2]
    rows = np.empty((height, 1 + 4 * width), np.uint8)
    rows[:, 0] = 0                                    # filter type 0 (None) on every row
    rows[:, 1:] = rgba.reshape(height, 4 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)   # 8-bit RGBA
    return b"".join((b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", header),
                     _png_chunk(b"IDAT", zlib.compress(rows, 1)), _png_chunk(b"IEND", b"")))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type and data."""
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


def png_data_url(rgba: np.ndarray) -> str:
    """An RGBA image as a ``data:image/png;base64,...`` URL (what an ``<img>`` can show).

    Examples
    --------
    >>> png_data_url(np.zeros((1, 1, 4), np.uint8))[:22]
    'data:image/png;base64,'
    """
    return "data:image/png;base64," + b64encode(png_bytes(rgba)).decode("ascii")


class PageCanvas(Canvas):
    """ipympl's canvas, painted into its widget state until a front-end connects."""

    #: A front-end has sent a message: pixels go to it from now on.
    front_end = False
    #: ``(width, height, dpi)`` of the last complete rendering in the Agg buffer (a full
    #: draw with the app's animated artists, or a blit); None after a save, which renders
    #: into the same buffer at its own settings.
    _complete = None
    #: Renderings made for the widget state (the first canvas of a page), for tests.
    n_paints = 0
    #: Front-end draw requests answered from the buffer without rendering again.
    n_reused = 0

    def _render_key(self) -> tuple:
        # what Agg's get_renderer keys its buffer by
        return (*self.get_width_height(physical=True), self.figure.dpi)

    def is_current(self) -> bool:
        """The Agg buffer holds the figure as it is now (nothing to render again)."""
        key = self._render_key()
        return (not self.figure.stale and self._complete == key
                and getattr(self, "_lastKey", None) == key)

    def _handle_message(self, object, content, buffers):
        self.front_end = True
        super()._handle_message(object, content, buffers)

    def _render(self) -> None:
        """A full Agg rendering, the app's ``draw_event`` callbacks (its animated artists)
        included."""
        FigureCanvasAgg.draw(self)
        self._rendered()

    def _rendered(self) -> None:
        # Drawing marks artists stale on the way (a legend sets its offsets): the buffer now
        # shows the figure as it is, so only a change from here on makes it stale again.
        self.figure.stale = False
        self._complete = self._render_key()

    def draw(self):
        # webagg's draw (render, then send to the page) with the rendering marked complete
        self._png_is_old = True
        try:
            self._render()
        finally:
            self.manager.refresh_all()

    def print_figure(self, *args, **kwargs):
        try:
            return super().print_figure(*args, **kwargs)
        finally:
            # the save rendered into this canvas's buffer at its own dpi, colours and box
            self._complete = None

    def paint(self) -> None:
        """Render (if out of date) and keep the PNG in the widget state."""
        if not self.is_current():
            self._render()
            self.n_paints += 1
        self._keep_in_state()

    def _keep_in_state(self) -> None:
        self._data_url = png_data_url(self.buffer_rgba())

    def draw_idle(self, *args, **kwargs):
        if self.front_end:
            super().draw_idle(*args, **kwargs)
        else:
            self.paint()

    def blit(self, bbox=None):
        """After the app drew its animated artists over its kept rendering."""
        self._rendered()
        if self.front_end:
            super().blit(bbox)
        else:
            self._keep_in_state()

    def get_diff_image(self):
        """The image for the page: webagg's protocol (the whole buffer, or only the pixels
        that changed since the last image), as :func:`png_bytes`."""
        if not self._png_is_old:
            return None
        pixels = np.asarray(self.get_renderer().buffer_rgba())
        buff = pixels.view(np.uint32).squeeze(2)     # one compare per pixel, not per channel
        if (self._force_full or buff.shape != self._last_buff.shape
                # a diff is drawn over the last image: it cannot carry transparency
                or (pixels[:, :, 3] != 255).any()):
            self.set_image_mode("full")
            output = buff
        else:
            self.set_image_mode("diff")
            output = np.where(buff != self._last_buff, buff, 0)
        self._last_buff = buff.copy()
        self._force_full = False
        self._png_is_old = False
        return png_bytes(output.view(np.uint8).reshape(*output.shape, 4))

    def handle_draw(self, event):
        if self.is_current():
            self.n_reused += 1
            self._png_is_old = True        # send the buffer as it is
            self.manager.refresh_all()
        else:
            super().handle_draw(event)


def page_figure(figsize, dpi) -> Figure:
    """A constrained-layout figure on a :class:`PageCanvas`, outside pyplot's registry (the
    app owns it and keeps it as long as it lives)."""
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    canvas = PageCanvas(fig)
    FigureManager(canvas, next(_numbers))
    return fig
