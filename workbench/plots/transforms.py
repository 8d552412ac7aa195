"""Numeric helpers behind the plots: display decimation, smoothing and normalisation.

Decimation is for DISPLAY only. :func:`minmax_decimate` keeps, in each of ``n_bins`` equal-width
wavelength bins, the samples holding the bin's minimum and maximum (plus its first NaN, so gaps
stay gaps). A line drawn through them looks like the full-resolution line at the plot's pixel
scale: narrow emission spikes, deep absorption troughs and cosmic-ray hits all survive, which an
average or a stride would smear or skip. The returned values are real samples, never averages.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage

from ..errors import WorkbenchError

__all__ = ["median_normalise", "minmax_decimate", "smooth", "thin_limits"]

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def minmax_decimate(x: np.ndarray, y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices (ascending) of the samples to draw so that at most about ``max_points`` remain
    while every bin's extreme values are kept; all indices when already small enough.

    ``x`` must be ascending (wavelengths); ``y`` may hold NaN.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if max_points < 4:
        raise WorkbenchError(f"max_points must be at least 4, not {max_points}")
    if n <= max_points:
        return np.arange(n)
    n_bins = max(1, (max_points - 2) // 3)
    finite_x = x[np.isfinite(x)]
    edges = np.linspace(finite_x[0], finite_x[-1], n_bins + 1)
    starts = np.unique(np.searchsorted(x, edges[:-1], side="left"))
    starts = starts[starts < n]
    bin_of = np.repeat(np.arange(starts.size), np.diff(np.append(starts, n)))
    finite = np.isfinite(y)
    lo = np.where(finite, y, np.inf)
    hi = np.where(finite, y, -np.inf)
    keep = [
        _first_per_bin(bin_of, lo == np.minimum.reduceat(lo, starts)[bin_of], finite),
        _first_per_bin(bin_of, hi == np.maximum.reduceat(hi, starts)[bin_of], finite),
        _first_per_bin(bin_of, ~finite, np.ones(n, dtype=bool)),
        np.array([0, n - 1]),
    ]
    return np.unique(np.concatenate(keep))


def _first_per_bin(bin_of: np.ndarray, hit: np.ndarray, valid: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(hit & valid)
    _, first = np.unique(bin_of[idx], return_index=True)
    return idx[first]


def thin_limits(
    mjd: np.ndarray, limiting_mag: np.ndarray, filters: np.ndarray, max_points: int
) -> np.ndarray:
    """Indices of upper limits to draw when there are more than ``max_points``.

    Per filter, time (MJD) is cut into equal bins (as many in all as ``max_points``) and the
    deepest limit (largest limiting magnitude, the most constraining) of each bin is kept.
    Detections are never thinned; this only concerns non-detections.
    """
    n = len(mjd)
    if n <= max_points:
        return np.arange(n)
    mjd = np.asarray(mjd, dtype=float)
    depth = np.where(np.isfinite(limiting_mag), limiting_mag, -np.inf)
    groups = np.unique(filters)
    per_filter = max(1, max_points // max(1, groups.size))
    keep = []
    for name in groups:
        idx = np.flatnonzero(filters == name)
        t = mjd[idx]
        span = np.nanmax(t) - np.nanmin(t)
        bins = np.zeros(idx.size, dtype=int)
        if span > 0:
            bins = np.minimum(((t - np.nanmin(t)) / span * per_filter).astype(int), per_filter - 1)
        order = np.lexsort((-depth[idx], bins))  # by bin, deepest first
        _, first = np.unique(bins[order], return_index=True)
        keep.append(idx[order[first]])
    return np.sort(np.concatenate(keep))


def smooth(
    wavelengths: np.ndarray,
    fluxes: np.ndarray,
    width: float,
    *,
    kernel: Literal["boxcar", "gaussian"] = "boxcar",
    unit: Literal["pixel", "angstrom"] = "pixel",
) -> np.ndarray:
    """Smoothed fluxes. ``width`` is the boxcar's full width or the Gaussian's FWHM, in pixels
    or in Angstrom (converted with the median pixel size, so it assumes a roughly uniform
    dispersion). NaN samples are ignored (normalised convolution) and stay NaN."""
    flux = np.asarray(fluxes, dtype=float)
    if kernel not in ("boxcar", "gaussian"):
        raise WorkbenchError(f"kernel must be 'boxcar' or 'gaussian', not {kernel!r}")
    if unit not in ("pixel", "angstrom"):
        raise WorkbenchError(f"smoothing unit must be 'pixel' or 'angstrom', not {unit!r}")
    if not np.isfinite(width) or width <= 0:
        raise WorkbenchError(f"smoothing width must be a positive number, not {width!r}")
    pixels = float(width)
    if unit == "angstrom":
        step = np.nanmedian(np.abs(np.diff(np.asarray(wavelengths, dtype=float))))
        if not np.isfinite(step) or step <= 0:
            raise WorkbenchError("cannot smooth in Angstrom: the wavelengths have no spacing")
        pixels = width / step
    good = np.isfinite(flux)
    filled = np.where(good, flux, 0.0)
    if kernel == "boxcar":
        size = max(1, round(pixels))
        num = ndimage.uniform_filter1d(filled, size, mode="nearest")
        den = ndimage.uniform_filter1d(good.astype(float), size, mode="nearest")
    else:
        sigma = pixels / FWHM_PER_SIGMA
        num = ndimage.gaussian_filter1d(filled, sigma, mode="nearest")
        den = ndimage.gaussian_filter1d(good.astype(float), sigma, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~good] = np.nan
    return out


def median_normalise(fluxes: np.ndarray) -> tuple[np.ndarray, float]:
    """Fluxes divided by their median (finite samples), and that median. A spectrum whose
    median is not positive (sky-subtracted noise) is divided by its median absolute value
    instead, so its shape is not flipped."""
    flux = np.asarray(fluxes, dtype=float)
    finite = flux[np.isfinite(flux)]
    if finite.size == 0:
        raise WorkbenchError("cannot normalise a spectrum with no finite flux")
    scale = float(np.median(finite))
    if scale <= 0:
        scale = float(np.median(np.abs(finite)))
    if scale == 0:
        raise WorkbenchError("cannot normalise a spectrum whose fluxes are mostly zero")
    return flux / scale, scale
