"""Handouts: one self-contained HTML page of a preset or a tour, to post after a lecture.

Everything is computed by the app itself, headless: the figures (embedded as PNG data URIs),
the status line, the control values and the permalink that reopens each state live. The page
has no scripts and no external resources, so it opens from a course site, an e-mail or a disk.
"""

from __future__ import annotations

import base64
import html
import importlib
import shlex
from datetime import date

from . import APPS
from .landing import CARDS

__all__ = ["handout"]

_STYLE = """<style>
body {font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
  line-height: 1.45; color: #222;}
h1 {font-size: 1.6em;} h2 {font-size: 1.25em; margin-top: 2em;}
figure {margin: 1em 0;} figure img {max-width: 100%; border: 1px solid #ddd;}
table {border-collapse: collapse; font-size: 0.9em;} td, th {padding: 2px 10px;
  border-bottom: 1px solid #eee; text-align: left;}
.status {background: #f3f8f3; padding: 6px 10px; border-left: 4px solid #1b5e20;}
.narration {background: #fff8e6; padding: 6px 10px; border-left: 4px solid #e8a317;}
</style>"""


def _notebook(app: str) -> str:
    return next(card.notebook for card in CARDS if card.app == app)


def _figure(instance, view: str) -> str:
    png = base64.b64encode(instance.export_figure("png", view)).decode("ascii")
    return (f'<figure><img alt="{html.escape(view)}" src="data:image/png;base64,{png}">'
            f"<figcaption>{html.escape(view)}</figcaption></figure>")


def _values(instance, names=None) -> str:
    names = list(instance.state) if names is None else names
    rows = "".join(f"<tr><th>{html.escape(instance._by_name[k].label or k)}</th>"
                   f"<td>{html.escape(instance._by_name[k].format(instance.state[k]))}</td></tr>"
                   for k in names)
    return f"<table>{rows}</table>"


def _link(base: str, query: str) -> str:
    href = f"{base}?{query}" if query else base
    return f'<p>Open live: <a href="{html.escape(href)}">{html.escape(href)}</a></p>'


def handout(app: str, *, preset: str | None = None, tour: str | None = None,
            base_url: str | None = None) -> str:
    """The HTML of a handout for ``app`` at a preset, or walking one of its tours.

    Parameters
    ----------
    app : str
        A key of :data:`explorer.apps.APPS`.
    preset, tour : str, optional
        At most one; neither gives the app's defaults.
    base_url : str, optional
        Where the app is served (its page's URL), for the permalinks; default the page's
        name relative to the landing page (e.g. ``01_sbm_mean_field.ipynb``).

    Raises
    ------
    ValueError
        An unknown app, preset or tour (naming the known ones), or both preset and tour.
    """
    if app not in APPS:
        raise ValueError(f"app must be one of {', '.join(APPS)}; got {app!r}")
    if preset is not None and tour is not None:
        raise ValueError("give a preset or a tour, not both")
    instance = importlib.import_module(APPS[app]).make_app(query_string="")
    base = base_url or _notebook(app)
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             f"<title>{html.escape(instance.title)}</title>", _STYLE, "</head><body>",
             f"<h1>{html.escape(instance.title)}</h1>"]
    if tour is None:
        if preset is not None:
            if preset not in instance.presets:
                raise ValueError(f"unknown preset {preset!r}; known: "
                                 f"{', '.join(instance.presets)}")
            instance.apply_preset(preset)
            parts.append(f"<p>Preset: <b>{html.escape(preset)}</b></p>")
        parts.append(f'<p class="status">{html.escape(instance.status_text)}</p>')
        parts += [_figure(instance, v) for v in instance.figures]
        parts += ["<h2>Settings</h2>", _values(instance),
                  _link(base, instance.query_string())]
    else:
        tours = instance.tour_player.tours
        if tour not in tours:
            raise ValueError(f"unknown tour {tour!r}; known: {', '.join(tours) or '(none)'}")
        t = tours[tour]
        parts.append(f"<p>A guided tour in {len(t)} steps. {html.escape(t.summary)}</p>")
        for k, step in enumerate(t.steps, start=1):
            instance.go_to_step(tour, k)
            view = step.view or next(iter(instance.figures))
            # what the step itself names: its preset's own values and its settings
            changed = list({**(instance.presets[step.preset] if step.preset else {}),
                            **step.values})
            parts += [f"<h2>{k}. {html.escape(step.title)}</h2>",
                      f'<p class="narration">{html.escape(step.text)}</p>',
                      _figure(instance, view),
                      f'<p class="status">{html.escape(instance.status_text)}</p>']
            if changed:
                parts.append(_values(instance, changed))
            parts.append(_link(base, instance.query_string()))
    option = (f" --preset {shlex.quote(preset)}" if preset else
              f" --tour {shlex.quote(tour)}" if tour else "")
    parts.append(f"<hr><p><small>Written by <code>python -m explorer handout {app}"
                 f"{html.escape(option)}</code> on "
                 f"{date.today().isoformat()}; every figure and number was computed by the "
                 f"app.</small></p></body></html>")
    return "\n".join(parts)
