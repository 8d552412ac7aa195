"""The crossmatch on LSDB/Dask equals the in-memory one, partition pruning and per-partition
maps (workbench.survey.lsdb_crossmatch). Small synthetic catalogs; one in-process cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.crossmatch import VolumeLevels, crossmatch, crossmatch_frame
from workbench.errors import SkymapError, WorkbenchError
from workbench.skymap import SR_TO_DEG2
from workbench.skymap_synthetic import gaussian_skymap

lsdb = pytest.importorskip("lsdb")

from workbench.survey.lsdb_crossmatch import (  # noqa: E402
    PartitionMap,
    crossmatch_survey,
    local_client,
    partition_pixels,
    region_moc,
)

N = 20_000


@pytest.fixture(scope="module")
def client():
    c = local_client(processes=False)
    yield c
    c.close()
    c.cluster.close()


@pytest.fixture(scope="module")
def skymap():
    return gaussian_skymap(120.0, 30.0, 5.0, distmean=200.0, diststd=50.0, max_order=7)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Half the rows around the map's centre, half all over the sky; distances in Mpc."""
    rng = np.random.default_rng(13)
    half = N // 2
    ra = np.concatenate([rng.normal(120, 8, half) % 360, rng.uniform(0, 360, N - half)])
    dec = np.concatenate(
        [
            np.clip(rng.normal(30, 8, half), -89.9, 89.9),
            np.degrees(np.arcsin(rng.uniform(-1, 1, N - half))),
        ]
    )
    return pd.DataFrame(
        {
            "id": np.arange(N),
            "ra": ra,
            "dec": dec,
            "distance": rng.uniform(5, 450, N),
            "distance_unc": rng.uniform(0, 20, N),
        }
    )


@pytest.fixture(scope="module")
def catalog(frame):
    return lsdb.from_dataframe(frame, partition_rows=1500, use_pyarrow_types=False)


