"""3D crossmatch for :mod:`workbench.crossmatch`: the 3D density at a distance
(:func:`density_vol`, per Mpc³) and the 3D credible level of a density
(:class:`VolumeLevels`), exact per-pixel sums and their interpolation. The definitions,
default budgets and error bounds are in the :mod:`workbench.crossmatch` docstring.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import SkymapError
from .skymap import Skymap

__all__ = ["VolumeLevels", "density_vol"]

SQRT2PI = np.sqrt(2.0 * np.pi)


def require_distance(skymap: Skymap) -> None:
    """Refuse (SkymapError) a map without distance layers for a 3D computation."""
    if not skymap.has_distance:
        name = skymap.meta.get("name") or "this skymap"
        raise SkymapError(f"{name} has no distance layers: 3D crossmatch needs DISTMU etc.")


def density_vol(
    skymap: Skymap, pix: np.ndarray, distance: np.ndarray, distance_unc: np.ndarray | None = None
) -> np.ndarray:
    """3D probability density (per Mpc³) at ``distance`` (Mpc) in map pixels ``pix``.

    With ``distance_unc`` (Mpc), the density averaged over a Gaussian of that width.
    Negative distances are refused; NaN distances and ``pix == -1`` give NaN / 0.
    """
    require_distance(skymap)
    if np.any(distance < 0):
        raise SkymapError("distances must be >= 0 Mpc; got a negative value")
    inside = pix >= 0
    safe = np.where(inside, pix, 0)
    mu, sigma = skymap.distmu[safe], skymap.distsigma[safe]
    if distance_unc is not None:
        if np.any(distance_unc < 0):
            raise SkymapError("distance uncertainties must be >= 0 Mpc")
        sigma = np.sqrt(sigma**2 + np.nan_to_num(distance_unc, nan=0.0) ** 2)
    with np.errstate(invalid="ignore", over="ignore"):
        z = (distance - mu) / sigma
        gauss = np.where(np.isfinite(mu), np.exp(-0.5 * z * z) / (sigma * SQRT2PI), 0.0)
    out = skymap.probdensity[safe] * skymap.distnorm[safe] * gauss
    out = np.where(inside, out, 0.0)
    out[np.isnan(distance)] = np.nan
    return out


class VolumeLevels:
    """The 3D credible level as a function of a 3D density threshold, for one map.

    ``VolumeLevels(skymap)(densities)`` gives, for each density (per Mpc³), the probability
    of the region where the map's 3D density is higher: a closed form per pixel, summed
    exactly over pixels (``_mass``). A call with at most ``max_evals`` values (default: see
    the :mod:`workbench.crossmatch` docstring) sums each distinct one exactly; a larger call
    reads the map's own table (:meth:`table`): exact sums at ``max_evals`` log-density nodes
    chosen from the map alone (halving the intervals holding more than ``tol`` of
    probability, largest first), built once per instance and interpolated. Because the
    table does not depend on the densities asked for, a density gets the same answer in
    any batch (a Dask partition, a whole catalog): only the call's size picks exact sums
    or the table, and ``interpolate`` can force either. ``error_bound`` holds the largest
    bracket a value was interpolated in after the last call (0: every value is within
    ``tol``).
    """

    _CHUNK = 1 << 17  # elements per vectorised block: big enough for numpy, fits in cache

    _WORK = 25_000_000  # pixel terms per call by default: about half a second

    def __init__(self, skymap: Skymap, *, tol: float = 1e-6, max_evals: int | None = None) -> None:
        from scipy.special import ndtr

        require_distance(skymap)
        if not 0 < tol < 0.1:
            raise SkymapError(f"vol_tol must be in (0, 0.1); got {tol}")
        if max_evals is None:
            max_evals = int(np.clip(self._WORK // max(skymap.npix, 1), 256, 4096))
        if max_evals < 8:
            raise SkymapError(f"max_evals must be at least 8; got {max_evals}")
        self.tol, self.max_evals, self.error_bound = tol, int(max_evals), 0.0
        self._table: tuple[np.ndarray, np.ndarray, Any] | None = None
        ok = np.isfinite(skymap.distmu) & (skymap.prob > 0) & (skymap.distnorm > 0)
        prob = skymap.prob[ok]
        # Pixels holding together less than tol/1000 of the probability cannot move a level
        # by more than that: drop them (often a fifth of a real map's pixels).
        by_prob = np.argsort(prob)
        keep = np.ones(prob.size, dtype=bool)
        keep[by_prob[np.cumsum(prob[by_prob]) < tol * 1e-3]] = False
        w = prob[keep] * skymap.distnorm[ok][keep]
        mu, sigma = skymap.distmu[ok][keep], skymap.distsigma[ok][keep]
        x = mu / sigma
        # log of each pixel's highest density of N(r; mu, sigma) times dens*norm (at r = mu)
        self._peak = np.log(skymap.probdensity[ok][keep] * w / prob[keep] / (sigma * SQRT2PI))
        self._x = x
        self._pdf_scale = np.exp(-self._peak) / SQRT2PI  # phi(beta) = exp(t) * this
        # G = P Phi(b) + Q phi(b) + R b phi(b) + S: while the interval [mu - b sigma,
        # mu + b sigma] stays above r = 0 ("A") and once it is clipped at r = 0 ("B").
        m2 = w * (mu * mu + sigma * sigma)
        pdf_x = np.exp(-0.5 * x * x) / SQRT2PI
        self._a = (2 * m2, np.zeros_like(w), -2 * w * sigma**2, -m2)
        self._b = (
            m2,
            -2 * w * mu * sigma,
            -w * sigma**2,
            -m2 * ndtr(-x) + 2 * w * mu * sigma * pdf_x - w * sigma**2 * x * pdf_x,
        )
        self.total = float(np.sum(self._b[0] + self._b[3]))

    def _mass(self, log_rho: np.ndarray) -> np.ndarray:
        """Exact probability where the 3D density exceeds exp(``log_rho``), per threshold."""
        from scipy.special import ndtr

        out = np.empty(log_rho.size)
        step = max(1, self._CHUNK // max(self._x.size, 1))
        for start in range(0, log_rho.size, step):
            t = log_rho[start : start + step, None]
            beta = np.sqrt(np.maximum(2.0 * (self._peak - t), 0.0))
            pdf = np.exp(t) * self._pdf_scale
            cdf = ndtr(beta)
            case_a = beta < self._x
            mass = np.where(case_a, self._a[0], self._b[0])
            mass *= cdf
            term = np.where(case_a, self._a[2], self._b[2])
            term *= beta
            term += np.where(case_a, 0.0, self._b[1])
            term *= pdf
            mass += term
            mass += np.where(case_a, self._a[3], self._b[3])
            # no region at all while the interval lies below r = 0 (only when distmu < 0)
            mass *= beta > -self._x
            out[start : start + step] = mass.sum(axis=1)
        return out

    def __call__(self, density: Any, *, interpolate: bool | None = None) -> np.ndarray:
        """3D credible level of each density (per Mpc³); NaN stays NaN.

        ``interpolate``: None reads the map's table when more than ``max_evals`` values are
        given (NaN and 0 included: a batch of a catalog then decides as the whole catalog
        of as many rows would), else sums exactly; True/False force the table / exact sums.
        """
        rho = np.asarray(density, dtype=np.float64).reshape(-1)
        if interpolate is None:
            interpolate = rho.size > self.max_evals
        out = np.full(rho.size, np.nan)
        ok = np.isfinite(rho)
        self.error_bound = 0.0
        zero = ok & (rho <= 0)
        out[zero] = self.total  # density 0: every region of positive density is denser
        ok &= rho > 0
        if not ok.any():
            return out
        if interpolate:
            out[ok] = self._from_table(np.log(rho[ok]))
        else:
            uniq_t, inverse = np.unique(np.log(rho[ok]), return_inverse=True)
            out[ok] = self._mass(uniq_t)[inverse]
        return out

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """The map's table: ascending log-density nodes (log of per Mpc³) and the exact
        level at each, ``max_evals`` of them, built on first use and kept (pickled along, so
        build it before sending the instance to Dask workers)."""
        if self._table is None:
            self._table = self._build_table()
        return self._table[0], self._table[1]

    def _build_table(self) -> tuple[np.ndarray, np.ndarray, Any]:
        from scipy.interpolate import PchipInterpolator

        # Above every pixel's peak nothing is denser (level 0); 40 e-folds below the lowest
        # peak every pixel's interval covers its whole distance distribution (8.9 sigma).
        hi = float(self._peak.max())
        lo = float(self._peak.min()) - 40.0
        nodes = np.linspace(lo, hi, min(129, self.max_evals // 4))
        values = self._mass(nodes)
        budget = self.max_evals - nodes.size
        while budget > 0:
            drop = values[:-1] - values[1:]
            wide = np.flatnonzero(drop > self.tol)
            if wide.size == 0:
                break
            if wide.size > budget:
                wide = wide[np.argsort(drop[wide])[::-1][:budget]]
            new = 0.5 * (nodes[wide] + nodes[wide + 1])
            nodes = np.concatenate([nodes, new])
            values = np.concatenate([values, self._mass(new)])
            order = np.argsort(nodes)
            nodes, values = nodes[order], values[order]
            budget -= new.size
        return nodes, values, PchipInterpolator(nodes, values)

    def _from_table(self, t: np.ndarray) -> np.ndarray:
        """Levels of log-thresholds ``t`` from the table, element by element (no value
        depends on another): linear inside brackets holding at most ``tol`` of probability,
        a monotone cubic (PCHIP) clipped to its bracket elsewhere."""
        nodes, values = self.table()
        smooth_fn = self._table[2]
        levels = np.empty(t.size)
        above = t >= nodes[-1]
        below = t <= nodes[0]
        levels[above], levels[below] = 0.0, self.total
        mid = ~(above | below)
        if not mid.any():
            return levels
        tm = t[mid]
        k = np.clip(np.searchsorted(nodes, tm, side="right") - 1, 0, nodes.size - 2)
        hi_v, lo_v = values[k], values[k + 1]
        drop = hi_v - lo_v
        linear = hi_v + (lo_v - hi_v) * (tm - nodes[k]) / (nodes[k + 1] - nodes[k])
        smooth = np.clip(smooth_fn(tm), lo_v, hi_v)
        wide = drop > self.tol
        on_node = tm == nodes[k]  # summed exactly: no error there
        loose = wide & ~on_node
        self.error_bound = float(drop[loose].max()) if loose.any() else 0.0
        levels[mid] = np.where(on_node, hi_v, np.where(wide, smooth, linear))
        return levels
