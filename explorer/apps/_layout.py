"""Views that fill the screen: a declarative grid of views, sized to the width they get.

An app declares its grid as rows of cells, each cell a view name or a tuple of names stacked
in one column: ``[("phase", ("elbo", "accuracy")), ("bifurcation", "success")]``. A small
widget in the page (:class:`SizeProbe`) reports the width of the plot area and the window's
height whenever they change; the shell then gives every column an equal share of the width,
each view the height its aspect ratio asks for (capped so a view fits the window), and resizes
the figures (ipympl redraws them at the new size). Figures use matplotlib's constrained layout,
so titles, labels and legends fit at any size and in lecture mode's larger fonts.

The probe's values come from the browser and are validated here like any widget value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import anywidget
import ipywidgets as W
import traitlets

log = logging.getLogger("explorer.apps")

__all__ = ["GAP", "GridLayout", "SizeProbe"]

#: Space between views, in CSS pixels.
GAP = 12
#: Below this plot-area width the grid becomes one column.
ONE_COLUMN_BELOW = 620
#: CSS pixels per figure inch (ipympl draws a figure at 72 logical dpi whatever the screen).
PX_PER_INCH = 72
#: Accepted probe values (anything else from a client is ignored).
WIDTH_RANGE = (200, 10_000)
HEIGHT_RANGE = (200, 10_000)

class SizeProbe(anywidget.AnyWidget):
    """Reports the width of the element it sits in and the window's height."""

    _esm = """
    export default {
      render({ model, el }) {
        el.style.width = "100%";
        el.style.height = "1px";
        const report = () => {
          const w = Math.round(el.getBoundingClientRect().width);
          const h = Math.round(window.innerHeight);
          if (w > 0 && (Math.abs(w - model.get("width")) >= 4 ||
                        Math.abs(h - model.get("viewport_height")) >= 4)) {
            model.set("width", w);
            model.set("viewport_height", h);
            model.save_changes();
          }
        };
        const observer = new ResizeObserver(report);
        observer.observe(el);
        window.addEventListener("resize", report);
        report();
        return () => {
          observer.disconnect();
          window.removeEventListener("resize", report);
        };
      }
    };
    """
    width = traitlets.Int(0).tag(sync=True)
    viewport_height = traitlets.Int(0).tag(sync=True)


def _cells(rows: Sequence[Sequence]) -> list[tuple[str, ...]]:
    return [tuple(cell) if isinstance(cell, tuple | list) else (cell,)
            for row in rows for cell in row]


class GridLayout:
    """The plot area of an app: its grid of views and their sizes.

    Parameters
    ----------
    rows : sequence of sequences
        Rows of cells; a cell is a view name or a tuple of names stacked in one column.
    widgets : mapping of str to Widget
        Each view's canvas widget.
    sizes : mapping of str to (float, float)
        Each view's declared size in inches (its aspect ratio, and its size until measured).
    """

    def __init__(self, rows: Sequence[Sequence], widgets: Mapping[str, W.Widget],
                 sizes: Mapping[str, tuple[float, float]]) -> None:
        self.rows = [tuple(r) for r in rows]
        names = [n for cell in _cells(self.rows) for n in cell]
        missing = set(widgets) - set(names)
        unknown = set(names) - set(widgets)
        if missing or unknown or len(names) != len(set(names)):
            raise ValueError(f"the layout must name every view once; missing "
                             f"{sorted(missing)}, unknown {sorted(unknown)}")
        self.sizes = dict(sizes)
        self.columns = max((len(r) for r in self.rows), default=1)
        children = []
        for row in self.rows:
            cells = [cell if isinstance(cell, tuple | list) else (cell,) for cell in row]
            for cell in cells:
                children.append(widgets[cell[0]] if len(cell) == 1 else
                                W.VBox([widgets[n] for n in cell],
                                       layout={"grid_gap": f"{GAP}px"}))
            children += [W.Box() for _ in range(self.columns - len(cells))]
        self.grid = W.GridBox(children, layout={
            "grid_template_columns": f"repeat({self.columns}, minmax(0, 1fr))",
            "grid_gap": f"{GAP}px", "width": "100%"})
        self.probe = SizeProbe()
        self.widget = W.VBox([self.probe, self.grid],
                             layout={"flex": "1 1 0%", "min_width": "0", "width": "auto"})
        self.width: int | None = None
        self.viewport_height: int | None = None

    def view_sizes(self, width: int, viewport_height: int | None = None
                   ) -> dict[str, tuple[int, int]]:
        """Each view's size in CSS pixels for a plot area ``width`` pixels wide."""
        columns = 1 if width < ONE_COLUMN_BELOW else self.columns
        col = (width - (columns - 1) * GAP) // columns - 4   # the canvas border
        cap = None if viewport_height is None else int(0.85 * viewport_height)
        out = {}
        for cell in _cells(self.rows):
            for name in cell:
                w_in, h_in = self.sizes[name]
                h = round(col * h_in / w_in)
                if cap is not None and len(cell) == 1:
                    h = min(h, cap)
                elif cap is not None:
                    h = min(h, (cap - GAP * (len(cell) - 1)) // len(cell))
                out[name] = (int(col), int(max(h, 120)))
        return out

    def measured(self, width, viewport_height) -> bool:
        """Validate a size reported by the browser; True if it is new and acceptable."""
        ok = (isinstance(width, int) and WIDTH_RANGE[0] <= width <= WIDTH_RANGE[1]
              and isinstance(viewport_height, int)
              and HEIGHT_RANGE[0] <= viewport_height <= HEIGHT_RANGE[1])
        if not ok:
            log.info("ignored a size report: width %r, height %r", width, viewport_height)
            return False
        if (width, viewport_height) == (self.width, self.viewport_height):
            return False
        self.width, self.viewport_height = width, viewport_height
        columns = 1 if width < ONE_COLUMN_BELOW else self.columns
        self.grid.layout.grid_template_columns = f"repeat({columns}, minmax(0, 1fr))"
        return True