def by_id(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index("id").sort_index()


def test_all_rows_equal_the_in_memory_crossmatch(client, skymap, frame, catalog):
    result = crossmatch_survey(catalog, skymap, distance_unc="distance_unc")
    assert result.partitions_read == result.partitions_total == len(catalog.get_healpix_pixels())
    got = by_id(result.compute(client))
    want = by_id(crossmatch_frame(skymap, frame, distance_unc="distance_unc"))
    assert list(got.columns) == list(want.columns)
    assert len(got) == N
    cols = ("ra", "dec", "probdensity", "credible_level", "searched_area", "probdensity_vol")
    for col in (*cols, "credible_level_vol"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    # 20,000 rows exceed max_evals: both paths read the map's table, within its stated bound
    # of the exact sums
    ref = crossmatch(
        skymap,
        frame["ra"],
        frame["dec"],
        frame["distance"],
        distance_unc=frame["distance_unc"],
    )
    exact = crossmatch(
        skymap,
        frame["ra"],
        frame["dec"],
        frame["distance"],
        distance_unc=frame["distance_unc"],
        max_evals=N + 10,
    )
    level = got["credible_level_vol"].to_numpy()
    assert ref.vol_error_bound > 0
    assert np.max(np.abs(level - exact.credible_level_vol)) <= ref.vol_error_bound + 1e-12


def test_a_catalog_within_max_evals_is_summed_exactly_in_both_paths(client, skymap, frame):
    small = frame.iloc[:900]
    catalog = lsdb.from_dataframe(small, partition_rows=200, use_pyarrow_types=False)
    assert len(catalog.get_healpix_pixels()) > 1
    got = by_id(crossmatch_survey(catalog, skymap, distance_unc="distance_unc").compute(client))
    want = by_id(crossmatch_frame(skymap, small, distance_unc="distance_unc"))
    np.testing.assert_array_equal(
        got["credible_level_vol"].to_numpy(), want["credible_level_vol"].to_numpy()
    )
    levels = VolumeLevels(skymap)
    assert len(small) <= levels.max_evals
    exact = levels._mass(np.log(want["probdensity_vol"].to_numpy()))
    np.testing.assert_allclose(want["credible_level_vol"].to_numpy(), exact, rtol=0, atol=1e-15)


def test_the_table_gives_each_density_the_same_level_in_any_batch(skymap, frame):
    levels = VolumeLevels(skymap)
    dens = crossmatch(skymap, frame["ra"], frame["dec"], frame["distance"]).probdensity_vol
    whole = levels(dens)  # more values than max_evals: the table
    assert dens.size > levels.max_evals
    nodes, _ = levels.table()
    assert nodes.size == levels.max_evals  # built once, from the map alone
    for batch in np.array_split(np.arange(dens.size), 7):
        np.testing.assert_array_equal(levels(dens[batch], interpolate=True), whole[batch])
    assert levels.table()[0] is nodes


def test_cumprob_prunes_partitions_and_keeps_the_same_rows(client, skymap, frame, catalog):
    result = crossmatch_survey(catalog, skymap, cumprob=0.9, cumprob_vol=0.9)
    assert 0 < result.partitions_read < result.partitions_total
    got = by_id(result.compute(client))
    want = by_id(crossmatch_frame(skymap, frame, cumprob=0.9, cumprob_vol=0.9))
    assert got.index.tolist() == want.index.tolist()
    assert len(got) > 100
    for col in ("probdensity", "credible_level", "searched_area", "probdensity_vol"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    assert (got["credible_level"] <= 0.9).all()
    # every partition read touches the region; none left out holds a row of the region
    moc = region_moc(skymap, 0.9)
    read = set(result.pixels)
    for pixel in catalog.get_healpix_pixels():
        inside = len(partition_pixels(skymap, pixel.order, pixel.pixel)) and bool(
            np.any(skymap.region(0.9)[partition_pixels(skymap, pixel.order, pixel.pixel)])
        )
        assert ((pixel.order, pixel.pixel) in read) == inside
    assert moc.sky_fraction * 4 * np.pi * SR_TO_DEG2 == pytest.approx(skymap.region_area(0.9))


def test_each_partition_gets_only_the_map_pixels_it_overlaps(skymap):
    import healpy as hp

    for order, pixel in [(0, 4), (2, 70), (4, 300), (9, 300_000)]:
        idx = partition_pixels(skymap, order, pixel)
        # brute force: a map pixel overlaps the cell when one is inside the other
        o, p = skymap.order, skymap.ipix
        coarser = (o <= order) & ((pixel >> (2 * (order - np.minimum(o, order)))) == p)
        finer = (o > order) & ((p >> (2 * (np.maximum(o, order) - order))) == pixel)
        np.testing.assert_array_equal(idx, np.flatnonzero(coarser | finer))
        if idx.size:
            sub = PartitionMap(skymap, idx)
            assert sub.npix == idx.size < skymap.npix
            # a position in the cell gets the whole map's answers from the partition's map
            ra, dec = hp.pix2ang(1 << order, pixel, nest=True, lonlat=True)
            full, part = crossmatch(skymap, ra, dec), crossmatch(sub, ra, dec)
            assert part.credible_level[0] == full.credible_level[0]
            assert part.searched_area[0] == full.searched_area[0]


def test_a_hats_path_and_a_dataframe_are_accepted(client, skymap, frame, catalog, tmp_path):
    small = frame.iloc[:3000]
    want = crossmatch_frame(skymap, small, cumprob=0.5)
    pd.testing.assert_frame_equal(crossmatch_survey(small, skymap, cumprob=0.5), want)
    lsdb.from_dataframe(small, partition_rows=1000).write_catalog(tmp_path / "cat")
    got = crossmatch_survey(tmp_path / "cat", skymap, cumprob=0.5).compute(client)
    got, want = by_id(got), by_id(want)
    assert got.index.tolist() == want.index.tolist()
    np.testing.assert_array_equal(got["credible_level"], want["credible_level"])


def test_errors_say_what_to_do(skymap, catalog, tmp_path):
    with pytest.raises(WorkbenchError, match="not a readable HATS catalog"):
        crossmatch_survey(tmp_path / "nothing", skymap)
    with pytest.raises(WorkbenchError, match="LSDB catalog, a HATS path or a DataFrame"):
        crossmatch_survey(42, skymap)
    with pytest.raises(SkymapError, match="cumprob_vol needs a distance column"):
        crossmatch_survey(catalog, gaussian_skymap(120, 30, 5), cumprob_vol=0.9)
    with pytest.raises(SkymapError, match="no 'rah' column"):
        crossmatch_survey(catalog, skymap, ra="rah")
    with pytest.raises(SkymapError, match="cumprob must be within"):
        crossmatch_survey(catalog, skymap, cumprob=1.5)
