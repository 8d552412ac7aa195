"""Localization figures, checked on a Fisher ("Gaussian") map whose credible regions are
known in closed form, and on the real skymaps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bokeh.embed import json_item
from bokeh.models import ContourRenderer, HoverTool, Row

from workbench.errors import SkymapError, WorkbenchError
from workbench.plots import localization_plot
from workbench.plots._projection import inverse_mollweide, mollweide, unwrap_ra
from workbench.skymap import Skymap, read_skymap
from workbench.skymap_synthetic import fisher_credible_area, gaussian_skymap

RA0, DEC0, SIGMA = 40.0, 20.0, 2.0


@pytest.fixture(scope="module")
def fisher() -> Skymap:
    return gaussian_skymap(RA0, DEC0, SIGMA, max_order=8, name="fisher")


def _radius(level: float) -> float:
    """Angular radius (degrees) of the Fisher map's ``level`` credible disc."""
    area_sr = float(fisher_credible_area(SIGMA, level)) / (180 / math.pi) ** 2
    return math.degrees(math.acos(1 - area_sr / (2 * math.pi)))


def _separation(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra), np.radians(dec)
    r0, d0 = math.radians(RA0), math.radians(DEC0)
    cos = np.sin(dec) * math.sin(d0) + np.cos(dec) * math.cos(d0) * np.cos(ra - r0)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_contours_match_the_closed_form(fisher: Skymap) -> None:
    _layout, sources = localization_plot(fisher, view="zoom")
    contour = sources.models["contour:zoom"]
    assert isinstance(contour, ContourRenderer)
    assert [float(v) for v in contour.levels] == [0.5, 0.9]
    lines = contour.line_renderer.data_source.data
    for xs, ys, level in zip(lines["xs"], lines["ys"], lines["levels"], strict=True):
        sep = _separation(np.asarray(xs) % 360, np.asarray(ys))
        # the drawn 50%/90% contour lies on the analytic circle, within a display pixel
        assert np.median(sep) == pytest.approx(_radius(level), abs=0.05)
        assert np.ptp(sep) < 0.4  # jagged by the display grid only
    assert _radius(0.9) == pytest.approx(SIGMA * math.sqrt(-2 * math.log(0.1)), rel=0.01)


def test_zoom_axes_and_image(fisher: Skymap) -> None:
    layout, sources = localization_plot(fisher, view="zoom")
    fig = sources.models["zoom"]
    assert fig is layout
    # RA grows to the left; the box surrounds the 90% disc
    assert fig.x_range.start > fig.x_range.end
    r90 = _radius(0.9)
    assert fig.x_range.end < RA0 - r90 / math.cos(math.radians(DEC0)) < fig.x_range.start
    assert fig.y_range.start < DEC0 - r90 and fig.y_range.end > DEC0 + r90
    img = sources["image:zoom"].data
    density, level = img["density"][0], img["level"][0]
    assert density.shape == level.shape and density.dtype == np.float32
    assert np.nanmax(density) == pytest.approx(
        fisher.probdensity.max() / (180 / math.pi) ** 2, rel=0.02
    )
    assert np.nanmin(level) < 0.01 and np.nanmax(level) > 0.95


def test_allsky_mollweide(fisher: Skymap) -> None:
    layout, sources = localization_plot(fisher, view="allsky", grid=300)
    fig = sources.models["allsky"]
    assert fig is layout and not fig.xaxis[0].visible
    img = sources["image:allsky"].data
    assert img["density"][0].shape == (150, 300)
    assert np.isnan(img["density"][0][0, 0])  # the corner is outside the ellipse
    peak = next(r for r in fig.renderers if r.name == "max_position")
    x, _y = mollweide(np.array(fisher.max_position[:1]), np.array(fisher.max_position[1:]))
    assert peak.data_source.data["x"][0] == pytest.approx(x[0])
    assert isinstance(sources.models["contour:allsky"], ContourRenderer)


def test_both_views_share_overlays(fisher: Skymap) -> None:
    sources_df = pd.DataFrame({"id": ["near", "far"], "ra": [RA0, 200.0], "dec": [DEC0, -40.0]})
    galaxies = pd.DataFrame({"name": ["NGC 1"], "ra": [RA0 + 1], "dec": [DEC0], "distmpc": [40.0],
                             "credible_level": [0.33]})  # fmt: skip
    layout, sources = localization_plot(fisher, sources=sources_df, galaxies=galaxies)
    assert isinstance(layout, Row) and len(layout.children) == 2
    src = sources["sources"].data
    assert src["credible_level"][0] < 0.01 and src["credible_level"][1] > 0.999  # looked up
    assert sources["galaxies"].data["credible_level"][0] == 0.33  # crossmatch's value is kept
    assert sources["galaxies"].data["distmpc"][0] == 40.0
    for fig in layout.children:  # one data source, drawn in both projections
        renderer = next(r for r in fig.renderers if r.name == "sources")
        assert renderer.data_source is sources["sources"]
    assert {r.glyph.x for f in layout.children for r in f.renderers if r.name == "sources"} == {
        "mx", "zra"}  # fmt: skip
    json_item(layout)


def test_arrays_same_as_skymap(fisher: Skymap) -> None:
    _, a = localization_plot(fisher, view="zoom", grid=120)
    _, b = localization_plot(
        uniq=fisher.uniq, probdensity=fisher.probdensity, view="zoom", grid=120
    )
    assert np.array_equal(a["image:zoom"].data["level"][0], b["image:zoom"].data["level"][0],
                          equal_nan=True)  # fmt: skip


