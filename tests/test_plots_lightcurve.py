"""Light-curve figures: inspected through their Bokeh models, not pixels."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bokeh.embed import json_item
from bokeh.models import GridPlot, HoverTool, Legend, Range1d, Scatter, Segment

from workbench.errors import WorkbenchError
from workbench.plots import filter_color, lightcurve_grid, lightcurve_plot, prepare_photometry
from workbench.plots.colors import FALLBACK_PALETTE, FILTER_COLORS
from workbench.plots.lightcurve import (
    MJD_UNIX_EPOCH,
    detection_span,
    lightcurve_columns,
    live_lightcurve_figure,
    mjd_now,
    update_live_lightcurve,
)


def _phot() -> pd.DataFrame:
    """Two filters; ztfg has a non-detection (mag NaN) before the first detection."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "obj_id": ["ZTF21abc"] * 5,
            "mjd": [59000.0, 59001.5, 59003.0, 59002.0, 59005.0],
            "mag": [np.nan, 18.5, 18.2, 18.9, np.nan],
            "magerr": [np.nan, 0.05, 0.04, 0.1, np.nan],
            "limiting_mag": [20.1, 20.5, 20.4, 20.0, 19.7],
            "flux": [np.nan, 144.54, 190.55, 104.71, 12.0],
            "fluxerr": [4.0, 6.66, 7.02, 9.64, 5.0],
            "zp": [23.9] * 5,
            "magsys": ["ab"] * 5,
            "filter": ["ztfg", "ztfg", "ztfg", "ztfr", "ztfr"],
            "instrument_name": ["ZTF"] * 5,
            "origin": ["fp", None, "fp", "", "fp"],
        }
    )


def _glyph(fig, name: str):
    return [r for r in fig.renderers if r.name == name]


def test_magnitude_view_models() -> None:
    fig, sources = lightcurve_plot(_phot())
    assert set(sources) == {"det:ztfg", "lim:ztfg", "det:ztfr", "lim:ztfr"}
    det = sources["det:ztfg"].data
    assert list(det["mjd"]) == [59001.5, 59003.0] and list(det["y"]) == [18.5, 18.2]
    # error bars span mag -/+ magerr
    assert np.allclose(det["y_lo"], [18.45, 18.16]) and np.allclose(det["y_hi"], [18.55, 18.24])
    # upper limits: inverted triangles at the limiting magnitude
    lim = sources["lim:ztfg"].data
    assert list(lim["mjd"]) == [59000.0] and list(lim["y"]) == [20.1]
    limits = _glyph(fig, "limits")
    assert limits and all(r.glyph.marker == "inverted_triangle" for r in limits)
    points = _glyph(fig, "points")
    assert all(isinstance(r.glyph, Scatter) and r.glyph.marker == "circle" for r in points)
    assert all(isinstance(r.glyph, Segment) for r in _glyph(fig, "errors"))
    # one colour per filter, the survey's
    colors = {r.data_source.data["filter"][0]: r.glyph.fill_color for r in points}
    assert colors == {"ztfg": FILTER_COLORS["ztfg"], "ztfr": FILTER_COLORS["ztfr"]}
    # the magnitude axis is inverted and holds every point and limit
    assert isinstance(fig.y_range, Range1d) and fig.y_range.start > fig.y_range.end
    assert fig.y_range.start > 20.1 and fig.y_range.end < 18.16
    assert fig.xaxis[0].axis_label == "MJD"


