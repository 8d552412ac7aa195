"""Survey scale: the in-memory crossmatch against the LSDB one on a HATS catalog.

    .venv/bin/python benchmarks/bench_survey.py                 # GLADE+-sized: 2.25e7 galaxies
    .venv/bin/python benchmarks/bench_survey.py --rows 1e8 --in-memory-limit 6  # survey scale
    .venv/bin/python benchmarks/bench_survey.py --rows 2e6      # a few minutes on 2 cores
    .venv/bin/python benchmarks/bench_survey.py --build-only    # write the catalog, stop

Generates a galaxy catalog once (``--dir``, reused when present): positions uniform on the
sky, distances uniform in volume out to 500 Mpc with a 10% uncertainty, written as HATS by
:func:`workbench.survey.hats_io.write_hats` (hats-import) in batches of a million rows.
Then for each skymap (the three real ones in ../shared/data/skymaps, else synthetic) at
``--cumprob`` (0.9) prints side by side:

* LSDB on a LocalCluster of ``--workers`` (2) one-thread worker processes (imports warmed
  up first): wall time including each worker writing its partitions' answers to Parquet
  (nothing is gathered in this process, as a survey-scale job would run), the workers' CPU
  time (the machine may be shared), partitions and rows read of all, peak RSS of each
  worker (VmHWM, reset per map);
* in memory, in a child process (optionally under an address-space limit,
  ``--in-memory-limit`` GiB, RLIMIT_AS): reading the five columns of the whole catalog into
  one DataFrame plus :func:`workbench.crossmatch.crossmatch_frame`, wall and CPU time, the
  child's peak RSS, or the MemoryError it met; skipped above ``--max-in-memory`` rows;
* the largest difference between the two answers, per column.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.crossmatch import crossmatch_frame
from workbench.skymap import Skymap, read_skymap
from workbench.skymap_synthetic import gaussian_skymap
from workbench.survey.hats_io import with_units, write_hats
from workbench.survey.lsdb_crossmatch import crossmatch_survey, local_client

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "skymaps"
COLUMNS = ["id", "ra", "dec", "distmpc", "distmpc_unc"]
OPTIONS = {"distance": "distmpc", "distance_unc": "distmpc_unc"}


def load_maps() -> dict[str, Skymap]:
    if SHARED.is_dir():
        names = ("bayestar.fits.gz", "LALInference.v1.fits.gz", "GRB220617A_IPN_map_hpx.fits.gz")
        return {name: read_skymap(SHARED / name) for name in names}
    print("../shared absent: synthetic maps")
    return {
        "synthetic-broad": gaussian_skymap(240, 20, 15, distmean=150, diststd=45, max_order=8),
        "synthetic-narrow": gaussian_skymap(13, -25, 1, distmean=260, diststd=50, max_order=10),
    }


def galaxy_batches(rows: int, seed: int = 1, chunk: int = 1_000_000) -> Iterator[pa.RecordBatch]:
    """``rows`` synthetic galaxies, a million at a time (never all in memory)."""
    rng = np.random.default_rng(seed)
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        dist = 500.0 * rng.uniform(0, 1, n) ** (1 / 3)
        yield pa.RecordBatch.from_pydict(
            {
                "id": np.arange(start, start + n, dtype=np.int64),
                "ra": rng.uniform(0, 360, n),
                "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
                "distmpc": dist,
                "distmpc_unc": 0.1 * dist,
            }
        )


def build(path: Path, rows: int, client, pixel_threshold: int) -> Path:
    target = path / f"galaxies_{rows}_{pixel_threshold}"
    if (target / "hats.properties").exists():
        print(f"reusing {target}")
        return target
    schema = with_units(
        pa.schema([(c, pa.int64() if c == "id" else pa.float64()) for c in COLUMNS]),
        {"ra": "deg", "dec": "deg", "distmpc": "Mpc", "distmpc_unc": "Mpc"},
    )
    t0 = time.perf_counter()
    write_hats(galaxy_batches(rows), path, target.name, schema, client=client,
               pixel_threshold=pixel_threshold, highest_order=8)  # fmt: skip
    print(f"wrote {rows:,} galaxies as HATS in {time.perf_counter() - t0:.1f} s: {target}")
    return target


def build_direct(path: Path, rows: int, pixel_threshold: int, seed: int = 1) -> Path:
    """``--direct``: the same kind of catalog written straight into HATS partitions, for sizes
    where hats-import's shuffle takes hours on 2 shared cores. Positions uniform on the sky
    make it possible: each HEALPix cell of one order gets a multinomial share of the rows,
    drawn uniformly inside it (random order-29 cells, their centres), sorted by
    ``_healpix_29``; the order is the coarsest whose cells stay under ``pixel_threshold``
    (as hats-import would choose for uniform rows). hats writes ``_metadata``; the
    properties file and partition list follow hats-import's. Benchmark data only: the
    workbench's own export goes through hats-import (:func:`write_hats`)."""
    import cdshealpix.nested
    import pyarrow.parquet as pq
    from hats.io.parquet_metadata import write_parquet_metadata

    target = path / f"galaxies_{rows}_{pixel_threshold}_direct"
    if (target / "hats.properties").exists():
        print(f"reusing {target}")
        return target
    t0 = time.perf_counter()
    order = 0
    # the coarsest order whose expected cell count plus 6 sigma stays under the threshold
    while rows / (12 * 4**order) + 6 * np.sqrt(rows / (12 * 4**order)) > pixel_threshold:
        order += 1
    npix = 12 * 4**order
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(rows, np.full(npix, 1.0 / npix))
    schema = with_units(
        pa.schema([("_healpix_29", pa.int64())] + [(c, pa.int64() if c == "id" else pa.float64())
                                                   for c in COLUMNS]),
        {"ra": "deg", "dec": "deg", "distmpc": "Mpc", "distmpc_unc": "Mpc"},
    )  # fmt: skip
    tmp = path / f".{target.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    shift = 2 * (29 - order)
    start = 0
    for pix, n in enumerate(counts):
        h = np.sort(rng.integers(pix << shift, (pix + 1) << shift, n, dtype=np.int64))
        lon, lat = cdshealpix.nested.healpix_to_lonlat(h.astype(np.uint64), 29)
        dist = 500.0 * rng.uniform(0, 1, n) ** (1 / 3)
        table = pa.Table.from_pydict(
            {
                "_healpix_29": h,
                "id": np.arange(start, start + n, dtype=np.int64),
                "ra": lon.deg.astype(np.float64),
                "dec": lat.deg.astype(np.float64),
                "distmpc": dist,
                "distmpc_unc": 0.1 * dist,
            },
            schema=schema,
        )
        start += n
        folder = tmp / "dataset" / f"Norder={order}" / f"Dir={pix // 10_000 * 10_000}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"Npix={pix}.parquet")
    (tmp / "partition_info.csv").write_text(
        "Norder,Npix\n" + "".join(f"{order},{p}\n" for p in range(npix))
    )
    write_parquet_metadata(tmp)
    (tmp / "hats.properties").write_text(
        "#HATS catalog\n"
        f"obs_collection={target.name}\ndataproduct_type=object\nhats_nrows={rows}\n"
        "hats_col_ra=ra\nhats_col_dec=dec\nhats_col_healpix=_healpix_29\n"
        "hats_col_healpix_order=29\nhats_npix_suffix=.parquet\n"
        f"hats_max_rows={pixel_threshold}\nmoc_sky_fraction=1.0\n"
        f"hats_builder=workbench bench_survey --direct\nhats_version=v1.0\nhats_order={order}\n"
    )
    tmp.rename(target)
    print(f"wrote {rows:,} galaxies directly as HATS ({npix} partitions of order {order}) "
          f"in {time.perf_counter() - t0:.1f} s: {target}")  # fmt: skip
    return target


