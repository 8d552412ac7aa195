"""Spectra of an object: overlaid, normalised, smoothed, with movable line markers.

Input is the spectra DataFrame of ``docs/ARCHITECTURE.md`` (``id, label, instrument_name,
observed_at, units, wavelengths, fluxes, errors``; wavelengths in Angstrom), or one or more
:class:`~workbench.spectra.ParsedSpectrum`. Each spectrum is smoothed (optional) and divided by
its median (optional) at full resolution, then decimated for DISPLAY by
:func:`~workbench.plots.transforms.minmax_decimate` (min and max kept per wavelength bin) when it
has more than ``max_points`` samples. The exact processed arrays stay in
``sources.full['spec:<key>']``.

A redshift slider (Bokeh ``Slider`` + ``CustomJS``, so it also works in a static HTML file)
moves the line markers to ``rest * (1 + z)`` in the observed frame; in the rest frame it moves
the spectra (``observed / (1 + z)``) and the telluric bands instead, and the lines stay put.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from bokeh.layouts import column
from bokeh.models import (
    BoxAnnotation,
    ColumnDataSource,
    CustomJS,
    HoverTool,
    LabelSet,
    Legend,
    LegendItem,
    Range1d,
    Slider,
    Span,
)

from ..errors import WorkbenchError
from ..spectra import ParsedSpectrum
from ._base import PlotSources, empty_note, new_figure, require_columns
from .colors import SPECTRUM_PALETTE
from .lines import TELLURIC_BANDS, SpectralLine, check_redshift, line_set
from .transforms import median_normalise, minmax_decimate, smooth

__all__ = ["spectra_plot"]

_SPECIES_COLORS = (
    "#b2182b", "#2166ac", "#762a83", "#1b7837", "#e08214", "#8c510a", "#01665e", "#c51b7d",
    "#4d4d4d", "#5aae61",
)  # fmt: skip

_JS = """
const f = 1 + slider.value;
if (frame === "observed") {
    for (let i = 0; i < spans.length; i++) { spans[i].location = rest[i] * f; }
    const x = lines.data["x"];
    for (let i = 0; i < rest.length; i++) { x[i] = rest[i] * f; }
    lines.change.emit();
} else {
    for (const src of specs) {
        const w = src.data["wave_obs"];
        const x = src.data["x"];
        for (let i = 0; i < w.length; i++) { x[i] = w[i] / f; }
        src.change.emit();
    }
    for (let i = 0; i < boxes.length; i++) {
        boxes[i].left = tell_start[i] / f;
        boxes[i].right = tell_end[i] / f;
    }
    const tx = tell.data["x"];
    for (let i = 0; i < tx.length; i++) { tx[i] = tell_mid[i] / f; }
    tell.change.emit();
    x_range.start = obs_lo / f;
    x_range.end = obs_hi / f;
}
"""


def spectra_plot(
    spectra: pd.DataFrame | ParsedSpectrum | Sequence[ParsedSpectrum],
    *,
    redshift: float = 0.0,
    frame: Literal["observed", "rest"] = "observed",
    normalise: bool = True,
    smooth_width: float | None = None,
    smooth_kernel: Literal["boxcar", "gaussian"] = "boxcar",
    smooth_unit: Literal["pixel", "angstrom"] = "pixel",
    lines: str | Sequence[str | SpectralLine] | None = "sn",
    telluric: bool = True,
    max_points: int = 5000,
    z_max: float | None = None,
    title: str | None = None,
    width: int = 820,
    height: int = 460,
) -> tuple[Any, PlotSources]:
    """All spectra of an object overlaid, flux against wavelength (Angstrom).

    ``redshift`` places the line markers at ``rest * (1 + z)`` (observed frame) or shifts the
    spectra to the rest frame (``frame='rest'``); the slider starts there. ``normalise``
    divides each spectrum by its median; ``smooth_width`` (pixels or Angstrom, boxcar full
    width or Gaussian FWHM) smooths it. ``lines`` is a set name (``'sn'``, ``'galaxy'``,
    ``'nebular'``, ``'all'``), line names, or None; ``telluric`` shades the O2/H2O bands.

    Returns ``(column(slider, figure), sources)`` (a bare figure saying so when there are no
    spectra); ``sources.models`` holds ``figure``, ``slider``, ``spans`` and ``telluric``.
    """
    z = check_redshift(redshift)
    if frame not in ("observed", "rest"):
        raise WorkbenchError(f"frame must be 'observed' or 'rest', not {frame!r}")
    if max_points < 4:
        raise WorkbenchError(f"max_points must be at least 4, not {max_points}")
    z_end = z_max if z_max is not None else max(0.5, round(2 * z + 0.05, 2))
    if z_end <= min(0.0, z):
        raise WorkbenchError(f"z_max ({z_max}) must be above the redshift slider's start")
    table = _as_table(spectra)
    chosen = line_set(lines)
    processed = [
        _process(row, normalise, smooth_width, smooth_kernel, smooth_unit)
        for _, row in table.iterrows()
    ]
    fig = new_figure(title=title or _default_title(table), width=width, height=height,
                     n_points=sum(min(p["wave"].size, max_points) for p in processed))  # fmt: skip
    # A fixed inner height lets the line labels hang from the top of the frame (screen units).
    fig.frame_height = max(150, height - 90)
    fig.xaxis.axis_label = f"{'Rest-frame' if frame == 'rest' else 'Observed'} wavelength (Å)"
    fig.yaxis.axis_label = "Flux / median" if normalise else _flux_label(table)
    sources = PlotSources()
    sources.models["figure"] = fig
    if not processed:
        empty_note(fig, "no spectra")
        return fig, sources
    scale = 1.0 + z if frame == "rest" else 1.0
    spec_sources, items = _draw_spectra(fig, sources, table, processed, max_points, scale)
    fig.add_layout(Legend(items=items, click_policy="hide"), "right")
    obs_lo = min(float(p["wave"][0]) for p in processed)
    obs_hi = max(float(p["wave"][-1]) for p in processed)
    pad = 0.02 * (obs_hi - obs_lo) or 10.0
    fig.x_range = Range1d(start=(obs_lo - pad) / scale, end=(obs_hi + pad) / scale)
    spans, line_src = _draw_lines(fig, sources, chosen, z if frame == "observed" else 0.0)
    boxes, tell_src = _draw_telluric(fig, sources, telluric, scale)
    slider = Slider(start=min(0.0, z), end=z_end, value=z, step=0.0005, format="0.0000",
                    title="Redshift z", name="redshift", width=width - 40)  # fmt: skip
    bands = _bands(telluric)
    slider.js_on_change("value", CustomJS(args=dict(
        slider=slider, frame=frame, spans=spans, lines=line_src,
        rest=[ln.rest for ln in chosen], specs=spec_sources, boxes=boxes, tell=tell_src,
        tell_start=[b.start for b in bands], tell_end=[b.end for b in bands],
        tell_mid=[(b.start + b.end) / 2 for b in bands],
        x_range=fig.x_range, obs_lo=obs_lo - pad, obs_hi=obs_hi + pad,
    ), code=_JS))  # fmt: skip
    sources.models.update(slider=slider, spans=spans, telluric=boxes)
    return column(slider, fig), sources


def _as_table(spectra: Any) -> pd.DataFrame:
    if isinstance(spectra, ParsedSpectrum):
        spectra = [spectra]
    if isinstance(spectra, pd.DataFrame):
        return require_columns(spectra, ("wavelengths", "fluxes"), "spectra").reset_index(drop=True)
    if isinstance(spectra, Sequence) and all(isinstance(s, ParsedSpectrum) for s in spectra):
        return pd.DataFrame(
            {
                "id": range(len(spectra)),
                "label": [
                    str(s.header.get("OBJECT") or f"spectrum {i}") for i, s in enumerate(spectra)
                ],
                "wavelengths": [s.wavelengths for s in spectra],
                "fluxes": [s.fluxes for s in spectra],
                "errors": [s.errors for s in spectra],
            }
        )
    raise WorkbenchError(
        "spectra must be a DataFrame (wavelengths, fluxes, ...) or ParsedSpectrum objects, "
        f"not {type(spectra).__name__}"
    )


def _name(row: pd.Series, i: int) -> str:
    label = row.get("label")
    if isinstance(label, str) and label.strip():
        return label
    parts = [str(row.get("instrument_name") or "").strip()]
    observed = pd.to_datetime(row.get("observed_at"), errors="coerce")
    if not pd.isna(observed):
        parts.append(str(observed.date()))
    text = " ".join(p for p in parts if p)
    return text or f"spectrum {row.get('id', i)}"


def _process(row: pd.Series, normalise: bool, width: float | None, kernel: str, unit: str) -> dict:
    ident = row.get("id", row.name)
    wave = np.asarray(row["wavelengths"], dtype=float).ravel()
    flux = np.asarray(row["fluxes"], dtype=float).ravel()
    if wave.size != flux.size:
        raise WorkbenchError(
            f"spectrum {ident}: {wave.size} wavelengths but {flux.size} fluxes; they must pair up"
        )
    good = np.isfinite(wave)
    if not good.any():
        raise WorkbenchError(f"spectrum {ident} has no finite wavelength")
    wave, flux = wave[good], flux[good]
    order = np.argsort(wave, kind="stable")
    wave, flux = wave[order], flux[order]
    raw = flux
    if width is not None:
        flux = smooth(wave, flux, width, kernel=kernel, unit=unit)  # type: ignore[arg-type]
    scale = 1.0
    if normalise:
        flux, scale = median_normalise(flux)
    return {"wave": wave, "flux": flux, "raw": raw, "scale": scale}


def _draw_spectra(
    fig: Any, sources: PlotSources, table: pd.DataFrame, processed: list[dict],
    max_points: int, scale: float,
) -> tuple[list[ColumnDataSource], list[LegendItem]]:  # fmt: skip
    spec_sources, items, renderers = [], [], []
    for i, ((_, row), p) in enumerate(zip(table.iterrows(), processed, strict=True)):
        key = f"spec:{row.get('id', i)}"
        name = _name(row, i)
        keep = minmax_decimate(p["wave"], p["flux"], max_points)
        wave = p["wave"][keep]
        src = ColumnDataSource(
            {
                "wave_obs": wave,
                "x": wave / scale,  # scale is 1 + z in the rest frame, else 1
                "flux": p["flux"][keep],
                "label": [name] * keep.size,
            },
            name=key,
        )
        sources[key] = src
        sources.full[key] = pd.DataFrame(
            {"wavelength": p["wave"], "flux": p["flux"], "flux_raw": p["raw"]}
        ).assign(scale=p["scale"])
        color = SPECTRUM_PALETTE[i % len(SPECTRUM_PALETTE)]
        r = fig.line("x", "flux", source=src, color=color, line_width=1.2, name=f"curve:{key}")
        renderers.append(r)
        spec_sources.append(src)
        items.append(LegendItem(label=name, renderers=[r]))
    fig.add_tools(HoverTool(renderers=renderers, tooltips=[
        ("spectrum", "@label"), ("λ (Å)", "@x{0.0}"), ("observed λ (Å)", "@wave_obs{0.0}"),
        ("flux", "@flux{0.000e}"),
    ], mode="mouse"))  # fmt: skip
    return spec_sources, items


def _draw_lines(
    fig: Any, sources: PlotSources, chosen: Sequence[SpectralLine], z: float
) -> tuple[list[Span], ColumnDataSource]:
    colors = {}
    for ln in chosen:
        colors.setdefault(ln.species, _SPECIES_COLORS[len(colors) % len(_SPECIES_COLORS)])
    f = 1.0 + z
    spans = [
        Span(location=ln.rest * f, dimension="height", line_color=colors[ln.species],
             line_dash="dashed", line_alpha=0.7, name=f"line:{ln.name}")
        for ln in chosen
    ]  # fmt: skip
    for span in spans:
        fig.add_layout(span)
    src = ColumnDataSource(
        {
            "x": [ln.rest * f for ln in chosen],
            "rest": [ln.rest for ln in chosen],
            "name": [ln.name for ln in chosen],
            "color": [colors[ln.species] for ln in chosen],
        },
        name="lines",
    )
    sources["lines"] = src
    fig.add_layout(LabelSet(
        x="x", y=fig.frame_height - 4, y_units="screen", text="name", source=src, angle=np.pi / 2,
        text_align="right", text_font_size="8pt", text_color="color", x_offset=-2,
    ))  # fmt: skip
    return spans, src


def _bands(show: bool) -> tuple:
    return TELLURIC_BANDS if show else ()


def _draw_telluric(
    fig: Any, sources: PlotSources, show: bool, scale: float
) -> tuple[list[BoxAnnotation], ColumnDataSource]:
    bands = _bands(show)
    boxes = [
        BoxAnnotation(left=b.start / scale, right=b.end / scale, fill_color="#888888",
                      fill_alpha=0.15, line_alpha=0, level="underlay", name=f"telluric:{b.name}")
        for b in bands
    ]  # fmt: skip
    for box in boxes:
        fig.add_layout(box)
    src = ColumnDataSource(
        {"x": [(b.start + b.end) / 2 / scale for b in bands], "name": [b.name for b in bands]},
        name="telluric",
    )
    sources["telluric"] = src
    fig.add_layout(LabelSet(
        x="x", y=6, y_units="screen", text="name", source=src, text_align="center",
        text_font_size="7pt", text_color="#666666",
    ))  # fmt: skip
    return boxes, src


def _default_title(table: pd.DataFrame) -> str:
    if "obj_id" in table.columns:
        ids = [i for i in table["obj_id"].dropna().unique() if i]
        if len(ids) == 1:
            return f"{ids[0]}: spectra"
    return "Spectra"


def _flux_label(table: pd.DataFrame) -> str:
    if "units" in table.columns:
        units = [u for u in table["units"].dropna().unique() if u]
        if len(units) == 1:
            return f"Flux ({units[0]})"
    return "Flux"
