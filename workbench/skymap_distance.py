"""The HEALPix distance ansatz for :mod:`workbench.skymap`: along each line of sight the
distance posterior is ``distnorm * r**2 * N(r; distmu, distsigma)`` (Mpc), ``r > 0``.

:func:`distance_moments` turns per-pixel parameters into the conditional mean and std (Mpc)
and the normaliser (Mpc⁻²); :func:`distance_parameters` inverts that for one (mean, std).
"""

from __future__ import annotations

import numpy as np

from .errors import SkymapError

DIST_LAYERS = ("distmu", "distsigma", "distnorm")  # the layer names, in constructor order


def _radial_moments(x: np.ndarray, kmax: int = 4) -> list[np.ndarray]:
    """``J_k(x) = integral_0^inf u**k phi(u - x) du / phi(x)`` for k = 0..kmax.

    The common factor ``phi(x)`` (standard normal pdf) is divided out, via the scaled
    complementary error function, so the ratios stay accurate for negative ``x`` where
    ``Phi(x)`` underflows. The recursion is ``J_k = x J_{k-1} + (k-1) J_{k-2}``.
    """
    from scipy.special import erfcx

    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        j0 = np.sqrt(np.pi / 2) * erfcx(-x / np.sqrt(2))  # Phi(x) / phi(x)
        out = [j0, x * j0 + 1.0]
        for k in range(2, kmax + 1):
            out.append(x * out[k - 1] + (k - 1) * out[k - 2])
    return out


def distance_moments(
    distmu: np.ndarray, distsigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conditional mean and std (Mpc) and normaliser (Mpc⁻²) of ``r**2 N(r; mu, sigma)``, r>0.

    That is the distance posterior along one line of sight in the HEALPix distance ansatz.
    Pixels with ``distmu = +inf`` (no distance information) give NaN mean/std and norm 0.
    """
    mu = np.asarray(distmu, dtype=np.float64)
    sigma = np.asarray(distsigma, dtype=np.float64)
    finite = np.isfinite(mu)
    x = np.where(finite, mu / sigma, 0.0)
    j = _radial_moments(x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # Large positive x would overflow the scaled form; the unscaled ratio is exact there.
        mean = sigma * j[3] / j[2]
        var = sigma**2 * (j[4] / j[2] - (j[3] / j[2]) ** 2)
        pdf_x = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
        norm = 1.0 / (sigma**2 * j[2] * pdf_x)
    big = x > 30  # phi(x) underflows; the normal is far from r = 0 so the moments are plain
    with np.errstate(over="ignore", invalid="ignore"):
        mean = np.where(big, (mu**2 + 3 * sigma**2) * mu / (mu**2 + sigma**2), mean)
        var = np.where(big, _big_x_var(mu, sigma), var)
        norm = np.where(big, 1.0 / (mu**2 + sigma**2), norm)
    mean = np.where(finite, mean, np.nan)
    std = np.where(finite, np.sqrt(np.maximum(var, 0.0)), np.nan)
    norm = np.where(finite, norm, 0.0)
    return mean, std, norm


def _big_x_var(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    # Untruncated moments of r**2 N(r): E r^2, r^3, r^4 over E r^2.
    m2 = mu**2 + sigma**2
    m3 = mu**3 + 3 * mu * sigma**2
    m4 = mu**4 + 6 * mu**2 * sigma**2 + 3 * sigma**4
    return m4 / m2 - (m3 / m2) ** 2


def distance_parameters(mean: float, std: float) -> tuple[float, float, float]:
    """Ansatz ``(distmu, distsigma, distnorm)`` whose line-of-sight posterior has this
    ``mean`` and ``std`` (Mpc). The ratio std/mean must be below about 0.577 (the limit of
    ``r**2 N(r)`` as ``distmu`` goes to minus infinity).
    """
    from scipy.optimize import brentq

    if not (np.isfinite(mean) and np.isfinite(std) and mean > 0 and std > 0):
        raise SkymapError(f"distance mean and std must be positive Mpc values; got {mean}, {std}")

    def ratio(x: float) -> float:
        m, sd, _ = distance_moments(np.array([x]), np.array([1.0]))
        return float(sd[0] / m[0])

    lo, hi = -8.0, 1e4
    target = std / mean
    if not ratio(hi) < target < ratio(lo):
        raise SkymapError(
            f"diststd/distmean = {target:.3g} cannot be represented by the distance ansatz; "
            f"it must lie in ({ratio(hi):.2g}, {ratio(lo):.3g})"
        )
    x = brentq(lambda v: ratio(v) - target, lo, hi, xtol=1e-13, rtol=1e-14)
    unit_mean = float(distance_moments(np.array([x]), np.array([1.0]))[0][0])
    sigma = mean / unit_mean
    mu = x * sigma
    norm = float(distance_moments(np.array([mu]), np.array([sigma]))[2][0])
    return mu, sigma, norm
