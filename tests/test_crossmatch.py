"""crossmatch: 2D and 3D answers against closed forms and independent quadrature."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from workbench.crossmatch import (
    VolumeLevels,
    crossmatch,
    crossmatch_frame,
    density_vol,
    distance_cdf,
)
from workbench.errors import SkymapError
from workbench.skymap import FULL_SKY_DEG2, Skymap, distance_moments, nest2uniq, pixel_area
from workbench.skymap_synthetic import (
    fisher_credible_level,
    fisher_density,
    gaussian_flat,
    gaussian_skymap,
)

RA0, DEC0, SIGMA = 30.0, -20.0, 2.0
DISTMEAN, DISTSTD = 200.0, 50.0


@pytest.fixture(scope="module")
def fisher2d() -> Skymap:
    # 3.4-arcmin pixels (max radius 0.06 deg) against a 2-degree Gaussian
    return gaussian_skymap(RA0, DEC0, SIGMA, max_order=10, pixels_per_sigma=30)


@pytest.fixture(scope="module")
def fisher3d() -> Skymap:
    # 8,451 pixels down to 14 arcmin: enough for 3D closed forms at pixel centres
    return gaussian_skymap(
        RA0, DEC0, SIGMA, distmean=DISTMEAN, diststd=DISTSTD, max_order=8, pixels_per_sigma=10
    )


def _centres(sky: Skymap, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres of ``n`` random finest pixels near the peak."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(np.flatnonzero(sky.order == sky.max_order), n, replace=False)
    return hp.pix2ang(1 << sky.max_order, sky.ipix[idx], nest=True, lonlat=True)


def _offset(sep_deg: np.ndarray, bearing_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions at angular separation ``sep`` from (RA0, DEC0) along ``bearing``."""
    d, b = np.radians(sep_deg), np.radians(bearing_deg)
    dec0 = np.radians(DEC0)
    dec = np.arcsin(np.sin(dec0) * np.cos(d) + np.cos(dec0) * np.sin(d) * np.cos(b))
    ra = np.radians(RA0) + np.arctan2(
        np.sin(b) * np.sin(d) * np.cos(dec0), np.cos(d) - np.sin(dec0) * np.sin(dec)
    )
    return np.degrees(ra) % 360, np.degrees(dec)


@pytest.fixture(scope="module")
def ring_positions():
    rng = np.random.default_rng(3)
    sep = rng.uniform(0.05, 6.0, 3000)
    ra, dec = _offset(sep, rng.uniform(0, 360, sep.size))
    return sep, ra, dec


# ---------------------------------------------------------------- 2D


def test_2d_levels_and_areas_match_the_closed_form(fisher2d, ring_positions):
    sep, ra, dec = ring_positions
    res = crossmatch(fisher2d, ra, dec)
    # a position takes its pixel's level: off by at most the level's slope times the
    # largest pixel radius (0.06 deg)
    slope = (
        np.radians(sep) / np.radians(SIGMA) ** 2 * np.exp(-(sep**2) / (2 * SIGMA**2)) * np.pi / 180
    )
    tol = slope * hp.max_pixrad(1024, degrees=True) + 1e-4
    assert np.all(np.abs(res.credible_level - fisher_credible_level(SIGMA, sep)) < tol)
    disc = 2 * np.pi * (1 - np.cos(np.radians(sep))) * (180 / np.pi) ** 2
    # likewise the area: the disc's perimeter (deg) times the largest pixel radius
    rim = 360 * np.sin(np.radians(sep)) * hp.max_pixrad(1024, degrees=True) + 0.01
    assert np.all(np.abs(res.searched_area - disc) < rim)
    # at pixel centres the density is the closed form (up to the map's renormalisation)
    cra, cdec = _centres(fisher2d, 500, 1)
    exact = fisher_density(RA0, DEC0, SIGMA, cra, cdec)
    assert np.allclose(crossmatch(fisher2d, cra, cdec).probdensity, exact, rtol=1e-6)


def test_2d_answers_are_the_pixel_values(fisher2d, ring_positions):
    _, ra, dec = ring_positions
    res = crossmatch(fisher2d, ra, dec)
    pix = res.pixel
    assert np.array_equal(res.probdensity, fisher2d.probdensity[pix])
    # the pixel found really contains the position
    nested = hp.ang2pix(1 << fisher2d.order[pix], ra, dec, nest=True, lonlat=True)
    assert np.array_equal(nested, fisher2d.ipix[pix])
    assert np.array_equal(res.credible_level, fisher2d.credible_level[pix])


