"""The landing page's cards: thumbnails rendered from the apps, questions, links and tours."""

import base64
import io

from PIL import Image

from explorer.apps import APPS, landing
from explorer.tours import tours_for


def test_a_thumbnail_is_the_apps_first_view_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    png = landing.thumbnail("ntk")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] == landing.THUMBNAIL_WIDTH
    cached = list((tmp_path / "explorer-thumbnails").glob("ntk-*.png"))
    assert len(cached) == 1 and cached[0].read_bytes() == png
    # rendered again from a fresh app: the same picture (the cache holds nothing else)
    assert landing.thumbnail("ntk", cache=False) == png
    cached[0].write_bytes(b"stale")                     # the cache is what is served
    assert landing.thumbnail("ntk") == b"stale"


def test_cards_link_every_app_and_its_tours(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = landing.cards_html()
    for card in landing.CARDS:
        if card.app not in APPS:
            continue
        assert f'<a href="{card.notebook}">{card.link_text}</a>' in text
        assert card.question in text
        for name in tours_for(card.app):
            assert f'{card.notebook}?tour={name}&amp;step=1' in text
    images = text.count("data:image/png;base64,")
    assert images == sum(card.app in APPS for card in landing.CARDS) >= 3
    first = text.split("data:image/png;base64,")[1].split('"')[0]
    assert Image.open(io.BytesIO(base64.b64decode(first))).format == "PNG"