def in_memory(path: Path, skymap: Skymap, cumprob: float, out: Path) -> dict:
    """The in-memory crossmatch of the whole catalog (run in the child process); writes
    the answer to ``out`` (not timed) and returns the figures."""
    import pyarrow.dataset as ds

    gc.collect()
    _reset_peak()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    frame = ds.dataset(path / "dataset", format="parquet", partitioning="hive").to_table(
        columns=COLUMNS
    )
    frame = frame.to_pandas()
    result = crossmatch_frame(skymap, frame, cumprob=cumprob, **OPTIONS)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    del frame
    result.to_parquet(out)
    return {"wall": wall, "cpu": cpu, "rows": len(result), "peak_mb": _peak_mb()}


def _child(args: argparse.Namespace) -> None:
    """``--child MAP``: the in-memory path in its own process, under ``--in-memory-limit``."""
    skymap = load_maps()[args.child]
    # imports are not the crossmatch's memory: load them before the limit
    import pyarrow.dataset  # noqa: F401
    import scipy.interpolate
    import scipy.special  # noqa: F401

    base = _status_mb("VmSize")
    if args.in_memory_limit:
        # the limit covers the address space of the whole process, imports (base) included
        limit = int(args.in_memory_limit * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    t0 = time.perf_counter()
    try:
        figures = in_memory(args.catalog, skymap, args.cumprob, args.out)
    except MemoryError as exc:
        figures = {"error": f"MemoryError {exc}".strip(), "after": time.perf_counter() - t0}
        figures["peak_mb"] = _peak_mb()
    figures["vmsize_before_mb"] = base
    print("FIGURES " + json.dumps(figures), flush=True)


def in_memory_child(args: argparse.Namespace, path: Path, name: str, out: Path) -> dict:
    """Run :func:`_child` for map ``name`` in a fresh interpreter; its figures, or how it
    ended (a child killed by the kernel or failing outside numpy reports no figures)."""
    cmd = [sys.executable, __file__, "--child", name, "--catalog", str(path), "--out", str(out),
           "--cumprob", str(args.cumprob), "--in-memory-limit", str(args.in_memory_limit or 0)]  # fmt: skip
    # the system allocator: under RLIMIT_AS a failed allocation is then a MemoryError, where
    # Arrow's own pool could hang its reader threads
    env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=args.in_memory_timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {args.in_memory_timeout:.0f} s (killed)",
                "after": time.perf_counter() - t0}  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("FIGURES "):
            return json.loads(line[len("FIGURES ") :])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {proc.returncode}: {tail[:200]}", "after": time.perf_counter() - t0}


