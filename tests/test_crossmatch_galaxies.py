"""Region selection (as SkyPortal's SQL does it), galaxy ranking and host galaxies."""

from __future__ import annotations

import duckdb
import h5py
import healpy as hp
import numpy as np
import pandas as pd
import pytest
from astropy.cosmology import Planck18
from scipy.optimize import brentq

from workbench.crossmatch import (
    crossmatch,
    distance_cdf,
    host_galaxies,
    in_region,
    rank_galaxies,
    sources_in_region,
)
from workbench.errors import SkymapError
from workbench.skymap import Skymap, read_skymap
from workbench.skymap_synthetic import gaussian_skymap

RA0, DEC0 = 150.0, 20.0


@pytest.fixture(scope="module")
def sky() -> Skymap:
    return gaussian_skymap(RA0, DEC0, 3.0, distmean=150.0, diststd=40.0, max_order=8)


def _plateau_sky() -> Skymap:
    """A flat nside-8 map upsampled from nside 2: large plateaus of equal density."""
    coarse = np.random.default_rng(0).integers(1, 6, 48).astype(float)
    flat = hp.ud_grade(coarse / coarse.sum(), 8, order_in="NESTED", order_out="NESTED", power=-2)
    return Skymap.from_flat(flat / flat.sum(), nest=True)


def _skyportal_selection(
    sky: Skymap, ra: np.ndarray, dec: np.ndarray, cumprob: float
) -> np.ndarray:
    """SkyPortal's galaxy/source filter, run as SQL: a running sum ordered by density
    (the default window frame includes peers, i.e. ties), the lowest density within the
    cumulative probability, and the tiles at least that dense containing the position."""
    con = duckdb.connect()
    tiles = pd.DataFrame(
        {"i": np.arange(sky.npix), "probdensity": sky.probdensity, "area": sky.pixarea}
    )
    points = pd.DataFrame({"k": np.arange(ra.size), "tile": sky.lookup(ra, dec)})
    con.register("tiles", tiles)
    con.register("points", points)
    kept = con.execute(
        """
        WITH cum AS (
            SELECT i, probdensity,
                   SUM(probdensity * area) OVER (ORDER BY probdensity DESC) AS cum_prob
            FROM tiles
        ), floor AS (SELECT MIN(probdensity) AS d FROM cum WHERE cum_prob <= ?)
        SELECT k FROM points JOIN tiles ON points.tile = tiles.i, floor
        WHERE tiles.probdensity >= floor.d
        """,
        [cumprob],
    ).fetchnumpy()["k"]
    out = np.zeros(ra.size, dtype=bool)
    out[kept] = True
    return out


@pytest.mark.parametrize("which", ["gaussian", "plateaus"])
def test_in_region_is_skyportals_localization_cumprob(sky, which):
    skymap = sky if which == "gaussian" else _plateau_sky()
    rng = np.random.default_rng(1)
    ra = rng.uniform(0, 360, 4000)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 4000)))
    for cumprob in (0.1, 0.5, 0.9, 0.95, 0.999):
        mine = in_region(skymap, ra, dec, cumprob)
        assert np.array_equal(mine, _skyportal_selection(skymap, ra, dec, cumprob))
        assert np.array_equal(mine, crossmatch(skymap, ra, dec).credible_level <= cumprob)


def test_sources_in_region_are_filtered_and_sorted(sky):
    df = pd.DataFrame(
        {
            "id": ["near", "far", "mid", "outside"],
            "ra": [RA0, RA0 + 40, RA0 + 2, RA0 + 7.5],  # 90% radius: 6.4 deg
            "dec": [DEC0, DEC0, DEC0, DEC0],
        }
    )
    out = sources_in_region(sky, df, 0.9)
    assert out["id"].tolist() == ["near", "mid"]
    assert np.all(np.diff(out["credible_level"]) >= 0)
    assert "probdensity_vol" not in out.columns


# ---------------------------------------------------------------- ranking


