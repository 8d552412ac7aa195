"""The seeded sky and its localizations, in process (no HTTP): determinism, scale, maps."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pytest

from workbench.server import mocmap
from workbench.server.sky import N_NAMED, build_sky
from workbench.server.store import Store


def test_sizes_include_the_named_capture_objects():
    store = Store(sources=3, candidates=2, seed=1)
    counts = store.counts()
    assert counts["sources"] == N_NAMED and counts["candidates"] == N_NAMED
    store = Store(sources=50, candidates=20, seed=1)
    assert store.counts()["sources"] == 50 and store.counts()["candidates"] == 20
    with pytest.raises(ValueError):
        build_sky(1, -1, 0)


def test_names_are_ztf_like_and_unique():
    sky = build_sky(9, 3000, 500)
    ids = list(sky.objs["id"])
    assert len(ids) == len(set(ids))
    generated = ids[N_NAMED:]
    assert all(
        len(i) == 12
        and i.startswith("ZTF")
        and i[3:5].isdigit()
        and i[5:].isalpha()
        and i[5:].islower()
        for i in generated
    )


def test_same_seed_same_sky_and_details():
    a, b = Store(sources=300, candidates=60, seed=5), Store(sources=300, candidates=60, seed=5)
    assert list(a.objs["id"]) == list(b.objs["id"])
    for col in ("ra", "dec", "redshift", "created", "modified", "n_phot"):
        assert np.array_equal(a.objs[col], b.objs[col], equal_nan=col == "redshift"), col
    assert np.array_equal(a.saved_at, b.saved_at)
    assert a.photometry(40) == b.photometry(40)
    assert a.comments("sources", 3) == b.comments("sources", 3)
    c = Store(sources=300, candidates=60, seed=6)
    assert not np.array_equal(a.objs["ra"], c.objs["ra"])


def test_moderate_size_seeds_and_serves(make_server):
    import requests

    srv = make_server(sources=20000, candidates=4000, seed=2)
    data = requests.get(
        srv.url + "/api/sources",
        params={"numPerPage": 500, "pageNumber": 40},
        headers=srv.headers,
        timeout=60,
    ).json()["data"]
    assert data["totalMatches"] == 20000 and len(data["sources"]) == 500
    cands = requests.get(
        srv.url + "/api/candidates", params={"numPerPage": 5}, headers=srv.headers, timeout=60
    ).json()["data"]
    assert cands["totalMatches"] == 4000


def test_multiorder_gaussian_is_normalised_and_multiorder():
    m = mocmap.gaussian(40.0, -20.0, 2.0, max_order=10)
    assert m.prob.sum() == pytest.approx(1.0, abs=1e-12)
    assert len(np.unique(m.order)) >= 3
    # pixels tile the sphere exactly once
    assert m.area.sum() == pytest.approx(4 * np.pi, rel=1e-12)
    # the 90% region of a small 2D Gaussian is a disc of radius sigma*sqrt(2 ln 10)
    expected = np.pi * (2.0 * np.sqrt(2 * np.log(10))) ** 2
    assert mocmap.area_within(m, 0.9) == pytest.approx(expected, rel=0.05)


def test_lookup_agrees_with_healpy_at_the_finest_order():
    m = mocmap.gaussian(150.0, 10.0, 1.0, max_order=9)
    rng = np.random.default_rng(0)
    ra = rng.uniform(140, 160, 2000)
    dec = rng.uniform(0, 20, 2000)
    pix = mocmap.lookup(m, ra, dec)
    assert (pix >= 0).all()
    order = m.order[pix]
    uniq = m.uniq[pix]
    ipix = uniq - 4 * 4**order
    for o in np.unique(order):
        sel = order == o
        expect = hp.ang2pix(2 ** int(o), ra[sel], dec[sel], nest=True, lonlat=True)
        assert np.array_equal(ipix[sel], expect)


def test_credible_levels_count_ties_and_increase_outwards():
    m = mocmap.MocMap(
        uniq=np.array([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
        probdensity=np.r_[[3.0] * 2, [1.0] * 10] / (4 * np.pi / 12) / 16,
    )
    levels = mocmap.credible_levels(m)
    assert levels[0] == levels[1] == pytest.approx(6 / 16)  # tied pixels share the level
    assert levels[2:] == pytest.approx(1.0)
    g = mocmap.gaussian(0.0, 0.0, 3.0, max_order=8)
    lv = mocmap.credible_levels(g)
    centre = mocmap.lookup(g, np.array([0.0, 5.0, 9.0]), np.array([0.0, 0.0, 0.0]))
    assert lv[centre[0]] < lv[centre[1]] < lv[centre[2]]


def test_distance_norm_closed_form():
    mu, sigma = np.array([100.0, 10.0, -5.0]), np.array([20.0, 15.0, 30.0])
    norm = mocmap.distance_norm(mu, sigma)
    r = np.linspace(0, 1000, 200001)
    for k in range(3):
        pdf = np.exp(-0.5 * ((r - mu[k]) / sigma[k]) ** 2) / (sigma[k] * np.sqrt(2 * np.pi))
        assert norm[k] * np.trapezoid(r**2 * pdf, r) == pytest.approx(1.0, rel=1e-6)
