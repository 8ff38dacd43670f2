"""Export of what is on screen: figures as PNG/SVG, results (task results included) as CSV or
JSON with the state that produced them, offered as a download link."""

from __future__ import annotations

import base64
import csv
import functools
import io
import json
import re
from typing import TYPE_CHECKING

import ipywidgets as W
import numpy as np

from .._common import check_option

if TYPE_CHECKING:
    from ._shell import App

__all__ = ["Exporter"]


class Exporter:
    """The export row of an app and the functions behind it."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.buttons = {
            fmt: W.Button(description=fmt.upper(), tooltip=f"export as {fmt.upper()}",
                          layout={"width": "auto"})
            for fmt in ("png", "svg", "csv", "json")
        }
        self.download = W.HTML(value="").add_class("explorer-download")
        names = list(app.figures)
        self.which = W.Dropdown(options=names, value=names[0] if names else None,
                                description="view",
                                layout={"width": "auto"}, style={"description_width": "initial"})
        for fmt, button in self.buttons.items():
            button.on_click(app.status_line.safe(functools.partial(self._on_click, fmt)))
        self.widget = W.HBox([W.Label("Export:"), *([self.which] if len(names) > 1 else []),
                              *self.buttons.values(), self.download],
                             layout={"flex_flow": "row wrap"})

    def figure(self, fmt: str = "png", name: str | None = None) -> bytes:
        fmt = check_option("fmt", fmt, ("png", "svg"))
        figures = self.app.figures
        if not figures:
            raise ValueError("this app has no figure to export")
        fig = figures[check_option("name", name, figures)] if name else self.app.figure
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else None, bbox_inches="tight")
        return buf.getvalue()

    def result(self, fmt: str = "csv") -> str:
        fmt = check_option("fmt", fmt, ("csv", "json"))
        app = self.app
        if not app.result:
            raise ValueError("nothing to export yet")
        cols = app.export_columns()
        if fmt == "json":
            payload = {"app": app.title, "state": app.state, "query": app.query_string(),
                       "tasks": app.export_tasks(),
                       "columns": {k: v.tolist() for k, v in cols.items()}}
            return json.dumps(payload, indent=1)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        buf.write(f"# {app.title}: ?{app.query_string()}\n")
        names = list(cols)
        writer.writerow(names)
        length = max((len(v) for v in cols.values()), default=0)
        for i in range(length):
            writer.writerow([_cell(cols[k], i) for k in names])
        return buf.getvalue()

    def _on_click(self, fmt: str, _button=None) -> None:
        app = self.app
        slug = re.sub(r"[^a-z0-9]+", "_", app.title.lower()).strip("_") or "explorer"
        if fmt in ("png", "svg"):
            data = self.figure(fmt, self.which.value)
            slug = f"{slug}_{self.which.value}" if len(app.figures) > 1 else slug
            mime = "image/png" if fmt == "png" else "image/svg+xml"
        else:
            data = self.result(fmt).encode()
            mime = "text/csv" if fmt == "csv" else "application/json"
        b64 = base64.b64encode(data).decode("ascii")
        name = f"{slug}.{fmt}"
        self.download.value = (
            f'<a download="{name}" href="data:{mime};base64,{b64}">download {name}</a>'
        )


def _cell(column: np.ndarray, i: int) -> str:
    if i >= len(column):
        return ""
    v = column[i]
    return repr(float(v)) if isinstance(v, float | np.floating) else str(v)
