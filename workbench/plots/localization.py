"""Localization plots: credible regions with sources, candidates and galaxies over them.

The map is a :class:`~workbench.skymap.Skymap` (multi-order ``uniq``/``probdensity``), or the
two arrays. For DISPLAY the map is sampled on an image grid: each grid point takes the value
of the multi-order pixel holding it (``Skymap.lookup``: exact, nothing rasterised to a fine flat
map). The shading is the probability density (per deg²); the contours are the credible levels
(default 50% and 90%: the smallest regions holding that probability).

Views: ``'allsky'`` (Mollweide, RA increasing to the left, centred on RA 180 deg), ``'zoom'``
(RA/Dec around the outermost credible region, RA axis reversed, aspect corrected by
cos(Dec)), or ``'both'`` side by side. Overlay tables need ``ra, dec`` (degrees); a
``credible_level`` column (as crossmatch writes it) is shown in the hover, otherwise it is
looked up in the map.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from bokeh.layouts import row
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    CustomJSTickFormatter,
    HoverTool,
    Label,
    Legend,
    LegendItem,
    LinearColorMapper,
    Range1d,
)
from bokeh.palettes import Blues256

from ..errors import SkymapError, WorkbenchError
from ..skymap import SR_TO_DEG2, Skymap
from ._base import PlotSources, new_figure, require_columns
from ._projection import X_MAX, Y_MAX, graticule, inverse_mollweide, mollweide, unwrap_ra

__all__ = ["localization_plot"]

_LAYERS = {  # name -> (marker, colour, size)
    "sources": ("circle", "#d62728", 8),
    "candidates": ("diamond", "#ff7f0e", 10),
    "galaxies": ("square", "#2f2f2f", 5),
}
_CONTOUR_COLORS = ("#08306b", "#c2185b", "#2e7d32", "#6a1b9a")
_WRAP_RA_JS = "return (((tick % 360) + 360) % 360).toFixed(1);"


def localization_plot(
    skymap: Skymap | None = None,
    *,
    uniq: np.ndarray | None = None,
    probdensity: np.ndarray | None = None,
    sources: pd.DataFrame | None = None,
    candidates: pd.DataFrame | None = None,
    galaxies: pd.DataFrame | None = None,
    levels: Sequence[float] = (0.5, 0.9),
    view: Literal["both", "allsky", "zoom"] = "both",
    shade: bool = True,
    grid: int = 600,
    title: str | None = None,
    height: int = 420,
) -> tuple[Any, PlotSources]:
    """Plot a localization's credible regions (``levels``, cumulative probability) with
    ``sources``, ``candidates`` and ``galaxies`` (DataFrames with ``ra, dec`` in degrees).

    ``grid`` is the all-sky image width in samples (half of it for the zoom). Returns
    ``(layout, sources)``: ``sources['sources'|'candidates'|'galaxies']`` are shared by both
    views; ``sources['image:allsky'|'image:zoom']`` hold the sampled density and levels;
    ``sources.models`` the figures and contour renderers.
    """
    sky = _as_skymap(skymap, uniq, probdensity)
    lv = _check_levels(levels)
    if view not in ("both", "allsky", "zoom"):
        raise WorkbenchError(f"view must be 'both', 'allsky' or 'zoom', not {view!r}")
    if not 50 <= grid <= 4000:
        raise WorkbenchError(f"grid must be between 50 and 4000 samples, not {grid}")
    name = title or str(sky.meta.get("name") or "Localization")
    out = PlotSources()
    box = _zoom_box(sky, max(lv))
    overlays = {
        layer: _overlay(sky, df, layer, box[0])
        for layer, df in (("sources", sources), ("candidates", candidates), ("galaxies", galaxies))
        if df is not None
    }
    out.update(overlays)
    figs = []
    if view in ("both", "allsky"):
        figs.append(_allsky(sky, lv, shade, grid, name, height, overlays, out))
    if view in ("both", "zoom"):
        figs.append(_zoom(sky, lv, shade, max(50, grid // 2), name, height, overlays, out, box))
    return (figs[0] if len(figs) == 1 else row(*figs)), out


def _as_skymap(skymap: Any, uniq: Any, probdensity: Any) -> Skymap:
    if skymap is not None:
        if uniq is not None or probdensity is not None:
            raise WorkbenchError("give either a Skymap or uniq= and probdensity=, not both")
        if isinstance(skymap, Skymap):
            return skymap
        if hasattr(skymap, "uniq") and hasattr(skymap, "probdensity"):
            return Skymap(skymap.uniq, skymap.probdensity, meta=dict(getattr(skymap, "meta", {})))
        raise WorkbenchError(f"skymap must be a Skymap, not {type(skymap).__name__}")
    if uniq is None or probdensity is None:
        raise WorkbenchError("a localization plot needs a Skymap, or both uniq= and probdensity=")
    return Skymap(uniq, probdensity)


def _check_levels(levels: Sequence[float]) -> list[float]:
    try:
        lv = sorted(float(v) for v in levels)
    except (TypeError, ValueError) as exc:
        raise WorkbenchError(f"levels must be numbers between 0 and 1, not {levels!r}") from exc
    if not lv or any(not 0 < v < 1 for v in lv):
        raise WorkbenchError(f"levels must be between 0 and 1 (exclusive), not {levels!r}")
    return lv


def _sample(sky: Skymap, ra: np.ndarray, dec: np.ndarray, inside: np.ndarray) -> tuple:
    """Density (per deg²) and credible level at each grid point; NaN outside."""
    found = sky.lookup(np.where(inside, ra, 0.0), np.where(inside, dec, 0.0)).reshape(ra.shape)
    idx = np.where(inside, found, -1)
    ok = idx >= 0
    dens = np.full(idx.shape, np.nan)
    level = np.full(idx.shape, np.nan)
    dens[ok] = sky.probdensity[idx[ok]] / SR_TO_DEG2
    level[ok] = sky.credible_level[idx[ok]]
    return dens, level


def _image(fig: Any, sky: Skymap, geo: dict, lv: list[float], shade: bool, key: str,
           out: PlotSources) -> list[LegendItem]:  # fmt: skip
    dens, level = _sample(sky, geo["ra"], geo["dec"], geo["inside"])
    src = ColumnDataSource(
        {
            "density": [dens.astype(np.float32)],
            "level": [level.astype(np.float32)],
            "x": [geo["x0"]], "y": [geo["y0"]], "dw": [geo["dw"]], "dh": [geo["dh"]],
        },
        name=key,
    )  # fmt: skip
    out[key] = src
    if shade:
        high = float(np.nanmax(dens)) if np.isfinite(dens).any() else 1.0
        mapper = LinearColorMapper(palette=Blues256[::-1], low=0.0, high=high or 1.0,
                                   nan_color=(0, 0, 0, 0))  # fmt: skip
        fig.image("density", x="x", y="y", dw="dw", dh="dh", source=src, color_mapper=mapper,
                  level="image", name="density")  # fmt: skip
        fig.add_layout(ColorBar(color_mapper=mapper, title="prob. / deg²", width=10), "right")
    contour = fig.contour(geo["xs"], geo["ys"], level, levels=lv, fill_color=None,
                          line_color=list(_CONTOUR_COLORS[: len(lv)]), line_width=1.8)  # fmt: skip
    out.models[f"contour:{key.split(':')[1]}"] = contour
    fig.grid.grid_line_color = "#555555"
    fig.grid.grid_line_alpha = 0.2
    return [
        LegendItem(label=f"{v:.0%} credible", renderers=[contour.line_renderer], index=i)
        for i, v in enumerate(lv)
    ]


def _allsky(
    sky: Skymap, lv: list[float], shade: bool, grid: int, name: str, height: int,
    overlays: dict[str, ColumnDataSource], out: PlotSources,
) -> Any:  # fmt: skip
    nx, ny = grid, grid // 2
    xs = np.linspace(-X_MAX, X_MAX, nx)
    ys = np.linspace(-Y_MAX, Y_MAX, ny)
    gx, gy = np.meshgrid(xs, ys)
    ra, dec, inside = inverse_mollweide(gx, gy)
    geo = {"ra": ra, "dec": dec, "inside": inside, "xs": xs, "ys": ys,
           "x0": -X_MAX, "y0": -Y_MAX, "dw": 2 * X_MAX, "dh": 2 * Y_MAX}  # fmt: skip
    fig = new_figure(title=f"{name}: all sky (Mollweide)", width=2 * height, height=height,
                     x_range=Range1d(-X_MAX * 1.02, X_MAX * 1.02),
                     y_range=Range1d(-Y_MAX * 1.04, Y_MAX * 1.04), match_aspect=True)  # fmt: skip
    fig.axis.visible = False
    items = _image(fig, sky, geo, lv, shade, "image:allsky", out)
    fig.grid.visible = False
    gxs, gys = graticule()
    fig.multi_line(gxs, gys, line_color="#999999", line_alpha=0.5, line_width=0.7)
    for hours in range(0, 24, 4):
        x, y = mollweide(np.array([hours * 15.0 or 0.001]), np.array([0.0]))
        fig.add_layout(Label(x=float(x[0]), y=float(y[0]), text=f"{hours}h",
                             text_font_size="8pt", text_color="#666666"))  # fmt: skip
    for dec_label in (-60, -30, 30, 60):
        x, y = mollweide(np.array([180.0]), np.array([float(dec_label)]))
        fig.add_layout(Label(x=-_edge_x(dec_label), y=float(y[0]),
                             text=f"{dec_label:+d}°", text_font_size="8pt",
                             text_color="#666666", x_offset=-26))  # fmt: skip
    # A small region vanishes at all-sky scale: outline where it is (the zoom view's box)
    # and mark the most probable position.
    box_x, box_y = _box_outline(_zoom_box(sky, max(lv)))
    outline = fig.line(box_x, box_y, line_color="#c2185b", line_width=1.5, line_dash="dashed",
                       name="region_box")  # fmt: skip
    items.append(LegendItem(label="region (zoom)", renderers=[outline]))
    mx, my = mollweide(np.array([sky.max_position[0]]), np.array([sky.max_position[1]]))
    peak = fig.scatter(mx, my, marker="circle_cross", size=14, fill_alpha=0, line_color="#c2185b",
                       line_width=2, name="max_position")  # fmt: skip
    items.append(LegendItem(label="most probable", renderers=[peak]))
    _draw_overlays(fig, overlays, "mx", "my", items)
    out.models["allsky"] = fig
    return fig


def _edge_x(dec: float) -> float:
    """Half-width (Mollweide x) of the ellipse at declination ``dec`` (degrees)."""
    x, _ = mollweide(np.array([0.001]), np.array([float(dec)]))
    return float(abs(x[0]))


def _box_outline(box: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The zoom box (RA/Dec rectangle, degrees) as a Mollweide polyline, at least ~6° wide
    on the sky so that a region of a few deg² stays visible at all-sky scale."""
    _center, ra_lo, ra_hi, dec_lo, dec_hi = box
    mid = 0.5 * (dec_lo + dec_hi)
    half_dec = max(0.5 * (dec_hi - dec_lo), 3.0)
    half_ra = max(0.5 * (ra_hi - ra_lo), 3.0 / max(np.cos(np.radians(mid)), 0.05))
    rmid = 0.5 * (ra_lo + ra_hi)
    lo_d, hi_d = max(mid - half_dec, -90.0), min(mid + half_dec, 90.0)
    t = np.linspace(0, 1, 25)
    ra = np.concatenate([rmid - half_ra + 2 * half_ra * t, np.full(25, rmid + half_ra),
                         rmid + half_ra - 2 * half_ra * t, np.full(25, rmid - half_ra)])  # fmt: skip
    dec = np.concatenate([np.full(25, lo_d), lo_d + (hi_d - lo_d) * t, np.full(25, hi_d),
                          hi_d - (hi_d - lo_d) * t])  # fmt: skip
    x, y = mollweide(ra % 360.0, dec)
    # Break the line where it wraps across the map's edge (RA 0/360 behind the centre).
    jump = np.flatnonzero(np.abs(np.diff(x)) > X_MAX)
    x = np.insert(x.astype(float), jump + 1, np.nan)
    y = np.insert(y.astype(float), jump + 1, np.nan)
    return x, y


