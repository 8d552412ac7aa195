"""Synthetic localizations with closed-form answers, for tests, the local server and the demo.

The sky distribution is the Fisher (von Mises-Fisher) distribution, the sphere's analogue of a
2D Gaussian, with concentration ``kappa = 1 / sigma**2`` (sigma in radians)::

    p(t) = kappa / (2 pi (1 - exp(-2 kappa))) * exp(-kappa (1 - cos t))   per steradian

at angular distance ``t`` from the centre. Its answers are exact on the sphere:
the credible level at distance ``t`` is ``(1 - exp(-kappa (1 - cos t))) / (1 - exp(-2 kappa))``
(``~ 1 - exp(-t**2 / 2 sigma**2)`` for a narrow map) and the X credible region is a disc of
area ``-2 pi sigma**2 ln(1 - X (1 - exp(-2 kappa)))`` sr (``~ 2 pi sigma**2 (-ln(1 - X))``).
See :func:`fisher_credible_level` and :func:`fisher_credible_area`.

Pixels take the density at their centre and the map is then renormalised, so pixelisation
error is of the order of the pixel size relative to sigma (tests state their tolerances).
With ``distmean``/``diststd`` every pixel gets the same distance ansatz parameters, so the
posterior mean and std of distance are exactly those values.

FITS writers (:func:`multiorder_fits_bytes`, :func:`flat_fits_bytes`) produce files in the
layouts real pipelines publish, so the reader can be tested on every layout.
"""

from __future__ import annotations

import gzip as _gzip
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import SkymapError
from .skymap import Skymap, distance_parameters, nest2uniq, pixel_area, uniq2nest

__all__ = [
    "FlatMap",
    "fisher_credible_area",
    "fisher_credible_level",
    "fisher_density",
    "flat_fits_bytes",
    "gaussian_flat",
    "gaussian_skymap",
    "multiorder_fits_bytes",
]


# ---------------------------------------------------------------- closed forms


def _check_sigma(sigma: float) -> float:
    if not (np.isfinite(sigma) and 0 < sigma <= 90):
        raise SkymapError(f"sigma must be in (0, 90] degrees; got {sigma!r}")
    return 1.0 / math.radians(sigma) ** 2


def _one_minus_cos(ra0: float, dec0: float, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """``1 - cos(angular distance)`` by the haversine form (accurate for tiny angles)."""
    ra0, dec0 = math.radians(ra0), math.radians(dec0)
    ra, dec = np.radians(ra), np.radians(dec)
    hav = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec0) * np.cos(dec) * np.sin((ra - ra0) / 2) ** 2
    return 2.0 * hav


def fisher_density(ra0: float, dec0: float, sigma: float, ra: Any, dec: Any) -> np.ndarray:
    """Exact Fisher density (per sr) at (``ra``, ``dec``) degrees, centre (``ra0``, ``dec0``),
    width ``sigma`` degrees."""
    kappa = _check_sigma(sigma)
    omc = _one_minus_cos(ra0, dec0, np.asarray(ra, float), np.asarray(dec, float))
    return kappa / (2 * np.pi * -np.expm1(-2 * kappa)) * np.exp(-kappa * omc)


def fisher_credible_level(sigma: float, separation: Any) -> np.ndarray:
    """Exact credible level at angular ``separation`` (degrees) from the centre."""
    kappa = _check_sigma(sigma)
    omc = 1.0 - np.cos(np.radians(np.asarray(separation, float)))
    return -np.expm1(-kappa * omc) / -np.expm1(-2 * kappa)


def fisher_credible_area(sigma: float, level: Any) -> np.ndarray:
    """Exact area (deg²) of the ``level`` credible region (a disc) of the Fisher map."""
    kappa = _check_sigma(sigma)
    level = np.asarray(level, float)
    omc = -np.log1p(-level * -np.expm1(-2 * kappa)) / kappa
    return 2 * np.pi * omc * (180 / np.pi) ** 2


# ---------------------------------------------------------------- multi-order map


