"""``workbench export``: the cache's tables, or a galaxy catalog file, as HATS or Parquet.

``workbench export --format hats DIR --table galaxies`` writes the HATS catalog
``DIR/galaxies`` (hats-import on a local Dask cluster, or ``--scheduler
tcp://host:8786``); ``--format parquet`` writes ``DIR/galaxies.parquet``. ``--file
CATALOG.csv|.parquet|.hdf5`` exports a galaxy catalog file instead of a cache table. Units
(degrees, Mpc, MJD, AB mag, microJansky) are in each file's schema metadata.
"""

from __future__ import annotations

import argparse

from . import add_connection_options

TABLE_NAMES = ("sources", "candidates", "galaxies", "photometry")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="DIR", help="directory to write the catalog(s) into")
    parser.add_argument(
        "--format", dest="fmt", choices=("hats", "parquet"), default="hats", help="default: hats"
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--table", choices=TABLE_NAMES, action="append", help="a cache table (repeatable)"
    )
    what.add_argument("--file", metavar="CATALOG", help="a galaxy catalog .csv/.parquet/.hdf5")
    parser.add_argument("--name", help="catalog name for --file (default: the file's stem)")
    parser.add_argument(
        "--batch-rows", type=int, default=200_000, help="rows read per batch (default 200000)"
    )
    parser.add_argument(
        "--pixel-threshold",
        type=int,
        default=1_000_000,
        help="most rows per HATS partition (default 1000000)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://scheduler:8786"
    )
    add_connection_options(parser, server=False)


def run(args: argparse.Namespace) -> int:
    from ..survey.export import export_galaxy_file, export_table

    client = None
    if args.fmt == "hats":
        from dask.distributed import Client

        from ..survey.lsdb_crossmatch import local_client

        client = Client(args.scheduler) if args.scheduler else local_client()
    options = {
        "fmt": args.fmt,
        "client": client,
        "batch_rows": args.batch_rows,
        "pixel_threshold": args.pixel_threshold,
    }
    try:
        if args.file:
            results = [export_galaxy_file(args.file, args.out, name=args.name, **options)]
        else:
            from ..facade import Workbench

            # the facade resolves --cache / WORKBENCH_CACHE / the config file as `status` does
            cache = Workbench.open(cache=args.cache, offline=True, read_only=True).cache
            results = [export_table(cache, table, args.out, **options) for table in args.table]
    finally:
        if client is not None:
            cluster = None if args.scheduler else client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
    for r in results:
        skipped = f" ({r.skipped} without a position left out)" if r.skipped else ""
        print(f"export: {r.rows} rows written to {r.path}{skipped}")
    return 0
