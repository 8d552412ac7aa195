"""``workbench crossmatch``: positions against a localization, offline.

``SKYMAP`` is a FITS path, an http(s) URL, or a GCN event in the cache (``DATEOBS`` or
``DATEOBS/LOCALIZATION_NAME``). Positions come from a CSV (``ra``, ``dec`` in degrees,
optional ``distance`` in Mpc) or from the cache. The output keeps the input columns and
adds ``probdensity`` (per sr), ``credible_level``, ``searched_area`` (deg²) and, with
distances, ``probdensity_vol`` (per Mpc³) and ``credible_level_vol``; CSV or Parquet by
the output file's suffix.

``--galaxies`` ranks the galaxies (``probability`` of 3D density times ``--weight``:
``mstar``, ``B`` or ``K``; ``rank``, ``cum_probability``). ``--counterparts`` lists the
cached sources and candidates that can be the event's counterpart: inside the ``--cumprob``
region (default 0.9), first detected ``--days`` after the event (default 0 14; objects
seen before it only with ``--include-prior``), with their light curve figures and likely
host; ``--report`` adds a standalone HTML report and ``--circular`` a draft GCN circular
table. Every output path is checked before the work starts.
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
        "--galaxies", action="store_true", help="the cached galaxies (with distances), ranked"
    )
    source.add_argument(
        "--counterparts",
        action="store_true",
        help="cached sources and candidates first detected after the event, inside its region",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="output .csv or .parquet")
    parser.add_argument(
        "--cumprob", type=float, help="keep only positions inside this credible region (0-1)"
    )
    parser.add_argument(
        "--weight",
        choices=("mstar", "B", "K"),
        help="galaxy weight: stellar mass, or B/K-band luminosity (from magnitude and distance)",
    )
    parser.add_argument(
        "--days",
        nargs=2,
        type=float,
        default=(0.0, 14.0),
        metavar=("START", "END"),
        help="counterparts: first detection this many days after the event (default 0 14)",
    )
    parser.add_argument(
        "--include-prior",
        action="store_true",
        help="counterparts: also list objects detected before the event (flagged prior)",
    )
    parser.add_argument("--report", metavar="HTML", help="counterparts: standalone HTML report")
    parser.add_argument(
        "--circular", metavar="TXT", help="counterparts: draft table for a GCN circular"
    )
    add_connection_options(parser, server=False)


def run(args: argparse.Namespace) -> int:
    from ..crossmatch import crossmatch_frame, rank_galaxies
    from ..shortlist import check_writable

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise WorkbenchError(f"--out must end in .csv or .parquet, not {out.name!r}")
    if args.cumprob is not None and not 0 < args.cumprob <= 1:
        raise WorkbenchError(f"--cumprob must be in (0, 1], got {args.cumprob}")
    if (args.report or args.circular) and not args.counterparts:
        raise WorkbenchError("--report and --circular go with --counterparts")
    if args.days[0] > args.days[1]:
        raise WorkbenchError(f"--days START END needs START <= END, got {args.days}")
    # Refuse unwritable outputs before the work (it may take minutes on a big cache).
    check_writable(out, "--out")
    for flag, path in (("--report", args.report), ("--circular", args.circular)):
        if path:
            check_writable(path, flag)
    cached = _CachedWorkbench(args.cache)
    skymap = _load_skymap(args, cached)
    if args.counterparts:
        return _counterparts(args, cached, skymap, out)
    positions = _load_positions(args, cached)
    if args.galaxies:
        result = rank_galaxies(
            skymap, positions, cumprob=args.cumprob, weight=args.weight, region="area"
        )
    else:
        result = crossmatch_frame(
            skymap, positions, distance_unc="distance_unc", cumprob=args.cumprob
        )
    _write(result, out)
    print(f"crossmatch: {len(result)} of {len(positions)} positions written to {out}")
    return 0


def _write(frame: pd.DataFrame, out: Path) -> None:
    # --out's suffix (.csv or .parquet) was checked before the work
    from ..shortlist import write_frame

    write_frame(frame, out)


def _counterparts(args: argparse.Namespace, cached: _CachedWorkbench, skymap, out: Path) -> int:
    from ..counterparts import event_counterparts
    from ..crossmatch import rank_galaxies
    from ..shortlist import circular_table, html_report, shortlist_frame

    dateobs = skymap.meta.get("dateobs")
    if not dateobs:
        raise WorkbenchError(
            f"{args.skymap}: the map does not say when the event happened (no DATE-OBS); "
            "give a cached event's DATEOBS instead"
        )
    wb = cached.get()
    found = event_counterparts(
        wb,
        str(dateobs),
        cumprob=0.9 if args.cumprob is None else args.cumprob,
        days=tuple(args.days),
        include_prior=args.include_prior,
        weight=args.weight,
        skymap=skymap,
    )
    frame = shortlist_frame(found).join(found.drop(columns=shortlist_frame(found).columns,
                                                   errors="ignore"))  # fmt: skip
    _write(frame, out)
    event = str(skymap.meta.get("name") or dateobs)
    if args.circular:
        Path(args.circular).write_text(circular_table(found, event=event), encoding="utf-8")
    if args.report:
        galaxies = wb.galaxies()
        ranked = (
            rank_galaxies(skymap, galaxies, cumprob=0.9, weight=args.weight)
            if not galaxies.empty
            else None
        )
        ids = [str(i) for i in found["id"].head(6)]
        html_report(
            found,
            args.report,
            skymap=skymap,
            galaxies=ranked,
            photometry=wb.photometry(ids) if ids else None,
            event=event,
        )
    print(f"crossmatch: {len(found)} candidate counterparts written to {out}")
    return 0


def _load_skymap(args: argparse.Namespace, cached: _CachedWorkbench):
    from ..skymap import read_skymap

    text = args.skymap
    if text.startswith(("http://", "https://")) or Path(text).exists():
        return read_skymap(text)
    dateobs, _, name = text.partition("/")
    try:
        pd.Timestamp(dateobs)
        is_time = bool(dateobs)
    except ValueError:
        is_time = False
    if not is_time:  # neither a file nor an event time: most likely a mistyped path
        raise WorkbenchError(
            f"skymap {text!r}: no such file, and not a cached event's DATEOBS[/NAME]; "
            "give an existing FITS path, an http(s) URL, or an event time such as "
            "2019-08-14T21:10:39"
        )
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