def _zoom_box(sky: Skymap, level: float) -> tuple[float, float, float, float, float]:
    """(RA centre, RA min, RA max, Dec min, Dec max) in degrees around the credible region."""
    import healpy as hp

    inside = sky.credible_level <= level
    if not inside.any():
        inside = sky.probdensity == sky.probdensity.max()
    order, ipix = sky.order[inside], sky.ipix[inside]
    ra, dec = hp.pix2ang(np.int64(1) << order, ipix, nest=True, lonlat=True)
    half = np.degrees(np.sqrt(sky.pixarea[inside])) * 0.75
    w = sky.prob[inside]
    center = float(np.degrees(np.arctan2(np.sum(w * np.sin(np.radians(ra))),
                                         np.sum(w * np.cos(np.radians(ra))))) % 360.0)  # fmt: skip
    ura = unwrap_ra(ra, center)
    cosd = np.maximum(np.cos(np.radians(dec)), 0.05)
    lo, hi = float(np.min(ura - half / cosd)), float(np.max(ura + half / cosd))
    dlo = float(max(-90.0, np.min(dec - half)))
    dhi = float(min(90.0, np.max(dec + half)))
    if hi - lo > 300 or dlo < -80 or dhi > 80:
        return 180.0, 0.0, 360.0, max(dlo, -90.0), min(dhi, 90.0)
    pad_ra, pad_dec = 0.08 * (hi - lo), 0.08 * (dhi - dlo)
    return center, lo - pad_ra, hi + pad_ra, max(-90.0, dlo - pad_dec), min(90.0, dhi + pad_dec)


