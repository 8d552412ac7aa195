"""``workbench crossmatch``: positions against a localization, offline.

``SKYMAP`` is a FITS path, an http(s) URL, or a GCN event in the cache (``DATEOBS`` or
``DATEOBS/LOCALIZATION_NAME``). Positions come from a CSV (``ra``, ``dec`` in degrees,
optional ``distance`` in Mpc) or from the cache. The output keeps the input columns and
adds ``probdensity`` (per sr), ``credible_level``, ``searched_area`` (deg²) and, with
distances, ``probdensity_vol`` (per Mpc³) and ``credible_level_vol``; CSV or Parquet by
the output file's suffix.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..errors import WorkbenchError
from . import add_connection_options


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "skymap", metavar="SKYMAP", help="FITS path, URL, or cached event DATEOBS[/NAME]"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--positions", metavar="CSV", help="CSV with ra, dec [deg] and optional distance [Mpc]"
    )
    source.add_argument("--sources", action="store_true", help="the cached sources")
    source.add_argument("--candidates", action="store_true", help="the cached candidates")
    source.add_argument(
        "--galaxies", action="store_true", help="the cached galaxies (with distances)"
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="output .csv or .parquet")
    parser.add_argument(
        "--cumprob", type=float, help="keep only positions inside this credible region (0-1)"
    )
    add_connection_options(parser, server=False)


def run(args: argparse.Namespace) -> int:
    from ..crossmatch import crossmatch_frame

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise WorkbenchError(f"--out must end in .csv or .parquet, not {out.name!r}")
    if args.cumprob is not None and not 0 < args.cumprob <= 1:
        raise WorkbenchError(f"--cumprob must be in (0, 1], got {args.cumprob}")
    cached = _CachedWorkbench(args.cache)
    skymap = _load_skymap(args, cached)
    positions = _load_positions(args, cached)
    result = crossmatch_frame(skymap, positions, distance_unc="distance_unc", cumprob=args.cumprob)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        result.to_csv(out, index=False)
    else:
        result.to_parquet(out, index=False)
    print(f"crossmatch: {len(result)} of {len(positions)} positions written to {out}")
    return 0


def _load_skymap(args: argparse.Namespace, cached: _CachedWorkbench):
    from ..skymap import read_skymap

    text = args.skymap
    if text.startswith(("http://", "https://")) or Path(text).exists():
        return read_skymap(text)
    dateobs, _, name = text.partition("/")
    return cached.get().skymap(dateobs, name or None)


def _load_positions(args: argparse.Namespace, cached: _CachedWorkbench) -> pd.DataFrame:
    if args.positions:
        try:
            frame = pd.read_csv(args.positions)
        except (OSError, ValueError) as exc:
            raise WorkbenchError(f"cannot read positions from {args.positions}: {exc}") from exc
        missing = {"ra", "dec"} - set(frame.columns)
        if missing:
            raise WorkbenchError(
                f"{args.positions} lacks the column(s) {sorted(missing)} (ra, dec in degrees)"
            )
        return frame
    wb = cached.get()
    if args.galaxies:
        galaxies = wb.galaxies()
        return galaxies.assign(distance=galaxies["distmpc"], distance_unc=galaxies["distmpc_unc"])
    return wb.sources() if args.sources else wb.candidates()


class _CachedWorkbench:
    """The cache, opened read-only and offline on first use, once."""

    def __init__(self, path: str | None) -> None:
        self.path, self._wb = path, None

    def get(self):
        if self._wb is None:
            from ..facade import Workbench

            self._wb = Workbench.open(cache=self.path, offline=True, read_only=True)
        return self._wb
