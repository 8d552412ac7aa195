"""Cutout HTML: sizes, crosshair, orientation arrows, scale bar, placeholders, escaping.

The HTML is well-formed XML (self-closed tags, quoted attributes), so it is read back with
ElementTree and checked geometrically.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest

from widgets._common import placeholder_png
from widgets.cutouts import cutouts_html, image_size

SVG = "{http://www.w3.org/2000/svg}"


def _cells(markup: str) -> dict[str, ET.Element]:
    root = ET.fromstring(markup)
    assert root.get("class") == "wb-cutouts"
    return {cell.get("data-kind"): cell for cell in root if cell.get("class") == "wb-cutout"}


def _lines(svg: ET.Element) -> list[tuple[float, float, float, float]]:
    return [
        tuple(float(line.get(k)) for k in ("x1", "y1", "x2", "y2"))
        for line in svg.iter(f"{SVG}line")
    ]


def test_three_cutouts_with_images_at_the_asked_size() -> None:
    png = placeholder_png(63)
    assert image_size(png) == (63, 63)
    markup = cutouts_html({"new": png, "ref": png, "sub": png}, size_px=240)
    cells = _cells(markup)
    assert list(cells) == ["new", "ref", "sub"]
    for kind, cell in cells.items():
        img = cell.find(".//img")
        assert img is not None and img.get("class") == "wb-cutout-img"
        assert "width:240px;height:240px" in img.get("style")
        assert "image-rendering:pixelated" in img.get("style")
        src = img.get("src")
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == png  # the cutout itself
        assert kind in "".join(cell.itertext())  # a label per cutout
    assert cutouts_html({"new": png})  # default size
    assert "width:220px" in cutouts_html({"new": png})


def test_crosshair_leaves_the_centre_pixel_clear() -> None:
    size, pixels = 220, 63
    cell = _cells(cutouts_html({"new": placeholder_png(pixels)}, size_px=size))["new"]
    svg = cell.find(f".//{SVG}svg")
    assert svg is not None and svg.get("viewBox") == f"0 0 {size} {size}"
    c, half = size / 2, size / pixels / 2  # the centre pixel spans c +- half
    cross = [seg for seg in _lines(svg) if seg[0] == seg[2] == c or seg[1] == seg[3] == c]
    assert len(cross) >= 4  # four arms (each drawn twice: outline and stroke)
    for x1, y1, x2, y2 in cross:
        # no arm enters the centre pixel's square
        if y1 == y2 == c:
            assert max(x1, x2) <= c - half or min(x1, x2) >= c + half
        else:
            assert max(y1, y2) <= c - half or min(y1, y2) >= c + half
    arms = {(x1 < c, y1 < c, x1 == x2) for x1, y1, x2, y2 in cross}
    assert len(arms) == 4  # left, right, above, below


def test_north_up_east_left_and_a_scale_bar_in_arcsec() -> None:
    size = 220
    cell = _cells(cutouts_html({"sub": placeholder_png(63)}, size_px=size))["sub"]
    svg = cell.find(f".//{SVG}svg")
    texts = {t.text: t for t in svg.iter(f"{SVG}text")}
    assert {"N", "E"} <= set(texts)
    lines = _lines(svg)
    # the N arrow is vertical and its label above its origin; the E arrow horizontal, its
    # label to the left: north up, east left
    n_x, n_y = float(texts["N"].get("x")), float(texts["N"].get("y"))
    e_x, e_y = float(texts["E"].get("x")), float(texts["E"].get("y"))
    assert n_y < e_y and e_x < n_x
    # ZTF: 63 px at 1"/px; a 10" bar is 10/63 of the displayed width
    scale = next(t for t in svg.iter(f"{SVG}text") if t.get("class") == "wb-scale")
    assert scale.text == "10\u2033"
    bar_y = float(scale.get("y")) + 7
    bar = [seg for seg in lines if seg[1] == seg[3] == bar_y]
    length = max(abs(x2 - x1) for x1, _, x2, _ in bar)
    assert length == pytest.approx(10 / 63 * size, abs=0.1)
    # a coarser pixel scale gives a longer round length, and its bar is drawn to scale
    coarse = _cells(cutouts_html({"sub": placeholder_png(63)}, pixel_scale_arcsec=2.0))["sub"]
    label = next(t for t in coarse.iter(f"{SVG}text") if t.get("class") == "wb-scale")
    assert label.text == "30\u2033"


def test_missing_cutouts_get_a_placeholder_and_text_is_escaped() -> None:
    png = placeholder_png(63)
    markup = cutouts_html({"new": png, "ref": None, "<b>odd</b>": png})
    cells = _cells(markup)
    assert list(cells) == ["new", "ref", "sub", "<b>odd</b>"]  # extra kinds after the three
    for kind in ("ref", "sub"):
        missing = cells[kind].find(".//div[@class='wb-cutout-missing']")
        assert missing is not None and f"no {kind} cutout" in missing.text
        assert cells[kind].find(".//img") is None
    assert "<b>odd</b>" not in markup and "&lt;b&gt;odd&lt;/b&gt;" in markup
    assert len(ET.fromstring(markup).findall(".//img")) == 2
