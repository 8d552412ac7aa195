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
  19,200-pixel map, at least 256, at most 4,096); a call of more positions than that reads
  the map's own table of exact sums at ``max_evals`` thresholds (refined where the map's
  probability changes, chosen from the map alone) and interpolates: linearly inside
  brackets holding less than ``vol_tol`` (1e-6) of probability (error below that), by a
  monotone cubic elsewhere, whose error is at most its bracket (``vol_error_bound``) and
  measured at 1e-5 to 5e-5 on the real maps with a million galaxies (see
  benchmarks/bench_crossmatch.py). The table does not depend on the galaxies, so a batch
  (a Dask partition) read from it gives each galaxy the level the whole catalog does.

Distance uncertainties (``distance_unc``, Mpc, Gaussian): ``probdensity_vol`` is the
density averaged over the galaxy's distance distribution, which for the Gaussian ansatz is
again a Gaussian, with variance ``distsigma**2 + distance_unc**2`` (the part of the
galaxy's distribution below r = 0 is neglected). ``credible_level_vol`` is the level of
that averaged density, so ranking by density and selecting by level stay consistent.

The server's ``localizationCumprob`` filter keeps tiles whose cumulative probability
(summed in descending density, ties included) is at most ``cumprob``; that is exactly
``credible_level <= cumprob`` here: see :func:`in_region`.

This module gathers the crossmatch API; imports point one way, down:
:mod:`workbench.crossmatch_volume` (3D densities and levels: :func:`density_vol`,
:class:`VolumeLevels`) <- :mod:`workbench.crossmatch_core` (:func:`crossmatch`,
:func:`crossmatch_frame`, :func:`in_region`) <- :mod:`workbench.crossmatch_galaxies`
(galaxy ranking and hosts: :func:`rank_galaxies`, :func:`sources_in_region`,
:func:`distance_cdf`, :func:`host_galaxies`) <- this module.
"""

from __future__ import annotations

from .crossmatch_core import (
    CrossmatchResult,
    check_cumprob,
    crossmatch,
    crossmatch_frame,
    in_region,
)
from .crossmatch_galaxies import (
    distance_cdf,
    holding,
    host_galaxies,
    rank_galaxies,
    sources_in_region,
)
from .crossmatch_volume import VolumeLevels, density_vol

__all__ = [
    "CrossmatchResult",
    "VolumeLevels",
    "check_cumprob",
    "crossmatch",
    "crossmatch_frame",
    "density_vol",
    "distance_cdf",
    "holding",
    "host_galaxies",
    "in_region",
    "rank_galaxies",
    "sources_in_region",
]
