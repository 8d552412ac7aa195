"""Crossmatch positions (and distances) against a localization: 2D and 3D probability.

Definitions (DESIGN.md, "Skymaps and crossmatch"):

* ``probdensity`` (per sr): the map's density in the pixel holding the position.
* ``credible_level``: probability of all pixels of equal or higher density (the
  "searched probability"; ties counted). ``searched_area`` (deg²) likewise. On multi-order
  maps without ties these equal ligo.skymap's ``searched_prob``/``searched_area`` exactly.
* ``probdensity_vol`` (per Mpc³): ``probdensity * distnorm * N(r; distmu, distsigma)`` at the
  exact distance ``r`` (the volume element ``r**2 dr dΩ`` cancels the ``r**2`` of the
  line-of-sight posterior).
* ``credible_level_vol``: the probability in the region of space where the 3D density
  exceeds the galaxy's own. Within one pixel that region is one interval in ``r``, whose
  probability has a closed form (normal cdf and pdf terms), so the level is an exact sum
  over pixels (to ~1e-12) rather than ligo.skymap's radial grid (which is ~1% off and puts
  galaxies nearer than one grid step into its last cell). The sum costs one pass over the
  map's pixels per distinct density, so up to ``max_evals`` distinct densities are summed
  exactly (by default as many as 25 million pixel terms allow, about 0.5 s: 1,300 for a
  19,200-pixel map, at least 256, at most 4,096); beyond that the sum is taken at
  ``max_evals`` thresholds refined where the galaxies are, and interpolated: linearly
  inside brackets holding less than ``vol_tol`` (1e-6) of probability (error below that),
  by a monotone cubic elsewhere, whose error is at most its bracket (``vol_error_bound``)
  and measured at 1e-5 to 5e-5 on the real maps with a million galaxies (see
  benchmarks/bench_crossmatch.py). Each call is independent, so batches (Dask partitions)
  give the same answers within those bounds.

Distance uncertainties (``distance_unc``, Mpc, Gaussian): ``probdensity_vol`` is the
density averaged over the galaxy's distance distribution, which for the Gaussian ansatz is
again a Gaussian, with variance ``distsigma**2 + distance_unc**2`` (the part of the
galaxy's distribution below r = 0 is neglected). ``credible_level_vol`` is the level of
that averaged density, so ranking by density and selecting by level stay consistent.

The server's ``localizationCumprob`` filter keeps tiles whose cumulative probability
(summed in descending density, ties included) is at most ``cumprob``; that is exactly
``credible_level <= cumprob`` here: see :func:`in_region`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from .errors import SkymapError
from .skymap import FULL_SKY_DEG2, Skymap

__all__ = [
    "CrossmatchResult",
    "VolumeLevels",
    "crossmatch",
    "crossmatch_frame",
    "density_vol",
    "distance_cdf",
    "host_galaxies",
    "in_region",
    "rank_galaxies",
    "sources_in_region",
]

_SQRT2PI = np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class CrossmatchResult:
    """Per-position crossmatch answers, arrays aligned with the input positions.

    ``probdensity`` per sr, ``credible_level``, ``searched_area`` deg²; with distances
    ``probdensity_vol`` per Mpc³ and ``credible_level_vol`` (else ``None``); ``pixel`` is
    the index into the skymap's arrays (-1: not covered or NaN position); ``in_region``
    (``credible_level <= cumprob``) when a ``cumprob`` was given; ``vol_error_bound`` the
    largest possible error of an interpolated ``credible_level_vol`` (0: all within
    ``vol_tol``; see the module docstring).
    """

    probdensity: np.ndarray
    credible_level: np.ndarray
    searched_area: np.ndarray
    pixel: np.ndarray
    probdensity_vol: np.ndarray | None = None
    credible_level_vol: np.ndarray | None = None
    in_region: np.ndarray | None = None
    vol_error_bound: float = 0.0

    def __len__(self) -> int:
        return int(self.probdensity.size)

    def to_frame(self) -> pd.DataFrame:
        """The answers as a DataFrame with the fixed column names (``pixel`` omitted)."""
        skip = ("pixel", "vol_error_bound")
        cols = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        return pd.DataFrame({k: v for k, v in cols.items() if v is not None})


def _as_float(name: str, values: Any, n: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise SkymapError(f"{name} must be numeric; {exc}") from exc
    if n is not None and arr.size not in (n, 1):
        raise SkymapError(f"{name} has {arr.size} values but there are {n} positions")
    return np.broadcast_to(arr, (n,)).copy() if n is not None and arr.size == 1 and n != 1 else arr


def crossmatch(
    skymap: Skymap,
    ra: Any,
    dec: Any,
    distance: Any = None,
    *,
    distance_unc: Any = None,
    cumprob: float | None = None,
    vol_tol: float = 1e-6,
    max_evals: int | None = None,
) -> CrossmatchResult:
    """Crossmatch positions (``ra``, ``dec`` degrees; optional ``distance`` and
    ``distance_unc`` in Mpc) with ``skymap``. See the module docstring for definitions.

    NaN positions give NaN answers; positions outside a partial map get density 0,
    level = the map's total probability and the full-sky searched area. NaN distances give
    NaN 3D answers. 3D answers need a map with distance layers.
    """
    threshold = None if cumprob is None else _cumprob(cumprob)
    ra_arr = _as_float("ra", ra)
    dec_arr = _as_float("dec", dec, ra_arr.size)
    pix = skymap.lookup(ra_arr, dec_arr)
    inside = pix >= 0
    if inside.all():  # the common case: plain gathers
        dens = skymap.probdensity[pix]
        level = skymap.credible_level[pix]
        area = skymap.searched_area[pix]
    else:
        safe = np.where(inside, pix, 0)
        dens = np.where(inside, skymap.probdensity[safe], 0.0)
        level = np.where(inside, skymap.credible_level[safe], skymap.total_prob)
        area = np.where(inside, skymap.searched_area[safe], FULL_SKY_DEG2)
        nan_pos = ~(np.isfinite(ra_arr) & np.isfinite(dec_arr))
        for arr in (dens, level, area):
            arr[nan_pos] = np.nan
    vol = vol_level = None
    bound = 0.0
    if distance is not None:
        dist = _as_float("distance", distance, ra_arr.size)
        unc = None if distance_unc is None else _as_float("distance_unc", distance_unc, ra_arr.size)
        vol = density_vol(skymap, pix, dist, unc)
        vol[~(np.isfinite(ra_arr) & np.isfinite(dec_arr))] = np.nan
        levels = VolumeLevels(skymap, tol=vol_tol, max_evals=max_evals)
        vol_level = levels(vol)
        bound = levels.error_bound
    region = None if threshold is None else inside & (level <= threshold)
    return CrossmatchResult(dens, level, area, pix, vol, vol_level, region, bound)


def _cumprob(cumprob: Any) -> float:
    value = float(cumprob)
    if not 0 <= value <= 1:
        raise SkymapError(f"cumprob must be within [0, 1]; got {cumprob!r}")
    return value


def in_region(skymap: Skymap, ra: Any, dec: Any, cumprob: float = 0.9) -> np.ndarray:
    """True for positions (degrees) inside the ``cumprob`` credible region.

    The same selection SkyPortal's server makes with ``localizationCumprob``: sort tiles by
    density (descending), cumulate probability with ties included (SQL's default window
    frame), take the lowest density among tiles whose cumulative probability is at most
    ``cumprob``, keep positions in tiles of at least that density. Because the cumulative
    probability with ties is a non-increasing function of density, that is exactly
    ``credible_level <= cumprob``; positions not covered by any tile are never inside.
    """
    threshold = _cumprob(cumprob)
    pix = skymap.lookup(_as_float("ra", ra), _as_float("dec", dec))
    inside = pix >= 0
    return inside & (skymap.credible_level[np.where(inside, pix, 0)] <= threshold)


def crossmatch_frame(
    skymap: Skymap,
    df: pd.DataFrame,
    *,
    ra: str = "ra",
    dec: str = "dec",
    distance: str | None = "distance",
    distance_unc: str | None = None,
    cumprob: float | None = None,
    cumprob_vol: float | None = None,
) -> pd.DataFrame:
    """``df`` with the crossmatch columns added (``probdensity``, ``credible_level``,
    ``searched_area``, and ``probdensity_vol``, ``credible_level_vol`` when the ``distance``
    column exists and the map has distance layers). ``cumprob`` keeps only rows with
    ``credible_level <= cumprob``; ``cumprob_vol`` only rows with
    ``credible_level_vol <= cumprob_vol``. The input index and columns are kept.
    """
    for col in (ra, dec):
        if col not in df.columns:
            raise SkymapError(f"the frame has no {col!r} column (columns: {list(df.columns)})")
    use_dist = distance is not None and distance in df.columns and skymap.has_distance
    if cumprob_vol is not None and not use_dist:
        raise SkymapError("cumprob_vol needs a distance column and a map with distance layers")
    unc = df[distance_unc].to_numpy(float) if use_dist and distance_unc in df.columns else None
    result = crossmatch(
        skymap,
        df[ra].to_numpy(float),
        df[dec].to_numpy(float),
        df[distance].to_numpy(float) if use_dist else None,
        distance_unc=unc,
        cumprob=cumprob,
    )
    out = df.copy()
    for name, values in result.to_frame().drop(columns="in_region", errors="ignore").items():
        out[name] = values.to_numpy()
    keep = np.ones(len(out), dtype=bool) if result.in_region is None else result.in_region
    if cumprob_vol is not None:
        keep = keep & (out["credible_level_vol"].to_numpy() <= _cumprob(cumprob_vol))
    return out[keep]


# ---------------------------------------------------------------- 3D


def _require_distance(skymap: Skymap) -> None:
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
    _require_distance(skymap)
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
        gauss = np.where(np.isfinite(mu), np.exp(-0.5 * z * z) / (sigma * _SQRT2PI), 0.0)
    out = skymap.probdensity[safe] * skymap.distnorm[safe] * gauss
    out = np.where(inside, out, 0.0)
    out[np.isnan(distance)] = np.nan
    return out


class VolumeLevels:
    """The 3D credible level as a function of a 3D density threshold, for one map.

    ``VolumeLevels(skymap)(densities)`` gives, for each density (per Mpc³), the probability
    of the region where the map's 3D density is higher: a closed form per pixel, summed
    exactly over pixels (``_mass``). Up to ``max_evals`` distinct densities (default: see
    the module docstring) are summed exactly; for more, the sums are taken on a grid refined (by halving intervals that hold
    galaxies and more than ``tol`` of probability, widest first) until ``max_evals`` sums
    are spent, then interpolated (see the module docstring). ``error_bound`` holds the
    largest bracket a value was interpolated in after the last call (0: every value is
    within ``tol``).
    """

    _CHUNK = 1 << 17  # elements per vectorised block: big enough for numpy, fits in cache

    _WORK = 25_000_000  # pixel terms per call by default: about half a second

    def __init__(self, skymap: Skymap, *, tol: float = 1e-6, max_evals: int | None = None) -> None:
        from scipy.special import ndtr

        _require_distance(skymap)
        if not 0 < tol < 0.1:
            raise SkymapError(f"vol_tol must be in (0, 0.1); got {tol}")
        if max_evals is None:
            max_evals = int(np.clip(self._WORK // max(skymap.npix, 1), 256, 4096))
        if max_evals < 8:
            raise SkymapError(f"max_evals must be at least 8; got {max_evals}")
        self.tol, self.max_evals, self.error_bound = tol, int(max_evals), 0.0
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
        self._peak = np.log(skymap.probdensity[ok][keep] * w / prob[keep] / (sigma * _SQRT2PI))
        self._x = x
        self._pdf_scale = np.exp(-self._peak) / _SQRT2PI  # phi(beta) = exp(t) * this
        # G = P Phi(b) + Q phi(b) + R b phi(b) + S: while the interval [mu - b sigma,
        # mu + b sigma] stays above r = 0 ("A") and once it is clipped at r = 0 ("B").
        m2 = w * (mu * mu + sigma * sigma)
        pdf_x = np.exp(-0.5 * x * x) / _SQRT2PI
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

    def __call__(self, density: Any) -> np.ndarray:
        """3D credible level of each density (per Mpc³); NaN stays NaN."""
        rho = np.asarray(density, dtype=np.float64).reshape(-1)
        out = np.full(rho.size, np.nan)
        ok = np.isfinite(rho)
        self.error_bound = 0.0
        zero = ok & (rho <= 0)
        out[zero] = self.total  # density 0: every region of positive density is denser
        ok &= rho > 0
        if ok.any():
            uniq_t, inverse = np.unique(np.log(rho[ok]), return_inverse=True)
            out[ok] = self._levels_sorted(uniq_t)[inverse]
        return out

    def _levels_sorted(self, t: np.ndarray) -> np.ndarray:
        """Levels for ascending unique log-thresholds ``t`` (see the class docstring)."""
        if t.size <= self.max_evals:
            return self._mass(t)
        levels = np.empty(t.size)
        # Above every pixel's peak nothing is denser; 40 e-folds below the lowest peak every
        # pixel's interval covers its whole distance distribution (beyond 8.9 sigma).
        above = t >= self._peak.max()
        below = t <= self._peak.min() - 40.0
        levels[above], levels[below] = 0.0, self.total
        mid = ~(above | below)
        if mid.any():
            levels[mid] = self._interpolated(t[mid])
        return levels

    def _interpolated(self, t: np.ndarray) -> np.ndarray:
        """Exact sums on a grid refined (within ``max_evals``) until every grid interval
        holding a query carries at most ``tol`` of probability; interpolation between."""
        from scipy.interpolate import PchipInterpolator

        nodes = np.linspace(t[0], t[-1], min(129, self.max_evals // 4))
        values = self._mass(nodes)
        budget = self.max_evals - nodes.size
        while budget > 0:
            counts = np.diff(np.searchsorted(t, nodes))  # queries per interval (right-closed)
            drop = values[:-1] - values[1:]
            wide = np.flatnonzero((counts > 0) & (drop > self.tol))
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
        k = np.clip(np.searchsorted(nodes, t, side="right") - 1, 0, nodes.size - 2)
        drop = values[k] - values[k + 1]
        linear = values[k] + (values[k + 1] - values[k]) * (t - nodes[k]) / (
            nodes[k + 1] - nodes[k]
        )
        smooth = np.clip(PchipInterpolator(nodes, values)(t), values[k + 1], values[k])
        wide = drop > self.tol
        on_node = (t == nodes[k]) | (t == nodes[k + 1])  # summed exactly: no error there
        loose = wide & ~on_node
        self.error_bound = float(drop[loose].max()) if loose.any() else 0.0
        return np.where(wide, smooth, linear)


# ---------------------------------------------------------------- galaxies and hosts


def distance_cdf(
    skymap: Skymap, pix: np.ndarray, distance: np.ndarray, distance_unc: np.ndarray | None = None
) -> np.ndarray:
    """P(r < ``distance``) under the line-of-sight distance posterior of pixels ``pix``.

    ``distnorm * integral_0^d r**2 N(r; distmu, distsigma) dr`` in closed form. With
    ``distance_unc`` (Mpc) it is averaged over the galaxy's Gaussian distance distribution
    (20-point Gauss-Hermite, truncated at 0): the probability that the event is nearer
    than the galaxy. NaN where the pixel has no distance information.
    """
    from scipy.special import ndtr

    _require_distance(skymap)
    safe = np.where(pix >= 0, pix, 0)
    mu, sigma, norm = skymap.distmu[safe], skymap.distsigma[safe], skymap.distnorm[safe]
    unc = np.zeros_like(distance) if distance_unc is None else np.nan_to_num(distance_unc)
    nodes, weights = np.polynomial.hermite_e.hermegauss(20 if np.any(unc > 0) else 1)
    weights = weights / weights.sum()
    out = np.zeros_like(distance, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        for node, wt in zip(nodes, weights, strict=True):
            d = np.maximum(distance + node * unc, 0.0)
            a, b = -mu / sigma, (d - mu) / sigma
            pa, pb = np.exp(-0.5 * a * a) / _SQRT2PI, np.exp(-0.5 * b * b) / _SQRT2PI
            part = (mu * mu + sigma * sigma) * (ndtr(b) - ndtr(a))
            part -= 2 * mu * sigma * (pb - pa) + sigma * sigma * (b * pb - a * pa)
            out += wt * np.clip(norm * part, 0.0, 1.0)
    bad = ~np.isfinite(mu) | (pix < 0) | np.isnan(distance)
    out[bad] = np.nan
    return out


def _luminosity_weight(mag: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Relative luminosity ``10**(-0.4 M)`` from apparent magnitude and distance (Mpc)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        absolute = mag - (5 * np.log10(distance) + 25)
    return 10 ** (-0.4 * absolute)


def _weights(galaxies: pd.DataFrame, weight: Any, distance: np.ndarray) -> np.ndarray:
    if weight is None:
        return np.ones(len(galaxies))
    if isinstance(weight, str):
        if weight not in galaxies.columns:
            raise SkymapError(f"weight column {weight!r} is not in the galaxy table")
        values = galaxies[weight].to_numpy(float)
        if weight.lower().startswith("mag"):  # a magnitude: weight by luminosity
            return _luminosity_weight(values, distance)
        return values
    values = np.asarray(weight, dtype=np.float64).reshape(-1)
    if values.size != len(galaxies):
        raise SkymapError(f"weight has {values.size} values for {len(galaxies)} galaxies")
    return values


def rank_galaxies(
    skymap: Skymap,
    galaxies_df: pd.DataFrame,
    *,
    cumprob: float | None = 0.9,
    weight: Any = None,
    region: str | None = None,
    ra: str = "ra",
    dec: str = "dec",
    distance: str = "distmpc",
    distance_unc: str = "distmpc_unc",
) -> pd.DataFrame:
    """Galaxies ranked by 3D probability density (per Mpc³) times an optional weight.

    ``weight``: ``None``; a column name (``"mstar"``: stellar mass; a magnitude column such
    as ``"magk"``/``"magb"`` gives relative luminosity ``10**(-0.4 M)`` with M from the
    galaxy's distance); or an array of weights. Galaxies with a NaN weight rank last.
    ``region``: ``"volume"`` keeps galaxies with ``credible_level_vol <= cumprob`` (the
    default when the map and the table have distances; galaxies without a distance are then
    left out), ``"area"`` those with ``credible_level <= cumprob``; ``cumprob=None`` keeps
    all. Without distances the rank
    uses the 2D density. Adds the crossmatch columns, ``dist_cdf`` (P(event nearer than
    the galaxy) on its line of sight), ``dist_consistency`` (two-sided ``2 min(cdf, 1 -
    cdf)``: 1 at the posterior median, near 0 when inconsistent), ``weight``, ``score``
    (normalised over the returned galaxies) and ``rank`` (1 = best).
    """
    has_dist = skymap.has_distance and distance in galaxies_df.columns
    region = region or ("volume" if has_dist else "area")
    if region not in ("volume", "area"):
        raise SkymapError(f"region must be 'volume' or 'area', not {region!r}")
    if region == "volume" and not has_dist:
        raise SkymapError(f"region='volume' needs distance layers and a {distance!r} column")
    out = crossmatch_frame(
        skymap,
        galaxies_df,
        ra=ra,
        dec=dec,
        distance=distance if has_dist else None,
        distance_unc=distance_unc if has_dist else None,
    )
    dist = out[distance].to_numpy(float) if has_dist else np.full(len(out), np.nan)
    if has_dist:
        pix = skymap.lookup(out[ra].to_numpy(float), out[dec].to_numpy(float))
        unc = out[distance_unc].to_numpy(float) if distance_unc in out.columns else None
        cdf = distance_cdf(skymap, pix, dist, unc)
        out["dist_cdf"] = cdf
        out["dist_consistency"] = 2 * np.minimum(cdf, 1 - cdf)
    out["weight"] = _weights(out, weight, dist)
    density = out["probdensity_vol" if has_dist else "probdensity"].to_numpy(float)
    if cumprob is not None:
        level = out["credible_level_vol" if region == "volume" else "credible_level"]
        keep = level.to_numpy(float) <= _cumprob(cumprob)
        out, density = out[keep], density[keep]
    score = density * out["weight"].to_numpy(float)
    total = np.nansum(score)
    out["score"] = score / total if total > 0 else score
    out = out.sort_values("score", ascending=False, na_position="last", kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def sources_in_region(
    skymap: Skymap,
    positions_df: pd.DataFrame,
    cumprob: float = 0.9,
    *,
    ra: str = "ra",
    dec: str = "dec",
) -> pd.DataFrame:
    """Rows of ``positions_df`` (sources, candidates) inside the ``cumprob`` credible
    region (the server's ``localizationCumprob`` selection), with the 2D crossmatch
    columns, most probable first (ascending ``credible_level``)."""
    out = crossmatch_frame(skymap, positions_df, ra=ra, dec=dec, distance=None, cumprob=cumprob)
    return out.sort_values("credible_level", kind="stable")


def _angular_diameter_distance(redshift: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Angular-diameter distance (Mpc, Planck18) from redshift, or else from luminosity
    distance (Mpc) inverted through a dense redshift grid. NaN when neither is known."""
    from astropy.cosmology import Planck18

    grid = np.concatenate([[0.0], np.geomspace(1e-6, 10.0, 4000)])
    dl_grid = Planck18.luminosity_distance(grid).to_value("Mpc")
    z = np.where(
        np.isfinite(redshift) & (redshift > 0),
        redshift,
        np.interp(distance, dl_grid, grid, right=np.nan),
    )
    dl = np.interp(z, grid, dl_grid)
    return dl / (1 + z) ** 2


def host_galaxies(
    sources_df: pd.DataFrame,
    galaxies_df: pd.DataFrame,
    *,
    max_sep_arcsec: float | None = 60.0,
    max_kpc: float | None = None,
    ra: str = "ra",
    dec: str = "dec",
    distance: str = "distmpc",
    redshift: str = "redshift",
) -> pd.DataFrame:
    """Candidate host galaxies of sources: every (source, galaxy) pair within
    ``max_sep_arcsec`` (arcsec) and, if given, within ``max_kpc`` projected (kpc).

    The projected offset uses the angular-diameter distance (Planck18) at the galaxy's
    ``redshift``, or at the redshift of its luminosity ``distance`` (Mpc) when the redshift
    is missing. Returns the source columns, the galaxy columns prefixed ``galaxy_``,
    ``sep_arcsec`` and ``offset_kpc``, ordered by source then separation.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    if max_sep_arcsec is None and max_kpc is None:
        raise SkymapError("give max_sep_arcsec and/or max_kpc to bound the host search")
    for frame, label in ((sources_df, "source"), (galaxies_df, "galaxy")):
        missing = [c for c in (ra, dec) if c not in frame.columns]
        if missing:
            raise SkymapError(f"the {label} table has no {', '.join(missing)} column")
    n_gal = len(galaxies_df)
    z = galaxies_df[redshift].to_numpy(float) if redshift in galaxies_df else np.full(n_gal, np.nan)
    dl = (
        galaxies_df[distance].to_numpy(float) if distance in galaxies_df else np.full(n_gal, np.nan)
    )
    d_a = _angular_diameter_distance(z, dl)
    radius = np.inf if max_sep_arcsec is None else float(max_sep_arcsec)
    if max_kpc is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            widest = np.nanmax(np.degrees(max_kpc / (1000 * d_a)) * 3600, initial=0.0)
        radius = min(radius, widest)
    try:
        src = SkyCoord(sources_df[ra].to_numpy(float), sources_df[dec].to_numpy(float), unit="deg")
        gal = SkyCoord(
            galaxies_df[ra].to_numpy(float), galaxies_df[dec].to_numpy(float), unit="deg"
        )
    except ValueError as exc:
        raise SkymapError(f"invalid coordinates: {exc}") from exc
    if len(src) == 0 or n_gal == 0 or radius <= 0:
        i_src = i_gal = np.array([], dtype=np.int64)
        sep = np.array([])
    else:
        i_gal, i_src, sep_angle, _ = src.search_around_sky(gal, min(radius, 648000.0) * u.arcsec)
        sep = sep_angle.to_value(u.arcsec)
    offset = np.radians(sep / 3600) * d_a[i_gal] * 1000
    keep = np.ones(sep.size, dtype=bool)
    if max_kpc is not None:
        keep &= offset <= max_kpc
    pairs = sources_df.iloc[i_src[keep]].reset_index(drop=True)
    hosts = galaxies_df.iloc[i_gal[keep]].reset_index(drop=True).add_prefix("galaxy_")
    out = pd.concat([pairs, hosts], axis=1)
    out["sep_arcsec"], out["offset_kpc"] = sep[keep], offset[keep]
    out["_source"] = i_src[keep]
    out = out.sort_values(["_source", "sep_arcsec"], kind="stable").drop(columns="_source")
    return out.reset_index(drop=True)
