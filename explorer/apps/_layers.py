"""A view drawn again for the price of what changed: its kept rendering.

A view's figure is rendered in full once, with its data, spines and legends marked
``animated`` and so left out: what is kept is its decorations (tick labels, titles, axis
labels), about 90% of an Agg draw of these figures. Then

- a change of data draws only the data over the kept rendering (a layered redraw), a
  legend and a label drawn the same way as before from their own cached renderings;
- a change of one axes' limits draws that axes' decorations again in its own part of the
  kept rendering, and then the data (:meth:`Kept.redraw_axes`);
- only a change of size, layout, or a text gets a full draw.

The app (:class:`~explorer.apps._shell.App`) decides which, per view and change.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.spines import Spine
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["Kept", "decorations", "draw_animated", "layout_inputs", "mark_animated",
           "needs_layout"]


def _static(ax) -> set[int]:
    """Ids of the axes' decorations: what a data change leaves as it was.

    The background patch, the axes (ticks, tick labels, axis labels), the titles, a legend
    and any child axes. Everything else an axes holds (lines, collections, images, patches,
    texts) is data and is drawn over the cached static rendering (see :func:`mark_animated`).
    """
    legend = ax.get_legend()
    return {id(a) for a in (ax.patch, ax.xaxis, ax.yaxis, ax.title, ax._left_title,
                            ax._right_title, legend, *ax.child_axes) if a is not None}


def _fixed_legend(artist) -> bool:
    """A legend at a fixed place (any ``loc`` but "best", which moves with the data)."""
    return isinstance(artist, Legend) and getattr(artist, "_loc", 0) != 0


def mark_animated(fig: Figure) -> None:
    """Mark the data of every axes, its spines and its legend ``animated``.

    Animated artists are left out of a full rendering and drawn over it afterwards
    (:meth:`Kept.keep`), so the rendering kept for blitting holds what costs: tick
    labels, titles and axis labels, about 90% of an Agg draw of these figures. A data change
    that leaves them as they were then costs only its own artists. Spines and legends are
    drawn after the data, as z-order has it; a legend from a cached image of it.
    """
    for ax in fig.axes:
        static = _static(ax)
        for artist in ax.get_children():
            if id(artist) not in static:
                artist.set_animated(True)
        legend = ax.get_legend()
        if legend is not None:
            legend.set_animated(True)


def _animated(fig: Figure) -> list:
    """The figure's artists drawn over its static rendering (``animated=True``), in z-order."""
    found = []
    for ax in fig.axes:
        framed = ax.axison and ax.get_frame_on()
        found += [a for a in ax.get_children() if a.get_animated() and a.get_visible()
                  and (framed or not isinstance(a, Spine))]
    found += [a for a in (*fig.texts, *fig.artists) if a.get_animated() and a.get_visible()]
    return sorted(found, key=lambda a: a.get_zorder())


def legend_layers(fig: Figure, renderer) -> dict[int, tuple]:
    """Each fixed legend rendered alone on a transparent canvas: (x0, y0, RGBA rows).

    Drawing a legend is mostly text layout; its image, composited over the data, gives the
    same pixels (to rounding) for the cost of a copy.
    """
    legends = [ax.get_legend() for ax in fig.axes]
    layers = {}
    for legend in (lg for lg in legends if _fixed_legend(lg) and lg.get_visible()):
        layer = _rendered_alone(legend, _transparent(renderer))
        if layer is not None:
            layers[id(legend)] = layer
    return layers


def _transparent(renderer, reuse=None):
    """A transparent Agg canvas of the renderer's size (``reuse``, cleared, if it has it)."""
    from matplotlib.backends.backend_agg import RendererAgg

    if reuse is not None and (reuse.width, reuse.height) == (renderer.width, renderer.height):
        reuse.clear()
        return reuse
    return RendererAgg(int(renderer.width), int(renderer.height), renderer.dpi)


def _rendered_alone(artist, alone) -> tuple | None:
    """``artist`` drawn by itself on the transparent canvas ``alone``: (x0, y0, RGBA rows)
    of the pixels it covers, bottom row first (what ``draw_image`` takes); None if none."""
    w, h = int(alone.width), int(alone.height)
    artist.draw(alone)
    found = _pixel_box(artist.get_window_extent(alone).padded(2), w, h)
    if found is None:
        return None
    x0, y0, x1, y1 = found
    rows = np.asarray(alone.buffer_rgba())[h - y1:h - y0, x0:x1]
    return x0, y0, np.ascontiguousarray(rows[::-1])


