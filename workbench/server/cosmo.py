"""Cheap cosmology and coordinates for object records.

Planck18 distances are interpolated from a grid computed once with astropy (exact
per-object astropy calls are ~1 ms each, too slow for 500-row pages); galactic
coordinates use the IAU rotation matrix directly. Units: Mpc, magnitudes, degrees.
"""

from __future__ import annotations

import functools
import math

import numpy as np

# ICRS -> Galactic rotation (Hipparcos, as used by astropy)
_ROT = np.array(
    [
        [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
        [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
        [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
    ]
)


@functools.cache
def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from astropy.cosmology import Planck18

    z = np.concatenate([np.linspace(1e-5, 0.2, 400), np.linspace(0.2, 5.0, 400)[1:]])
    dl = Planck18.luminosity_distance(z).value
    da = Planck18.angular_diameter_distance(z).value
    return z, dl, da


def distances(z: float) -> tuple[float | None, float | None, float | None]:
    """(luminosity distance [Mpc], distance modulus [mag], angular diameter distance [Mpc])."""
    if z is None or not math.isfinite(z) or z <= 0:
        return None, None, None
    grid, dl, da = _grid()
    lum = float(np.interp(z, grid, dl))
    return lum, 5 * math.log10(lum * 1e5), float(np.interp(z, grid, da))


def galactic(ra: float, dec: float) -> tuple[float, float]:
    """Galactic longitude and latitude (degrees) of an ICRS position (degrees)."""
    r, d = math.radians(ra), math.radians(dec)
    vec = np.array([math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)])
    x, y, zz = _ROT @ vec
    lon = math.degrees(math.atan2(y, x)) % 360.0
    lat = math.degrees(math.asin(max(-1.0, min(1.0, zz))))
    return lon, lat
