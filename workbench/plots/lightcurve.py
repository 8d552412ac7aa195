"""Light curves: magnitude (or flux) against time, one colour per filter, upper limits shown.

Input is the photometry DataFrame of ``docs/ARCHITECTURE.md`` (``mjd, mag, magerr,
limiting_mag, flux, fluxerr, filter, instrument_name, origin, ...``; ``mag`` NaN means a
non-detection; flux in microJansky, i.e. AB zero point 23.9). Upload-style tables with only
``flux, fluxerr, zp`` (as in ``../shared/data/photometry``) or only magnitudes are completed by
:func:`prepare_photometry` with SkyPortal's rules: a detection at flux/fluxerr >= 3, the limiting
magnitude at 5 sigma.

Time axes: MJD, days since the first detection, or days before now (``time="ago"``: negative
days, a "now" line at 0 and MJD on a secondary axis on top and in the hover), the view a
scanner needs. :func:`detection_span` gives the first and last detection in MJD and days ago.
:func:`live_lightcurve_figure` and :func:`lightcurve_columns` build a figure once and refill it
per object (the vetting panel's pane), which is far quicker than a new figure per object.

Large light curves: every detection is drawn. When there are more than ``max_limits`` upper
limits, each filter's time span is cut into bins and only the deepest limit per bin is drawn
(the title says how many); the figure switches to WebGL above 2,000 points. The exact data
stay in ``sources.full['photometry']``.
"""

from __future__ import annotations

import time as _time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from bokeh.layouts import gridplot
from bokeh.models import (
    ColumnDataSource,
    CustomJSTickFormatter,
    HoverTool,
    Legend,
    LegendItem,
    LinearAxis,
    Range1d,
    Span,
)

from ..errors import WorkbenchError
from ._base import PlotSources, empty_note, new_figure, require_columns
from .colors import filter_color
from .transforms import thin_limits

__all__ = [
    "DetectionSpan",
    "LightCurveColumns",
    "detection_span",
    "lightcurve_columns",
    "lightcurve_grid",
    "lightcurve_plot",
    "live_lightcurve_figure",
    "live_view_row",
    "mjd_now",
    "prepare_photometry",
    "update_live_lightcurve",
]

ZP = 23.9  # AB zero point of SkyPortal's flux unit (microJansky)
MJD_UNIX_EPOCH = 40587.0  # MJD of 1970-01-01T00:00:00 UTC
# "now" is drawn only when it is this close to the data (else the data would be squashed
# into a corner): within NOW_WITHIN_DAYS days, or within the data's own time span.
NOW_WITHIN_DAYS = 60.0
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
    time: Literal["mjd", "days", "ago"] = "mjd",
    title: str | None = None,
    width: int = 720,
    height: int = 420,
    show_limits: bool = True,
    max_limits: int = 2000,
    now: float | None = None,
) -> tuple[Any, PlotSources]:
    """A light curve: magnitude (AB, axis inverted) or flux (microJansky) against MJD, days
    since the first detection, or days before now (``time="ago"``: negative days, "now" at 0,
    MJD on a secondary axis on top); one colour per filter, error bars, non-detections as
    down-pointing triangles at their limiting magnitude, hover details (MJD and days ago
    always), a clickable legend with each filter's detections and its limits.

    ``now`` is the MJD taken as now (default: the clock); a vertical "now" line is drawn
    when now is near the data (see ``NOW_WITHIN_DAYS``). Returns ``(figure, sources)``:
    ``sources['det:<filter>']`` and ``sources['lim:<filter>']`` are the drawn points,
    ``sources.full['photometry']`` the complete prepared table, ``sources.models['now']``
    the "now" line and ``sources.models['span']`` the :class:`DetectionSpan` (or None).
    """
    if y not in ("mag", "flux"):
        raise WorkbenchError(f"y must be 'mag' or 'flux', not {y!r}")
    if time not in ("mjd", "days", "ago"):
        raise WorkbenchError(f"time must be 'mjd', 'days' or 'ago', not {time!r}")
    df = prepare_photometry(photometry)
    now = mjd_now() if now is None else float(now)
    sources = PlotSources()
    sources.full["photometry"] = df
    detected = np.isfinite(df["mag"].to_numpy())
    sources.models["span"] = _span(df, detected, now)
    t0 = (
        float(df.loc[detected, "mjd"].min())
        if detected.any()
        else float(df["mjd"].min())
        if len(df)
        else 0.0
    )
    origin = {"mjd": 0.0, "days": t0, "ago": now}[time]
    shown_limits, note = _limits_to_show(df, detected, show_limits, max_limits)
    fig = new_figure(
        title=_title(title, df, note),
        width=width,
        height=height,
        n_points=int(detected.sum() + shown_limits.size),
    )
    fig.xaxis.axis_label = {
        "mjd": "MJD",
        "days": f"Days since first detection (MJD {t0:.3f})",
        "ago": f"Days from now (negative: before now; now = MJD {now:.2f})",
    }[time]
    fig.yaxis.axis_label = "AB magnitude" if y == "mag" else "Flux (µJy, AB zero point 23.9)"
    if time == "ago":
        _add_mjd_axis(fig, now)
    sources.models["now"] = now_line = Span(
        location=now - origin, dimension="height", line_color="#444444", line_dash="dashed",
        line_width=1.5, name="now",
    )  # fmt: skip
    fig.add_layout(now_line)
    if df.empty:
        empty_note(fig, "no photometry")
        return fig, sources
    now_line.visible = _now_is_near(df["mjd"].to_numpy(), now)
    items, hover = [], []
    for name in sorted(df["filter"].unique()):
        in_filter = (df["filter"] == name).to_numpy()
        det = _columns(df[in_filter & detected], y, origin, now, limit=False)
        lim_rows = df.iloc[np.intersect1d(np.flatnonzero(in_filter), shown_limits)]
        lim = _columns(lim_rows, y, origin, now, limit=True)
        renderers = _draw_filter(fig, sources, name, det, lim, y)
        hover += [r for r in renderers if r.name in ("points", "limits")]
        # Detections and limits are separate legend entries (a circle, a down triangle).
        items.append(LegendItem(label=name, renderers=renderers[:2]))
        if len(lim["x"]):
            items.append(LegendItem(label=f"{name} limit", renderers=renderers[2:]))
    fig.add_tools(HoverTool(renderers=hover, tooltips=_TOOLTIPS[y]))
    legend = Legend(items=items, click_policy="hide", title="filter")
    fig.add_layout(legend, "right")
    if y == "mag":
        fig.y_range = _mag_range(sources)
    return fig, sources


