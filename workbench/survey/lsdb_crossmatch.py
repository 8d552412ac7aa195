"""The crossmatch on LSDB and Dask: a HATS catalog against a localization, partition by partition.

:func:`crossmatch_survey` takes an LSDB catalog, a HATS path or a pandas DataFrame and a
:class:`~workbench.skymap.Skymap`, and gives exactly the columns and values of the in-memory
:func:`workbench.crossmatch.crossmatch_frame` (``probdensity`` per sr, ``credible_level``,
``searched_area`` deg², and with distances ``probdensity_vol`` per Mpc³ and
``credible_level_vol``), because each partition is handed to that same function:

1. With ``cumprob``, the credible region (the map's pixels with ``credible_level <=
   cumprob``) becomes a MOC (mocpy, which lsdb depends on) and LSDB's ``moc_search`` drops
   every partition outside it before any data is read (``fine=False``: the row selection
   stays with ``crossmatch_frame``, so both paths select rows by the same test).
2. Each remaining partition (a HEALPix pixel) gets a small :class:`Skymap` holding only the
   map pixels that overlap it (only the region's pixels when ``cumprob`` is set: rows in
   other pixels then find no pixel and are dropped, as they would be anyway), carrying the
   *whole* map's credible level, searched area and total probability, so a row's answers are
   those of the whole map. Each Dask task carries only its own partition's pixels.
3. The 3D level of a density is a sum over every pixel of the map, so it cannot be cut per
   partition. A catalog of more rows than ``max_evals`` (see :mod:`workbench.crossmatch`)
   reads it from the map's table of exact sums (:meth:`VolumeLevels.table`), built once on
   the client; the table rides along with the one :class:`VolumeLevels` that is sent once
   to each worker (one Dask key all tasks depend on), and every partition interpolates in
   it, which costs per row (not per map pixel). A smaller catalog is summed exactly in
   both paths.

The result is lazy (:class:`SurveyCrossmatch`, a Dask DataFrame and the pruning figures);
``.compute(client)`` runs it. Every column equals the in-memory one: the 2D columns and
``probdensity_vol`` are gathered from the same pixels, and ``credible_level_vol`` comes
from the same table (or the same exact sums) element by element, whatever the batch (to the
last bit on this machine; numpy's vectorised ``log`` could in principle round a value one
unit differently in another position of an array).

Dask cluster: pass any ``dask.distributed.Client``::

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")      # a real cluster
    client = local_client()                       # or two one-thread workers here
    result = crossmatch_survey("hats/galaxies", skymap, cumprob=0.9,
                               distance="distmpc", distance_unc="distmpc_unc")
    frame = result.compute(client)

Workers must be able to read the HATS path (a shared file system or object store URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..crossmatch import VolumeLevels, check_cumprob, crossmatch_frame, density_vol
from ..errors import SkymapError, WorkbenchError
from ..skymap import Skymap

if TYPE_CHECKING:
    import dask.dataframe as dd
    import lsdb
    from dask.distributed import Client
    from mocpy import MOC

__all__ = [
    "PartitionMap",
    "SurveyCrossmatch",
    "crossmatch_partition",
    "crossmatch_survey",
    "local_client",
    "open_catalog",
    "partition_pixels",
    "region_moc",
]

DEPTH = 29  # HEALPix's deepest order: every nested range is compared there (fits in int64)
VOL_COLUMNS = ("probdensity_vol", "credible_level_vol")
COLUMNS_2D = ("probdensity", "credible_level", "searched_area")


class PartitionMap(Skymap):
    """The pixels ``idx`` of ``full`` (indices into its arrays, ascending) as a Skymap whose
    ``credible_level``, ``searched_area`` (deg²) and ``total_prob`` are the whole map's:
    what one partition needs to get the whole map's answers for its own rows."""

    def __init__(self, full: Skymap, idx: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        layers = (
            [full.distmu[idx], full.distsigma[idx], full.distnorm[idx]] if full.has_distance else []
        )
        super().__init__(full.uniq[idx], full.probdensity[idx], *layers, meta=full.meta)
        self._level = full.credible_level[idx]
        self._searched = full.searched_area[idx]
        self._total = full.total_prob

    @property
    def credible_level(self) -> np.ndarray:  # the whole map's, not this subset's
        return self._level

    @property
    def searched_area(self) -> np.ndarray:
        return self._searched

    @property
    def total_prob(self) -> float:  # level of a position no pixel covers (partial maps)
        return self._total


def _ranges(skymap: Skymap, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nested ranges [start, end) at :data:`DEPTH` of the pixels ``idx``, sorted by start,
    and the pixel indices in that order. Pixels never overlap, so ends are sorted too."""
    shift = 2 * (DEPTH - skymap.order[idx])
    starts = skymap.ipix[idx] << shift
    ends = (skymap.ipix[idx] + 1) << shift
    perm = np.argsort(starts, kind="stable")
    return starts[perm], ends[perm], idx[perm]


def partition_pixels(
    skymap: Skymap, order: int, pixel: int, ranges: tuple[np.ndarray, ...] | None = None
) -> np.ndarray:
    """Indices (ascending) of the map pixels overlapping the HEALPix cell (``order``,
    ``pixel``, NESTED); ``ranges`` from :func:`_ranges` to restrict the candidates."""
    starts, ends, idx = ranges if ranges is not None else _ranges(skymap, np.arange(skymap.npix))
    shift = 2 * (DEPTH - int(order))
    lo, hi = np.int64(pixel) << shift, np.int64(pixel + 1) << shift
    first = np.searchsorted(ends, lo, side="right")  # first pixel ending after lo
    last = np.searchsorted(starts, hi, side="left")  # pixels starting before hi
    return np.sort(idx[first:last])


def region_moc(skymap: Skymap, cumprob: float = 0.9) -> MOC:
    """The ``cumprob`` credible region (pixels with ``credible_level <= cumprob``) as a
    mocpy MOC at the map's own orders (nothing is rasterised)."""
    from mocpy import MOC

    inside = skymap.region(check_cumprob(cumprob))
    if not inside.any():
        raise SkymapError(
            f"the {cumprob} credible region of {skymap.meta.get('name') or 'this map'} holds "
            "no pixel (every pixel's level exceeds it): raise cumprob"
        )
    return MOC.from_healpix_cells(
        skymap.ipix[inside].astype(np.uint64),
        skymap.order[inside].astype(np.uint8),
        max_depth=skymap.max_order,
    )


def crossmatch_partition(
    df: pd.DataFrame,
    pmap: PartitionMap,
    levels: VolumeLevels | None,
    *,
    ra: str,
    dec: str,
    distance: str | None,
    distance_unc: str | None,
    cumprob: float | None,
    cumprob_vol: float | None,
    interpolate: bool = False,
) -> pd.DataFrame:
    """One partition: :func:`crossmatch_frame` for the 2D columns and the ``cumprob``
    selection on the partition's map, then the 3D columns from :func:`density_vol` on the
    partition's map and ``levels`` (the whole map's :class:`VolumeLevels`; ``interpolate``:
    read its table, as the in-memory call on the whole catalog does), as
    :func:`workbench.crossmatch.crossmatch` computes them."""
    out = crossmatch_frame(pmap, df, ra=ra, dec=dec, distance=None, cumprob=cumprob)
    if levels is None:
        return out
    ra_arr, dec_arr = out[ra].to_numpy(float), out[dec].to_numpy(float)
    dist = out[distance].to_numpy(float)
    unc = out[distance_unc].to_numpy(float) if distance_unc in out.columns else None
    vol = density_vol(pmap, pmap.lookup(ra_arr, dec_arr), dist, unc)
    vol[~(np.isfinite(ra_arr) & np.isfinite(dec_arr))] = np.nan
    out["probdensity_vol"] = vol
    out["credible_level_vol"] = levels(vol, interpolate=interpolate)
    if cumprob_vol is not None:
        out = out[out["credible_level_vol"].to_numpy() <= cumprob_vol]
    return out


@dataclass
class SurveyCrossmatch:
    """A lazy crossmatch: ``frame`` (Dask DataFrame, one partition per catalog partition
    read), ``pixels`` (the HEALPix partitions read, ``(order, pixel)``), and
    ``partitions_total`` (the catalog's partitions before pruning)."""

    frame: dd.DataFrame
    pixels: list[tuple[int, int]]
    partitions_total: int

    @property
    def partitions_read(self) -> int:
        """How many partitions the computation reads."""
        return len(self.pixels)

    def compute(self, client: Client | None = None) -> pd.DataFrame:
        """Run it on ``client`` (default: the current Dask client, else Dask's local
        scheduler) and return the pandas DataFrame, row order as the catalog's partitions."""
        if client is None:
            return self.frame.compute()
        return client.compute(self.frame).result()


def open_catalog(path: str | Path, **kwargs: Any) -> lsdb.Catalog:
    """``lsdb.open_catalog`` with a workbench error for a path that holds no HATS catalog."""
    import lsdb

    try:
        return lsdb.open_catalog(str(path), **kwargs)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise WorkbenchError(
            f"{path} is not a readable HATS catalog ({exc}); write one with "
            "`workbench export --format hats`"
        ) from exc


def crossmatch_survey(
    catalog: Any,
    skymap: Skymap,
    *,
    ra: str | None = None,
    dec: str | None = None,
    distance: str | None = "distance",
    distance_unc: str | None = None,
    cumprob: float | None = None,
    cumprob_vol: float | None = None,
) -> SurveyCrossmatch | pd.DataFrame:
    """Crossmatch a catalog with ``skymap``: an LSDB catalog or a HATS path gives a lazy
    :class:`SurveyCrossmatch`, a pandas DataFrame the in-memory answer at once.

    Columns and selections as :func:`workbench.crossmatch.crossmatch_frame`: ``ra``/``dec``
    in degrees (default: the catalog's own ra/dec columns), ``distance``/``distance_unc``
    in Mpc (used when the column exists and the map has distance layers), ``cumprob``
    keeps rows with ``credible_level <= cumprob`` and prunes partitions outside that
    region first, ``cumprob_vol`` keeps rows with ``credible_level_vol <= cumprob_vol``.
    """
    if isinstance(catalog, pd.DataFrame):
        return crossmatch_frame(
            skymap,
            catalog,
            ra=ra or "ra",
            dec=dec or "dec",
            distance=distance,
            distance_unc=distance_unc,
            cumprob=cumprob,
            cumprob_vol=cumprob_vol,
        )
    if isinstance(catalog, str | Path):
        catalog = open_catalog(catalog)
    if not hasattr(catalog, "hc_structure"):
        raise WorkbenchError(
            f"crossmatch_survey takes an LSDB catalog, a HATS path or a DataFrame; "
            f"got {type(catalog).__name__}"
        )
    info = catalog.hc_structure.catalog_info
    ra, dec = ra or info.ra_column, dec or info.dec_column
    columns = list(catalog.columns)
    for col in (ra, dec):
        if col not in columns:
            raise SkymapError(f"the catalog has no {col!r} column (columns: {columns})")
    use_dist = distance is not None and distance in columns and skymap.has_distance
    if cumprob_vol is not None and not use_dist:
        raise SkymapError("cumprob_vol needs a distance column and a map with distance layers")
    threshold = None if cumprob is None else check_cumprob(cumprob)
    threshold_vol = None if cumprob_vol is None else check_cumprob(cumprob_vol)

    total = len(catalog.get_healpix_pixels())
    levels = VolumeLevels(skymap) if use_dist else None
    # the in-memory call gets every row of the catalog (pruned ones too): it reads the
    # map's table when they outnumber max_evals, so every partition must; built here, once
    interpolate = levels is not None and _total_rows(catalog) > levels.max_evals
    if interpolate:
        levels.table()
    candidates = np.arange(skymap.npix)
    if threshold is not None:
        catalog = catalog.moc_search(region_moc(skymap, threshold), fine=False)
        candidates = np.flatnonzero(skymap.region(threshold))
    ranges = _ranges(skymap, candidates)
    options = {
        "ra": ra,
        "dec": dec,
        "distance": distance if use_dist else None,
        "distance_unc": distance_unc if use_dist else None,
        "cumprob": threshold,
        "cumprob_vol": threshold_vol,
        "interpolate": interpolate,
    }
    pixels = [(int(p.order), int(p.pixel)) for p in catalog.get_healpix_pixels()]
    frame = _lazy_frame(catalog, skymap, pixels, ranges, levels, options)
    return SurveyCrossmatch(frame, pixels, total)


def _total_rows(catalog: lsdb.Catalog) -> int:
    """Rows of the whole catalog: from its HATS properties, else counted (reads it)."""
    rows = catalog.hc_structure.catalog_info.total_rows
    if rows is not None:
        return int(rows)
    import dask

    return int(sum(dask.compute(*[dask.delayed(len)(p) for p in catalog.to_delayed()])))


def _lazy_frame(
    catalog: lsdb.Catalog,
    skymap: Skymap,
    pixels: list[tuple[int, int]],
    ranges: tuple[np.ndarray, ...],
    levels: VolumeLevels | None,
    options: dict[str, Any],
) -> dd.DataFrame:
    import dask
    import dask.dataframe as dd

    meta = catalog.meta.iloc[:0].copy()
    for name in COLUMNS_2D + (VOL_COLUMNS if levels is not None else ()):
        meta[name] = np.array([], dtype=np.float64)
    if not pixels:
        return dd.from_pandas(meta, npartitions=1)
    # one key for the whole map's 3D levels: each worker fetches it once
    shared = dask.delayed(levels, pure=True) if levels is not None else None
    task = dask.delayed(crossmatch_partition, pure=True)
    parts = []
    for (order, pixel), part in zip(pixels, catalog.to_delayed(), strict=True):
        idx = partition_pixels(skymap, order, pixel, ranges)
        if idx.size == 0:  # no map pixel here: a one-pixel map elsewhere finds nothing
            idx = np.array([int(ranges[2][0]) if ranges[2].size else 0])
        parts.append(task(part, PartitionMap(skymap, idx), shared, **options))
    return dd.from_delayed(parts, meta=meta, verify_meta=False)


def local_client(
    n_workers: int = 2,
    threads_per_worker: int = 1,
    memory_limit: str = "2GiB",
    processes: bool = True,
) -> Client:
    """A ``dask.distributed`` Client on a LocalCluster of ``n_workers`` workers of
    ``threads_per_worker`` threads each (memory per worker capped at ``memory_limit``;
    ``processes=False`` keeps them in this process, quicker to start for small jobs).
    Close it (``client.close(); client.cluster.close()``) or use it in a ``with`` block.

    In-process workers get no memory limit: Dask measures a worker's memory as its
    process's, so inside a large host process (a notebook kernel, a test run) a limit
    would pause every worker before its first task and the computation would never end.
    """
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        memory_limit=memory_limit if processes else 0,
        processes=processes,
        dashboard_address=None,
    )
    return Client(cluster)