def gaussian_skymap(
    ra: float,
    dec: float,
    sigma: float,
    *,
    distmean: float | None = None,
    diststd: float | None = None,
    max_order: int = 9,
    min_order: int = 3,
    pixels_per_sigma: float = 5.0,
    prob_floor: float = 1e-8,
    name: str | None = None,
    dateobs: str | None = None,
) -> Skymap:
    """A normalised multi-order Fisher ("Gaussian") localization.

    Centre ``ra``, ``dec`` and width ``sigma`` in degrees. A pixel is split (down to
    ``max_order``) while it could hold more than ``prob_floor`` probability and is coarser
    than ``sigma / pixels_per_sigma``: fine pixels near the peak, coarse ones far away.
    With ``distmean`` and ``diststd`` (Mpc) every pixel gets the same distance layers, whose
    posterior mean/std are exactly those values.
    """
    import healpy as hp

    kappa = _check_sigma(sigma)
    if not (0 <= min_order <= max_order <= 20):
        raise SkymapError(f"need 0 <= min_order <= max_order <= 20; got {min_order}, {max_order}")
    if not (-90 <= dec <= 90) or not np.isfinite(ra):
        raise SkymapError(f"centre must be finite with dec in [-90, 90] degrees; got {ra}, {dec}")
    peak = kappa / (2 * np.pi * -np.expm1(-2 * kappa))
    target_size = math.radians(sigma) / pixels_per_sigma
    ipix = np.arange(12 * 4**min_order, dtype=np.int64)
    done_uniq: list[np.ndarray] = []
    for order in range(min_order, max_order + 1):
        nside = 1 << order
        pra, pdec = hp.pix2ang(nside, ipix, nest=True, lonlat=True)
        t = 2 * np.arcsin(np.sqrt(np.clip(_one_minus_cos(ra, dec, pra, pdec) / 2, 0, 1)))
        nearest = np.maximum(t - hp.max_pixrad(nside), 0.0)  # no point of the pixel is closer
        could_hold = peak * np.exp(-kappa * 2 * np.sin(nearest / 2) ** 2) * pixel_area(order)
        coarse = math.sqrt(float(pixel_area(order))) > target_size
        split = (
            (could_hold > prob_floor) & coarse if order < max_order else np.zeros_like(ipix, bool)
        )
        done_uniq.append(nest2uniq(order, ipix[~split]))
        ipix = (ipix[split][:, None] * 4 + np.arange(4)).ravel()
        if ipix.size == 0:
            break
    uniq = np.sort(np.concatenate(done_uniq))
    order_arr, nest = uniq2nest(uniq)
    cra, cdec = hp.pix2ang(np.int64(1) << order_arr, nest, nest=True, lonlat=True)
    dens = fisher_density(ra, dec, sigma, cra, cdec)
    dens /= np.sum(dens * pixel_area(order_arr))
    meta = {
        "name": name or f"gaussian_{ra:g}_{dec:g}_{sigma:g}",
        "dateobs": dateobs,
        "source": "synthetic",
        "center": (ra, dec),
        "sigma_deg": sigma,
    }
    return Skymap(uniq, dens, *_distance_layers(uniq.size, distmean, diststd, meta), meta=meta)


def _distance_layers(
    n: int, distmean: float | None, diststd: float | None, meta: dict[str, Any]
) -> tuple[np.ndarray, ...]:
    if distmean is None and diststd is None:
        return ()
    if distmean is None or diststd is None:
        raise SkymapError("give both distmean and diststd (Mpc), or neither")
    mu, sig, norm = distance_parameters(distmean, diststd)
    meta.update(DISTMEAN=distmean, DISTSTD=diststd)
    return np.full(n, mu), np.full(n, sig), np.full(n, norm)


# ---------------------------------------------------------------- flat map


@dataclass
class FlatMap:
    """A flat full-sky HEALPix map: ``prob`` per pixel (sums to 1) in NESTED or RING order,
    optional distance layers (Mpc, Mpc⁻²), ``nside`` and ``nest``."""

    prob: np.ndarray
    nside: int
    nest: bool
    distmu: np.ndarray | None = None
    distsigma: np.ndarray | None = None
    distnorm: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_skymap(self) -> Skymap:
        """The same map as a (losslessly merged) multi-order :class:`Skymap`."""
        dist = () if self.distmu is None else (self.distmu, self.distsigma, self.distnorm)
        kwargs = dict(zip(("distmu", "distsigma", "distnorm"), dist, strict=False))
        return Skymap.from_flat(self.prob, nest=self.nest, meta=dict(self.meta), **kwargs)