def _reset_peak() -> None:
    # Linux: writing 5 to clear_refs resets this process's peak RSS (VmHWM)
    Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    return _status_mb("VmHWM")


def _status_mb(key: str) -> float:
    """A /proc/self/status figure (VmHWM: peak RSS, VmSize: address space) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _warm_up() -> None:
    import lsdb  # noqa: F401  (imports and numba compilation are not the crossmatch's cost)

    import workbench.survey.lsdb_crossmatch  # noqa: F401


def on_lsdb(path: Path, skymap: Skymap, cumprob: float, client, out: Path):
    """The LSDB crossmatch, each worker writing its partitions' answers under ``out``."""
    client.run(_reset_peak)
    cpu0 = client.run(time.process_time)
    t0 = time.perf_counter()
    result = crossmatch_survey(path, skymap, cumprob=cumprob, **OPTIONS)
    result.frame.to_parquet(out, write_index=False)
    wall = time.perf_counter() - t0
    cpu = sum(t - cpu0[w] for w, t in client.run(time.process_time).items())
    return wall, cpu, result, sorted(client.run(_peak_mb).values())


def rows_in(path: Path, pixels: list[tuple[int, int]]) -> int:
    """Rows of the catalog's partitions ``pixels`` (from the Parquet footers)."""
    import pyarrow.parquet as pq
    from hats.io.paths import pixel_catalog_file
    from hats.pixel_math import HealpixPixel

    return sum(
        pq.ParquetFile(str(pixel_catalog_file(path, HealpixPixel(o, p)))).metadata.num_rows
        for o, p in pixels
    )


