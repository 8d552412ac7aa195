"""A shortlist to share: ranked counterpart candidates as CSV, as a standalone HTML report
with the plots, and as a draft of the table a GCN circular carries.

All three take the frame :func:`workbench.counterparts.counterparts` returns (one row per
candidate, most probable first). Units: coordinates J2000 (degrees in the CSV, sexagesimal
in the circular), times UTC, magnitudes AB, distances Mpc, offsets kpc.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import WorkbenchError

__all__ = [
    "SHORTLIST_COLUMNS",
    "check_writable",
    "circular_table",
    "html_report",
    "shortlist_frame",
    "write_shortlist",
]

SHORTLIST_COLUMNS = (
    "rank",
    "id",
    "ra",
    "dec",
    "first_detected",
    "days_after",
    "first_mag",
    "first_filter",
    "last_nondetection_limit",
    "last_nondetection_days",
    "peak_mag",
    "latest_mag",
    "rate",
    "credible_level",
    "redshift",
    "luminosity_distance",
    "probdensity_vol",
    "host_name",
    "host_distmpc",
    "host_offset_kpc",
    "host_probability",
)


def check_writable(path: str | os.PathLike[str], what: str = "--out") -> Path:
    """Refuse (WorkbenchError) an output path whose folder is missing or read-only, or an
    existing read-only file, before any work is done; returns the path."""
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise WorkbenchError(
            f"{what}: the folder {str(folder)!r} does not exist; create it or choose another path"
        )
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise WorkbenchError(f"{what}: {str(target)!r} is not writable; choose another path")
    return target


def shortlist_frame(candidates: pd.DataFrame) -> pd.DataFrame:
    """The shortlist's columns (:data:`SHORTLIST_COLUMNS`, those present), with ``rank``."""
    out = candidates.reset_index(drop=True).copy()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out[[c for c in SHORTLIST_COLUMNS if c in out.columns]]


def write_shortlist(candidates: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """The shortlist as CSV (or Parquet for a ``.parquet`` path); returns the path."""
    target = check_writable(path)
    write_frame(shortlist_frame(candidates), target)
    return target


def write_frame(frame: pd.DataFrame, target: Path) -> None:
    """Write ``frame`` as Parquet for a ``.parquet`` path, else as CSV; a failed write is a
    WorkbenchError naming the file."""
    try:
        if target.suffix.lower() == ".parquet":
            frame.to_parquet(target, index=False)
        else:
            frame.to_csv(target, index=False)
    except OSError as exc:
        raise WorkbenchError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _sexagesimal(ra: np.ndarray, dec: np.ndarray) -> tuple[list[str], list[str]]:
    from astropy import units as u
    from astropy.coordinates import Angle

    ras = Angle(ra, u.deg).to_string(unit=u.hourangle, sep=":", precision=2, pad=True)
    decs = Angle(dec, u.deg).to_string(unit=u.deg, sep=":", precision=1, pad=True, alwayssign=True)
    return list(np.atleast_1d(ras)), list(np.atleast_1d(decs))


def _fmt(value: Any, spec: str, missing: str = "-") -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return missing
    return format(number, spec) if np.isfinite(number) else missing


def circular_table(
    candidates: pd.DataFrame, *, event: str | None = None, max_rows: int | None = None
) -> str:
    """A plain-text table as GCN circulars carry it: name, RA and Dec (J2000, sexagesimal),
    discovery time (UTC) and days after the event, discovery magnitude and filter, host
    galaxy and its distance (Mpc) and projected offset (kpc). A preamble line names the
    event. Fixed-width columns, so it reads the same in any mail client."""
    rows = candidates if max_rows is None else candidates.head(max_rows)
    ras, decs = _sexagesimal(rows["ra"].to_numpy(float), rows["dec"].to_numpy(float))
    header = (
        "Name",
        "RA (J2000)",
        "Dec (J2000)",
        "Discovery (UTC)",
        "dt (d)",
        "Mag",
        "Filter",
        "Host",
        "D (Mpc)",
        "Offset (kpc)",
    )
    lines = []
    for i, row in enumerate(rows.to_dict("records")):
        when = row.get("first_detected")
        lines.append(
            (
                str(row["id"]),
                ras[i],
                decs[i],
                pd.Timestamp(when).strftime("%Y-%m-%d %H:%M:%S") if pd.notna(when) else "-",
                _fmt(row.get("days_after"), ".2f"),
                _fmt(row.get("first_mag"), ".2f"),
                str(row.get("first_filter") or "-"),
                str(row.get("host_name") or "-"),
                _fmt(row.get("host_distmpc"), ".0f"),
                _fmt(row.get("host_offset_kpc"), ".1f"),
            )
        )
    widths = [max(len(h), *(len(r[k]) for r in lines)) for k, h in enumerate(header)]

    def line(cells: tuple[str, ...]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    intro = (
        f"Candidate counterparts of {event} ({len(rows)} listed):"
        if event
        else f"Candidate counterparts ({len(rows)} listed):"
    )
    body = [line(header), rule, *(line(r) for r in lines)]
    note = "Magnitudes are AB; dt is the time of first detection after the event."
    return "\n".join([intro, "", *body, "", note]) + "\n"


def html_report(
    candidates: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    skymap: Any = None,
    galaxies: pd.DataFrame | None = None,
    photometry: pd.DataFrame | None = None,
    event: str | None = None,
    max_lightcurves: int = 6,
    max_galaxies: int = 200,
) -> Path:
    """A standalone HTML report (Bokeh's JavaScript inline: it opens offline): the
    localization with the candidates and the best ``max_galaxies`` galaxies (sized by
    probability), the light curves of the first ``max_lightcurves`` candidates, the
    shortlist table and the circular draft. Returns the path written."""
    from bokeh.embed import components
    from bokeh.resources import INLINE

    from .plots import lightcurve_grid, localization_plot

    target = check_writable(path, "report")
    title = f"Counterpart shortlist: {event}" if event else "Counterpart shortlist"
    blocks: list[tuple[str, Any]] = []
    if skymap is not None:
        top = None if galaxies is None or galaxies.empty else galaxies.head(max_galaxies)
        fig, _ = localization_plot(
            skymap,
            candidates=candidates if not candidates.empty else None,
            galaxies=top,
            title=event,
        )
        blocks.append(("Localization", fig))
    if photometry is not None and not photometry.empty and not candidates.empty:
        ids = [str(i) for i in candidates["id"].head(max_lightcurves)]
        phot = photometry[photometry["obj_id"].astype(str).isin(ids)]
        if not phot.empty:
            grid, _ = lightcurve_grid(phot)
            blocks.append(("Light curves", grid))
    script, divs = components([model for _, model in blocks]) if blocks else ("", [])
    table = shortlist_frame(candidates).to_html(
        index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        INLINE.render(),
        script,
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;"
        "font-size:12px}td,th{padding:2px 6px;border-bottom:1px solid #ddd;text-align:right}"
        "pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(candidates)} candidates, most probable first. Units: RA/Dec degrees "
        "(J2000), magnitudes AB, rate mag/day, distances Mpc, offsets kpc.</p>",
    ]
    for (heading, _), div in zip(blocks, divs, strict=True):
        parts += [f"<h2>{html.escape(heading)}</h2>", div]
    parts += ["<h2>Shortlist</h2>", table, "<h2>Draft table for a GCN circular</h2>"]
    parts += [f"<pre>{html.escape(circular_table(candidates, event=event))}</pre>"]
    parts.append("</body></html>")
    try:
        target.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        raise WorkbenchError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target