def test_hover_legend_and_text() -> None:
    fig, sources = lightcurve_plot(_phot())
    hover = next(t for t in fig.tools if isinstance(t, HoverTool))
    fields = dict(hover.tooltips)
    assert {"MJD", "mag", "filter", "instrument", "origin"} <= set(fields)
    assert {r.name for r in hover.renderers} == {"points", "limits"}
    assert sources["det:ztfg"].data["value"][0] == "18.50 ± 0.05"
    assert sources["lim:ztfr"].data["value"][0] == "> 19.70 (limit)"
    assert list(sources["det:ztfg"].data["origin"]) == ["", "fp"]  # None shown as empty
    legend = next(obj for obj in fig.right if isinstance(obj, Legend))
    # detections and upper limits are both explained: one entry each per filter
    labels = [item.label.value for item in legend.items]
    assert labels == ["ztfg", "ztfg limit", "ztfr", "ztfr limit"]
    assert legend.click_policy == "hide"
    limit_items = [item for item in legend.items if item.label.value.endswith("limit")]
    assert all(r.glyph.marker == "inverted_triangle" for r in limit_items[0].renderers[:1])
    assert {"MJD", "days ago"} <= set(fields)


def test_days_since_first_detection() -> None:
    fig, sources = lightcurve_plot(_phot(), time="days")
    first_detection = 59001.5
    assert np.allclose(sources["det:ztfr"].data["x"], [59002.0 - first_detection])
    assert np.allclose(sources["lim:ztfg"].data["x"], [-1.5])  # limit before the first detection
    assert fig.xaxis[0].axis_label == "Days since first detection (MJD 59001.500)"


def test_flux_view() -> None:
    fig, sources = lightcurve_plot(_phot(), y="flux")
    assert np.allclose(sources["det:ztfg"].data["y"], [144.54, 190.55])
    assert np.allclose(sources["det:ztfg"].data["y_hi"], [144.54 + 6.66, 190.55 + 7.02])
    lim = sources["lim:ztfg"].data  # no flux measured: a triangle at the limiting flux
    assert lim["marker"][0] == "inverted_triangle"
    assert np.isclose(lim["y"][0], 10 ** (-0.4 * (20.1 - 23.9)))
    nondet = sources["lim:ztfr"].data  # measured flux below threshold: a point with its error
    assert nondet["marker"][0] == "circle" and nondet["y"][0] == 12.0 and nondet["y_hi"][0] == 17.0
    assert "Flux" in fig.yaxis[0].axis_label
    marker_spec = _glyph(fig, "limits")[0].glyph.properties_with_values()["marker"]
    assert marker_spec.field == "marker"  # per-point marker from the column


def test_prepare_from_flux_and_from_mag() -> None:
    upload = pd.DataFrame(
        {"mjd": [1.0, 2.0, 3.0], "filter": ["sdssr"] * 3, "flux": [1000.0, 2.0, np.nan],
         "fluxerr": [10.0, 1.0, 1.0], "zp": [25.0, 25.0, 25.0]}
    )  # fmt: skip
    out = prepare_photometry(upload)
    scale = 10 ** (-0.4 * (25.0 - 23.9))
    assert np.isclose(out["flux"][0], 1000.0 * scale) and (out["zp"] == 23.9).all()
    assert np.isclose(out["mag"][0], 25.0 - 2.5 * np.log10(1000.0))  # the same magnitude
    assert np.isnan(out["mag"][1]) and np.isnan(out["mag"][2])  # S/N 2 and no flux: limits
    assert np.isclose(out["limiting_mag"][1], 25.0 - 2.5 * np.log10(5 * 1.0))
    mags = pd.DataFrame({"mjd": [1.0, 2.0], "filter": ["g", "g"], "mag": [20.0, np.nan],
                         "magerr": [0.1, np.nan], "limiting_mag": [21.0, 21.5]})  # fmt: skip
    out = prepare_photometry(mags)
    assert np.isclose(out["flux"][0], 10 ** (-0.4 * (20.0 - 23.9)))
    assert np.isclose(out["fluxerr"][1], 10 ** (-0.4 * (21.5 - 23.9)) / 5)


