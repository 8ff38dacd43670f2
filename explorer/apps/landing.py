"""The landing page's cards: each app's default view as a thumbnail, its question, its tours.

Thumbnails are rendered from the apps themselves (their first view at the defaults), never
drawn by hand, and cached on disk under a key of the app's source, the package version and
matplotlib's, so a changed app gets a new picture and an unchanged one costs nothing.
"""

from __future__ import annotations

import base64
import html
import importlib
import io
import sys
from dataclasses import dataclass
from importlib.metadata import version

from . import APPS, cache_dir, source_key

__all__ = ["CARDS", "Card", "cards_html", "landing_page", "thumbnail"]


@dataclass(frozen=True)
class Card:
    """One app on the landing page."""

    app: str                 # key in APPS
    notebook: str            # the page that serves it
    title: str
    question: str
    link_text: str


THUMBNAIL_WIDTH = 420

CARDS = (
    Card("lens", "04_initialization_lens.ipynb", "The initialization lens",
         "How much does an informed start buy over a random one, in all three models at once?",
         "Open the initialization lens"),
    Card("sbm", "01_sbm_mean_field.ipynb", "Stochastic blockmodel, mean-field BCAVI",
         "From a random start, does mean-field inference find the two communities?",
         "Open the SBM explorer"),
    Card("iqp", "02_iqp_born_machine.ipynb", "IQP Born machines trained with MMD",
         "Which starts escape the barren plateau, and which train at 150 qubits?",
         "Open the IQP explorer"),
    Card("ntk", "03_ntk_early_stopping.ipynb", "NTK fine-tuning with early stopping",
         "How close must a pretrained start be, and when should training stop?",
         "Open the NTK explorer"),
)


def thumbnail(app: str, *, cache: bool = True) -> bytes:
    """PNG bytes of ``app``'s first view at its defaults (rendered once, then cached)."""
    if app not in APPS:
        raise ValueError(f"app must be one of {', '.join(APPS)}; got {app!r}")
    module = importlib.import_module(APPS[app])
    path = cache_dir("explorer-thumbnails") / (
        f"{app}-{source_key(module, sys.modules[__name__], version('matplotlib'))}.png")
    if cache and path.is_file():
        return path.read_bytes()
    instance = module.make_app(query_string="")
    fig = next(iter(instance.figures.values()))
    buffer = io.BytesIO()
    # About 420 pixels wide: a card's width on a laptop, a tenth of the full export's bytes.
    fig.savefig(buffer, format="png", dpi=THUMBNAIL_WIDTH / fig.get_figwidth())
    png = buffer.getvalue()
    if cache:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(png)
        tmp.replace(path)                 # atomic: concurrent visitors never read half a file
    return png


def cards_html(cards=CARDS, *, cache: bool = True) -> str:
    """The cards as one HTML block (thumbnails embedded as data URIs)."""
    from ..tours import tours_for

    parts = ['<div class="explorer-cards">']
    for card in cards:
        if card.app not in APPS:
            continue
        png = base64.b64encode(thumbnail(card.app, cache=cache)).decode("ascii")
        tours = tours_for(card.app)
        tour_links = "".join(
            f'<li><a href="{html.escape(card.notebook)}?tour={html.escape(name)}&amp;step=1">'
            f"Tour: {html.escape(t.title)}</a> ({len(t)} steps)</li>"
            for name, t in tours.items())
        parts.append(
            f'<div class="explorer-card"><a href="{html.escape(card.notebook)}">'
            f'<img alt="{html.escape(card.title)}: default view" '
            f'src="data:image/png;base64,{png}"></a>'
            f"<h3>{html.escape(card.title)}</h3><p>{html.escape(card.question)}</p>"
            f'<p><b><a href="{html.escape(card.notebook)}">{html.escape(card.link_text)}</a>'
            f"</b></p><ul>{tour_links}</ul></div>")
    parts.append("</div>")
    return _CARD_STYLE + "".join(parts)


_CARD_STYLE = """<style>
.explorer-cards {display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
  gap: 18px; margin: 8px 0 16px 0;}
.explorer-card {border: 1px solid #ddd; border-radius: 6px; padding: 10px;}
.explorer-card img {width: 100%; height: auto; border: 1px solid #eee;}
.explorer-card h3 {margin: 8px 0 4px 0; font-size: 1.1em;}
.explorer-card ul {margin: 4px 0 0 1.2em; padding: 0;}
</style>"""


def landing_page():
    """The cards as a widget for the landing notebook."""
    import ipywidgets as W

    return W.HTML(cards_html()).add_class("explorer-landing")
