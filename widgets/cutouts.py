"""Cutouts (new, reference, difference) as one HTML string, ready for an ``ipywidgets.HTML``.

Each cutout is drawn at ``size_px`` screen pixels (crisp pixels, no smoothing) with an SVG
overlay: a crosshair that leaves the centre pixel clear, N and E arrows, a scale bar in
arcseconds, and a label. Building a string (base64 PNG in an ``<img>``, inline SVG) costs
well under a millisecond, so the vetting panel can build it ahead of time in a worker
thread and show it with a single widget update.

Orientation: survey cutouts (ZTF's among them) are delivered north up and east LEFT, as the
sky is seen from the ground; the arrows state this convention, they do not measure it (the
cutouts carry no WCS). ZTF cutouts are 63 x 63 pixels at 1.0 arcsec per pixel.
"""

from __future__ import annotations

import base64
import html
import struct
from collections.abc import Mapping

__all__ = ["CUTOUT_KINDS", "cutouts_html", "image_size"]

CUTOUT_KINDS = ("new", "ref", "sub")
LABELS = {"new": "new (science)", "ref": "ref (reference)", "sub": "sub (difference)"}
DEFAULT_PIXELS = 63  # a ZTF cutout's side, when the image's own size cannot be read
_NICE_ARCSEC = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
_MIME = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)
# White strokes with a dark outline stay visible on both a bright and a dark cutout.
_STROKE = "stroke='#ffffff' stroke-width='1.6' stroke-linecap='round'"
_OUTLINE = "stroke='#000000' stroke-opacity='0.55' stroke-width='3.4' stroke-linecap='round'"
_TEXT = (
    "fill='#ffffff' stroke='#000000' stroke-width='2.5' paint-order='stroke' "
    "font-family='sans-serif' font-size='12' font-weight='bold'"
)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels of a PNG or GIF from its header, or None if unknown."""
    if data[:8] == _MIME[0][0] and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:4] == b"GIF8" and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    return None


def _mime(data: bytes) -> str:
    return next((mime for magic, mime in _MIME if data.startswith(magic)), "image/png")


def cutouts_html(
    thumbnails: Mapping[str, bytes | None],
    *,
    size_px: int = 220,
    pixel_scale_arcsec: float = 1.0,
) -> str:
    """The new, ref and sub cutouts side by side (then any other kind given), each
    ``size_px`` screen pixels square (at least 200 is advised), with a crosshair around the
    centre (the centre pixel itself left clear), N (up) and E (left) arrows, a scale bar
    labelled in arcsec (``pixel_scale_arcsec``: arcsec per image pixel, 1.0 for ZTF) and a
    label. A kind missing from ``thumbnails`` (or None, or empty) gets a placeholder."""
    size = int(size_px)
    kinds = [*CUTOUT_KINDS, *(k for k in thumbnails if k not in CUTOUT_KINDS)]
    cells = [_cell(kind, thumbnails.get(kind), size, float(pixel_scale_arcsec)) for kind in kinds]
    return (
        "<div class='wb-cutouts' style='display:flex;gap:8px;flex-wrap:wrap;"
        f"align-items:flex-start'>{''.join(cells)}</div>"
    )


def _cell(kind: str, data: bytes | None, size: int, scale: float) -> str:
    label = html.escape(LABELS.get(kind, kind))
    caption = f"<div style='font-size:12px;text-align:center;line-height:16px'>{label}</div>"
    box = f"position:relative;width:{size}px;height:{size}px"
    if not data:
        body = (
            f"<div class='wb-cutout-missing' style='{box};background:#e0e0e0;color:#555;"
            "display:flex;align-items:center;justify-content:center;font-size:12px'>"
            f"no {html.escape(kind)} cutout</div>"
        )
    else:
        width_px = (image_size(data) or (DEFAULT_PIXELS, DEFAULT_PIXELS))[0] or DEFAULT_PIXELS
        encoded = base64.b64encode(data).decode("ascii")
        body = (
            f"<div style='{box}'>"
            f"<img class='wb-cutout-img' decoding='sync' alt='{label} cutout' src='data:{_mime(data)};base64,"
            f"{encoded}' style='width:{size}px;height:{size}px;image-rendering:pixelated;"
            "display:block'/>"
            f"{_overlay(size, width_px, scale)}</div>"
        )
    return (
        f"<div class='wb-cutout' data-kind='{html.escape(kind)}' style='width:{size}px'>"
        f"{caption}{body}</div>"
    )


def _overlay(size: int, width_px: int, scale: float) -> str:
    """The SVG drawn over one cutout, in screen pixels (``size`` square)."""
    c = size / 2.0
    per_pixel = size / width_px  # screen pixels per image pixel
    gap = max(6.0, 2.5 * per_pixel)  # keeps the centre pixel and its neighbours clear
    arm = max(gap + 10.0, 0.16 * size)
    cross = [
        (c - arm, c, c - gap, c),
        (c + gap, c, c + arm, c),
        (c, c - arm, c, c - gap),
        (c, c + gap, c, c + arm),
    ]
    parts = [_line(*seg) for seg in cross]
    # Compass in the top-right corner: N points up, E points left.
    ox, oy, length = size - 12.0, 40.0, 22.0
    parts += [
        _line(ox, oy, ox, oy - length),
        _line(ox, oy, ox - length, oy),
        _head(ox, oy - length, "up"),
        _head(ox - length, oy, "left"),
        f"<text x='{ox:.1f}' y='{oy - length - 4:.1f}' text-anchor='middle' {_TEXT}>N</text>",
        f"<text x='{ox - length - 5:.1f}' y='{oy + 4:.1f}' text-anchor='end' {_TEXT}>E</text>",
    ]
    # Scale bar in the bottom-left corner: the largest round length within a quarter field.
    field = width_px * scale
    arcsec = max((n for n in _NICE_ARCSEC if n <= field / 4), default=None)
    if arcsec is not None and scale > 0:
        bar = arcsec / scale * per_pixel
        x0, y0 = 10.0, size - 12.0
        text = f"{arcsec}\u2033" if arcsec < 60 else f"{arcsec // 60}\u2032"
        parts += [
            _line(x0, y0, x0 + bar, y0),
            _line(x0, y0 - 4, x0, y0 + 4),
            _line(x0 + bar, y0 - 4, x0 + bar, y0 + 4),
            f"<text class='wb-scale' x='{x0 + bar / 2:.1f}' y='{y0 - 7:.1f}' "
            f"text-anchor='middle' {_TEXT}>{text}</text>",
        ]
    return (
        f"<svg class='wb-cutout-overlay' width='{size}' height='{size}' "
        f"viewBox='0 0 {size} {size}' xmlns='http://www.w3.org/2000/svg' "
        "style='position:absolute;left:0;top:0;pointer-events:none'>"
        f"{''.join(parts)}</svg>"
    )


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    xy = f"x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}'"
    return f"<line {xy} {_OUTLINE}/><line {xy} {_STROKE}/>"


def _head(x: float, y: float, direction: str) -> str:
    """An arrowhead with its tip at (x, y)."""
    if direction == "up":
        points = f"{x:.1f},{y - 2:.1f} {x - 4:.1f},{y + 5:.1f} {x + 4:.1f},{y + 5:.1f}"
    else:
        points = f"{x - 2:.1f},{y:.1f} {x + 5:.1f},{y - 4:.1f} {x + 5:.1f},{y + 4:.1f}"
    return f"<polygon points='{points}' fill='#ffffff' stroke='#000000' stroke-width='0.8'/>"