@pytest.mark.shared_data
def test_conversion_matches_skyportal(shared_dir: Path) -> None:
    """From the uploaded CSV to mag/magerr/limiting_mag exactly as SkyPortal 1.4.0 served them."""
    table = pd.read_csv(shared_dir / "data/photometry/ZTF21aaqjmps_phot.csv")
    ours = prepare_photometry(table).sort_values(["mjd", "filter", "fluxerr"]).reset_index()
    live = shared_dir / "reference/skyportal-live"
    mags = pd.DataFrame(
        json.loads((live / "GET_api_sources_ZTF21aaqjmps_photometry.json").read_text())["data"]
    )
    fluxes = pd.DataFrame(
        json.loads((live / "GET_api_sources_ZTF21aaqjmps_photometry_flux.json").read_text())["data"]
    )
    theirs = fluxes.merge(mags[["id", "mag", "magerr", "limiting_mag"]], on="id")
    theirs = theirs.sort_values(["mjd", "filter", "fluxerr"]).reset_index()
    assert len(ours) == len(theirs) == 174
    for col in ("mag", "magerr", "limiting_mag"):
        a, b = ours[col].to_numpy(float), pd.to_numeric(theirs[col]).to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert np.allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=1e-12)


@pytest.mark.shared_data
def test_every_real_photometry_file_plots(shared_dir: Path) -> None:
    for path in sorted((shared_dir / "data/photometry").glob("*.csv")):
        table = pd.read_csv(path)
        for y in ("mag", "flux"):
            fig, sources = lightcurve_plot(table, y=y, title=path.stem)
            drawn = sum(len(s.data["x"]) for s in sources.values())
            assert drawn == len(sources.full["photometry"]) == len(table), path.name
            json_item(fig)  # serialises


def test_large_light_curve_keeps_detections_thins_limits() -> None:
    rng = np.random.default_rng(7)
    n = 10_000
    mjd = np.sort(rng.uniform(58000, 60000, n))
    detected = rng.random(n) < 0.5
    df = pd.DataFrame(
        {"mjd": mjd, "filter": rng.choice(["ztfg", "ztfr", "ztfi"], n),
         "mag": np.where(detected, rng.normal(19, 0.5, n), np.nan),
         "magerr": np.where(detected, 0.05, np.nan), "limiting_mag": rng.normal(20.5, 0.3, n)}
    )  # fmt: skip
    fig, sources = lightcurve_plot(df, max_limits=600)
    n_det = sum(len(s.data["x"]) for k, s in sources.items() if k.startswith("det:"))
    n_lim = sum(len(s.data["x"]) for k, s in sources.items() if k.startswith("lim:"))
    assert n_det == detected.sum()  # every detection is drawn
    assert 0 < n_lim <= 600 < (~detected).sum()
    assert "upper limits shown" in fig.title.text
    assert fig.output_backend == "webgl"
    assert len(sources.full["photometry"]) == n  # the exact data stay available
    # each drawn limit is the deepest of its time bin: nothing deeper nearby in its filter
    full = sources.full["photometry"]
    for key in ("lim:ztfg",):
        drawn = sources[key].data
        lims = full[(full["filter"] == "ztfg") & full["mag"].isna()]
        assert max(drawn["y"]) == lims["limiting_mag"].max()


def test_grid_of_objects() -> None:
    a = _phot()
    b = _phot().assign(obj_id="ZTF21xyz", mjd=lambda d: d["mjd"] + 10)
    grid, per_object = lightcurve_grid(pd.concat([a, b]), ncols=2)
    assert isinstance(grid, GridPlot) and len(grid.children) == 2
    assert set(per_object) == {"ZTF21abc", "ZTF21xyz"}
    assert [fig.title.text for fig, *_ in grid.children] == ["ZTF21abc", "ZTF21xyz"]
    _grid2, per2 = lightcurve_grid({"one": a}, y="flux")
    assert "det:ztfg" in per2["one"]


def test_empty_photometry_gives_a_labelled_empty_figure() -> None:
    fig, sources = lightcurve_plot(_phot().iloc[0:0])
    assert not sources and sources.full["photometry"].empty
    assert any(getattr(a, "text", "") == "no photometry" for a in fig.center)