def test_region_across_ra_zero() -> None:
    sky = gaussian_skymap(1.0, -10.0, 2.0, max_order=7)
    overlay = pd.DataFrame({"ra": [359.5, 2.0], "dec": [-10.0, -9.0]})
    _, sources = localization_plot(sky, view="zoom", sources=overlay, grid=100)
    fig = sources.models["zoom"]
    assert fig.x_range.start > 1.0 > fig.x_range.end and fig.x_range.end < 0  # contiguous
    assert fig.x_range.start - fig.x_range.end < 30
    assert np.allclose(sources["sources"].data["zra"], [-0.5, 2.0])


def test_projection_helpers() -> None:
    x, y = mollweide(np.array([180.0, 90.0, 0.0]), np.array([0.0, 0.0, 90.0]))
    assert np.allclose([x[0], y[0]], [0, 0])
    assert x[1] == pytest.approx(math.sqrt(2))  # RA 90 is right of centre: RA grows leftwards
    assert y[2] == pytest.approx(math.sqrt(2))
    rng = np.random.default_rng(2)
    ra = rng.uniform(0, 360, 500)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 500)))
    back_ra, back_dec, inside = inverse_mollweide(*mollweide(ra, dec))
    assert inside.all() and np.allclose(back_dec, dec, atol=1e-9)
    assert np.allclose((back_ra - ra + 180) % 360 - 180, 0, atol=1e-9)
    assert not inverse_mollweide(np.array([2.8]), np.array([1.3]))[2][0]
    assert np.allclose(unwrap_ra(np.array([350.0, 10.0]), 0.0), [-10.0, 10.0])


@pytest.mark.shared_data
def test_real_skymaps(shared_dir: Path) -> None:
    lal = read_skymap(shared_dir / "data/skymaps/LALInference.v1.fits.gz")
    layout, sources = localization_plot(lal, grid=200)
    zoom = sources.models["zoom"]
    ra_max, dec_max = lal.max_position
    center = sources.models["zoom_center"]
    assert zoom.x_range.end < unwrap_ra(np.array([ra_max]), center)[0] < zoom.x_range.start
    assert zoom.y_range.start < dec_max < zoom.y_range.end
    assert zoom.x_range.start - zoom.x_range.end < 60  # a zoom, not the whole sky
    wide = read_skymap(shared_dir / "data/skymaps/bayestar.fits.gz", normalize=True)
    _, wide_sources = localization_plot(wide, view="zoom", grid=100)
    wz = wide_sources.models["zoom"]
    assert (wz.x_range.start, wz.x_range.end) == (360.0, 0.0)  # 90% region spans the sky
    json_item(layout)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({}, WorkbenchError, "needs a Skymap"),
        ({"uniq": [4, 5]}, WorkbenchError, "needs a Skymap"),
        ({"uniq": [4, 4], "probdensity": [1.0, 1.0]}, SkymapError, "duplicate"),
        ({"uniq": [1], "probdensity": [1.0]}, SkymapError, "UNIQ"),
        ({"skymap": "bayestar.fits"}, WorkbenchError, "must be a Skymap"),
    ],
)
def test_bad_maps_refused(kwargs: dict, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        localization_plot(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"levels": (0.5, 1.0)}, "between 0 and 1"),
        ({"levels": ()}, "between 0 and 1"),
        ({"levels": ("ninety",)}, "must be numbers"),
        ({"view": "globe"}, "view must be"),
        ({"grid": 10}, "grid must be"),
        ({"sources": pd.DataFrame({"ra": [1.0]})}, r"lacks the column\(s\) \['dec'\]"),
        ({"galaxies": pd.DataFrame({"ra": [1.0], "dec": [95.0]})}, "invalid position"),
        ({"candidates": pd.DataFrame({"ra": [None], "dec": [1.0]})}, "invalid position"),
    ],
)
def test_bad_options_refused(fisher: Skymap, kwargs: dict, pattern: str) -> None:
    with pytest.raises(WorkbenchError, match=pattern):
        localization_plot(fisher, **kwargs)
    with pytest.raises(WorkbenchError, match="not both"):
        localization_plot(fisher, uniq=fisher.uniq, probdensity=fisher.probdensity)


def test_ranked_galaxies_sized_by_probability_and_region_outlined(fisher: Skymap) -> None:
    galaxies = pd.DataFrame(
        {
            "name": ["G1", "G2", "G3"],
            "ra": [RA0, RA0 + 1, RA0 - 1],
            "dec": [DEC0, DEC0, DEC0 + 1],
            "probability": [0.64, 0.32, 0.04],
            "rank": [1, 2, 3],
        }
    )
    _layout, sources = localization_plot(fisher, galaxies=galaxies)
    data = sources["galaxies"].data
    # marker area proportional to probability: size - 4 ~ sqrt(p / p_max)
    np.testing.assert_allclose(data["size"], 4 + 18 * np.sqrt([1.0, 0.5, 0.0625]))
    allsky = sources.models["allsky"]
    hover = [t for t in allsky.tools if isinstance(t, HoverTool)]
    tips = {label for t in hover for label, _ in t.tooltips}
    assert {"probability", "rank", "galaxie"} <= tips
    # the region's box is drawn on the all-sky map around the credible region, Dec labelled
    box = next(r for r in allsky.renderers if r.name == "region_box")
    bx, by = np.asarray(box.data_source.data["x"]), np.asarray(box.data_source.data["y"])
    cx, cy = mollweide(np.array([RA0]), np.array([DEC0]))
    assert np.nanmin(bx) < cx[0] < np.nanmax(bx) and np.nanmin(by) < cy[0] < np.nanmax(by)
    labels = {lab.text for lab in allsky.center if hasattr(lab, "text")}
    assert {"+30°", "-60°"} <= labels