def _catalog(sky: Skymap) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 400
    ra = RA0 + rng.normal(0, 4, n)
    dec = DEC0 + rng.normal(0, 4, n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "ra": ra,
            "dec": dec,
            "distmpc": rng.uniform(20, 350, n),
            "distmpc_unc": rng.uniform(0, 15, n),
            "mstar": 10 ** rng.uniform(8, 11.5, n),
            "magk": rng.uniform(8, 16, n),
        }
    )


def test_rank_by_3d_density_times_mass(sky):
    cat = _catalog(sky)
    ranked = rank_galaxies(sky, cat, weight="mstar", cumprob=0.9)
    assert np.all(ranked["credible_level_vol"] <= 0.9)
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    score = ranked["probdensity_vol"] * ranked["mstar"]
    assert np.all(np.diff(score.to_numpy()) <= 0)
    assert ranked["score"].sum() == pytest.approx(1.0)
    # every galaxy of the 90% volume is there
    everything = rank_galaxies(sky, cat, weight="mstar", cumprob=None)
    assert len(everything) == len(cat)
    assert set(ranked["id"]) == set(everything.loc[everything["credible_level_vol"] <= 0.9, "id"])


def test_magnitude_weights_are_luminosities(sky):
    cat = _catalog(sky).iloc[:2].copy()
    cat[["ra", "dec", "distmpc", "distmpc_unc"]] = [
        [RA0, DEC0, 150.0, 0.0],
        [RA0, DEC0, 150.0, 0.0],
    ]
    cat["magk"] = [12.0, 10.0]  # same place, same distance: 2 mag brighter = 6.3x the weight
    ranked = rank_galaxies(sky, cat, weight="magk", cumprob=None)
    assert ranked["magk"].tolist() == [10.0, 12.0]
    assert ranked["score"].iloc[0] / ranked["score"].iloc[1] == pytest.approx(10**0.8)
    # a galaxy twice as far with the same apparent magnitude is 4x as luminous
    cat["magk"] = [12.0, 12.0]
    cat["distmpc"] = [150.0, 300.0]
    ranked = rank_galaxies(sky, cat, weight="magk", cumprob=None)
    ratio = ranked.set_index("distmpc")["weight"]
    assert ratio[300.0] / ratio[150.0] == pytest.approx(4.0)


def test_array_weights_nan_weights_and_area_region(sky):
    cat = _catalog(sky)
    w = np.ones(len(cat))
    w[0] = np.nan
    ranked = rank_galaxies(sky, cat, weight=w, cumprob=None)
    # an unknown weight ranks last with probability 0 (the others still sum to 1)
    assert ranked["id"].iloc[-1] == 0 and ranked["probability"].iloc[-1] == 0
    assert ranked["cum_probability"].iloc[-1] == pytest.approx(1.0)
    area = rank_galaxies(sky, cat, region="area", cumprob=0.5)
    assert np.all(area["credible_level"] <= 0.5)
    flat = cat.drop(columns=["distmpc", "distmpc_unc"])
    two_d = rank_galaxies(sky, flat, cumprob=0.9)
    assert "probdensity_vol" not in two_d.columns
    assert np.all(np.diff(two_d["probdensity"].to_numpy()) <= 0)
    with pytest.raises(SkymapError, match="needs distance"):
        rank_galaxies(sky, flat, region="volume")
    with pytest.raises(SkymapError, match="'volume' or 'area'"):
        rank_galaxies(sky, cat, region="cube")
    with pytest.raises(SkymapError, match="not a column of the galaxy table"):
        rank_galaxies(sky, cat, weight="sfr")
    with pytest.raises(SkymapError, match="weight has 3 values"):
        rank_galaxies(sky, cat, weight=[1, 2, 3])


def test_distance_consistency_peaks_at_the_line_of_sight_median(sky):
    pix = sky.lookup([RA0], [DEC0])
    median = brentq(lambda d: distance_cdf(sky, pix, np.array([d]))[0] - 0.5, 1, 1000)
    cat = pd.DataFrame({"ra": [RA0] * 3, "dec": [DEC0] * 3, "distmpc": [median, 40.0, 600.0]})
    ranked = rank_galaxies(sky, cat, cumprob=None).set_index("distmpc")
    assert ranked.loc[median, "dist_consistency"] == pytest.approx(1.0, abs=1e-9)
    assert ranked.loc[40.0, "dist_consistency"] < 0.01
    assert ranked.loc[600.0, "dist_consistency"] < 1e-6