def _zoom(
    sky: Skymap, lv: list[float], shade: bool, grid: int, name: str, height: int,
    overlays: dict[str, ColumnDataSource], out: PlotSources, box: tuple[float, ...],
) -> Any:  # fmt: skip
    center, ra_lo, ra_hi, dec_lo, dec_hi = box
    cos_mid = max(np.cos(np.radians(0.5 * (dec_lo + dec_hi))), 0.1)
    aspect = (ra_hi - ra_lo) * cos_mid / (dec_hi - dec_lo)
    width = int(np.clip(height * aspect, 0.6 * height, 2.2 * height)) + 60
    xs = np.linspace(ra_lo, ra_hi, grid)
    ys = np.linspace(dec_lo, dec_hi, max(50, int(grid / max(aspect, 0.3))))
    gx, gy = np.meshgrid(xs, ys)
    geo = {"ra": gx % 360.0, "dec": gy, "inside": np.ones(gx.shape, bool), "xs": xs, "ys": ys,
           "x0": ra_lo, "y0": dec_lo, "dw": ra_hi - ra_lo, "dh": dec_hi - dec_lo}  # fmt: skip
    # RA grows to the left: the x range runs from the high RA to the low one.
    fig = new_figure(title=f"{name}: zoom", width=width, height=height,
                     x_range=Range1d(ra_hi, ra_lo), y_range=Range1d(dec_lo, dec_hi))  # fmt: skip
    fig.xaxis.axis_label = "RA (deg)"
    fig.yaxis.axis_label = "Dec (deg)"
    fig.xaxis.formatter = CustomJSTickFormatter(code=_WRAP_RA_JS)  # RA beyond 0/360 wraps
    items = _image(fig, sky, geo, lv, shade, "image:zoom", out)
    _draw_overlays(fig, overlays, "zra", "dec", items)
    out.models["zoom"] = fig
    out.models["zoom_center"] = center
    return fig


