"""Galaxies and hosts for :mod:`workbench.crossmatch`: galaxies ranked by 3D probability
(:func:`rank_galaxies`, optionally weighted by stellar mass or luminosity), sources inside a
credible region (:func:`sources_in_region`), the line-of-sight distance cdf
(:func:`distance_cdf`) and candidate hosts of sources (:func:`host_galaxies`).

Imports point one way: this module uses :mod:`workbench.crossmatch_core`;
:mod:`workbench.crossmatch` re-exports both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .crossmatch_core import check_cumprob, crossmatch_frame
from .crossmatch_volume import SQRT2PI, require_distance
from .errors import SkymapError
from .skymap import Skymap

__all__ = ["distance_cdf", "holding", "host_galaxies", "rank_galaxies", "sources_in_region"]


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

    require_distance(skymap)
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
            pa, pb = np.exp(-0.5 * a * a) / SQRT2PI, np.exp(-0.5 * b * b) / SQRT2PI
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


# Weight names the ranking accepts, besides any numeric column of the galaxy table.
WEIGHT_ALIASES = {"B": "magb", "lum_b": "magb", "K": "magk", "lum_k": "magk"}


def _weights(galaxies: pd.DataFrame, weight: Any, distance: np.ndarray) -> np.ndarray:
    if weight is None:
        return np.ones(len(galaxies))
    if isinstance(weight, str):
        column = WEIGHT_ALIASES.get(weight, weight)
        if column not in galaxies.columns:
            raise SkymapError(
                f"weight {weight!r} is not a column of the galaxy table; use 'mstar' (stellar "
                "mass), 'B' or 'K' (luminosity from magb/magk and distance), or a column name"
            )
        values = galaxies[column].to_numpy(float)
        if column.lower().startswith("mag"):  # a magnitude: weight by luminosity
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

    ``weight``: ``None``; a column name (``"mstar"``: stellar mass; ``"B"``/``"K"`` or a
    magnitude column such as ``"magb"``/``"magk"`` gives relative luminosity
    ``10**(-0.4 M)``, ``M = m - 5 log10(d / 10 pc)`` from the galaxy's distance); or an
    array of weights. Galaxies with a NaN weight rank last, with probability 0.
    ``region``: ``"volume"`` keeps galaxies with ``credible_level_vol <= cumprob`` (the
    default when the map and the table have distances; galaxies without a distance are then
    left out), ``"area"`` those with ``credible_level <= cumprob``; ``cumprob=None`` keeps
    all. Without distances the rank
    uses the 2D density. Adds the crossmatch columns, ``dist_cdf`` (P(event nearer than
    the galaxy) on its line of sight), ``dist_consistency`` (two-sided ``2 min(cdf, 1 -
    cdf)``: 1 at the posterior median, near 0 when inconsistent), ``weight``,
    ``probability`` (density times weight, normalised to sum to 1 over the returned
    galaxies; ``score`` is the same number, its former name), ``rank`` (1 = best) and
    ``cum_probability`` (the probability of this galaxy and all ranked above it), so
    ``ranked[ranked.cum_probability <= 0.9]`` plus the next galaxy hold 90% of the weighted
    probability (see :func:`holding`).
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
        keep = level.to_numpy(float) <= check_cumprob(cumprob)
        out, density = out[keep], density[keep]
    score = density * out["weight"].to_numpy(float)
    score = np.where(np.isfinite(score), score, 0.0)  # unknown weight: no probability
    total = score.sum()
    out["probability"] = score / total if total > 0 else score
    out["score"] = out["probability"]
    out = out.sort_values("probability", ascending=False, kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    out["cum_probability"] = np.cumsum(out["probability"].to_numpy())
    return out


def holding(ranked: pd.DataFrame, fraction: float = 0.9) -> pd.DataFrame:
    """The fewest top-ranked galaxies of ``ranked`` (:func:`rank_galaxies`) whose weighted
    probabilities add up to at least ``fraction`` (0..1): "the galaxies holding 90%"."""
    value = check_cumprob(fraction)
    cum = ranked["cum_probability"].to_numpy(float)
    n = int(np.searchsorted(cum, value * (1 - 1e-12), side="left")) + 1
    return ranked.iloc[: min(n, len(ranked))]


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
