"""Handouts: one self-contained HTML page per preset or tour, written by the app itself."""

import base64
import html
import io
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from explorer.apps import handout as H
from explorer.apps import ntk_app
from explorer.tours import tours_for


def _links(page):
    return re.findall(r'Open live: <a href="([^"]+)"', page)


def _self_contained(page):
    # no scripts, and every src is embedded: nothing is fetched when the page opens
    assert "<script" not in page.lower()
    srcs = re.findall(r'src="([^"]+)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    for s in srcs:
        assert Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))).format == "PNG"


@pytest.mark.parametrize("app", ["sbm", "iqp", "ntk", "lens"])
def test_a_tour_handout_has_every_step_with_its_figure_and_permalink(app):
    (name, tour), = tours_for(app).items()
    page = H.handout(app, tour=name)
    _self_contained(page)
    assert page.count("<figure>") == len(tour)
    for k, step in enumerate(tour.steps, start=1):
        assert f"<h2>{k}. {html.escape(step.title)}</h2>" in page
        assert html.escape(step.text) in page
    links = _links(html.unescape(page))
    assert len(links) == len(tour)
    for k, link in enumerate(links, start=1):
        query = parse_qs(urlsplit(link).query)
        assert query["tour"] == [name] and query["step"] == [str(k)]


def test_a_preset_handout_shows_every_view_the_status_and_the_permalink():
    preset = "fast polynomial decay"
    page = H.handout("ntk", preset=preset, base_url="https://example.org/ntk")
    _self_contained(page)
    app = ntk_app.make_app(query_string="")
    app.apply_preset(preset)
    assert page.count("<figure>") == len(app.figures)
    assert html.escape(app.status_text) in page
    assert _links(html.unescape(page)) == [f"https://example.org/ntk?{app.query_string()}"]


@pytest.mark.parametrize("kwargs,message", [
    ({"app": "xyz"}, "app must be one of sbm, iqp, ntk"),
    ({"app": "ntk", "preset": "nope"}, "unknown preset 'nope'; known: fast polynomial"),
    ({"app": "ntk", "tour": "nope"}, "unknown tour 'nope'; known: ntk_early_stopping"),
    ({"app": "ntk", "tour": "a", "preset": "b"}, "a preset or a tour, not both"),
])
def test_bad_requests_name_what_is_known(kwargs, message):
    with pytest.raises(ValueError, match=message):
        H.handout(**kwargs)


def test_the_cli_writes_a_handout(tmp_path):
    out = tmp_path / "h.html"
    run = subprocess.run([sys.executable, "-m", "explorer", "handout", "ntk", "--preset",
                          "fast polynomial decay", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")
    run = subprocess.run([sys.executable, "-m", "explorer", "handout", "ntk", "--tour", "x"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "unknown tour 'x'" in run.stderr
