"""The cache's tables, and galaxy catalog files, as HATS catalogs or Parquet files.

:func:`export_table` reads one table through the cache's own API (``Cache.arrow``, the cache
owns DuckDB) in keyset-paged batches of ``batch_rows`` rows, each on its own short read (so
a sync writing meanwhile is never blocked for long, and memory holds one batch), and streams
them to :func:`workbench.survey.hats_io.write_hats` or ``write_parquet``. Only the columns
the crossmatch and the plots use are written (:data:`TABLES`), with their units in the
schema metadata. Rows without a position are left out of HATS catalogs (a HATS partition is
a place on the sky) and counted.

:func:`export_galaxy_file` does the same for a galaxy catalog file: CSV (streamed by
pyarrow), Parquet (by row group) or HDF5 (an astropy/h5py table, by slices); column names
are lower-cased, ``ra``/``dec`` (degrees) are required, ``distmpc`` (Mpc) is kept.

Batches are read in key order, each as its own snapshot: a sync that commits between two
batches may show in the later ones only (run the export when no sync runs for one snapshot).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..errors import WorkbenchError
from .hats_io import with_units, write_hats, write_parquet

if TYPE_CHECKING:
    from dask.distributed import Client

    from ..cache import Cache

__all__ = ["TABLES", "UNITS", "ExportResult", "TableSpec", "export_galaxy_file", "export_table"]

# Units of every column written (docs/ARCHITECTURE.md's DataFrame conventions).
UNITS: dict[str, str] = {
    "ra": "deg",
    "dec": "deg",
    "redshift": "",
    "luminosity_distance": "Mpc",
    "distmpc": "Mpc",
    "distmpc_unc": "Mpc",
    "mstar": "Msun",
    "magb": "mag",
    "magk": "mag",
    "mjd": "MJD (d)",
    "mag": "mag (AB)",
    "magerr": "mag",
    "limiting_mag": "mag (AB)",
    "flux": "uJy (zp 23.9)",
    "fluxerr": "uJy (zp 23.9)",
    "zp": "mag",
    "score": "",
    "passed_at": "UTC",
    "last_detected_at": "UTC",
    "created_at": "UTC",
    "modified": "UTC",
}


@dataclass(frozen=True)
class TableSpec:
    """One exportable table: ``select`` (the columns, ``FROM`` and joins, no ``WHERE``),
    ``key`` (a unique column expression to page by), ``where`` (extra row condition)."""

    select: str
    key: str
    where: str = "true"
    position: str = "ra IS NOT NULL AND dec IS NOT NULL"


TABLES: dict[str, TableSpec] = {
    "sources": TableSpec(
        "SELECT o.id, o.ra, o.dec, o.redshift, o.luminosity_distance, o.created_at, "
        "o.modified FROM objs o",
        key="o.id",
        where="o.id IN (SELECT obj_id FROM sources)",
        position="o.ra IS NOT NULL AND o.dec IS NOT NULL",
    ),
    "candidates": TableSpec(
        "SELECT c.obj_id AS id, o.ra, o.dec, o.redshift, c.filter_id, c.passed_at, "
        "c.last_detected_at, c.score FROM candidates c LEFT JOIN objs o ON o.id = c.obj_id",
        key="c.obj_id",
        position="o.ra IS NOT NULL AND o.dec IS NOT NULL",
    ),
    "galaxies": TableSpec(
        "SELECT id, name, catalog_name, ra, dec, distmpc, distmpc_unc, redshift, mstar, magb, "
        "magk FROM galaxies",
        key="id",
    ),
    "photometry": TableSpec(
        # a point without its own position takes its obj's (SkyPortal leaves many unset)
        "SELECT p.id, p.obj_id, p.mjd, p.mag, p.magerr, p.limiting_mag, p.flux, p.fluxerr, "
        "p.zp, p.magsys, p.filter, p.instrument_name, p.origin, coalesce(p.ra, o.ra) AS ra, "
        "coalesce(p.dec, o.dec) AS dec FROM photometry p LEFT JOIN objs o ON o.id = p.obj_id",
        key="p.id",
        position="coalesce(p.ra, o.ra) IS NOT NULL AND coalesce(p.dec, o.dec) IS NOT NULL",
    ),
}

FORMATS = ("hats", "parquet")


@dataclass
class ExportResult:
    """What an export wrote: ``path``, ``rows`` written, ``skipped`` rows without a
    position (HATS only), ``batches`` read, the ``units`` in its schema."""

    path: Path
    rows: int
    skipped: int = 0
    batches: int = 0
    units: dict[str, str] = field(default_factory=dict)


def _cache_batches(
    cache: Cache, spec: TableSpec, where: str, batch_rows: int, counter: list[int]
) -> Iterator[pa.RecordBatch]:
    """The rows of ``spec`` matching ``where``, ``batch_rows`` at a time, by key."""
    base = f"{spec.select} WHERE ({spec.where}) AND ({where})"
    last: Any = None
    while True:
        page = "" if last is None else f" AND {spec.key} > $last"
        sql = f"{base}{page} ORDER BY {spec.key} LIMIT {int(batch_rows)}"
        table = cache.arrow(sql, None if last is None else {"last": last})
        counter[0] += 1
        if table.num_rows == 0:
            return
        yield from table.to_batches()
        if table.num_rows < batch_rows:
            return
        # the key column is the first one selected in every spec
        last = table.column(0)[-1].as_py()


def export_table(
    cache: Cache,
    table: str,
    out: str | Path,
    *,
    fmt: str = "hats",
    client: Client | None = None,
    batch_rows: int = 200_000,
    pixel_threshold: int = 1_000_000,
) -> ExportResult:
    """Write the cache's ``table`` (one of :data:`TABLES`) under the directory ``out``:
    ``fmt="hats"`` as the HATS catalog ``out/table`` (on ``client``, see
    :func:`~workbench.survey.hats_io.write_hats`), ``fmt="parquet"`` as ``out/table.parquet``.
    """
    if table not in TABLES:
        raise WorkbenchError(f"cannot export {table!r}: choose one of {', '.join(TABLES)}")
    if fmt not in FORMATS:
        raise WorkbenchError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if batch_rows < 1:
        raise WorkbenchError(f"batch_rows must be at least 1, got {batch_rows}")
    spec = TABLES[table]
    schema = cache.arrow(f"{spec.select} LIMIT 0").schema
    schema = with_units(schema, UNITS)
    counter = [0]
    out = Path(out)
    if fmt == "parquet":
        path = out / f"{table}.parquet"
        rows = write_parquet(_cache_batches(cache, spec, "true", batch_rows, counter), path, schema)
        return ExportResult(path, rows, 0, counter[0], _units(schema))
    counted = cache.arrow(f"SELECT count(*) AS n FROM ({spec.select} WHERE {spec.where})")
    batches = _cache_batches(cache, spec, spec.position, batch_rows, counter)
    path = write_hats(batches, out, table, schema, client=client, pixel_threshold=pixel_threshold)
    rows = _hats_rows(path)
    return ExportResult(
        path, rows, int(counted.column(0)[0].as_py()) - rows, counter[0], _units(schema)
    )


def _units(schema: pa.Schema) -> dict[str, str]:
    from .hats_io import read_units

    return read_units(schema)


def _hats_rows(path: Path) -> int:
    import hats

    return int(hats.read_hats(path).catalog_info.total_rows)


# -- galaxy catalog files -----------------------------------------------------------------


def _lower(batch: pa.RecordBatch) -> pa.RecordBatch:
    return batch.rename_columns([c.lower() for c in batch.schema.names])


def _file_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if suffix in (".csv", ".csv.gz"):
        import pyarrow.csv as pcsv

        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 24))
        for batch in reader:
            yield _lower(batch)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            yield _lower(batch)
    elif suffix in (".h5", ".hdf5", ".hdf"):
        yield from _hdf5_batches(path, batch_rows)
    else:
        raise WorkbenchError(
            f"{path.name}: galaxy catalogs are read from .csv, .parquet or .hdf5 files"
        )


def _hdf5_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The first table (compound dataset, as astropy and pandas' fixed format write) of an
    HDF5 file, ``batch_rows`` rows at a time; byte strings become text."""
    import h5py

    with h5py.File(path, "r") as f:
        found: list[Any] = []
        f.visititems(
            lambda _, obj: (
                found.append(obj) if isinstance(obj, h5py.Dataset) and obj.dtype.names else None
            )
        )
        if not found:
            raise WorkbenchError(f"{path.name} holds no table (an HDF5 compound dataset)")
        data = found[0]
        for start in range(0, data.shape[0], batch_rows):
            chunk = data[start : start + batch_rows]
            cols = {}
            for name in chunk.dtype.names:
                col = chunk[name]
                if col.dtype.kind == "S":
                    col = np.char.decode(col, "utf-8")
                cols[name.lower()] = col
            yield pa.RecordBatch.from_pydict(cols)


