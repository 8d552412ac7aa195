"""``workbench export``: the cache's tables and galaxy files as Parquet and HATS, in batches,
with units; the exported galaxies crossmatched on LSDB equal the in-memory crossmatch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sync_helpers import open_wb

from workbench.cli import main
from workbench.crossmatch import crossmatch_frame
from workbench.errors import WorkbenchError

lsdb = pytest.importorskip("lsdb")

from workbench.survey.export import (  # noqa: E402
    TABLES,
    export_galaxy_file,
    export_table,
    with_position,
)
from workbench.survey.hats_io import read_units  # noqa: E402
from workbench.survey.lsdb_crossmatch import crossmatch_survey, local_client  # noqa: E402


@pytest.fixture(scope="module")
def wb(server, tmp_path_factory):
    wb = open_wb(server, tmp_path_factory.mktemp("cache") / "c.duckdb")
    wb.sync(progress=False)
    return wb


@pytest.fixture(scope="module")
def client():
    c = local_client(processes=False)
    yield c
    c.close()
    c.cluster.close()


@pytest.mark.parametrize("table", list(TABLES))
def test_parquet_export_streams_every_row_with_units(wb, table, tmp_path):
    expected = {"sources": "SELECT count(DISTINCT obj_id) FROM sources"}
    n = int(wb.sql(expected.get(table, f"SELECT count(*) FROM {table}")).iloc[0, 0])
    # about five keyset pages (each a short read), so paging can neither drop nor repeat a row
    batch = n // 5 + 1
    result = export_table(wb.cache, table, tmp_path, fmt="parquet", batch_rows=batch)
    written = pq.read_table(result.path)
    assert n > 10 and written.num_rows == result.rows == n
    assert result.batches == n // batch + 1
    ids = written.column("id").to_pylist()
    assert len(set(ids)) == n
    assert written.schema.field("ra").metadata[b"unit"] == b"deg"
    assert read_units(written.schema)["dec"] == "deg"
    if table == "galaxies":
        assert read_units(written.schema)["distmpc"] == "Mpc"
        cached = wb.galaxies().set_index("id").sort_index()
        got = written.to_pandas().set_index("id").sort_index()
        np.testing.assert_array_equal(got["distmpc"], cached["distmpc"])
    if table == "photometry":
        assert read_units(written.schema)["flux"].startswith("uJy")
        assert written.column("ra").null_count == 0  # points without a position take the obj's


def test_hats_galaxies_crossmatch_like_the_cache(wb, client, tmp_path):
    result = export_table(wb.cache, "galaxies", tmp_path, client=client, batch_rows=100)
    galaxies = wb.galaxies()
    assert result.rows == len(galaxies) and result.skipped == 0
    catalog = lsdb.open_catalog(result.path)
    assert catalog.hc_structure.catalog_info.total_rows == len(galaxies)
    common = pq.read_schema(result.path / "dataset" / "_common_metadata")
    assert common.field("distmpc").metadata[b"unit"] == b"Mpc"
    dateobs = wb.sql("SELECT dateobs FROM localizations ORDER BY dateobs LIMIT 1").iloc[0, 0]
    skymap = wb.skymap(str(dateobs))
    options = {"distance": "distmpc", "distance_unc": "distmpc_unc", "cumprob": 0.95}
    got = crossmatch_survey(result.path, skymap, **options).compute(client)
    want = crossmatch_frame(skymap, galaxies, **options)
    got, want = got.set_index("id").sort_index(), want.set_index("id").sort_index()
    assert got.index.tolist() == want.index.tolist()
    for col in ("probdensity", "credible_level", "searched_area", "probdensity_vol"):
        if col in want:
            np.testing.assert_array_equal(got[col], want[col], err_msg=col)
    # with this few galaxies both sides sum every 3D level exactly
    if "credible_level_vol" in want:
        np.testing.assert_allclose(
            got["credible_level_vol"], want["credible_level_vol"], atol=1e-12
        )
    with pytest.raises(WorkbenchError, match="exists"):
        export_table(wb.cache, "galaxies", tmp_path, client=client)


def test_a_galaxy_csv_streams_with_lower_case_columns(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "RA": rng.uniform(0, 360, 500),
            "Dec": rng.uniform(-60, 60, 500),
            "DistMpc": rng.uniform(10, 300, 500),
            "name": [f"G{i}" for i in range(500)],
        }
    )
    frame.loc[3, "RA"] = np.nan
    frame.to_csv(tmp_path / "mine.csv", index=False)
    result = export_galaxy_file(tmp_path / "mine.csv", tmp_path / "out", fmt="parquet")
    assert result.rows == 500 and result.path.name == "mine.parquet"
    table = pq.read_table(result.path)
    assert {"ra", "dec", "distmpc", "name"} <= set(table.column_names)
    assert read_units(table.schema)["distmpc"] == "Mpc"
    # HATS gets only the rows with a position, and counts the others
    counted = [0, 0]
    kept = list(with_position(iter(table.to_batches(max_chunksize=100)), counted))
    assert counted == [500, 499]
    assert "G3" not in {n for b in kept for n in b.column("name").to_pylist()}
    with pytest.raises(WorkbenchError, match="lacks the column"):
        frame.drop(columns="RA").to_parquet(tmp_path / "bad.parquet")
        export_galaxy_file(tmp_path / "bad.parquet", tmp_path / "out", fmt="parquet")
    with pytest.raises(WorkbenchError, match=r"read from \.csv, \.parquet or \.hdf5"):
        (tmp_path / "x.txt").write_text("ra,dec\n1,2\n")
        export_galaxy_file(tmp_path / "x.txt", tmp_path / "out")


@pytest.mark.shared_data
def test_the_shared_hdf5_galaxy_catalog_exports(shared_dir, tmp_path):
    path = shared_dir / "data" / "galaxies" / "CLU_mini.hdf5"
    result = export_galaxy_file(path, tmp_path, fmt="parquet", batch_rows=10)
    table = pq.read_table(result.path)
    assert table.num_rows == result.rows > 10
    assert table.schema.field("distmpc").metadata[b"unit"] == b"Mpc"
    assert isinstance(table.column("name")[0].as_py(), str)


def test_cli_export(wb, tmp_path, capsys):
    code = main(
        ["export", str(tmp_path), "--format", "parquet", "--table", "candidates", "--cache",
         str(wb.cache.path)]
    )  # fmt: skip
    assert code == 0
    assert "rows written to" in capsys.readouterr().out
    assert (tmp_path / "candidates.parquet").is_file()
    code = main(
        ["export", str(tmp_path), "--format", "parquet", "--file", str(tmp_path / "no.csv")]
    )
    assert code == 1
    assert "no galaxy catalog file" in capsys.readouterr().err