def gaussian_flat(
    ra: float,
    dec: float,
    sigma: float,
    *,
    nside: int = 256,
    nest: bool = True,
    distmean: float | None = None,
    diststd: float | None = None,
    name: str | None = None,
) -> FlatMap:
    """A normalised flat Fisher map (probability per pixel) at ``nside``, NESTED or RING.

    Arguments as :func:`gaussian_skymap` (degrees, Mpc).
    """
    import healpy as hp

    _check_sigma(sigma)
    if nside < 1 or nside & (nside - 1) or nside > 8192:
        raise SkymapError(f"nside must be a power of two up to 8192; got {nside}")
    npix = 12 * nside * nside
    pra, pdec = hp.pix2ang(nside, np.arange(npix), nest=nest, lonlat=True)
    prob = fisher_density(ra, dec, sigma, pra, pdec)
    prob /= prob.sum()
    meta = {
        "name": name or f"gaussian_{ra:g}_{dec:g}_{sigma:g}",
        "source": "synthetic",
        "center": (ra, dec),
        "sigma_deg": sigma,
    }
    layers = _distance_layers(npix, distmean, diststd, meta)
    return (
        FlatMap(prob, nside, nest, *layers, meta=meta)
        if layers
        else FlatMap(prob, nside, nest, meta=meta)
    )


# ---------------------------------------------------------------- FITS writers


def _hdul_bytes(columns: list[Any], header: dict[str, Any], gzip: bool) -> bytes:
    from astropy.io import fits

    table = fits.BinTableHDU.from_columns(columns)
    for key, value in header.items():
        table.header[key] = value
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    raw = buf.getvalue()
    return _gzip.compress(raw, mtime=0) if gzip else raw


def _distance_columns(distmu: np.ndarray, distsigma: np.ndarray, distnorm: np.ndarray) -> list[Any]:
    """The three distance-layer FITS columns (Mpc, Mpc, Mpc^-2)."""
    from astropy.io import fits

    return [
        fits.Column("DISTMU", "D", unit="Mpc", array=distmu),
        fits.Column("DISTSIGMA", "D", unit="Mpc", array=distsigma),
        fits.Column("DISTNORM", "D", unit="Mpc-2", array=distnorm),
    ]


def _distance_header(meta: dict[str, Any]) -> dict[str, Any]:
    """DISTMEAN/DISTSTD header cards from a map's meta, where present."""
    return {key: meta[key] for key in ("DISTMEAN", "DISTSTD") if key in meta}


def multiorder_fits_bytes(skymap: Skymap, *, gzip: bool = False) -> bytes:
    """The map as a multi-order FITS file (UNIQ, PROBDENSITY [sr-1], distance columns)."""
    from astropy.io import fits

    cols = [
        fits.Column("UNIQ", "K", array=skymap.uniq),
        fits.Column("PROBDENSITY", "D", unit="sr-1", array=skymap.probdensity),
    ]
    if skymap.has_distance:
        cols += _distance_columns(skymap.distmu, skymap.distsigma, skymap.distnorm)
    header = {
        "PIXTYPE": "HEALPIX",
        "ORDERING": "NUNIQ",
        "COORDSYS": "C",
        "MOC": True,
        "INDXSCHM": "EXPLICIT",
        "OBJECT": str(skymap.meta.get("name", "")),
    }
    header.update(_distance_header(skymap.meta))
    return _hdul_bytes(cols, header, gzip)


def flat_fits_bytes(
    flat: FlatMap, *, gzip: bool = False, column: str = "PROB", vector_width: int | None = None
) -> bytes:
    """The flat map as a HEALPix FITS file. ``column`` names the probability column
    (``PROB`` like LIGO, ``PROBABILITY`` like GRB maps); ``vector_width`` stores it as a
    vector column of that many pixels per row (the old healpy layout, e.g. ``1024E``)."""
    from astropy.io import fits

    if vector_width:
        width = int(vector_width)
        if flat.prob.size % width:
            raise SkymapError(f"vector_width {width} does not divide {flat.prob.size} pixels")
        cols = [
            fits.Column(column, f"{width}E", array=flat.prob.astype(np.float32).reshape(-1, width))
        ]
    else:
        cols = [fits.Column(column, "D", unit="pix-1", array=flat.prob)]
        if flat.distmu is not None:
            cols += _distance_columns(flat.distmu, flat.distsigma, flat.distnorm)
    header = {
        "PIXTYPE": "HEALPIX",
        "ORDERING": "NESTED" if flat.nest else "RING",
        "COORDSYS": "C",
        "NSIDE": flat.nside,
        "INDXSCHM": "IMPLICIT",
        "OBJECT": str(flat.meta.get("name", "")),
    }
    header.update(_distance_header(flat.meta))
    return _hdul_bytes(cols, header, gzip)