def with_position(
    batches: Iterator[pa.RecordBatch], counted: list[int]
) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches`` with a finite ``ra`` and ``dec`` (a HATS partition is a
    place on the sky); ``counted`` becomes [rows seen, rows kept]."""
    import pyarrow.compute as pc

    for batch in batches:
        ok = pc.and_(pc.is_finite(batch["ra"]), pc.is_finite(batch["dec"]))
        kept = batch.filter(pc.fill_null(ok, False))
        counted[0] += batch.num_rows
        counted[1] += kept.num_rows
        yield kept


def export_galaxy_file(
    path: str | Path,
    out: str | Path,
    *,
    name: str | None = None,
    fmt: str = "hats",
    client: Client | None = None,
    batch_rows: int = 200_000,
    pixel_threshold: int = 1_000_000,
) -> ExportResult:
    """Write a galaxy catalog file (CSV, Parquet, HDF5; ``ra``/``dec`` in degrees,
    ``distmpc`` in Mpc) as the HATS catalog ``out/name`` (default: the file's stem) or
    as ``out/name.parquet``, streamed in batches of about ``batch_rows`` rows."""
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"no galaxy catalog file at {path}")
    if fmt not in FORMATS:
        raise WorkbenchError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    name = name or path.name.split(".")[0]
    batches = _file_batches(path, batch_rows)
    first = next(batches, None)
    if first is None:
        raise WorkbenchError(f"{path.name} has no rows")
    missing = {"ra", "dec"} - set(first.schema.names)
    if missing:
        raise WorkbenchError(
            f"{path.name} lacks the column(s) {sorted(missing)}: galaxies need ra, dec (degrees)"
        )
    schema = with_units(first.schema, UNITS)

    def all_batches() -> Iterator[pa.RecordBatch]:
        yield first
        yield from batches

    out = Path(out)
    if fmt == "parquet":
        target = out / f"{name}.parquet"
        rows = write_parquet(all_batches(), target, schema)
        return ExportResult(target, rows, units=_units(schema))
    counted = [0, 0]
    target = write_hats(
        with_position(all_batches(), counted),
        out,
        name,
        schema,
        client=client,
        pixel_threshold=pixel_threshold,
    )
    return ExportResult(target, counted[1], counted[0] - counted[1], units=_units(schema))
