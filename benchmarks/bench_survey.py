"""Survey scale: the in-memory crossmatch against the LSDB one on a HATS catalog.

    .venv/bin/python benchmarks/bench_survey.py                 # GLADE+-sized: 2.25e7 galaxies
    .venv/bin/python benchmarks/bench_survey.py --rows 1e8      # the survey scale
    .venv/bin/python benchmarks/bench_survey.py --rows 2e6      # a few minutes on 2 cores

Generates a galaxy catalog once (``--dir``, reused when present): positions uniform on the
sky, distances uniform in volume out to 500 Mpc with a 10% uncertainty, written as HATS by
:func:`workbench.survey.hats_io.write_hats` (hats-import) in batches of a million rows.
Then for each skymap (the three real ones in ../shared/data/skymaps, else synthetic) at
``--cumprob`` (0.9) prints side by side:

* in memory (skipped above ``--max-in-memory`` rows): reading the five columns of the
  whole catalog into one DataFrame plus :func:`workbench.crossmatch.crossmatch_frame`, wall
  and CPU time, this process's peak RSS (VmHWM, reset first);
* LSDB on a LocalCluster of ``--workers`` (2) one-thread worker processes (imports warmed
  up first): wall time, the workers' CPU time (the machine may be shared), partitions read
  of all, peak RSS of each worker (VmHWM, reset per map);
* the largest difference between the two answers, per column.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
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


def in_memory(path: Path, skymap: Skymap, cumprob: float) -> tuple[pd.DataFrame, float, float]:
    import pyarrow.dataset as ds

    gc.collect()
    _reset_peak()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    frame = ds.dataset(path / "dataset", format="parquet", partitioning="hive").to_table(
        columns=COLUMNS
    )
    frame = frame.to_pandas()
    out = crossmatch_frame(skymap, frame, cumprob=cumprob, **OPTIONS)
    wall = time.perf_counter() - t0
    del frame
    return out, wall, time.process_time() - cpu0, _peak_mb()


def _reset_peak() -> None:
    # Linux: writing 5 to clear_refs resets this process's peak RSS (VmHWM)
    Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _warm_up() -> None:
    import lsdb  # noqa: F401  (imports and numba compilation are not the crossmatch's cost)

    import workbench.survey.lsdb_crossmatch  # noqa: F401


def on_lsdb(path: Path, skymap: Skymap, cumprob: float, client):
    client.run(_reset_peak)
    cpu0 = client.run(time.process_time)
    t0 = time.perf_counter()
    result = crossmatch_survey(path, skymap, cumprob=cumprob, **OPTIONS)
    out = result.compute(client)
    wall = time.perf_counter() - t0
    cpu = sum(t - cpu0[w] for w, t in client.run(time.process_time).items())
    return out, wall, cpu, result, sorted(client.run(_peak_mb).values())


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
    parser.add_argument(
        "--max-in-memory", type=float, default=3e7, help="skip the in-memory path above this"
    )
    args = parser.parse_args()
    rows = int(args.rows)
    maps = load_maps()
    client = local_client(n_workers=args.workers, memory_limit=args.memory_limit)
    try:
        path = build(args.dir, rows, client, args.pixel_threshold)
        client.run(_warm_up)
        print(f"\n{rows:,} galaxies, {args.workers} workers x 1 thread, cumprob {args.cumprob}")
        for name, skymap in maps.items():
            print(f"\n{name}: {skymap.npix} pixels, 90% area {skymap.area(0.9):.0f} deg2")
            lazy_out, lazy_wall, cpu, result, peaks = on_lsdb(path, skymap, args.cumprob, client)
            print(
                f"  LSDB      {lazy_wall:7.1f} s ({cpu:.1f} CPU s on the workers), "
                f"{len(lazy_out):,} rows, partitions read "
                f"{result.partitions_read}/{result.partitions_total}, peak RSS per worker "
                + ", ".join(f"{p:.0f} MB" for p in peaks)
            )
            if rows > args.max_in_memory:
                print("  in memory skipped (--max-in-memory)")
                continue
            mem_out, mem_wall, cpu, peak = in_memory(path, skymap, args.cumprob)
            print(
                f"  in memory {mem_wall:7.1f} s ({cpu:.1f} CPU s), {len(mem_out):,} rows, "
                f"peak RSS {peak:.0f} MB"
            )
            diffs = largest_difference(lazy_out, mem_out)
            print("  largest difference: " + ", ".join(f"{k} {v:.3g}" for k, v in diffs.items()))
    finally:
        client.close()
        client.cluster.close()


if __name__ == "__main__":
    main()
