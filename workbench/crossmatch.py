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

The 3D densities and levels (:func:`density_vol`, :class:`VolumeLevels`) live in
:mod:`workbench.crossmatch_volume`, galaxy ranking and hosts (:func:`rank_galaxies`,
:func:`sources_in_region`, :func:`distance_cdf`, :func:`host_galaxies`) in
:mod:`workbench.crossmatch_galaxies`; all are importable from here as before.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from .crossmatch_galaxies import distance_cdf, host_galaxies, rank_galaxies, sources_in_region
from .crossmatch_volume import VolumeLevels, density_vol
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
    threshold = None if cumprob is None else check_cumprob(cumprob)
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


def check_cumprob(cumprob: Any) -> float:
    """``cumprob`` (a credible level, 0..1) as a float; SkymapError outside [0, 1]."""
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
    threshold = check_cumprob(cumprob)
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
        keep = keep & (out["credible_level_vol"].to_numpy() <= check_cumprob(cumprob_vol))
    return out[keep]
