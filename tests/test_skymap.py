"""The Skymap type: multi-order bookkeeping, lossless flat conversion, credible regions,
distance moments, and the synthetic Fisher maps against their closed forms."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from workbench.errors import SkymapError
from workbench.skymap import (
    FULL_SKY_DEG2,
    Skymap,
    distance_moments,
    distance_parameters,
    merge_flat,
    nest2uniq,
    pixel_area,
    uniq2nest,
)
from workbench.skymap_synthetic import (
    FlatMap,
    fisher_credible_area,
    fisher_credible_level,
    fisher_density,
    gaussian_flat,
    gaussian_skymap,
)


def test_uniq_roundtrip_at_every_order_including_the_edges():
    for order in (0, 1, 7, 13, 28, 29):
        npix = 12 * 4**order
        ipix = np.array([0, 1, npix // 2, npix - 1], dtype=np.int64)
        got_order, got_ipix = uniq2nest(nest2uniq(order, ipix))
        assert np.all(got_order == order)
        assert np.array_equal(got_ipix, ipix)


def test_invalid_uniq_is_refused():
    with pytest.raises(SkymapError, match=">= 4"):
        uniq2nest(np.array([3, 17]))


def test_pixel_areas_tile_the_sphere():
    for order in range(0, 12):
        assert 12 * 4**order * pixel_area(order) == pytest.approx(4 * np.pi, rel=1e-14)


def _two_level_map() -> tuple[np.ndarray, np.ndarray]:
    """11 base pixels plus the 4 children of base pixel 0, densities all different."""
    uniq = np.concatenate([nest2uniq(0, np.arange(1, 12)), nest2uniq(1, np.arange(4))])
    dens = np.linspace(1, 2, uniq.size)
    area = pixel_area(uniq2nest(uniq)[0])
    return uniq, dens / np.sum(dens * area)


def test_constructor_sorts_and_freezes_arrays():
    uniq, dens = _two_level_map()
    perm = np.random.default_rng(0).permutation(uniq.size)
    sky = Skymap(uniq[perm], dens[perm])
    assert np.all(np.diff(sky.uniq) > 0)
    assert sky.total_prob == pytest.approx(1.0, abs=1e-14)
    assert sky.covers_sky
    with pytest.raises(ValueError):
        sky.probdensity[0] = 5.0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda u, d: (u[:0], d[:0]), "at least one pixel"),
        (lambda u, d: (u, d[:-1]), "must align"),
        (lambda u, d: (np.r_[u, u[:1]], np.r_[d, d[:1]]), "duplicate"),
        (lambda u, d: (np.r_[u, [4]], np.r_[d, [1.0]]), "overlap"),
        (lambda u, d: (u, np.r_[-1.0, d[1:]]), "finite and >= 0"),
        (lambda u, d: (u, np.r_[np.nan, d[1:]]), "finite and >= 0"),
        (lambda u, d: (np.r_[u[:-1], [4 * 4**30]], d), "orders outside"),
        (lambda u, d: (np.r_[u[:-1], [16 * 4**31]], d), "within int64"),
        (lambda u, d: (u, ["x"] * len(d)), "numeric"),
    ],
)
def test_constructor_refuses_bad_maps(mutate, message):
    uniq, dens = mutate(*_two_level_map())
    with pytest.raises(SkymapError, match=message):
        Skymap(uniq, dens)


def test_distance_layers_are_validated():
    uniq, dens = _two_level_map()
    ones = np.ones(uniq.size)
    with pytest.raises(SkymapError, match="all of distmu"):
        Skymap(uniq, dens, distmu=ones)
    with pytest.raises(SkymapError, match="distsigma"):
        Skymap(uniq, dens, ones, np.r_[0.0, ones[1:]], ones)
    with pytest.raises(SkymapError, match="distmu"):
        Skymap(uniq, dens, np.r_[np.nan, ones[1:]], ones, ones)
    # +inf distmu is the convention for "no distance information here"
    sky = Skymap(uniq, dens, np.r_[np.inf, ones[1:]], ones, np.r_[0.0, ones[1:]])
    assert sky.has_distance


def test_merge_recovers_the_coarse_map_exactly():
    rng = np.random.default_rng(1)
    coarse = rng.random(12 * 4**3)
    coarse[4:7] = coarse[3]  # equal neighbours must not merge across different parents
    fine = hp.ud_grade(coarse, 2**6, order_in="NESTED", order_out="NESTED")
    uniq, (values,) = merge_flat(6, [fine])
    order, ipix = uniq2nest(uniq)
    assert np.all(order == 3)
    assert np.array_equal(ipix, np.arange(coarse.size))
    assert np.array_equal(values, coarse)


def test_merge_keeps_unequal_siblings_and_merges_to_order_zero():
    flat = np.ones(12 * 4**2)
    flat[7] = 2.0  # one odd pixel in base pixel 0
    uniq, (values,) = merge_flat(2, [flat])
    order, _ = uniq2nest(uniq)
    # base pixels 1..11 merge fully; base 0 keeps 3 order-1 pixels and 4 order-2 ones
    assert np.bincount(order).tolist() == [11, 3, 4]
    rebuilt = Skymap(uniq, values / values.sum()).to_flat(4)
    assert np.allclose(rebuilt / rebuilt.max(), flat / flat.max(), rtol=0, atol=1e-15)


def test_flat_ring_and_nested_give_the_same_map_and_roundtrip():
    nested = gaussian_flat(10.0, 20.0, 6.0, nside=32, nest=True, distmean=100, diststd=30)
    layers = [
        hp.reorder(v, n2r=True)
        for v in (nested.prob, nested.distmu, nested.distsigma, nested.distnorm)
    ]
    ring = FlatMap(layers[0], 32, False, *layers[1:])
    a, b = nested.to_skymap(), ring.to_skymap()
    assert np.array_equal(a.uniq, b.uniq)
    assert np.array_equal(a.probdensity, b.probdensity)
    assert np.array_equal(a.distmu, b.distmu)
    assert np.allclose(a.to_flat(32), nested.prob, rtol=1e-13, atol=0)
    assert np.allclose(b.to_flat(32, nest=False), ring.prob, rtol=1e-13, atol=0)


def test_to_flat_conserves_probability_when_degrading():
    sky = gaussian_skymap(200.0, 45.0, 1.0, max_order=9)
    for nside in (16, 128, 512):
        assert sky.to_flat(nside).sum() == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------- closed forms


@pytest.fixture(scope="module")
def fisher():
    # sigma 2 deg sampled at order 10 (3.4 arcmin pixels, ~35 per sigma)
    return gaussian_skymap(120.0, -35.0, 2.0, max_order=10, pixels_per_sigma=30)


def test_fisher_closed_forms_agree_with_the_narrow_gaussian_limit():
    sigma = 0.5
    levels = np.array([0.5, 0.9, 0.99])
    narrow = 2 * np.pi * np.radians(sigma) ** 2 * -np.log1p(-levels) * (180 / np.pi) ** 2
    assert np.allclose(fisher_credible_area(sigma, levels), narrow, rtol=1e-4)
    t = np.array([0.1, 0.5, 1.0])
    assert np.allclose(
        fisher_credible_level(sigma, t), 1 - np.exp(-(t**2) / (2 * sigma**2)), rtol=1e-4
    )
    # the density integrates to one over the sphere
    total = quad(
        lambda th: fisher_density(0, 90, 20.0, 0, 90 - np.degrees(th)) * 2 * np.pi * np.sin(th),
        0,
        np.pi,
    )[0]
    assert total == pytest.approx(1.0, rel=1e-9)


def test_credible_areas_match_the_closed_form(fisher):
    for level in (0.5, 0.9, 0.99):
        # pixelisation: boundary pixels are 3.4 arcmin against a disc of radius >= 2.4 deg
        assert fisher.area(level) == pytest.approx(fisher_credible_area(2.0, level), rel=5e-3)
    assert fisher.region_area(0.9) == pytest.approx(fisher.area(0.9), rel=5e-3)


def test_pixel_levels_match_the_closed_form(fisher):
    ra, dec = hp.pix2ang(1 << fisher.order, fisher.ipix, nest=True, lonlat=True)
    sep = np.degrees(hp.rotator.angdist([ra, dec], [120.0, -35.0], lonlat=True))
    near = sep < 6.0
    expected = fisher_credible_level(2.0, sep[near])
    # a pixel's level also counts the pixels of equal density: half a pixel of radius
    assert np.abs(fisher.credible_level[near] - expected).max() < 3e-3
    assert fisher.max_position == pytest.approx((120.0, -35.0), abs=0.06)


def test_multiorder_map_is_normalised_and_fine_only_near_the_peak(fisher):
    assert fisher.total_prob == pytest.approx(1.0, abs=1e-12)
    assert fisher.covers_sky
    far = fisher.order < 6
    assert far.sum() > 0 and fisher.prob[far].sum() < 1e-6


def test_distance_moments_of_the_ansatz_against_quadrature():
    for mu, sigma in [(100.0, 30.0), (-50.0, 40.0), (200.0, 5.0), (3000.0, 10.0)]:
        mean, std, nrm = distance_moments(np.array([mu]), np.array([sigma]))
        top = max(mu, 0) + 15 * sigma

        def moment(k, mu=mu, sigma=sigma, top=top):
            return quad(
                lambda r: r**k * norm.pdf(r, mu, sigma), 0, top, points=[max(mu, 1e-9)], limit=200
            )[0]

        assert nrm[0] == pytest.approx(1 / moment(2), rel=1e-9)
        assert mean[0] == pytest.approx(moment(3) / moment(2), rel=1e-9)
        assert std[0] == pytest.approx(
            np.sqrt(moment(4) / moment(2) - (moment(3) / moment(2)) ** 2), rel=1e-7
        )
    mean, std, nrm = distance_moments(np.array([np.inf]), np.array([1.0]))
    assert np.isnan(mean[0]) and np.isnan(std[0]) and nrm[0] == 0


def test_distance_parameters_invert_the_moments():
    for mean, std in [(150.0, 40.0), (40.0, 22.0), (1000.0, 10.0)]:
        mu, sigma, nrm = distance_parameters(mean, std)
        m, s, n = distance_moments(np.array([mu]), np.array([sigma]))
        assert (m[0], s[0], n[0]) == pytest.approx((mean, std, nrm), rel=1e-9)
    with pytest.raises(SkymapError, match="cannot be represented"):
        distance_parameters(100.0, 80.0)
    with pytest.raises(SkymapError, match="positive"):
        distance_parameters(-1.0, 1.0)


def test_synthetic_distance_layers_give_the_requested_moments():
    sky = gaussian_skymap(10.0, 10.0, 5.0, distmean=180.0, diststd=45.0)
    assert sky.distance_moments() == pytest.approx((180.0, 45.0), rel=1e-9)
    assert sky.summary()["header_distmean"] == 180.0
    with pytest.raises(SkymapError, match="both"):
        gaussian_skymap(10.0, 10.0, 5.0, distmean=180.0)


def test_synthetic_arguments_are_checked():
    with pytest.raises(SkymapError, match="sigma"):
        gaussian_skymap(0.0, 0.0, 0.0)
    with pytest.raises(SkymapError, match="dec"):
        gaussian_skymap(0.0, 95.0, 1.0)
    with pytest.raises(SkymapError, match="power of two"):
        gaussian_flat(0.0, 0.0, 1.0, nside=100)


# ---------------------------------------------------------------- ties and regions


def _plateau_map() -> Skymap:
    """An nside-4 flat map with plateaus of equal density (an upsampled coarse map)."""
    coarse = np.array([5.0, 5.0, 3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.0])
    flat = hp.ud_grade(coarse / coarse.sum(), 4, order_in="NESTED", order_out="NESTED", power=-2)
    flat[3] *= 1.5  # break one plateau so the map is not merely 12 base pixels
    return Skymap.from_flat(flat / flat.sum(), nest=True)


def test_levels_count_every_pixel_of_equal_or_higher_density():
    sky = _plateau_map()
    dens, prob = sky.probdensity, sky.prob
    for i in range(sky.npix):
        assert sky.credible_level[i] == pytest.approx(prob[dens >= dens[i]].sum(), abs=1e-15)
        assert sky.searched_area[i] == pytest.approx(
            sky.pixarea_deg2[dens >= dens[i]].sum(), rel=1e-13
        )


def test_levels_do_not_depend_on_pixel_order():
    sky = _plateau_map()
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(sky.npix)
        shuffled = Skymap(sky.uniq[perm], sky.probdensity[perm])
        assert np.array_equal(shuffled.credible_level, sky.credible_level)
        assert np.array_equal(shuffled.searched_area, sky.searched_area)


def test_region_and_area_edges():
    sky = _plateau_map()
    assert not sky.region(0.0).any()
    assert sky.region(1.0).all()
    assert sky.area(1.0) <= FULL_SKY_DEG2 + 1e-9
    assert sky.area(0.0) == 0.0
    areas = sky.area(np.linspace(0, 1, 11))
    assert np.all(np.diff(areas) >= 0)
    with pytest.raises(SkymapError, match="within"):
        sky.area(1.5)


def test_summary_has_the_per_localization_figures():
    sky = gaussian_skymap(300.0, 60.0, 3.0, distmean=300.0, diststd=60.0, name="S1")
    s = sky.summary()
    assert s["name"] == "S1"
    assert s["total_prob"] == pytest.approx(1.0)
    assert s["area_90"] == pytest.approx(fisher_credible_area(3.0, 0.9), rel=0.02)
    assert s["area_50"] < s["area_90"]
    # the centre of the densest pixel: within one order-6 pixel (0.9 deg) of the true peak
    assert hp.rotator.angdist([s["ra_max"], s["dec_max"]], [300.0, 60.0], lonlat=True)[
        0
    ] < np.radians(0.9)
    assert (s["distmean"], s["diststd"]) == pytest.approx((300.0, 60.0), rel=1e-9)
    assert "Skymap('S1'" in repr(sky)
