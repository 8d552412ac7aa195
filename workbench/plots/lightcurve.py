"""Light curves: magnitude (or flux) against time, one colour per filter, upper limits shown.

Input is the photometry DataFrame of ``docs/ARCHITECTURE.md`` (``mjd, mag, magerr,
limiting_mag, flux, fluxerr, filter, instrument_name, origin, ...``; ``mag`` NaN means a
non-detection; flux in microJansky, i.e. AB zero point 23.9). Upload-style tables with only
``flux, fluxerr, zp`` (as in ``../shared/data/photometry``) or only magnitudes are completed by
:func:`prepare_photometry` with SkyPortal's rules: a detection at flux/fluxerr >= 3, the limiting
magnitude at 5 sigma.

Large light curves: every detection is drawn. When there are more than ``max_limits`` upper
limits, each filter's time span is cut into bins and only the deepest limit per bin is drawn
(the title says how many); the figure switches to WebGL above 2,000 points. The exact data
stay in ``sources.full['photometry']``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from bokeh.layouts import gridplot
from bokeh.models import ColumnDataSource, HoverTool, Legend, LegendItem, Range1d

from ..errors import WorkbenchError
from ._base import PlotSources, empty_note, new_figure, require_columns
from .colors import filter_color
from .transforms import thin_limits

__all__ = ["lightcurve_grid", "lightcurve_plot", "prepare_photometry"]

ZP = 23.9  # AB zero point of SkyPortal's flux unit (microJansky)
_LN10_25 = 2.5 / np.log(10.0)
_TEXT_COLUMNS = ("instrument_name", "origin", "obj_id")


def prepare_photometry(
    photometry: pd.DataFrame,
    *,
    detection_nsigma: float = 3.0,
    limit_nsigma: float = 5.0,
) -> pd.DataFrame:
    """Complete a photometry table so that ``mag, magerr, limiting_mag, flux, fluxerr`` (AB
    magnitudes, microJansky) all exist; values already present are kept as they are.

    From flux (with ``zp``, default 23.9): detection when flux/fluxerr >= ``detection_nsigma``;
    limiting magnitude at ``limit_nsigma`` times fluxerr. From magnitudes: flux and its error
    from mag and magerr, and for limits a fluxerr of limiting flux / ``limit_nsigma``.
    """
    df = require_columns(photometry, ("mjd", "filter"), "photometry").copy()
    has_flux = "flux" in df.columns and "fluxerr" in df.columns
    has_mag = "mag" in df.columns
    if not (has_flux or has_mag):
        raise WorkbenchError(
            "photometry needs either mag (with magerr, limiting_mag) or flux and fluxerr "
            f"columns; it has {list(df.columns)}"
        )
    for col in ("mjd", "mag", "magerr", "limiting_mag", "flux", "fluxerr", "zp"):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    bad = df.index[~np.isfinite(df["mjd"].to_numpy())]
    if len(bad):
        raise WorkbenchError(f"photometry row {bad[0]!r} has no valid mjd; drop or fix it")
    if has_flux:
        _from_flux(df, detection_nsigma, limit_nsigma, fill_mag=not has_mag)
    else:
        _from_mag(df, limit_nsigma)
    for col in ("magerr", "limiting_mag"):
        if col not in df.columns:
            df[col] = np.nan
    for col in _TEXT_COLUMNS:
        df[col] = df[col].fillna("").astype(str) if col in df.columns else ""
    df["filter"] = df["filter"].astype(str)
    if "id" not in df.columns:
        df["id"] = np.arange(len(df))
    return df.reset_index(drop=True)


def _from_flux(df: pd.DataFrame, det_nsigma: float, lim_nsigma: float, fill_mag: bool) -> None:
    zp = df["zp"].fillna(ZP).to_numpy() if "zp" in df.columns else np.full(len(df), ZP)
    scale = 10 ** (-0.4 * (zp - ZP))  # to the 23.9 system, microJansky
    flux = df["flux"].to_numpy() * scale
    fluxerr = df["fluxerr"].to_numpy() * scale
    df["flux"], df["fluxerr"] = flux, fluxerr
    if "zp" in df.columns:
        df["zp"] = ZP
    if not fill_mag:
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        detected = (flux > 0) & (flux / fluxerr >= det_nsigma)
        df["mag"] = np.where(detected, ZP - 2.5 * np.log10(flux), np.nan)
        df["magerr"] = np.where(detected, _LN10_25 * fluxerr / flux, np.nan)
        if "limiting_mag" not in df.columns or df["limiting_mag"].isna().all():
            df["limiting_mag"] = np.where(
                fluxerr > 0, ZP - 2.5 * np.log10(lim_nsigma * fluxerr), np.nan
            )


def _from_mag(df: pd.DataFrame, lim_nsigma: float) -> None:
    mag = df["mag"].to_numpy()
    magerr = df["magerr"].to_numpy() if "magerr" in df.columns else np.full(len(df), np.nan)
    lim = (
        df["limiting_mag"].to_numpy() if "limiting_mag" in df.columns else np.full(len(df), np.nan)
    )
    flux = 10 ** (-0.4 * (mag - ZP))
    df["flux"] = flux
    df["fluxerr"] = np.where(
        np.isfinite(mag), flux * magerr / _LN10_25, 10 ** (-0.4 * (lim - ZP)) / lim_nsigma
    )


def lightcurve_plot(
    photometry: pd.DataFrame,
    *,
    y: Literal["mag", "flux"] = "mag",
    time: Literal["mjd", "days"] = "mjd",
    title: str | None = None,
    width: int = 720,
    height: int = 420,
    show_limits: bool = True,
    max_limits: int = 2000,
) -> tuple[Any, PlotSources]:
    """A light curve: magnitude (AB, axis inverted) or flux (microJansky) against MJD or days
    since the first detection; one colour per filter, error bars, non-detections as
    down-pointing triangles at their limiting magnitude, hover details, a clickable legend.

    Returns ``(figure, sources)``: ``sources['det:<filter>']`` and ``sources['lim:<filter>']``
    are the drawn points, ``sources.full['photometry']`` the complete prepared table.
    """
    if y not in ("mag", "flux"):
        raise WorkbenchError(f"y must be 'mag' or 'flux', not {y!r}")
    if time not in ("mjd", "days"):
        raise WorkbenchError(f"time must be 'mjd' or 'days', not {time!r}")
    df = prepare_photometry(photometry)
    sources = PlotSources()
    sources.full["photometry"] = df
    detected = np.isfinite(df["mag"].to_numpy())
    t0 = (
        float(df.loc[detected, "mjd"].min())
        if detected.any()
        else float(df["mjd"].min())
        if len(df)
        else 0.0
    )
    shown_limits, note = _limits_to_show(df, detected, show_limits, max_limits)
    fig = new_figure(
        title=_title(title, df, note),
        width=width,
        height=height,
        n_points=int(detected.sum() + shown_limits.size),
    )
    fig.xaxis.axis_label = "MJD" if time == "mjd" else f"Days since first detection (MJD {t0:.3f})"
    fig.yaxis.axis_label = "AB magnitude" if y == "mag" else "Flux (µJy, AB zero point 23.9)"
    if df.empty:
        empty_note(fig, "no photometry")
        return fig, sources
    items, hover = [], []
    for name in sorted(df["filter"].unique()):
        in_filter = (df["filter"] == name).to_numpy()
        det = _columns(df[in_filter & detected], y, time, t0, limit=False)
        lim_rows = df.iloc[np.intersect1d(np.flatnonzero(in_filter), shown_limits)]
        lim = _columns(lim_rows, y, time, t0, limit=True)
        renderers = _draw_filter(fig, sources, name, det, lim, y)
        hover += [r for r in renderers if r.name in ("points", "limits")]
        items.append(LegendItem(label=name, renderers=renderers))
    fig.add_tools(HoverTool(renderers=hover, tooltips=_TOOLTIPS[y]))
    legend = Legend(items=items, click_policy="hide", title="filter")
    fig.add_layout(legend, "right")
    if y == "mag":
        fig.y_range = _mag_range(sources)
    return fig, sources


_TOOLTIPS = {
    "mag": [
        ("MJD", "@mjd{0.0000}"),
        ("days", "@days{0.00}"),
        ("mag", "@value"),
        ("filter", "@filter"),
        ("instrument", "@instrument_name"),
        ("origin", "@origin"),
    ],
    "flux": [
        ("MJD", "@mjd{0.0000}"),
        ("days", "@days{0.00}"),
        ("flux (µJy)", "@value"),
        ("filter", "@filter"),
        ("instrument", "@instrument_name"),
        ("origin", "@origin"),
    ],
}


def _limits_to_show(
    df: pd.DataFrame, detected: np.ndarray, show: bool, max_limits: int
) -> tuple[np.ndarray, str]:
    limits = np.flatnonzero(~detected & np.isfinite(df["limiting_mag"].to_numpy()))
    if not show:
        return np.array([], dtype=int), ""
    if max_limits < 1:
        raise WorkbenchError(f"max_limits must be at least 1, not {max_limits}")
    keep = thin_limits(
        df["mjd"].to_numpy()[limits],
        df["limiting_mag"].to_numpy()[limits],
        df["filter"].to_numpy()[limits],
        max_limits,
    )
    if keep.size == limits.size:
        return limits, ""
    return limits[
        keep
    ], f"{keep.size:,} of {limits.size:,} upper limits shown (deepest per time bin)"


def _title(title: str | None, df: pd.DataFrame, note: str) -> str:
    if title is None:
        ids = [i for i in df["obj_id"].unique() if i] if "obj_id" in df else []
        title = ids[0] if len(ids) == 1 else "Light curve"
    return f"{title} — {note}" if note else title


def _columns(rows: pd.DataFrame, y: str, time: str, t0: float, *, limit: bool) -> dict[str, Any]:
    mjd = rows["mjd"].to_numpy()
    days = mjd - t0
    cols: dict[str, Any] = {
        "x": mjd if time == "mjd" else days,
        "mjd": mjd,
        "days": days,
        "filter": rows["filter"].to_numpy(),
        "instrument_name": rows["instrument_name"].to_numpy(),
        "origin": rows["origin"].to_numpy(),
        "id": rows["id"].to_numpy(),
    }
    # Only what is drawn or hovered goes to the browser; the rest stays in sources.full.
    values = {c: rows[c].to_numpy() for c in ("mag", "magerr", "limiting_mag", "flux", "fluxerr")}
    if y == "mag":
        val = values["limiting_mag"] if limit else values["mag"]
        err = np.zeros(len(rows)) if limit else np.nan_to_num(values["magerr"])
        text = (
            [f"> {v:.2f} (limit)" for v in val]
            if limit
            else [_pm(v, e, ".2f", ".2f") for v, e in zip(val, values["magerr"], strict=True)]
        )
    else:
        val, err, text = _flux_values(values, limit)
    cols.update(y=val, y_lo=val - err, y_hi=val + err, value=text)
    if limit and y == "flux":
        cols["marker"] = np.where(np.isfinite(values["flux"]), "circle", "inverted_triangle")
    return cols


def _pm(value: float, error: float, vfmt: str, efmt: str) -> str:
    """``value ± error`` for a hover, without the ``± nan`` of a missing error."""
    return f"{value:{vfmt}} ± {error:{efmt}}" if np.isfinite(error) else f"{value:{vfmt}}"


def _flux_values(values: dict[str, Any], limit: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    flux, fluxerr = values["flux"], np.nan_to_num(values["fluxerr"])
    if not limit:
        texts = [_pm(f, e, ".3g", ".2g") for f, e in zip(flux, values["fluxerr"], strict=True)]
        return flux, fluxerr, texts
    # A non-detection without a measured flux is drawn at the flux of its limiting magnitude.
    lim_flux = 10 ** (-0.4 * (values["limiting_mag"] - ZP))
    has = np.isfinite(flux)
    val = np.where(has, flux, lim_flux)
    err = np.where(has, fluxerr, 0.0)
    text = [
        f"{f:.3g} ± {e:.2g} (non-detection)" if h else f"< {f:.3g} (limit)"
        for f, e, h in zip(val, err, has, strict=True)
    ]
    return val, err, text


def _draw_filter(
    fig: Any, sources: PlotSources, name: str, det: dict, lim: dict, y: str
) -> list[Any]:
    color = filter_color(name)
    det_src = sources[f"det:{name}"] = ColumnDataSource(det, name=f"det:{name}")
    lim_src = sources[f"lim:{name}"] = ColumnDataSource(lim, name=f"lim:{name}")
    err = fig.segment("x", "y_lo", "x", "y_hi", source=det_src, color=color, line_width=1.2)
    pts = fig.scatter("x", "y", source=det_src, marker="circle", size=7, color=color, name="points")
    lim_err = fig.segment("x", "y_lo", "x", "y_hi", source=lim_src, color=color, alpha=0.4)
    marker = "marker" if y == "flux" else "inverted_triangle"
    lims = fig.scatter(
        "x", "y", source=lim_src, marker=marker, size=8, line_color=color, fill_color=color,
        fill_alpha=0.25, name="limits",
    )  # fmt: skip
    err.name, lim_err.name = "errors", "limit_errors"
    return [pts, err, lims, lim_err]


def _mag_range(sources: PlotSources) -> Range1d:
    """An inverted magnitude axis (start, the bottom, is the faintest) with a margin."""
    lows, highs = [], []
    for src in sources.values():
        for key in ("y_lo", "y_hi"):
            v = np.asarray(src.data[key], dtype=float)
            v = v[np.isfinite(v)]
            if v.size:
                lows.append(v.min())
                highs.append(v.max())
    if not lows:
        return Range1d(start=22.0, end=14.0)
    bright, faint = min(lows), max(highs)
    pad = max(0.2, 0.05 * (faint - bright))
    return Range1d(start=faint + pad, end=bright - pad)


def lightcurve_grid(
    photometry: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    ncols: int = 2,
    width: int = 460,
    height: int = 320,
    **options: Any,
) -> tuple[Any, dict[str, PlotSources]]:
    """Light curves of several objects side by side: a DataFrame with ``obj_id`` (one panel per
    object) or a mapping ``{name: DataFrame}``. ``options`` go to :func:`lightcurve_plot`."""
    if isinstance(photometry, pd.DataFrame):
        require_columns(photometry, ("obj_id",), "photometry")
        groups = {str(k): g for k, g in photometry.groupby("obj_id", sort=True)}
    elif isinstance(photometry, Mapping):
        groups = dict(photometry)
    else:
        raise WorkbenchError(
            f"photometry must be a DataFrame or a mapping of DataFrames, not {type(photometry).__name__}"
        )
    if not groups:
        raise WorkbenchError("no objects to plot: the photometry is empty")
    if ncols < 1:
        raise WorkbenchError(f"ncols must be at least 1, not {ncols}")
    figures, all_sources = [], {}
    for name, frame in groups.items():
        fig, srcs = lightcurve_plot(frame, title=name, width=width, height=height, **options)
        figures.append(fig)
        all_sources[name] = srcs
    return gridplot(figures, ncols=ncols, toolbar_location="right"), all_sources
