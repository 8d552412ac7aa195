"""Arrow record batches to Parquet and HATS catalogs, with units in the schema metadata.

:func:`write_parquet` streams batches into one Parquet file. :func:`write_hats` stages them as
Parquet files of at most ``rows_per_file`` rows and runs ``hats-import`` on them (its
map-reduce over a Dask client sorts the rows into HEALPix partitions of at most
``pixel_threshold`` rows), so no step holds the whole table. ``hats-import`` does the
partitioning, the HATS metadata and the ``_healpix_29`` index; the workbench only hands
over the batches.

Units: each column's unit is in its Arrow field metadata (``unit``) and all of them, as
JSON, in the schema metadata key ``workbench.units``; ``hats-import`` is given that schema
(``use_schema_file``) so the catalog's ``_common_metadata`` and every partition keep them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import WorkbenchError

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = ["UNITS_KEY", "read_units", "with_units", "write_hats", "write_parquet"]

UNITS_KEY = b"workbench.units"


def with_units(schema: pa.Schema, units: dict[str, str]) -> pa.Schema:
    """``schema`` with ``unit`` field metadata for the columns in ``units`` and all units as
    JSON under ``workbench.units`` in the schema metadata."""
    fields = []
    for f in schema:
        meta = dict(f.metadata or {})
        if f.name in units:
            meta[b"unit"] = units[f.name].encode()
        fields.append(f.with_metadata(meta))
    meta = dict(schema.metadata or {})
    meta[UNITS_KEY] = json.dumps({k: v for k, v in units.items() if k in schema.names}).encode()
    return pa.schema(fields, metadata=meta)


def read_units(schema: pa.Schema) -> dict[str, str]:
    """The units a schema written here carries (column -> unit)."""
    raw = (schema.metadata or {}).get(UNITS_KEY)
    return json.loads(raw) if raw else {}


def _conformed(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    for batch in batches:
        if batch.num_rows:
            yield pa.Table.from_batches([batch]).cast(schema)


def write_parquet(batches: Iterable[pa.RecordBatch], path: str | Path, schema: pa.Schema) -> int:
    """Stream ``batches`` into the Parquet file ``path`` (written to a temporary name and
    renamed, so a failure leaves no half file); returns the number of rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    rows = 0
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for table in _conformed(batches, schema):
                writer.write_table(table)
                rows += table.num_rows
        tmp.replace(path)
    except (OSError, pa.ArrowException) as exc:
        tmp.unlink(missing_ok=True)
        raise WorkbenchError(f"writing {path} failed: {exc}") from exc
    return rows


def _stage(
    batches: Iterable[pa.RecordBatch], staging: Path, schema: pa.Schema, rows_per_file: int
) -> tuple[list[Path], int]:
    files: list[Path] = []
    writer: pq.ParquetWriter | None = None
    in_file = total = 0
    try:
        for table in _conformed(batches, schema):
            if writer is None or in_file >= rows_per_file:
                if writer is not None:
                    writer.close()
                files.append(staging / f"part-{len(files):05d}.parquet")
                writer, in_file = pq.ParquetWriter(files[-1], schema), 0
            writer.write_table(table)
            in_file += table.num_rows
            total += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return files, total


def write_hats(
    batches: Iterable[pa.RecordBatch],
    out_dir: str | Path,
    name: str,
    schema: pa.Schema,
    *,
    client: Client | None = None,
    ra_column: str = "ra",
    dec_column: str = "dec",
    pixel_threshold: int = 1_000_000,
    highest_order: int = 10,
    rows_per_file: int = 1_000_000,
) -> Path:
    """Write ``batches`` as the HATS catalog ``out_dir/name`` with ``hats-import`` and
    return its path. ``client``: the Dask client to run the import on (default: a local
    one of two one-thread workers, closed afterwards). Rows per partition at most
    ``pixel_threshold``; partitions no finer than HEALPix order ``highest_order``."""
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    if target.exists():
        raise WorkbenchError(f"{target} exists; remove it or choose another directory")
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{name}-", dir=out_dir))
    own_client = client is None
    try:
        files, rows = _stage(batches, staging, schema, rows_per_file)
        if rows == 0:
            raise WorkbenchError(f"nothing to write for {name}: no rows with ra and dec")
        schema_file = staging / "schema.parquet"
        pq.write_table(schema.empty_table(), schema_file)
        args = ImportArguments(
            output_path=str(out_dir),
            output_artifact_name=name,
            input_file_list=[str(f) for f in files],
            file_reader="parquet",
            ra_column=ra_column,
            dec_column=dec_column,
            use_schema_file=str(schema_file),
            pixel_threshold=pixel_threshold,
            highest_healpix_order=highest_order,
            tmp_dir=str(staging / "tmp"),
            expected_total_rows=rows,
            progress_bar=False,
            resume=False,
        )
        if own_client:
            from .lsdb_crossmatch import local_client

            client = local_client()
        pipeline_with_client(args, client)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise WorkbenchError(f"writing the HATS catalog {target} failed: {exc}") from exc
    finally:
        if own_client and client is not None:
            client.close()
            client.cluster.close()
        shutil.rmtree(staging, ignore_errors=True)
    return target
