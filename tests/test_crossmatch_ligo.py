"""Agreement with the field's reference implementation, ligo.skymap's crossmatch.

ligo.skymap is GPL and not a dependency: it is only imported here, when installed. 2D
answers must agree to floating-point precision on multi-order maps without ties. In 3D
ligo.skymap evaluates the density on a 1,000-step radial grid: its ``probdensity_vol`` is a
grid cell's average and its ``searched_prob_vol`` a sum over grid cells, so it differs from
the exact values by about 1% (tolerances below), and most for galaxies near a cell edge.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from workbench.crossmatch import crossmatch
from workbench.skymap import Skymap, read_skymap
from workbench.skymap_synthetic import gaussian_skymap

ligo = pytest.importorskip("ligo.skymap.postprocess.crossmatch")


def _table(sky: Skymap, *, distance: bool = True) -> Table:
    cols = {"UNIQ": sky.uniq, "PROBDENSITY": sky.probdensity}
    if sky.has_distance and distance:
        cols.update(DISTMU=sky.distmu, DISTSIGMA=sky.distsigma, DISTNORM=sky.distnorm)
    return Table(cols)


def _positions(sky: Skymap, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ra0, dec0 = sky.max_position
    ra = np.r_[rng.uniform(0, 360, n), ra0 + rng.normal(0, 4, n)] % 360
    dec = np.r_[
        np.degrees(np.arcsin(rng.uniform(-1, 1, n))), np.clip(dec0 + rng.normal(0, 4, n), -90, 90)
    ]
    return ra, dec


def _tie_free(sky: Skymap) -> Skymap:
    # The Fisher map is symmetric, so some pixels share a density exactly; ligo.skymap then
    # depends on its sort order. A relative jitter of 1e-9 removes the ties.
    jitter = 1 + 1e-9 * np.random.default_rng(0).random(sky.npix)
    dist = (sky.distmu, sky.distsigma, sky.distnorm) if sky.has_distance else ()
    return Skymap(sky.uniq, sky.probdensity * jitter, *dist, meta=sky.meta)


@pytest.mark.parametrize("which", ["synthetic", "bayestar"])
def test_2d_agrees_to_floating_point_precision(which, request):
    if which == "synthetic":
        sky = _tie_free(gaussian_skymap(40.0, -30.0, 3.0, max_order=9))
    else:
        shared = request.getfixturevalue("shared_dir")
        sky = read_skymap(shared / "data/skymaps/bayestar.fits.gz")
    assert np.unique(sky.probdensity).size == sky.npix
    ra, dec = _positions(sky, 2000, 1)
    # (without distance columns: ligo.skymap would spend ~8 s on its 3D grid)
    ref = ligo.crossmatch(
        _table(sky, distance=False), SkyCoord(ra * u.deg, dec * u.deg), contours=(0.5, 0.9)
    )
    mine = crossmatch(sky, ra, dec)
    # ours clips rounding above 1 (a map summing to 1 + 1e-9 says 1, issue 9); ligo.skymap not
    assert mine.credible_level.max() <= 1.0
    ref_level = np.minimum(ref.searched_prob, 1.0)
    assert np.allclose(mine.credible_level, ref_level, rtol=1e-14, atol=1e-15)
    assert np.allclose(mine.searched_area, ref.searched_area, rtol=1e-13, atol=0)
    assert np.array_equal(mine.probdensity, ref.probdensity)
    assert np.allclose([sky.area(0.5), sky.area(0.9)], ref.contour_areas, rtol=1e-12)


def test_3d_agrees_within_the_reference_grid_error():
    sky = _tie_free(gaussian_skymap(40.0, -30.0, 3.0, distmean=200.0, diststd=50.0, max_order=7))
    ra, dec = _positions(sky, 1000, 2)
    r = np.random.default_rng(3).uniform(1, 400, ra.size)
    ref = ligo.crossmatch(_table(sky), SkyCoord(ra * u.deg, dec * u.deg, r * u.Mpc))
    mine = crossmatch(sky, ra, dec, r)
    ref_level = np.minimum(ref.searched_prob, 1.0)  # ours clips rounding above 1
    assert np.allclose(mine.credible_level, ref_level, rtol=1e-13, atol=1e-15)
    # grid-cell averages against exact densities: about 1%
    relevant = mine.credible_level_vol < 0.99  # (far away both densities underflow to 0)
    rel = np.abs(ref.probdensity_vol[relevant] / mine.probdensity_vol[relevant] - 1)
    assert np.median(rel) < 0.02
    # grid sums against exact integrals: a few 1e-3, at most a few percent
    diff = np.abs(ref.searched_prob_vol - mine.credible_level_vol)
    assert np.median(diff[relevant]) < 3e-3
    assert np.quantile(diff[relevant], 0.99) < 0.03