_TOOLTIPS = {
    "mag": [
        ("MJD", "@mjd{0.0000}"),
        ("days ago", "@ago{0.00}"),
        ("mag", "@value"),
        ("filter", "@filter"),
        ("instrument", "@instrument_name"),
        ("origin", "@origin"),
    ],
    "flux": [
        ("MJD", "@mjd{0.0000}"),
        ("days ago", "@ago{0.00}"),
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


def _columns(
    rows: pd.DataFrame, y: str, origin: float, now: float, *, limit: bool
) -> dict[str, Any]:
    mjd = rows["mjd"].to_numpy()
    cols: dict[str, Any] = {
        "x": mjd - origin,
        "mjd": mjd,
        "ago": now - mjd,
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


def mjd_now() -> float:
    """The current time (UTC) as an MJD (days)."""
    return _time.time() / 86400.0 + MJD_UNIX_EPOCH


@dataclass(frozen=True)
class DetectionSpan:
    """First and last detection of an object: MJD and days before ``now`` (an MJD)."""

    first_mjd: float
    last_mjd: float
    now: float
    n_detections: int

    @property
    def first_days_ago(self) -> float:
        """Days from the first detection to now (positive when in the past)."""
        return self.now - self.first_mjd

    @property
    def last_days_ago(self) -> float:
        """Days from the last detection to now (positive when in the past)."""
        return self.now - self.last_mjd


def detection_span(photometry: pd.DataFrame, *, now: float | None = None) -> DetectionSpan | None:
    """First and last detection (``mag`` measured, or flux/fluxerr >= 3 for flux-only
    tables) in MJD and days ago, or None when nothing was detected. ``now``: MJD (default:
    the clock)."""
    if photometry is None or len(photometry) == 0:
        return None
    df = prepare_photometry(photometry)
    return _span(df, np.isfinite(df["mag"].to_numpy()), mjd_now() if now is None else now)


def _span(df: pd.DataFrame, detected: np.ndarray, now: float) -> DetectionSpan | None:
    if not detected.any():
        return None
    mjd = df["mjd"].to_numpy()[detected]
    return DetectionSpan(float(mjd.min()), float(mjd.max()), float(now), int(detected.sum()))


def _now_is_near(mjd: np.ndarray, now: float) -> bool:
    """Whether "now" fits on the time axis without squashing the data into a corner."""
    if not mjd.size:
        return True
    span = float(mjd.max() - mjd.min())
    return now - float(mjd.max()) <= max(NOW_WITHIN_DAYS, span)


_MJD_TICKS = "return (tick + now).toFixed(Math.abs(tick) < 3 ? 2 : 1)"


def _add_mjd_axis(fig: Any, now: float) -> CustomJSTickFormatter:
    """A secondary axis on top labelled in MJD for an axis of days from ``now`` (MJD)."""
    formatter = CustomJSTickFormatter(args={"now": now}, code=_MJD_TICKS)
    fig.add_layout(LinearAxis(axis_label="MJD", formatter=formatter, name="mjd_axis"), "above")
    return formatter


@dataclass
class LightCurveColumns:
    """What :func:`update_live_lightcurve` puts into a live light-curve figure: the
    detections' and limits' columns (x in days from ``now``, an MJD), the axis ranges, the
    title, a note for an empty plot, and the :class:`DetectionSpan` (None: no detection)."""

    det: dict[str, Any]
    lim: dict[str, Any]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    title: str
    note: str
    now: float
    now_visible: bool
    span: DetectionSpan | None
    n_points: int = 0
    limits_note: str = ""


_LIVE_COLUMNS = (
    "x", "y", "y_lo", "y_hi", "mjd", "ago", "filter", "value", "instrument_name", "origin",
    "color",
)  # fmt: skip


def lightcurve_columns(
    photometry: pd.DataFrame | None,
    *,
    title: str = "",
    now: float | None = None,
    max_limits: int = 500,
) -> LightCurveColumns:
    """The columns of a live light curve (AB magnitude against days from now): pure, so it
    may run in a worker thread. ``now``: MJD (default: the clock); ``max_limits`` thins
    the upper limits drawn as :func:`lightcurve_plot` does."""
    now = mjd_now() if now is None else float(now)
    if photometry is None or len(photometry) == 0:
        return LightCurveColumns(
            _empty_columns("legend"), _empty_columns("limit_legend"), (-30.0, 1.0),
            (22.0, 14.0), title, "no photometry", now, True, None,
        )  # fmt: skip
    # Only the columns drawn: every other column would be copied and converted for nothing
    # (this runs for each candidate, in a thread that shares the GIL with the kernel).
    df = prepare_photometry(photometry[[c for c in _USED if c in photometry.columns]])
    detected = np.isfinite(df["mag"].to_numpy())
    shown, note = _limits_to_show(df, detected, True, max_limits)
    arrays = {c: df[c].to_numpy() for c in _USED if c in df.columns}
    det = _live_columns(arrays, np.flatnonzero(detected), now, limit=False)
    lim = _live_columns(arrays, shown, now, limit=True)
    mjd = np.concatenate([det["mjd"], lim["mjd"]])
    near = _now_is_near(mjd, now)
    lo = float(mjd.min() - now) if mjd.size else -30.0
    hi = float(mjd.max() - now) if mjd.size else 0.0
    if near:
        hi = max(hi, 0.0)
    pad = max(0.5, 0.04 * (hi - lo))
    ys = np.concatenate([det["y_lo"], det["y_hi"], lim["y"]])
    ys = ys[np.isfinite(ys)]
    if ys.size:
        ypad = max(0.2, 0.05 * float(ys.max() - ys.min()))
        y_range = (float(ys.max()) + ypad, float(ys.min()) - ypad)
    else:
        y_range = (22.0, 14.0)
    return LightCurveColumns(
        det, lim, (lo - pad, hi + pad), y_range, f"{title} — {note}" if note and title else title,
        "" if mjd.size else "no detection or limit", now, near, _span(df, detected, now),
        int(mjd.size), note,
    )  # fmt: skip


def _empty_columns(legend: str) -> dict[str, Any]:
    return {c: [] for c in (*_LIVE_COLUMNS, legend)}


_USED = (
    "mjd", "filter", "mag", "magerr", "limiting_mag", "flux", "fluxerr", "zp",
    "instrument_name", "origin",
)  # fmt: skip


def _live_columns(
    arrays: dict[str, np.ndarray], rows: np.ndarray, now: float, *, limit: bool
) -> dict[str, Any]:
    mjd = arrays["mjd"][rows].astype(float)
    filters = arrays["filter"][rows].astype(str)
    if limit:
        val = arrays["limiting_mag"][rows].astype(float)
        lo = hi = val
        text = [f"> {v:.2f} (limit)" for v in val]
    else:
        val, err = arrays["mag"][rows].astype(float), arrays["magerr"][rows].astype(float)
        lo, hi = val - np.nan_to_num(err), val + np.nan_to_num(err)
        text = [_pm(v, e, ".2f", ".2f") for v, e in zip(val, err, strict=True)]
    colors = {f: filter_color(f) for f in set(filters.tolist())}
    # Lists, not arrays: a few dozen values go inline in one message, where each array
    # would be a binary buffer of its own (two more messages per column).
    return {
        "x": (mjd - now).tolist(),
        "y": np.asarray(val, dtype=float).tolist(),
        "y_lo": np.asarray(lo, dtype=float).tolist(),
        "y_hi": np.asarray(hi, dtype=float).tolist(),
        "mjd": mjd.tolist(),
        "ago": (now - mjd).tolist(),
        "filter": filters.tolist(),
        "value": text,
        "instrument_name": arrays["instrument_name"][rows].astype(str).tolist(),
        "origin": arrays["origin"][rows].astype(str).tolist(),
        "color": [colors[f] for f in filters],
        # Legend entries come from this column in the browser: one per filter, and one per
        # filter for its limits, so both kinds are always explained. The two sources use two
        # column names: one name would merge them into items with two sources (a BokehJS error).
        ("limit_legend" if limit else "legend"): [f"{f} limit" if limit else f for f in filters],
    }


def live_lightcurve_figure(
    *, width: int = 560, height: int = 300, legend: bool = True
) -> tuple[Any, PlotSources]:
    """An empty light-curve figure (AB magnitude against days from now, a dashed "now" line
    at 0, MJD on the top axis and in the hover) to fill with :func:`update_live_lightcurve`.

    Three ``ColumnDataSource`` are refilled in place for each object: ``sources['det']``
    and ``sources['lim']`` (the points), then ``sources['view']`` (one row: axis ranges,
    title, empty-plot note, whether "now" is shown, now's MJD), which a ``CustomJS``
    applies in the browser. So showing an object is three messages to the browser,
    whatever changes, and no new model. Legend entries (each filter's detections, and its
    limits as down triangles) follow the data. ``legend=False`` leaves the legend out: a
    legend grouped from the data costs BokehJS about half of each update's time (grouping
    and a re-layout), so a caller showing object after object may draw its own.
    """
    fig = new_figure(
        title="", width=width, height=height, x_range=Range1d(-30.0, 1.0),
        y_range=Range1d(22.0, 14.0),
    )  # fmt: skip
    fig.xaxis.axis_label = "Days from now (negative: before now)"
    fig.yaxis.axis_label = "AB magnitude"
    sources = PlotSources()
    det = sources["det"] = ColumnDataSource(_empty_columns("legend"), name="det")
    lim = sources["lim"] = ColumnDataSource(_empty_columns("limit_legend"), name="lim")
    view = sources["view"] = ColumnDataSource({k: [] for k in _VIEW_COLUMNS}, name="view")
    fig.segment("x", "y_lo", "x", "y_hi", source=det, color="color", line_width=1.2)
    det_legend = {"legend_field": "legend"} if legend else {}
    lim_legend = {"legend_field": "limit_legend"} if legend else {}
    points = fig.scatter(
        "x", "y", source=det, marker="circle", size=7, color="color", name="points",
        **det_legend,
    )  # fmt: skip
    limits = fig.scatter(
        "x", "y", source=lim, marker="inverted_triangle", size=8, line_color="color",
        fill_color="color", fill_alpha=0.25, name="limits", **lim_legend,
    )  # fmt: skip
    fig.add_tools(HoverTool(renderers=[points, limits], tooltips=_TOOLTIPS["mag"]))
    if legend:
        data_legend = fig.legend[0]
        data_legend.title = "filter"
        data_legend.label_text_font_size = "9pt"
        fig.add_layout(data_legend, "right")
        sources.models["legend"] = data_legend
    now_line = Span(
        location=0.0, dimension="height", line_color="#444444", line_dash="dashed",
        line_width=1.5, name="now",
    )  # fmt: skip
    fig.add_layout(now_line)
    from bokeh.models import CustomJS, Label

    note = Label(
        x=0.5 * width, y=0.5 * height, x_units="screen", y_units="screen", text="",
        text_align="center", text_color="#666666",
    )  # fmt: skip
    fig.add_layout(note)
    formatter = _add_mjd_axis(fig, 0.0)
    view.js_on_change(
        "data",
        CustomJS(
            args={
                "det": det,
                "lim": lim,
                "xr": fig.x_range,
                "yr": fig.y_range,
                "title": fig.title,
                "note": note,
                "now": now_line,
                "formatter": formatter,
                "view": view,
            },
            code=_APPLY_VIEW_JS,
        ),
    )
    # No glyph draws the view row: the tag makes it part of the figure's document, so that
    # the browser has it and its changes reach the CustomJS.
    fig.tags = [*fig.tags, view]
    sources.models.update(now=now_line, note=note, formatter=formatter, figure=fig)
    return fig, sources


_VIEW_COLUMNS = ("x0", "x1", "y0", "y1", "title", "note", "now_visible", "now", "det", "lim")
# Runs in the browser when the view source changes: one redraw for ranges, title and note.
_APPLY_VIEW_JS = """
// data arrives as a Map from a patch, as a plain object from an embedded document
const data = view.data;
const col = (k) => (data instanceof Map ? data.get(k) : data[k]);
const first = (k) => { const c = col(k); return c != null && c.length ? c[0] : null; };
const x0 = first("x0");
if (x0 === null) { return; }
// The points may come inside the row (one message from the kernel for the whole update).
const plain = (m) => (m instanceof Map ? Object.fromEntries(m) : m);
const points = [[det, first("det")], [lim, first("lim")]];
for (const [source, columns] of points) {
    if (columns != null) { source.setv({data: plain(columns)}, {check_eq: false}); }
}
xr.setv({start: x0, end: first("x1"), reset_start: x0, reset_end: first("x1")});
yr.setv({start: first("y0"), end: first("y1"), reset_start: first("y0"), reset_end: first("y1")});
if (title.text !== first("title")) { title.text = first("title"); }
if (note.text !== first("note")) { note.text = first("note"); }
const visible = Boolean(first("now_visible"));
if (now.visible !== visible) { now.visible = visible; }
const args = formatter.args;
const shown = args instanceof Map ? args.get("now") : args.now;
if (Math.abs(shown - first("now")) > 1e-3) { formatter.args = new Map([["now", first("now")]]); }
"""


def live_view_row(columns: LightCurveColumns, *, points: bool = True) -> dict[str, list[Any]]:
    """The one-row data of a live figure's ``view`` source for ``columns``: axis ranges
    (days from now, AB magnitudes), title, note, whether "now" is drawn and its MJD, and
    with ``points`` the detections' and limits' columns, which the figure's ``CustomJS``
    puts into their sources in the browser."""
    row: dict[str, list[Any]] = {"det": [columns.det], "lim": [columns.lim]} if points else {}
    return row | {
        "x0": [columns.x_range[0]],
        "x1": [columns.x_range[1]],
        "y0": [columns.y_range[0]],
        "y1": [columns.y_range[1]],
        "title": [columns.title],
        "note": [columns.note],
        "now_visible": [bool(columns.now_visible)],
        "now": [columns.now],
    }


def _set_as_browser(model: Any, name: str, value: Any, setter: Any) -> None:
    # A change made as if by the browser view ``setter``: nothing is sent to it.
    descriptor = model.lookup(name)
    descriptor._set(model, descriptor._get(model), value, setter=setter)


def update_live_lightcurve(
    sources: PlotSources, columns: LightCurveColumns, *, setter: Any = None, quiet: bool = False
) -> None:
    """Show ``columns`` in a figure from :func:`live_lightcurve_figure`.

    Without ``setter``: the points, then one row with ranges, title and note, which the
    figure's ``CustomJS`` applies in the browser. With ``setter`` (the ``BokehModel``
    showing the figure): the points travel INSIDE that row, one message in all, and the
    CustomJS puts them into the point sources in the browser; the Python-side sources are
    updated as if by the browser (``setter``: not sent back), so both sides agree. With
    ``quiet`` (needs ``setter``) the row is not sent either: the browser was given it by
    other means (the vetting panel's stage applies it there). :attr:`PlotSources.models`
    ``['columns']`` tells what is shown.
    """
    if quiet and setter is None:
        raise ValueError("quiet needs the setter (the BokehModel showing the figure)")
    for name, data in (("det", columns.det), ("lim", columns.lim)):
        if setter is None:
            sources[name].data = data
        else:
            _set_as_browser(sources[name], "data", data, setter)
    # Last: its change applies the ranges once both point sets are in place.
    row = live_view_row(columns, points=setter is not None)
    if quiet:
        _set_as_browser(sources["view"], "data", row, setter)
    else:
        sources["view"].data = row
    sources.models["columns"] = columns


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
