"""The 2D/3D crossmatch itself, for :mod:`workbench.crossmatch` (which documents the
definitions): :func:`crossmatch` (positions), :func:`crossmatch_frame` (a DataFrame),
:func:`in_region` and :func:`check_cumprob`.

Imports point one way: this module uses :mod:`workbench.crossmatch_volume`;
:mod:`workbench.crossmatch_galaxies` uses this one; :mod:`workbench.crossmatch` gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from .crossmatch_volume import VolumeLevels, density_vol
from .errors import SkymapError
from .skymap import FULL_SKY_DEG2, Skymap

__all__ = ["CrossmatchResult", "check_cumprob", "crossmatch", "crossmatch_frame", "in_region"]


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
        # outside the map: everything it holds is denser (clipped: rounding is not > 1)
        level = np.where(inside, skymap.credible_level[safe], min(skymap.total_prob, 1.0))
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
