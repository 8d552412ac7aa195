"""A small generator of multi-order (UNIQ) HEALPix localizations for the local server.

A Gaussian blob on the sphere (angular sigma in degrees) is refined top-down: a pixel is
split into its four NESTED children while it may hold more than ``tol`` of the
probability and is coarser than a third of sigma, so the map is fine near the peak and
coarse far away (genuinely multi-order). ``uniq = 4 * 4**order + ipix``; PROBDENSITY is
per steradian and ``sum(probdensity * pixel_area) == 1``. Optional distance layers follow
the usual ansatz ``p(r) ∝ r² N(r; DISTMU, DISTSIGMA)`` with
``DISTNORM = 1 / ∫₀^∞ r² N(r; DISTMU, DISTSIGMA) dr`` (per Mpc², Mpc units).

This is deliberately independent of ``workbench.skymap``/``workbench.crossmatch``: the
server stands in for SkyPortal, whose region filter (``localizationCumprob``) is its own
SQL over localization tiles, and the tests compare the workbench's offline crossmatch
against this server's answers. Sharing the code would make that comparison vacuous.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import healpy as hp
import numpy as np
from scipy.special import ndtr

START_ORDER = 3


@dataclass(frozen=True)
class MocMap:
    """A multi-order map: ``uniq`` (int64), ``probdensity`` (per sr), optional distances."""

    uniq: np.ndarray
    probdensity: np.ndarray
    distmu: np.ndarray | None = None
    distsigma: np.ndarray | None = None
    distnorm: np.ndarray | None = None

    @property
    def order(self) -> np.ndarray:
        """HEALPix order of each pixel."""
        return (np.log2(self.uniq // 4) // 2).astype(np.int64)

    @property
    def area(self) -> np.ndarray:
        """Pixel areas in steradians."""
        return 4 * np.pi / (12 * 4.0**self.order)

    @property
    def prob(self) -> np.ndarray:
        """Probability of each pixel (sums to 1)."""
        return self.probdensity * self.area


def gaussian(
    ra: float,
    dec: float,
    sigma_deg: float,
    *,
    max_order: int = 12,
    tol: float = 1e-5,
    dist: tuple[float, float] | None = None,
    seed: int = 0,
) -> MocMap:
    """A normalised Gaussian localization at (ra, dec) [deg] with angular ``sigma_deg``.

    ``dist = (mean, sd)`` in Mpc adds distance layers varying slightly across the sky.
    """
    center = hp.ang2vec(ra, dec, lonlat=True)
    sigma = np.radians(sigma_deg)
    order, ipix = START_ORDER, np.arange(12 * 4**START_ORDER)
    keep_order: list[np.ndarray] = []
    keep_pix: list[np.ndarray] = []
    while True:
        nside = 2**order
        vec = np.array(hp.pix2vec(nside, ipix, nest=True)).T
        theta = np.arccos(np.clip(vec @ center, -1.0, 1.0))
        radius = hp.max_pixrad(nside)
        nearest = np.maximum(theta - radius, 0.0)
        peak_prob = np.exp(-0.5 * (nearest / sigma) ** 2) / (2 * np.pi * sigma**2)
        peak_prob *= hp.nside2pixarea(nside)
        split = (peak_prob > tol) & (radius > sigma / 3) & (order < max_order)
        keep_order.append(np.full((~split).sum(), order))
        keep_pix.append(ipix[~split])
        if not split.any():
            break
        ipix = (4 * ipix[split][:, None] + np.arange(4)).ravel()
        order += 1
    orders = np.concatenate(keep_order)
    pix = np.concatenate(keep_pix)
    uniq = 4 * 4**orders + pix
    sort = np.argsort(uniq)
    uniq, orders, pix = uniq[sort], orders[sort], pix[sort]
    theta = _angle_to(center, orders, pix)
    dens = np.exp(-0.5 * (theta / sigma) ** 2)
    area = 4 * np.pi / (12 * 4.0**orders)
    dens /= (dens * area).sum()
    if dist is None:
        return MocMap(uniq=uniq, probdensity=dens)
    mean, sd = dist
    rng = np.random.default_rng(seed)
    tilt = rng.normal(0.0, 0.05)
    mu = mean * (1.0 + tilt * (theta / max(sigma, 1e-9)))
    sig = np.full_like(mu, sd)
    return MocMap(
        uniq=uniq, probdensity=dens, distmu=mu, distsigma=sig, distnorm=distance_norm(mu, sig)
    )


def _angle_to(center: np.ndarray, orders: np.ndarray, pix: np.ndarray) -> np.ndarray:
    out = np.empty(len(pix))
    for o in np.unique(orders):
        sel = orders == o
        vec = np.array(hp.pix2vec(2 ** int(o), pix[sel], nest=True)).T
        out[sel] = np.arccos(np.clip(vec @ center, -1.0, 1.0))
    return out


def distance_norm(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """1 / ∫₀^∞ r² N(r; mu, sigma) dr, in closed form (Mpc⁻²)."""
    x = mu / sigma
    phi = np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi)
    integral = (mu**2 + sigma**2) * ndtr(x) + mu * sigma * phi
    return 1.0 / integral


def credible_levels(m: MocMap) -> np.ndarray:
    """Credible level of each pixel: cumulative probability of all pixels at least as dense."""
    order = np.argsort(-m.probdensity, kind="stable")
    dens = m.probdensity[order]
    cum = np.cumsum(m.prob[order])
    # ties: every pixel of equal density gets the cumulative sum through its last peer
    last = np.searchsorted(-dens, -dens, side="right") - 1
    levels = np.empty_like(cum)
    levels[order] = cum[last]
    return levels


def lookup(m: MocMap, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Index of the map pixel holding each position (degrees); -1 outside the map."""
    max_order = int(m.order.max())
    ipix = hp.ang2pix(
        2**max_order, np.asarray(ra, float), np.asarray(dec, float), nest=True, lonlat=True
    )
    shift = 2 * (max_order - m.order)
    lo = (m.uniq - 4 * 4**m.order) << shift
    sort = np.argsort(lo)
    pos = np.searchsorted(lo[sort], ipix, side="right") - 1
    hit = sort[np.clip(pos, 0, None)]
    hi = lo[hit] + (1 << shift[hit])
    return np.where((pos >= 0) & (ipix < hi), hit, -1)


