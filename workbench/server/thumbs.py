"""Synthetic 63x63 cutouts (new, ref, sub) as real PNG bytes, like ZTF alert stamps.

The reference image holds a host galaxy and field stars; the new image adds the
transient as a point source; the difference is new minus ref. Deterministic for
(seed, object index); generated when a thumbnail URL is requested.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

SIZE = 63
TYPES = ("new", "ref", "sub")


def render(seed: int, index: int, kind: str) -> bytes:
    """PNG bytes of the ``kind`` ("new", "ref" or "sub") cutout of object ``index``."""
    if kind not in TYPES:
        raise ValueError(f"unknown thumbnail type {kind!r}; expected one of {TYPES}")
    rng = np.random.default_rng([seed, index, 31])
    y, x = np.mgrid[0:SIZE, 0:SIZE] - SIZE // 2
    sky = 100.0
    ref = np.full((SIZE, SIZE), sky)
    gx, gy = rng.normal(0, 4, 2)
    ref += rng.uniform(80, 400) * np.exp(
        -(((x - gx) / rng.uniform(4, 9)) ** 2 + ((y - gy) / rng.uniform(3, 7)) ** 2)
    )
    for _ in range(rng.integers(2, 8)):
        sx, sy = rng.uniform(-28, 28, 2)
        ref += rng.uniform(100, 2000) * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / 3.0)
    point = rng.uniform(200, 1500) * np.exp(-(x**2 + y**2) / 3.5)
    noise = rng.normal(0, 8, (3, SIZE, SIZE))
    images = {"ref": ref + noise[0], "new": ref + point + noise[1]}
    images["sub"] = images["new"] - images["ref"] + sky
    img = images[kind]
    lo, hi = np.percentile(img, [1, 99.5])
    scaled = np.clip((img - lo) / max(hi - lo, 1e-9), 0, 1) ** 0.5
    buf = io.BytesIO()
    Image.fromarray((scaled * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