@pytest.mark.parametrize(
    ("frame", "kwargs", "pattern"),
    [
        (pd.DataFrame({"mjd": [1.0]}), {}, r"lacks the column\(s\) \['filter'\]"),
        (pd.DataFrame({"mjd": [1.0], "filter": ["g"]}), {}, "either mag"),
        (pd.DataFrame({"mjd": [np.nan], "filter": ["g"], "mag": [19.0]}), {}, "no valid mjd"),
        (_phot(), {"y": "flux_density"}, "y must be 'mag' or 'flux'"),
        (_phot(), {"time": "jd"}, "time must be 'mjd', 'days' or 'ago'"),
        ([1, 2], {}, "must be a pandas DataFrame"),
    ],
)
def test_bad_input_is_refused(frame, kwargs: dict, pattern: str) -> None:
    with pytest.raises(WorkbenchError, match=pattern):
        lightcurve_plot(frame, **kwargs)


def test_grid_refusals() -> None:
    with pytest.raises(WorkbenchError, match="obj_id"):
        lightcurve_grid(_phot().drop(columns="obj_id"))
    with pytest.raises(WorkbenchError, match="empty"):
        lightcurve_grid({})
    with pytest.raises(WorkbenchError, match="ncols"):
        lightcurve_grid(_phot(), ncols=0)


def test_filter_colours() -> None:
    assert filter_color("ztfg") == filter_color("ZTFG") == filter_color("sdssg")
    assert filter_color("ztfr") == filter_color("ps1::r") == filter_color("lsstr")
    assert filter_color("atlasc") != filter_color("atlaso")
    assert filter_color("ztfi") == "#daa520"  # goldenrod
    odd = filter_color("my_narrowband_656")
    assert odd in FALLBACK_PALETTE and filter_color("my_narrowband_656") == odd
    # stable across processes: CRC32, not hash(); a fixed expectation pins it
    assert filter_color("weird_filter") == FALLBACK_PALETTE[3055130918 % len(FALLBACK_PALETTE)]


def test_days_before_now_with_a_now_line_and_mjd_on_top() -> None:
    now = 59010.0
    fig, sources = lightcurve_plot(_phot(), time="ago", now=now)
    assert np.allclose(sources["det:ztfg"].data["x"], [59001.5 - now, 59003.0 - now])
    assert np.allclose(sources["det:ztfg"].data["ago"], [8.5, 7.0])  # days ago, in the hover
    assert list(sources["det:ztfg"].data["mjd"]) == [59001.5, 59003.0]  # MJD still there
    line = sources.models["now"]
    assert line.location == 0.0 and line.visible
    top = [a for a in fig.above if getattr(a, "axis_label", None) == "MJD"]
    assert top and top[0].formatter.args["now"] == now  # labels are tick + now
    assert fig.below[0].axis_label.startswith("Days from now (negative: before now")
    span = sources.models["span"]
    assert (span.first_mjd, span.last_mjd, span.n_detections) == (59001.5, 59003.0, 3)
    # in MJD view the "now" line sits at now; far from old data it is hidden, not squashing
    _fig, old = lightcurve_plot(_phot(), now=61000.0)
    assert old.models["now"].location == 61000.0 and not old.models["now"].visible


def test_detection_span_in_mjd_and_days_ago() -> None:
    span = detection_span(_phot(), now=59010.0)
    assert span is not None
    assert (span.first_mjd, span.last_mjd) == (59001.5, 59003.0)
    assert (span.first_days_ago, span.last_days_ago) == (8.5, 7.0)
    only_limits = _phot()[_phot()["mag"].isna()]
    assert detection_span(only_limits, now=59010.0) is None
    assert detection_span(_phot().iloc[0:0]) is None
    assert abs(mjd_now() - (MJD_UNIX_EPOCH + time.time() / 86400)) < 1e-3