def _pixel_box(box: Bbox, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The whole pixels ``box`` (display coordinates, y up) touches inside a width x height
    buffer, as (x0, y0, x1, y1); None if it touches none."""
    x0, y0 = max(int(np.floor(box.x0)), 0), max(int(np.floor(box.y0)), 0)
    x1, y1 = min(int(np.ceil(box.x1)), width), min(int(np.ceil(box.y1)), height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


#: Renderings of data texts kept per kept rendering of a figure (least recently used out).
TEXT_LAYERS = 64


def _text_key(text, renderer) -> tuple | None:
    """What a plain text's pixels depend on; None for one drawn as usual every time (boxed,
    with path effects or TeX, or a subclass such as an annotation's arrow)."""
    if (type(text) is not Text or not text.get_text() or text.get_bbox_patch() is not None
            or text.get_path_effects() or text.get_usetex()):
        return None
    x, y = text.get_transform().transform(text.get_unitless_position())
    box = tuple(text.axes.bbox.bounds) if text.axes is not None else None   # its clip
    return (id(text), text.get_text(), float(x), float(y), text.get_rotation(),
            text.get_rotation_mode(), text.get_horizontalalignment(),
            text.get_verticalalignment(), getattr(text, "_multialignment", None),
            getattr(text, "_linespacing", None),     # (no public getters for these two)
            to_rgba(text.get_color(), text.get_alpha()), _font_key(text.get_fontproperties()),
            text.get_clip_on(), box, renderer.width, renderer.height, renderer.dpi)


def _font_key(font) -> tuple:
    # by value: a FontProperties object can change in place (lecture mode's larger fonts)
    return (tuple(font.get_family()), font.get_style(), font.get_variant(), font.get_weight(),
            font.get_stretch(), font.get_size_in_points(), font.get_file(),
            font.get_math_fontfamily())


class TextLayers:
    """Renderings of a figure's data texts, for as long as its kept rendering lives.

    Matplotlib lays out and rasterizes a text's glyphs on every draw (a few milliseconds
    for a short label), though a label in a view's data layer ("0 of 8 runs go down", a
    hint, a number in a cell) is mostly the same from one slider step to the next. So the
    second time a text is to be drawn with the same wording, place, font and colour, it is
    rendered alone on a transparent canvas (as :func:`legend_layers` does for legends) and
    composited from then on, which gives the same pixels to Agg's rounding. A text seen once
    costs only a lookup, so one that changes on every step (a time cursor's label) pays
    nothing for the cache.
    """

    def __init__(self) -> None:
        self.cache: OrderedDict[tuple, tuple] = OrderedDict()   # least recently used first
        self.seen: set[tuple] = set()
        self.canvas = None                  # one transparent canvas, cleared for each text

    def layer(self, text, renderer) -> tuple | None:
        """The text's cached image (x0, y0, RGBA rows) when it is drawn as it was before."""
        key = _text_key(text, renderer)
        if key is None:
            return None
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        if key not in self.seen:
            if len(self.seen) >= 4 * TEXT_LAYERS:
                self.seen.clear()
            self.seen.add(key)
            return None
        self.canvas = _transparent(renderer, self.canvas)
        layer = _rendered_alone(text, self.canvas)
        if layer is not None:
            self.cache[key] = layer
            while len(self.cache) > TEXT_LAYERS:
                self.cache.popitem(last=False)
        return layer


def draw_animated(fig: Figure, renderer, layers: dict[int, tuple],
                  texts: TextLayers | None = None) -> None:
    """Draw the animated artists in z-order: a legend from its cached layer, a text from
    ``texts`` once it has been drawn the same way before (:class:`TextLayers`)."""
    for artist in _animated(fig):
        layer = layers.get(id(artist))
        if layer is None and texts is not None and isinstance(artist, Text):
            layer = texts.layer(artist, renderer)
        if layer is None:
            artist.draw(renderer)
            continue
        gc = renderer.new_gc()
        try:
            renderer.draw_image(gc, layer[0], layer[1], layer[2])
        finally:
            gc.restore()


def decorations(fig: Figure) -> tuple:
    """Everything the static rendering shows: size, dpi, and each axes' place, texts, limits,
    ticks, scales and legend.

    A rendering is reused for blitting only while this is unchanged. Each axes' place is
    read from its box in pixels: ``get_position`` would apply the aspect again and mark the
    figure stale, as if it needed a new rendering.
    """
    parts: list = [tuple(fig.bbox.bounds), fig.dpi,
                   tuple((t.get_text(), t.get_fontsize()) for t in fig.texts)]
    for ax in fig.axes:
        parts.append((ax.get_visible(), ax.axison, tuple(ax.bbox.bounds), _texts(ax),
                      ax.get_xlim(), ax.get_ylim(), tuple(ax.xaxis.get_majorticklocs()),
                      tuple(ax.yaxis.get_majorticklocs())))
    return tuple(parts)


def _texts(ax) -> tuple:
    legend = ax.get_legend()
    return (ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), ax.get_xscale(),
            ax.get_yscale(), ax.title.get_fontsize(), ax.xaxis.label.get_fontsize(),
            tuple(t.get_text() for t in legend.get_texts()) if legend else ())


