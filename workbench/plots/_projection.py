"""Sky projections done with numpy, for plots only (degrees in, plot coordinates out).

The all-sky view is a Mollweide (equal-area) projection centred on RA = 180 deg with RA
increasing to the LEFT, as astronomers draw the sky from inside the sphere: east is left.
"""

from __future__ import annotations

import numpy as np

SQRT2 = np.sqrt(2.0)
X_MAX = 2.0 * SQRT2  # half-width of the Mollweide ellipse
Y_MAX = SQRT2  # half-height


def _lon(ra: np.ndarray) -> np.ndarray:
    """Longitude on the map (radians, -pi..pi, positive to the right) of RA (degrees)."""
    return np.radians((180.0 - np.asarray(ra, dtype=float) + 180.0) % 360.0 - 180.0)


def mollweide(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mollweide ``(x, y)`` of sky positions (degrees); NaN in, NaN out."""
    lat = np.radians(np.asarray(dec, dtype=float))
    theta = np.array(lat, dtype=float)
    target = np.pi * np.sin(lat)
    # Newton on 2t + sin 2t = pi sin(lat); converges in a few steps except at the poles,
    # where the denominator vanishes and theta = lat is already the answer.
    for _ in range(30):
        denom = 2.0 + 2.0 * np.cos(2.0 * theta)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (2.0 * theta + np.sin(2.0 * theta) - target) / denom
        step = np.where(denom > 1e-12, step, 0.0)
        theta = theta - step
        if np.nanmax(np.abs(step), initial=0.0) < 1e-12:
            break
    x = (2.0 * SQRT2 / np.pi) * _lon(ra) * np.cos(theta)
    y = SQRT2 * np.sin(theta)
    return x, y


def inverse_mollweide(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ra, dec, inside)`` in degrees for Mollweide plot coordinates; ``inside`` is False
    outside the ellipse (ra/dec there are meaningless)."""
    x = np.asarray(x, dtype=float)
    y = np.clip(np.asarray(y, dtype=float), -Y_MAX, Y_MAX)
    theta = np.arcsin(y / SQRT2)
    lat = np.arcsin(np.clip((2.0 * theta + np.sin(2.0 * theta)) / np.pi, -1.0, 1.0))
    cos_t = np.cos(theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        lon = np.pi * x / (2.0 * SQRT2 * cos_t)
    inside = np.isfinite(lon) & (np.abs(lon) <= np.pi)
    ra = (180.0 - np.degrees(np.where(inside, lon, 0.0))) % 360.0
    return ra, np.degrees(lat), inside


def unwrap_ra(ra: np.ndarray, center: float) -> np.ndarray:
    """RA (degrees) shifted by whole turns to lie within 180 deg of ``center``, so a region
    crossing RA = 0 is contiguous on a linear axis."""
    ra = np.asarray(ra, dtype=float)
    return center + (ra - center + 180.0) % 360.0 - 180.0


def graticule(step_ra: float = 30.0, step_dec: float = 30.0) -> tuple[list, list]:
    """Mollweide meridians and parallels as lists of x and y arrays, for ``multi_line``."""
    xs, ys = [], []
    dec = np.linspace(-90, 90, 91)
    for ra in np.arange(0.0, 360.0, step_ra):
        x, y = mollweide(np.full(dec.size, ra if ra else 359.999), dec)
        xs.append(x)
        ys.append(y)
    ra_line = np.linspace(0.001, 359.999, 181)
    for d in np.arange(-90.0 + step_dec, 90.0, step_dec):
        x, y = mollweide(ra_line, np.full(ra_line.size, d))
        order = np.argsort(x)
        xs.append(x[order])
        ys.append(y[order])
    return xs, ys