def test_live_figure_is_refilled_in_place() -> None:
    fig, sources = live_lightcurve_figure(width=500, height=280)
    det, lim = sources["det"], sources["lim"]
    models_before = {m.id for m in fig.references()}
    columns = lightcurve_columns(_phot(), title="ZTF21abc", now=59010.0)
    assert columns.span is not None and columns.span.first_mjd == 59001.5
    update_live_lightcurve(sources, columns)
    assert sources["det"] is det and sources["lim"] is lim
    assert sorted(det.data["mjd"]) == [59001.5, 59002.0, 59003.0]
    assert sorted(lim.data["limit_legend"]) == ["ztfg limit", "ztfr limit"]
    legend = sources.models["legend"]
    assert [len({r.data_source.id for r in item.renderers}) for item in legend.items] == [1, 1]
    assert set(det.data["legend"]) == {"ztfg", "ztfr"}
    assert np.allclose(sorted(det.data["x"]), [-8.5, -8.0, -7.0])
    # ranges, title and note travel as one row, applied in the browser by a CustomJS
    view = sources["view"].data
    assert view["title"] == ["ZTF21abc"] and view["note"] == [""] and view["now"] == [59010.0]
    # x covers the data and now (0); the magnitude axis is inverted and holds every limit
    assert view["x0"][0] < -10.0 + 0.5 and view["x1"][0] > 0.0 and view["now_visible"] == [True]
    assert view["y0"][0] > 20.1 > 18.1 > view["y1"][0]
    assert sources["view"] in fig.references()  # sent to the browser with the figure
    callbacks = sources["view"].js_property_callbacks["change:data"]
    assert fig.x_range in callbacks[0].args.values() and "xr.setv" in callbacks[0].code
    legend_fields = {r.name: r for r in fig.renderers}
    assert legend_fields["limits"].glyph.marker == "inverted_triangle"
    # another object: the same models, new data; an empty one says so
    other = _phot().assign(mjd=lambda d: d["mjd"] + 5)
    update_live_lightcurve(sources, lightcurve_columns(other, title="B", now=59010.0))
    assert sorted(det.data["mjd"]) == [59006.5, 59007.0, 59008.0]
    update_live_lightcurve(sources, lightcurve_columns(None, title="C", now=59010.0))
    assert len(det.data["x"]) == 0 and sources["view"].data["note"] == ["no photometry"]
    assert {m.id for m in fig.references()} == models_before
    json_item(fig)  # serialises


def test_light_curve_pane_prepares_in_a_thread_and_shows_in_place() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from widgets._plots import LightCurvePane, lightcurve_widget

    pane = LightCurvePane(width=480, height=260)
    widget, det = pane.widget, pane.sources["det"]
    with ThreadPoolExecutor(1) as pool:  # as the vetting panel's prefetcher does
        prepared = pool.submit(pane.prepare, _phot(), title="ZTF21abc").result()
    assert len(det.data["x"]) == 0  # prepare touched no model
    pane.show(prepared)
    assert pane.widget is widget and pane.sources["det"] is det  # same widget, same source
    assert sorted(det.data["mjd"]) == [59001.5, 59002.0, 59003.0]
    # the figure's title and legend stay fixed (cheap in the browser); an HTML line under
    # it names the object and each filter's detections and limits, with counts
    assert pane.sources["view"].data["title"] == [""]
    assert "legend" not in pane.sources.models and pane.figure.legend == []
    legend = pane.legend.value
    assert "<b>ZTF21abc</b>" in legend
    assert "ztfg limit" in legend and "ztfr limit" in legend and "ztfg <span" in legend
    assert pane.widget.children == (pane.plot, pane.legend)
    # in a widget, the points travel inside the view row: one message for the whole update
    assert pane.sources["view"].data["det"] == [det.data]
    assert pane.span is not None and pane.span.last_mjd == 59003.0
    pane.show(pane.prepare(None, title="nothing"))
    assert pane.span is None and pane.sources["view"].data["note"] == ["no photometry"]
    assert "limit" not in pane.legend.value and "nothing" in pane.legend.value
    pane.close()
    # the one-off widget still works for other callers
    assert "no photometry" in lightcurve_widget(_phot().iloc[0:0], "ZTF21abc").value
    assert type(lightcurve_widget(_phot(), "ZTF21abc")).__name__ == "BokehModel"