def largest_difference(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, float]:
    a, b = a.set_index("id").sort_index(), b.set_index("id").sort_index()
    if a.index.tolist() != b.index.tolist():
        return {"rows differ": float(abs(len(a) - len(b)))}
    cols = ["probdensity", "credible_level", "searched_area", "probdensity_vol",
            "credible_level_vol"]  # fmt: skip
    return {
        c: float(np.nanmax(np.abs(a[c].to_numpy() - b[c].to_numpy()))) if len(a) else 0.0
        for c in cols
        if c in a and c in b
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=float, default=2.25e7, help="catalog rows (2.25e7, 1e8)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/workbench-bench-survey"))
    parser.add_argument("--cumprob", type=float, default=0.9)
    parser.add_argument(
        "--pixel-threshold", type=int, default=300_000, help="most rows per HATS partition"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GiB", help="per worker")
    parser.add_argument("--build-only", action="store_true", help="write the catalog, stop")
    parser.add_argument(
        "--direct", action="store_true", help="write HATS partitions directly (not hats-import)"
    )
    parser.add_argument(
        "--max-in-memory", type=float, default=1.5e8, help="skip the in-memory path above this"
    )
    parser.add_argument(
        "--in-memory-limit", type=float, default=0, help="GiB of address space (0: none)"
    )
    parser.add_argument(
        "--in-memory-timeout", type=float, default=1800, help="s before the child is killed"
    )
    parser.add_argument("--maps", default="", help="comma-separated map names (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--catalog", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    rows = int(args.rows)
    maps = load_maps()
    if args.maps:
        maps = {k: v for k, v in maps.items() if k in args.maps.split(",")}
    client = local_client(n_workers=args.workers, memory_limit=args.memory_limit)
    scratch = args.dir / "answers"
    try:
        if args.direct:
            path = build_direct(args.dir, rows, args.pixel_threshold)
        else:
            path = build(args.dir, rows, client, args.pixel_threshold)
        if args.build_only:
            return
        client.run(_warm_up)
        limit = f"under RLIMIT_AS {args.in_memory_limit:g} GiB" if args.in_memory_limit else ""
        print(f"\n{rows:,} galaxies, {args.workers} workers x 1 thread, cumprob {args.cumprob}")
        for name, skymap in maps.items():
            print(
                f"\n{name}: {skymap.npix} pixels, 90% area {skymap.area(0.9):.0f} deg2", flush=True
            )
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            wall, cpu, result, peaks = on_lsdb(path, skymap, args.cumprob, client, scratch / "lsdb")
            lazy_out = pd.read_parquet(scratch / "lsdb")
            print(
                f"  LSDB      {wall:7.1f} s ({cpu:.1f} CPU s on the workers), "
                f"{len(lazy_out):,} rows out, partitions read "
                f"{result.partitions_read}/{result.partitions_total} "
                f"({rows_in(path, result.pixels):,} rows of {rows:,}), peak RSS per worker "
                + ", ".join(f"{p:.0f} MB" for p in peaks),
                flush=True,
            )
            if rows > args.max_in_memory:
                print("  in memory skipped (--max-in-memory)")
                continue
            fig = in_memory_child(args, path, name, scratch / "memory.parquet")
            if "error" in fig:
                peak = f", peak RSS {fig['peak_mb']:.0f} MB" if "peak_mb" in fig else ""
                print(
                    f"  in memory {limit} failed after {fig['after']:.1f} s{peak}: {fig['error']}"
                )
                continue
            print(
                f"  in memory {fig['wall']:7.1f} s ({fig['cpu']:.1f} CPU s), {fig['rows']:,} rows, "
                f"peak RSS {fig['peak_mb']:.0f} MB {limit}",
                flush=True,
            )
            mem_out = pd.read_parquet(scratch / "memory.parquet")
            diffs = largest_difference(lazy_out, mem_out)
            print("  largest difference: " + ", ".join(f"{k} {v:.3g}" for k, v in diffs.items()))
            del lazy_out, mem_out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        client.close()
        client.cluster.close()


if __name__ == "__main__":
    main()
