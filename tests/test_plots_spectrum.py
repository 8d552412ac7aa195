"""Spectrum figures, spectral lines and the numeric helpers behind them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bokeh.embed import json_item
from bokeh.models import BoxAnnotation, CustomJS, Legend, Slider, Span

from workbench.errors import WorkbenchError
from workbench.plots import TELLURIC_BANDS, line_set, spectra_plot
from workbench.plots.lines import (
    LINES,
    air_to_vacuum,
    check_redshift,
    observed_wavelength,
    rest_wavelength,
    vacuum_to_air,
)
from workbench.plots.transforms import median_normalise, minmax_decimate, smooth, thin_limits
from workbench.spectra import parse_ascii, parse_ascii_file

Z = 0.05
HALPHA = 6562.79


def _spectra(n: int = 3000) -> pd.DataFrame:
    """Two spectra of one object; the first has H-alpha emission at z=0.05."""
    wave = np.linspace(3500.0, 9500.0, n)
    flux = 2e-16 * (1 + np.exp(-0.5 * ((wave - HALPHA * (1 + Z)) / 8.0) ** 2))
    return pd.DataFrame(
        {
            "id": [11, 12],
            "obj_id": ["ZTF21abc", "ZTF21abc"],
            "label": [None, "Keck, late"],
            "instrument_name": ["SEDM", "LRIS"],
            "observed_at": ["2021-04-03T02:28:19", "2021-05-01T00:00:00"],
            "units": ["erg/s/cm/cm/AA"] * 2,
            "wavelengths": [wave, wave[::3]],
            "fluxes": [flux, 3 * flux[::3]],
            "errors": [None, None],
        }
    )


def _fig(layout):
    return layout.children[1]


def test_lines_at_redshift_in_observed_frame() -> None:
    layout, sources = spectra_plot(_spectra(), redshift=Z)
    spans = sources.models["spans"]
    by_name = {s.name: s for s in spans}
    assert by_name["line:Hα"].location == pytest.approx(HALPHA * (1 + Z))
    assert all(isinstance(s, Span) and s.dimension == "height" for s in spans)
    lines = sources["lines"].data
    i = lines["name"].index("Si II 6355")
    assert lines["x"][i] == pytest.approx(6355.0 * (1 + Z)) and lines["rest"][i] == 6355.0
    assert {s.name for s in spans} == {f"line:{ln.name}" for ln in line_set("sn")}
    fig = _fig(layout)
    assert fig in layout.children and sources.models["figure"] is fig
    assert fig.xaxis[0].axis_label == "Observed wavelength (Å)"
    # spectra are drawn in the observed frame
    assert np.array_equal(sources["spec:11"].data["x"], sources["spec:11"].data["wave_obs"])


def test_rest_frame_moves_spectra_not_lines() -> None:
    layout, sources = spectra_plot(_spectra(), redshift=Z, frame="rest")
    src = sources["spec:11"].data
    assert np.allclose(src["x"], src["wave_obs"] / (1 + Z))
    by_name = {s.name: s for s in sources.models["spans"]}
    assert by_name["line:Hα"].location == pytest.approx(HALPHA)
    # the emission peak sits at H-alpha's rest wavelength
    peak = src["x"][np.argmax(src["flux"])]
    assert abs(peak - HALPHA) < 3.0
    boxes = sources.models["telluric"]
    assert boxes[0].left == pytest.approx(TELLURIC_BANDS[0].start / (1 + Z))
    assert _fig(layout).x_range.start == pytest.approx((3500 - 0.02 * 6000) / (1 + Z))


def test_slider_and_callback_are_wired() -> None:
    layout, sources = spectra_plot(_spectra(), redshift=0.2, z_max=1.0)
    slider = layout.children[0]
    assert isinstance(slider, Slider) and slider is sources.models["slider"]
    assert slider.value == 0.2 and slider.start == 0.0 and slider.end == 1.0
    callbacks = slider.js_property_callbacks["change:value"]
    assert len(callbacks) == 1 and isinstance(callbacks[0], CustomJS)
    args = callbacks[0].args
    assert args["spans"] == sources.models["spans"] and args["lines"] is sources["lines"]
    assert args["rest"] == [ln.rest for ln in line_set("sn")]
    assert "rest[i] * f" in callbacks[0].code  # the observed-frame rule, in JavaScript
    default_end = spectra_plot(_spectra(), redshift=0.4)[1].models["slider"].end
    assert default_end >= 0.85  # room above the given redshift


def test_telluric_bands_shaded() -> None:
    layout, _sources = spectra_plot(_spectra())
    boxes = [a for a in _fig(layout).center if isinstance(a, BoxAnnotation)]
    assert len(boxes) == len(TELLURIC_BANDS)
    a_band = next(b for b in boxes if b.name == "telluric:O₂ A")
    assert (a_band.left, a_band.right) == (7590.0, 7700.0)
    none = spectra_plot(_spectra(), telluric=False, lines=None)[1]
    assert none.models["telluric"] == [] and none.models["spans"] == []


def test_median_normalisation_and_full_data() -> None:
    table = _spectra()
    layout, sources = spectra_plot(table)
    for key in ("spec:11", "spec:12"):
        full = sources.full[key]
        assert np.median(full["flux"]) == pytest.approx(1.0)
        assert np.allclose(full["flux"] * full["scale"], full["flux_raw"])
    assert np.array_equal(sources.full["spec:11"]["flux_raw"], table["fluxes"][0])
    assert _fig(layout).yaxis[0].axis_label == "Flux / median"
    raw = spectra_plot(table, normalise=False)[1]
    assert np.array_equal(raw.full["spec:12"]["flux"], table["fluxes"][1])
    assert _fig(spectra_plot(table, normalise=False)[0]).yaxis[0].axis_label == (
        "Flux (erg/s/cm/cm/AA)"
    )


def test_legend_names() -> None:
    layout, _ = spectra_plot(_spectra())
    legend = next(obj for obj in _fig(layout).right if isinstance(obj, Legend))
    assert [i.label.value for i in legend.items] == ["SEDM 2021-04-03", "Keck, late"]
    assert _fig(layout).title.text == "ZTF21abc: spectra"


def test_large_spectrum_decimated_for_display_only() -> None:
    rng = np.random.default_rng(3)
    wave = np.linspace(3000.0, 10000.0, 100_000)
    flux = 1.0 + rng.normal(0, 0.01, wave.size)
    flux[12_345] = 50.0  # a narrow spike
    flux[87_654] = -20.0  # a deep single-pixel trough
    table = pd.DataFrame({"id": [1], "wavelengths": [wave], "fluxes": [flux]})
    layout, sources = spectra_plot(table, normalise=False, max_points=3000)
    shown = sources["spec:1"].data
    assert len(shown["x"]) <= 3000
    assert max(shown["flux"]) == 50.0 and min(shown["flux"]) == -20.0  # extremes survive
    assert set(shown["flux"]) <= set(flux)  # real samples, never averages
    assert len(sources.full["spec:1"]) == 100_000
    assert _fig(layout).output_backend == "webgl"
    json_item(layout)


def test_smoothing_options() -> None:
    table = _spectra()
    boxcar = spectra_plot(table, smooth_width=5)[1].full["spec:11"]
    gauss = spectra_plot(table, smooth_width=20, smooth_unit="angstrom",
                         smooth_kernel="gaussian")[1].full["spec:11"]  # fmt: skip
    raw = spectra_plot(table)[1].full["spec:11"]
    # smoothing lowers a narrow emission peak but keeps the continuum
    assert boxcar["flux"].max() < raw["flux"].max() and gauss["flux"].max() < raw["flux"].max()
    assert np.median(boxcar["flux"]) == pytest.approx(1.0)


def test_parsed_spectra_accepted(tmp_path: Path) -> None:
    one = parse_ascii("# OBJECT: SN 2021abc\n4000 1\n5000 2\n6000 3\n")
    layout, sources = spectra_plot([one, one])
    assert set(sources) >= {"spec:0", "spec:1"}
    legend = next(obj for obj in _fig(layout).right if isinstance(obj, Legend))
    assert legend.items[0].label.value == "SN 2021abc"
    assert "spec:0" in spectra_plot(one)[1]


@pytest.mark.shared_data
def test_real_spectra(shared_dir: Path) -> None:
    folder = shared_dir / "data" / "spectra"
    parsed = [parse_ascii_file(folder / n) for n in
              ("ZTF20abwdwoa_20200902_P60_v1.ascii", "ZTF20abwdwoa_20200917_Keck1_v1.ascii",
               "zac_spec.dat", "ZTF20abucjsa_20200909_LT_v1.ascii")]  # fmt: skip
    csv = parse_ascii_file(folder / "spec.csv", named_header=True)
    layout, sources = spectra_plot([*parsed, csv], redshift=0.03, smooth_width=3)
    assert len([k for k in sources if k.startswith("spec:")]) == 5
    assert len(sources.full["spec:1"]) == 5678
    json_item(layout)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"redshift": -1.0}, "greater than -1"),
        ({"redshift": float("nan")}, "finite"),
        ({"redshift": "high"}, "must be a number"),
        ({"frame": "emitted"}, "frame must be"),
        ({"lines": "quasar"}, "unknown line set"),
        ({"lines": ["Hα", "H-zeta"]}, "unknown line 'H-zeta'"),
        ({"max_points": 2}, "max_points"),
        ({"smooth_width": -3}, "positive"),
        ({"smooth_width": 3, "smooth_kernel": "median"}, "kernel"),
        ({"smooth_width": 3, "smooth_unit": "nm"}, "unit"),
        ({"redshift": 0.5, "z_max": 0.0}, "z_max"),
    ],
)
def test_bad_options_refused(kwargs: dict, pattern: str) -> None:
    with pytest.raises(WorkbenchError, match=pattern):
        spectra_plot(_spectra(), **kwargs)


def test_bad_spectra_refused() -> None:
    bad = _spectra()
    bad.at[0, "fluxes"] = bad["fluxes"][0][:-1]
    with pytest.raises(WorkbenchError, match="spectrum 11: 3000 wavelengths but 2999 fluxes"):
        spectra_plot(bad)
    with pytest.raises(WorkbenchError, match="lacks the column"):
        spectra_plot(_spectra().drop(columns="fluxes"))
    with pytest.raises(WorkbenchError, match="DataFrame"):
        spectra_plot({"wavelengths": [1]})  # type: ignore[arg-type]
    zeros = pd.DataFrame({"id": [1], "wavelengths": [np.arange(10.0)], "fluxes": [np.zeros(10)]})
    with pytest.raises(WorkbenchError, match="mostly zero"):
        spectra_plot(zeros)
    empty, srcs = spectra_plot(_spectra().iloc[0:0])
    assert any(getattr(a, "text", "") == "no spectra" for a in empty.center) and not srcs


# --- lines --------------------------------------------------------------------------------


def test_line_catalogue() -> None:
    names = {ln.name for ln in LINES}
    for needed in ("Hα", "Hβ", "He I 5876", "He II 4686", "Ca II K", "Ca II H", "Ca II 8542",
                   "Na I D2", "O I 7774", "[O III] 5007", "[O II] 3726", "Si II 6355",
                   "S II 5640", "Fe II 5169", "Mg II 2798"):  # fmt: skip
        assert needed in names
    assert {b.name for b in TELLURIC_BANDS} >= {"O₂ A", "O₂ B", "H₂O"}
    assert all(b.start < b.end for b in TELLURIC_BANDS)
    assert line_set(None) == () and line_set(["Hα"])[0].rest == HALPHA
    assert len(line_set("all")) == len(LINES)


def test_redshift_arithmetic() -> None:
    assert observed_wavelength(HALPHA, 0.1) == pytest.approx(HALPHA * 1.1)
    assert rest_wavelength(HALPHA * 1.1, 0.1) == pytest.approx(HALPHA)
    assert LINES[0].observed(0.0) == LINES[0].rest
    assert check_redshift(-0.001) == -0.001  # a small blueshift is allowed
    with pytest.raises(WorkbenchError):
        check_redshift(-1)


def test_air_vacuum_conversion() -> None:
    # Known vacuum wavelengths: H-alpha 6564.61, [O III] 5008.24, [O II] 3727.09 (Angstrom)
    assert air_to_vacuum(HALPHA) == pytest.approx(6564.61, abs=0.01)
    assert air_to_vacuum(5006.84) == pytest.approx(5008.24, abs=0.01)
    assert air_to_vacuum(3726.03) == pytest.approx(3727.09, abs=0.01)
    waves = np.array([2500.0, 4000.0, 7000.0, 10000.0])
    assert np.allclose(vacuum_to_air(air_to_vacuum(waves)), waves, atol=1e-6)
    assert air_to_vacuum(1215.67) == 1215.67  # below 2000 A: unchanged by convention


# --- transforms ---------------------------------------------------------------------------


def test_minmax_decimate_keeps_extremes_and_gaps() -> None:
    x = np.linspace(0, 1, 10_001)
    y = np.sin(40 * x)
    y[777] = 9.0
    y[5000:5010] = np.nan
    keep = minmax_decimate(x, y, 1000)
    assert keep.size <= 1000 and np.all(np.diff(keep) > 0)
    assert 777 in keep and np.nanmax(y[keep]) == 9.0 and np.nanmin(y[keep]) == np.nanmin(y)
    assert np.isnan(y[keep]).any()  # the NaN gap is still drawn as a gap
    assert keep[0] == 0 and keep[-1] == x.size - 1
    assert np.array_equal(minmax_decimate(x[:50], y[:50], 1000), np.arange(50))


def test_thin_limits_keeps_deepest_per_bin() -> None:
    mjd = np.array([0.0, 0.1, 0.2, 10.0, 10.1, 0.0, 0.05])
    lim = np.array([20.0, 21.0, 20.5, 19.0, 19.5, 18.0, 22.0])
    filt = np.array(["g", "g", "g", "g", "g", "r", "r"])
    keep = thin_limits(mjd, lim, filt, 4)  # two time bins per filter
    assert keep.tolist() == [1, 4, 5, 6]  # g: deepest of [0, 0.2] and of [10, 10.1]; r: both
    assert thin_limits(mjd, lim, filt, 100).tolist() == list(range(7))


def test_smooth_and_normalise() -> None:
    wave = np.arange(1000.0, 2000.0, 2.0)
    flat = np.full(wave.size, 3.0)
    assert np.allclose(smooth(wave, flat, 7), 3.0)
    assert np.allclose(smooth(wave, flat, 10, kernel="gaussian", unit="angstrom"), 3.0)
    noisy = np.random.default_rng(0).normal(0, 1, wave.size)
    assert smooth(wave, noisy, 9).std() < 0.5 * noisy.std()
    # width in Angstrom equals width in pixels times the 2 A pixel
    assert np.allclose(smooth(wave, noisy, 10, unit="angstrom"), smooth(wave, noisy, 5))
    holes = flat.copy()
    holes[10] = np.nan
    out = smooth(wave, holes, 5)
    assert np.isnan(out[10]) and np.allclose(np.delete(out, 10), 3.0)
    scaled, scale = median_normalise(np.array([1.0, 2.0, 3.0, np.nan]))
    assert scale == 2.0 and np.allclose(scaled[:3], [0.5, 1.0, 1.5])
    flipped, s2 = median_normalise(np.array([-3.0, -1.0, 2.0]))
    assert s2 == 2.0 and flipped[2] > 0  # a negative median does not flip the spectrum
    with pytest.raises(WorkbenchError, match="no finite flux"):
        median_normalise(np.array([np.nan]))
