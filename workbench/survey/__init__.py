"""Survey scale: the cache as HATS catalogs, and the crossmatch on LSDB and Dask.

Everything else in the workbench runs in one process; this package hands the data to the
community's engine for catalogs that outgrow one machine: HATS (HEALPix-partitioned Parquet)
and LSDB, which runs on Dask, so the same code runs on a laptop or a cluster.

* :mod:`workbench.survey.export`: the cache's tables (sources, candidates, galaxies,
  photometry) and galaxy catalog files (CSV, HDF5, Parquet) as HATS catalogs or Parquet,
  read in Arrow batches so large tables stream.
* :mod:`workbench.survey.hats_io`: Arrow batches -> staged Parquet -> ``hats-import``.
* :mod:`workbench.survey.lsdb_crossmatch`: :func:`crossmatch_survey` runs
  :func:`workbench.crossmatch.crossmatch_frame` on each partition of an LSDB catalog, after
  pruning the partitions outside the credible region.

Dask: pass any ``dask.distributed.Client``; ``Client("tcp://scheduler:8786")`` for a real
cluster, :func:`local_client` for two one-thread workers on this machine.

Nothing here is imported by ``import workbench``: lsdb, hats and dask load only when used.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SurveyCrossmatch",
    "crossmatch_survey",
    "export_galaxy_file",
    "export_table",
    "local_client",
    "open_catalog",
    "region_moc",
]

_WHERE = {
    "SurveyCrossmatch": "lsdb_crossmatch",
    "crossmatch_survey": "lsdb_crossmatch",
    "local_client": "lsdb_crossmatch",
    "open_catalog": "lsdb_crossmatch",
    "region_moc": "lsdb_crossmatch",
    "export_galaxy_file": "export",
    "export_table": "export",
}


def __getattr__(name: str) -> Any:
    # lazy: importing lsdb/dask costs seconds, and most workbench sessions never need them
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