def _overlay(sky: Skymap, df: pd.DataFrame, layer: str, center: float) -> ColumnDataSource:
    df = require_columns(df, ("ra", "dec"), layer)
    ra = pd.to_numeric(df["ra"], errors="coerce").to_numpy(dtype=float)
    dec = pd.to_numeric(df["dec"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(ra) | ~np.isfinite(dec) | (np.abs(dec) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WorkbenchError(
            f"{layer} row {df.index[i]!r} has an invalid position (ra={ra[i]}, dec={dec[i]}); "
            "ra and dec must be finite degrees with |dec| <= 90"
        )
    if "credible_level" in df.columns:
        level = pd.to_numeric(df["credible_level"], errors="coerce").to_numpy(dtype=float)
    else:
        try:
            idx = sky.lookup(ra, dec)
        except SkymapError as exc:
            raise WorkbenchError(f"{layer}: {exc.message}") from exc
        level = np.where(idx >= 0, sky.credible_level[np.maximum(idx, 0)], np.nan)
    mx, my = mollweide(ra, dec)
    label_col = next((c for c in ("name", "id", "obj_id") if c in df.columns), None)
    labels = df[label_col].astype(str).to_numpy() if label_col else np.arange(len(df)).astype(str)
    data = {"ra": ra, "dec": dec, "mx": mx, "my": my, "zra": unwrap_ra(ra, center),
            "label": labels, "credible_level": level}  # fmt: skip
    if "distmpc" in df.columns:
        data["distmpc"] = pd.to_numeric(df["distmpc"], errors="coerce").to_numpy(dtype=float)
    size = _LAYERS[layer][2]
    data["size"] = np.full(len(df), float(size))
    if "probability" in df.columns:  # ranked galaxies: area of the marker ~ probability
        prob = np.nan_to_num(pd.to_numeric(df["probability"], errors="coerce").to_numpy(float))
        data["probability"] = prob
        top = prob.max() if prob.size else 0.0
        data["size"] = 4.0 + 18.0 * np.sqrt(prob / top) if top > 0 else data["size"]
        if "rank" in df.columns:
            data["rank"] = pd.to_numeric(df["rank"], errors="coerce").to_numpy(dtype=float)
    return ColumnDataSource(data, name=layer)


def _draw_overlays(
    fig: Any, overlays: dict[str, ColumnDataSource], xcol: str, ycol: str, items: list[LegendItem]
) -> None:
    for layer, src in overlays.items():
        marker, color, _size = _LAYERS[layer]
        r = fig.scatter(xcol, ycol, source=src, marker=marker, size="size", fill_color=color,
                        fill_alpha=0.75, line_color="white", line_width=0.5,
                        name=layer)  # fmt: skip
        tips = [(layer[:-1], "@label"), ("RA, Dec", "@ra{0.0000}, @dec{0.0000}"),
                ("credible level", "@credible_level{0.000}")]  # fmt: skip
        if "distmpc" in src.data:
            tips.append(("distance (Mpc)", "@distmpc{0.0}"))
        if "probability" in src.data:
            tips.append(("probability", "@probability{0.00%}"))
        if "rank" in src.data:
            tips.append(("rank", "@rank{0}"))
        fig.add_tools(HoverTool(renderers=[r], tooltips=tips))
        items.append(LegendItem(label=layer, renderers=[r]))
    # Below the frame, so the legend never hides part of the sky.
    fig.add_layout(Legend(items=items, orientation="horizontal", click_policy="hide"), "below")
