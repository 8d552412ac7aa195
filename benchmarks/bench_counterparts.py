"""Chasing a counterpart at scale: weighted galaxy ranking and the counterpart selection.

Prints, on the real GW190814 map (../shared/data/skymaps/LALInference.v1.fits.gz, or a
synthetic 3D map when ../shared is absent):

* ``rank_galaxies`` of 1,000,000 galaxies weighted by stellar mass (3D density, levels,
  distance cdf, weights, normalisation, cumulative probability);
* ``counterparts`` of 10,000 objects with 200,000 photometry points (region, light-curve
  figures, 3D probability at the redshift's distance, hosts among the 5,000 best galaxies).

Run: ``.venv/bin/python benchmarks/bench_counterparts.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.counterparts import counterparts, to_mjd
from workbench.crossmatch import holding, rank_galaxies
from workbench.skymap import read_skymap
from workbench.skymap_synthetic import gaussian_skymap

MAP = Path(__file__).resolve().parents[2] / "shared/data/skymaps/LALInference.v1.fits.gz"
EVENT = "2019-08-14T21:10:39"


def main() -> None:
    if MAP.exists():
        sky = read_skymap(MAP)
    else:
        sky = gaussian_skymap(12.0, -25.0, 2.0, distmean=267.0, diststd=52.0, max_order=9)
    rng = np.random.default_rng(1)
    ra0, dec0 = sky.max_position
    n = 1_000_000
    galaxies = pd.DataFrame(
        {
            "name": np.arange(n).astype(str),
            "ra": (ra0 + rng.normal(0, 10, n)) % 360,
            "dec": np.clip(dec0 + rng.normal(0, 10, n), -90, 90),
            "distmpc": rng.uniform(1, 500, n),
            "mstar": 10 ** rng.uniform(8, 11.5, n),
        }
    )
    start = time.perf_counter()
    ranked = rank_galaxies(sky, galaxies, cumprob=0.9, weight="mstar")
    took = time.perf_counter() - start
    top = holding(ranked, 0.9)
    print(
        f"rank_galaxies, {n:,} galaxies weighted by mstar: {took:.2f} s; "
        f"{len(ranked):,} in the 90% volume, {len(top):,} hold 90% of the probability"
    )
    m, k = 10_000, 20
    objects = pd.DataFrame(
        {
            "id": [f"obj{i}" for i in range(m)],
            "ra": (ra0 + rng.normal(0, 1.5, m)) % 360,
            "dec": dec0 + rng.normal(0, 1.5, m),
            "redshift": np.where(rng.random(m) < 0.3, rng.uniform(0.01, 0.1, m), np.nan),
        }
    )
    t0 = to_mjd(EVENT)
    phot = pd.DataFrame(
        {
            "obj_id": np.repeat(objects["id"].to_numpy(), k),
            "mjd": t0 + rng.uniform(-20, 30, m * k),
            "mag": np.where(rng.random(m * k) < 0.7, rng.uniform(17, 21, m * k), np.nan),
            "limiting_mag": 20.5,
            "filter": rng.choice(["ztfg", "ztfr"], m * k),
        }
    )
    start = time.perf_counter()
    found = counterparts(sky, objects, phot, EVENT, include_prior=True, galaxies=ranked.head(5000))
    took = time.perf_counter() - start
    print(
        f"counterparts, {m:,} objects / {m * k:,} points: {took:.2f} s; {len(found):,} inside "
        f"the 90% region ({int((~found['prior']).sum()):,} first seen 0-14 days after)"
    )


if __name__ == "__main__":
    main()