def test_clu_galaxies_ranked_in_gw190814(shared_dir):
    data = h5py.File(shared_dir / "data/galaxies/CLU_mini.hdf5")["data"][:]
    cat = pd.DataFrame({k: data[k] for k in data.dtype.names})
    cat["name"] = cat["name"].str.decode("utf8")
    sky = read_skymap(shared_dir / "data/skymaps/LALInference.v1.fits.gz")
    ranked = rank_galaxies(sky, cat, weight="mstar", cumprob=0.9)
    assert 0 < len(ranked) < len(cat)
    assert ranked["credible_level_vol"].max() <= 0.9
    # GW190814 was at ~240 Mpc in the south (ra 13, dec -25): the hosts ranked first agree
    top = ranked.iloc[0]
    assert 150 < top["distmpc"] < 300 and top["dec"] < -20
    assert top["dist_consistency"] > 0.05


# ---------------------------------------------------------------- hosts


def test_host_offsets_in_arcsec_and_kpc():
    galaxies = pd.DataFrame(
        {
            "name": ["A", "B", "C"],
            "ra": [10.0, 10.0, 50.0],
            "dec": [0.0, 0.01, 0.0],
            "redshift": [0.05, np.nan, 0.01],
            "distmpc": [np.nan, 100.0, 40.0],
        }
    )
    sources = pd.DataFrame({"id": ["s1", "s2"], "ra": [10.0 + 10 / 3600, 80.0], "dec": [0.0, 0.0]})
    hosts = host_galaxies(sources, galaxies, max_sep_arcsec=60)
    assert hosts["id"].tolist() == ["s1", "s1"]
    assert hosts["galaxy_name"].tolist() == ["A", "B"]  # nearest first
    row = hosts.iloc[0]
    assert row["sep_arcsec"] == pytest.approx(10.0, rel=1e-6)
    d_a = Planck18.angular_diameter_distance(0.05).to_value("Mpc")
    assert row["offset_kpc"] == pytest.approx(np.radians(10 / 3600) * d_a * 1000, rel=1e-6)
    # B has only a luminosity distance: its redshift is found by inverting Planck18
    z_b = brentq(lambda z: Planck18.luminosity_distance(z).to_value("Mpc") - 100.0, 1e-4, 1)
    d_b = Planck18.angular_diameter_distance(z_b).to_value("Mpc")
    b = hosts.iloc[1]
    assert b["offset_kpc"] == pytest.approx(
        np.radians(b["sep_arcsec"] / 3600) * d_b * 1000, rel=1e-5
    )
    # a physical limit drops B (about 17 kpc away)
    near = host_galaxies(sources, galaxies, max_sep_arcsec=60, max_kpc=12)
    assert near["galaxy_name"].tolist() == ["A"]
    # a physical limit alone searches as wide as the nearest galaxy needs
    wide = host_galaxies(sources, galaxies, max_sep_arcsec=None, max_kpc=100)
    assert set(wide["galaxy_name"]) == {"A", "B"}


def test_hosts_empty_and_bad_input():
    galaxies = pd.DataFrame({"ra": [10.0], "dec": [0.0], "redshift": [0.05]})
    sources = pd.DataFrame({"ra": [100.0], "dec": [0.0]})
    empty = host_galaxies(sources, galaxies)
    assert empty.empty and {"sep_arcsec", "offset_kpc"} <= set(empty.columns)
    with pytest.raises(SkymapError, match="max_sep_arcsec and/or max_kpc"):
        host_galaxies(sources, galaxies, max_sep_arcsec=None)
    with pytest.raises(SkymapError, match="no dec column"):
        host_galaxies(sources.drop(columns="dec"), galaxies)
    with pytest.raises(SkymapError, match="invalid coordinates"):
        host_galaxies(pd.DataFrame({"ra": [0.0], "dec": [95.0]}), galaxies)