def _label_length(axis) -> int:
    """Characters in the longest tick label the axis will show (with its offset text)."""
    lo, hi = sorted(axis.get_view_interval())
    locs = [v for v in axis.get_majorticklocs() if lo <= v <= hi]
    formatter = axis.get_major_formatter()
    labels = formatter.format_ticks(locs)
    offset = formatter.get_offset() if hasattr(formatter, "get_offset") else ""
    return max(map(len, (*labels, offset)), default=0)


def layout_inputs(fig: Figure) -> tuple[tuple, tuple[int, ...]]:
    """What constrained layout depends on: what must match, and the lengths of the texts.

    A text's size, not its wording, sets the margins: a title that says "1 of 8 runs"
    instead of "0 of 8 runs" needs no new layout. So titles, axis labels, legend entries and
    the longest tick label of each axis enter by their length in characters (and lines).
    """
    exact: list = [tuple(fig.get_size_inches())]
    lengths: list[int] = []
    for ax in fig.axes:
        legend = ax.get_legend()
        entries = legend.get_texts() if legend else []
        exact.append((ax.get_xscale(), ax.get_yscale(), ax.title.get_fontsize(),
                      ax.xaxis.label.get_fontsize(), len(entries),
                      tuple(t.get_text().count("\n") for t in
                            (ax.title, ax.xaxis.label, ax.yaxis.label))))
        lengths += [len(ax.get_title()), len(ax.get_xlabel()), len(ax.get_ylabel()),
                    _label_length(ax.xaxis), _label_length(ax.yaxis),
                    *(len(t.get_text()) for t in entries)]
    return tuple(exact), tuple(lengths)


def needs_layout(old: tuple | None, new: tuple) -> bool:
    """Lay out again when the sizes changed: a text grew, or shrank by 3+ characters.

    Limits and wording alone do not matter. A text that grows might not fit; one that
    shrinks by a character or two leaves a sliver of slack, which is kept rather than paying
    a layout (about as much as the drawing itself) on every slider step.
    """
    if old is None or old[0] != new[0] or len(old[1]) != len(new[1]):
        return True
    return any(n > o or n < o - 2 for o, n in zip(old[1], new[1], strict=True))


def _tick_reach(axis) -> tuple[float, float]:
    """How far (pixels) the axis' tick marks reach out of the axes box on its first side
    (bottom, left) and its second (top, right)."""
    reach = [0.0, 0.0]
    for ticks in (axis.majorTicks, axis.minorTicks):
        if ticks:     # the axis styles all its ticks alike: the first speaks for them
            tick = ticks[0]
            out = tick.get_tick_padding() * axis.figure.dpi / 72
            for side, line in enumerate((tick.tick1line, tick.tick2line)):
                if line.get_visible():
                    reach[side] = max(reach[side], out)
    return reach[0], reach[1]