def test_flat_and_multiorder_forms_of_one_map_agree():
    flat = gaussian_flat(100.0, 40.0, 5.0, nside=64, nest=False)
    sky = flat.to_skymap()
    rng = np.random.default_rng(5)
    ra, dec = rng.uniform(0, 360, 5000), np.degrees(np.arcsin(rng.uniform(-1, 1, 5000)))
    res = crossmatch(sky, ra, dec)
    ring = hp.ang2pix(64, ra, dec, lonlat=True)
    dens = flat.prob / hp.nside2pixarea(64)
    level = np.array([flat.prob[dens >= dens[i]].sum() for i in ring])
    assert np.allclose(res.probdensity, dens[ring], rtol=1e-13)
    assert np.allclose(res.credible_level, level, rtol=0, atol=1e-12)


def test_nan_positions_bad_declinations_and_lengths(fisher3d):
    res = crossmatch(fisher3d, [RA0, np.nan, RA0], [DEC0, DEC0, np.nan], [200.0, 200.0, 200.0])
    assert np.isfinite(res.credible_level[0]) and np.isnan(res.credible_level[1:]).all()
    assert np.isnan(res.probdensity_vol[1:]).all() and np.isnan(res.credible_level_vol[1:]).all()
    with pytest.raises(SkymapError, match=r"\[-90, 90\]"):
        crossmatch(fisher3d, [0.0], [91.0])
    with pytest.raises(SkymapError, match="3 values but there are 2"):
        crossmatch(fisher3d, [0.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(SkymapError, match="numeric"):
        crossmatch(fisher3d, ["a"], [0.0])
    with pytest.raises(SkymapError, match=">= 0 Mpc"):
        crossmatch(fisher3d, [0.0], [0.0], [-5.0])
    with pytest.raises(SkymapError, match="within"):
        crossmatch(fisher3d, [0.0], [0.0], cumprob=2)


def test_positions_outside_a_partial_map():
    uniq = nest2uniq(1, np.arange(4))  # the four children of base pixel 0 only
    sky = Skymap(uniq, np.full(4, 1 / (4 * pixel_area(1))))
    ra, dec = hp.pix2ang(1, [0, 5], nest=True, lonlat=True)
    res = crossmatch(sky, ra, dec, cumprob=1.0)
    assert res.pixel.tolist()[1] == -1
    assert res.probdensity[1] == 0 and res.credible_level[1] == pytest.approx(1.0)
    assert res.searched_area[1] == FULL_SKY_DEG2
    assert res.in_region.tolist() == [True, False]  # not covered: never inside


def test_2d_only_map_refuses_3d(ring_positions):
    sky = gaussian_skymap(RA0, DEC0, SIGMA, max_order=6)
    _, ra, dec = ring_positions
    assert crossmatch(sky, ra, dec).probdensity_vol is None
    with pytest.raises(SkymapError, match="no distance layers"):
        crossmatch(sky, ra, dec, np.full(ra.size, 100.0))


# ---------------------------------------------------------------- 3D density


def test_3d_density_is_exact_at_the_catalog_distance(fisher3d, ring_positions):
    _, ra, dec = ring_positions
    r = np.random.default_rng(4).uniform(1, 500, ra.size)
    res = crossmatch(fisher3d, ra, dec, r)
    pix = res.pixel
    mu, sig, nrm = fisher3d.distmu[pix], fisher3d.distsigma[pix], fisher3d.distnorm[pix]
    expected = fisher3d.probdensity[pix] * nrm * norm.pdf(r, mu, sig)
    assert np.allclose(res.probdensity_vol, expected, rtol=1e-12, atol=0)
    # and the continuous 3D Gaussian at pixel centres (the map samples the sky there)
    cra, cdec = _centres(fisher3d, 200, 2)
    r = r[:200]
    cont = fisher_density(RA0, DEC0, SIGMA, cra, cdec) * nrm[0] * norm.pdf(r, mu[0], sig[0])
    assert np.allclose(crossmatch(fisher3d, cra, cdec, r).probdensity_vol, cont, rtol=1e-6)


def test_3d_density_with_distance_uncertainty_is_the_average_over_it(fisher3d):
    pix = fisher3d.lookup([RA0], [DEC0])

    def point(r: float) -> float:
        return density_vol(fisher3d, pix, np.array([r]))[0]

    for d, unc in [(150.0, 10.0), (260.0, 20.0)]:
        got = density_vol(fisher3d, pix, np.array([d]), np.array([unc]))[0]
        averaged = quad(
            lambda r, d=d, unc=unc: point(r) * norm.pdf(r, d, unc), d - 12 * unc, d + 12 * unc
        )[0]
        assert got == pytest.approx(averaged, rel=1e-9)
    assert density_vol(fisher3d, pix, np.array([150.0]), np.array([0.0]))[0] == pytest.approx(
        density_vol(fisher3d, pix, np.array([150.0]))[0], rel=1e-15
    )


# ---------------------------------------------------------------- 3D credible level


def _varied_map(seed: int = 0) -> Skymap:
    """An order-2 map whose pixels all have different sky and distance parameters,
    including pixels with distmu < 0 and one without distance information."""
    rng = np.random.default_rng(seed)
    n = 192
    dens = rng.gamma(2.0, size=n)
    dens /= np.sum(dens * pixel_area(2))
    mu = rng.uniform(-60, 400, n)
    sigma = rng.uniform(10, 120, n)
    mu[0] = np.inf
    nrm = distance_moments(mu, sigma)[2]
    return Skymap(nest2uniq(2, np.arange(n)), dens, mu, sigma, nrm)


def _mass_by_quadrature(sky: Skymap, rho: float) -> float:
    """Probability where the 3D density exceeds ``rho``: per pixel, the r-interval where
    dens*norm*N(r) > rho, integrated numerically (nothing shared with the closed form)."""
    total = 0.0
    for i in range(sky.npix):
        mu, sig, nrm = sky.distmu[i], sky.distsigma[i], sky.distnorm[i]
        if not np.isfinite(mu):
            continue
        peak = sky.probdensity[i] * nrm / (sig * np.sqrt(2 * np.pi))
        if peak <= rho:
            continue
        half = sig * np.sqrt(2 * np.log(peak / rho))
        lo, hi = max(mu - half, 0.0), mu + half
        if hi <= 0:
            continue
        inner = quad(
            lambda r, mu=mu, sig=sig: r * r * norm.pdf(r, mu, sig), lo, hi, epsabs=0, epsrel=1e-12
        )[0]
        total += sky.prob[i] * nrm * inner
    return total


def test_volume_levels_equal_independent_quadrature():
    sky = _varied_map()
    levels = VolumeLevels(sky)
    peaks = sky.probdensity * sky.distnorm / (sky.distsigma * np.sqrt(2 * np.pi))
    for rho in np.quantile(peaks[1:], [0.05, 0.3, 0.6, 0.9, 0.99]) * 0.7:
        assert levels(rho)[0] == pytest.approx(_mass_by_quadrature(sky, rho), abs=1e-12)
    assert levels(0.0)[0] == pytest.approx(1 - sky.prob[0], abs=1e-12)
    assert levels(peaks.max() * 1.01)[0] == 0.0


def test_3d_levels_match_the_continuous_closed_form(fisher3d):
    # sky Fisher x common distance ansatz: P(f > c) on the sphere is closed form, leaving a
    # 1-D integral over distance
    kappa = 1 / np.radians(SIGMA) ** 2
    amp = kappa / (2 * np.pi * -np.expm1(-2 * kappa))
    mu, sig, nrm = fisher3d.distmu[0], fisher3d.distsigma[0], fisher3d.distnorm[0]

    def level(rho):
        def integrand(r):
            g = nrm * norm.pdf(r, mu, sig)
            frac = (1 - rho / (amp * g)) / -np.expm1(-2 * kappa) if g > 0 else 0.0
            return nrm * r * r * norm.pdf(r, mu, sig) * min(max(frac, 0.0), 1.0)

        return quad(integrand, 0, mu + 12 * sig, points=[mu], limit=400, epsabs=1e-12)[0]

    ra, dec = _centres(fisher3d, 30, 3)
    r = np.random.default_rng(3).uniform(50, 350, ra.size)
    res = crossmatch(fisher3d, ra, dec, r)
    expected = [
        level(rho) for rho in fisher_density(RA0, DEC0, SIGMA, ra, dec) * nrm * norm.pdf(r, mu, sig)
    ]
    # what is left is the sky pixelisation of the region's boundary (14-arcmin pixels)
    assert np.allclose(res.credible_level_vol, expected, rtol=0, atol=5e-4)


def test_many_galaxies_stay_within_the_stated_error(fisher3d):
    rng = np.random.default_rng(11)
    n = 20000
    sep = np.abs(rng.normal(0, 2.5 * SIGMA, n))
    ra, dec = _offset(sep, rng.uniform(0, 360, n))
    r = rng.uniform(1, 450, n)
    res = crossmatch(fisher3d, ra, dec, r)
    check = rng.choice(n, 150, replace=False)
    exact = VolumeLevels(fisher3d)._mass(np.log(res.probdensity_vol[check]))
    # 20,000 distinct densities exceed the exact budget (2,958 sums here): interpolated levels,
    # measured within 5e-5 of the exact sums (ligo.skymap's radial grid is ~1e-2 off)
    assert np.abs(res.credible_level_vol[check] - exact).max() < 5e-5
    # with a tiny budget the levels are interpolated, and the bound says by how much
    small = VolumeLevels(fisher3d, max_evals=64)
    coarse = small(res.probdensity_vol)
    err = np.abs(coarse[check] - exact)
    assert small.error_bound > small.tol  # the budget was too small to resolve every bracket
    assert err.max() <= small.error_bound
    assert np.all(np.diff(coarse[np.argsort(res.probdensity_vol)]) <= 1e-15)  # monotone


def test_levels_are_monotone_in_density_and_agree_with_2d_at_the_edges(fisher3d):
    rng = np.random.default_rng(2)
    ra, dec = _offset(rng.uniform(0, 4, 500), rng.uniform(0, 360, 500))
    r = rng.uniform(1, 400, 500)
    res = crossmatch(fisher3d, ra, dec, r)
    order = np.argsort(res.probdensity_vol)
    assert np.all(np.diff(res.credible_level_vol[order]) <= 1e-15)
    assert np.all((res.credible_level_vol >= 0) & (res.credible_level_vol <= 1 + 1e-12))


def test_distance_cdf_against_quadrature(fisher3d):
    pix = fisher3d.lookup([RA0, RA0], [DEC0, DEC0])
    mu, sig, nrm = fisher3d.distmu[0], fisher3d.distsigma[0], fisher3d.distnorm[0]
    for d in (50.0, 180.0, 400.0):
        expected = nrm * quad(lambda r: r * r * norm.pdf(r, mu, sig), 0, d)[0]
        assert distance_cdf(fisher3d, pix[:1], np.array([d]))[0] == pytest.approx(
            expected, rel=1e-10
        )
    # with an uncertainty: the average over the galaxy's distance distribution
    d, unc = 180.0, 30.0
    cdf = lambda x: nrm * quad(lambda r: r * r * norm.pdf(r, mu, sig), 0, max(x, 0))[0]  # noqa: E731
    expected = quad(lambda x: cdf(x) * norm.pdf(x, d, unc), d - 10 * unc, d + 10 * unc)[0]
    got = distance_cdf(fisher3d, pix[:1], np.array([d]), np.array([unc]))[0]
    assert got == pytest.approx(expected, abs=1e-6)


# ---------------------------------------------------------------- frames


def test_crossmatch_frame_keeps_the_input_and_adds_fixed_columns(fisher3d):
    df = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "ra": [RA0, RA0 + 3, 200.0],
            "dec": [DEC0, DEC0, 60.0],
            "distance": [200.0, np.nan, 100.0],
        },
        index=[10, 11, 12],
    )
    out = crossmatch_frame(fisher3d, df)
    assert list(out.index) == [10, 11, 12]
    assert list(out.columns[:4]) == list(df.columns)
    for col in (
        "probdensity",
        "credible_level",
        "searched_area",
        "probdensity_vol",
        "credible_level_vol",
    ):
        assert col in out.columns
    assert np.isnan(out.loc[11, "probdensity_vol"])
    assert list(crossmatch_frame(fisher3d, df, cumprob=0.5).index) == [10]
    assert list(crossmatch_frame(fisher3d, df, cumprob_vol=0.5).index) == [10]
    two_d = crossmatch_frame(fisher3d, df, distance=None)
    assert "probdensity_vol" not in two_d.columns
    with pytest.raises(SkymapError, match="no 'ra_deg' column"):
        crossmatch_frame(fisher3d, df, ra="ra_deg")
    with pytest.raises(SkymapError, match="cumprob_vol needs"):
        crossmatch_frame(fisher3d, df, distance=None, cumprob_vol=0.5)


def test_result_to_frame():
    sky = gaussian_skymap(RA0, DEC0, SIGMA, max_order=6)
    res = crossmatch(sky, [RA0], [DEC0], cumprob=0.9)
    frame = res.to_frame()
    assert list(frame.columns) == ["probdensity", "credible_level", "searched_area", "in_region"]
    assert len(res) == 1 and bool(frame["in_region"][0])


def test_credible_level_is_clipped_at_one_when_the_map_rounds_above_it():
    """Issue 9: a map summing to 1 + 3.5e-9 printed credible_level 1.0000000035."""
    from workbench.skymap_synthetic import gaussian_skymap

    base = gaussian_skymap(40.0, -30.0, 3.0, max_order=7)
    keep = base.credible_level < 0.999  # a partial map: positions far away are outside it
    dens = base.probdensity[keep] / base.prob[keep].sum() * (1 + 3.5e-9)
    sky = Skymap(base.uniq[keep], dens)
    assert sky.total_prob > 1.0
    result = crossmatch(sky, [40.0, 220.0], [-30.0, 30.0])
    assert result.pixel[1] == -1 and result.credible_level[1] == 1.0
    assert sky.credible_level.max() == 1.0