def area_within(m: MocMap, level: float) -> float:
    """Area in deg² of the ``level`` credible region."""
    inside = credible_levels(m) <= level
    return float(m.area[inside].sum() * (180 / np.pi) ** 2)


def to_fits(m: MocMap, *, name: str, dateobs: str) -> bytes:
    """The map as multi-order FITS bytes (UNIQ, PROBDENSITY[, DISTMU, DISTSIGMA, DISTNORM])."""
    from astropy.table import Table  # imported here: astropy costs a second at start-up

    table = Table({"UNIQ": m.uniq.astype(np.int64), "PROBDENSITY": m.probdensity})
    table["PROBDENSITY"].unit = "sr-1"
    if m.distmu is not None:
        table["DISTMU"] = m.distmu
        table["DISTSIGMA"] = m.distsigma
        table["DISTNORM"] = m.distnorm
        table["DISTMU"].unit = table["DISTSIGMA"].unit = "Mpc"
        table["DISTNORM"].unit = "Mpc-2"
    table.meta.update(
        {
            "PIXTYPE": "HEALPIX",
            "ORDERING": "NUNIQ",
            "COORDSYS": "C",
            "MOCORDER": int(m.order.max()),
            "INDXSCHM": "EXPLICIT",
            "OBJECT": name,
            "DATE-OBS": dateobs,
        }
    )
    buf = io.BytesIO()
    table.write(buf, format="fits")
    return buf.getvalue()