def _static_extent(ax, renderer) -> Bbox:
    """The pixels an axes' decorations may cover: its box with the tick marks reaching out
    of it, tick labels, axis labels, titles and child axes, and a pixel of antialiasing."""
    (bottom, top), (left, right) = _tick_reach(ax.xaxis), _tick_reach(ax.yaxis)
    x0, y0, x1, y1 = ax.bbox.extents
    boxes = [Bbox([[x0 - left, y0 - bottom], [x1 + right, y1 + top]])]
    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_visible():
            box = axis.get_tightbbox(renderer)
            if box is not None:
                boxes.append(box)
    boxes += [t.get_window_extent(renderer) for t in (ax.title, ax._left_title,
                                                      ax._right_title)
              if t.get_visible() and t.get_text()]
    boxes += [child.get_tightbbox(renderer) for child in ax.child_axes]
    return Bbox.union(boxes).padded(1)


def _others(fig: Figure, renderer) -> list[Bbox] | None:
    """Extents of what the figure draws besides its axes, or None if it holds something
    whose place is not known here (lines, patches or images of its own, subfigures)."""
    if fig.artists or fig.lines or fig.patches or fig.images or fig.subfigs:
        return None
    return [a.get_window_extent(renderer) for a in (*fig.texts, *fig.legends)
            if a.get_visible()]


def _fill(renderer, box: Bbox, rgba: np.ndarray) -> None:
    """Paint a box of the Agg buffer (display coordinates, y up) with one colour."""
    pixels = np.asarray(renderer.buffer_rgba())
    height, width = pixels.shape[:2]
    found = _pixel_box(box, width, height)
    if found is not None:
        x0, y0, x1, y1 = found
        pixels[height - y1:height - y0, x0:x1] = rgba


@dataclass
class Kept:
    """A figure's kept rendering: its decorations, without the animated artists.

    Attributes
    ----------
    region : BufferRegion
        The rendering, as ``canvas.copy_from_bbox(fig.bbox)`` keeps it.
    decorations : tuple
        :func:`decorations` of the figure it shows.
    layers : dict
        Each fixed legend rendered alone (:func:`legend_layers`).
    texts : TextLayers
        The data texts' renderings.
    extents : list of Bbox
        Each axes' :func:`_static_extent`, in the order of ``fig.axes``.
    """

    region: Any
    decorations: tuple
    layers: dict
    extents: list
    texts: TextLayers = field(default_factory=TextLayers)

    @classmethod
    def keep(cls, fig: Figure, renderer) -> Kept:
        """After a full rendering (animated artists left out): keep it, then draw them."""
        kept = cls(fig.canvas.copy_from_bbox(fig.bbox), decorations(fig),
                   legend_layers(fig, renderer),
                   [_static_extent(ax, renderer) for ax in fig.axes])
        draw_animated(fig, renderer, kept.layers, kept.texts)
        return kept

    def redraw_axes(self, fig: Figure, new: tuple) -> bool:
        """Draw again, into the kept rendering, the decorations of each axes whose limits or
        ticks moved (``new``: the figure's :func:`decorations` now); False (nothing done) if
        anything else changed.

        Each such axes' part (its old and new extents) is cleared to the figure's colour and
        the axes' decorations drawn there, as a full rendering would draw them: only when
        that part touches no other axes' extent, text or legend of the figure. The caller
        lays out nothing: the axes' places must be those of the kept rendering.
        """
        old = self.decorations
        if len(new) != len(old) or new[:3] != old[:3]:
            return False
        changed = [i for i, (a, b) in enumerate(zip(old[3:], new[3:], strict=True)) if a != b]
        # visibility, frame, box and texts as they were: only limits and ticks moved
        if any(old[3 + i][:4] != new[3 + i][:4] for i in changed):
            return False
        canvas = fig.canvas
        renderer = canvas.get_renderer()
        others = _others(fig, renderer)
        if others is None:
            return False
        extents = list(self.extents)
        for i in changed:
            extents[i] = _static_extent(fig.axes[i], renderer)
        parts = {i: Bbox.union([self.extents[i], extents[i]]) for i in changed}
        fixed = others + [box for j, box in enumerate(extents) if j not in parts]
        if any(part.overlaps(box) for part in parts.values() for box in fixed):
            return False
        canvas.restore_region(self.region)
        colour = np.round(np.asarray(fig.patch.get_facecolor()) * 255).astype(np.uint8)
        for part in parts.values():
            _fill(renderer, part, colour)
        for i in changed:
            fig.axes[i].draw(renderer)
        self.region = canvas.copy_from_bbox(fig.bbox)
        self.decorations = new
        self.extents = extents
        return True
