"""Every kind of figure, exported to HTML, loads in headless Chromium without a JavaScript
error; the redshift slider's CustomJS really moves the line markers in the browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench.plots import (
    classification_counts,
    export_html,
    galaxy_ranking,
    lightcurve_grid,
    lightcurve_plot,
    localization_plot,
    score_histogram,
    spectra_plot,
    vetting_timeline,
)
from workbench.skymap_synthetic import gaussian_skymap

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
HALPHA = 6562.79


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as exc:  # a broken Chromium install: skip, do not fail the suite
            pytest.skip(f"Chromium would not start: {exc}")
        yield b
        b.close()


def _photometry() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 300
    detected = rng.random(n) < 0.7
    return pd.DataFrame(
        {
            "obj_id": rng.choice(["ZTF21a", "ZTF21b"], n),
            "mjd": np.sort(rng.uniform(59000, 59100, n)),
            "mag": np.where(detected, rng.normal(19, 0.4, n), np.nan),
            "magerr": np.where(detected, 0.05, np.nan),
            "limiting_mag": rng.normal(20.5, 0.2, n),
            "filter": rng.choice(["ztfg", "ztfr", "ztfi", "atlaso"], n),
            "instrument_name": "ZTF",
            "origin": "",
        }
    )


def _spectra() -> pd.DataFrame:
    wave = np.linspace(3500, 9500, 20_000)
    flux = 1 + np.exp(-0.5 * ((wave - HALPHA * 1.05) / 10) ** 2)
    return pd.DataFrame({"id": [1], "label": ["demo"], "wavelengths": [wave], "fluxes": [flux]})


def _figures() -> dict[str, Any]:
    phot = _photometry()
    sky = gaussian_skymap(150.0, -30.0, 3.0, max_order=7, name="GW-demo")
    near = pd.DataFrame({"name": ["G1", "G2"], "ra": [150.5, 149.0], "dec": [-30.0, -31.0],
                         "distmpc": [50.0, 60.0], "probdensity": [2.0, 1.0]})  # fmt: skip
    decisions = pd.DataFrame({"decided_at": pd.date_range("2024-01-01", periods=20, freq="9h"),
                              "decision": ["save", "reject", "skip", "save"] * 5})  # fmt: skip
    return {
        "lightcurve": lightcurve_plot(phot[phot.obj_id == "ZTF21a"])[0],
        "lightcurve_flux": lightcurve_plot(phot, y="flux", time="days")[0],
        "lightcurve_grid": lightcurve_grid(phot)[0],
        "spectra": spectra_plot(_spectra(), redshift=0.05, max_points=2000)[0],
        "spectra_rest": spectra_plot(_spectra(), redshift=0.05, frame="rest")[0],
        "localization": localization_plot(sky, galaxies=near, sources=near, grid=200)[0],
        "histogram": score_histogram(pd.DataFrame({"score": np.linspace(0, 1, 50)}))[0],
        "vetting": vetting_timeline(decisions)[0],
        "classes": classification_counts(pd.DataFrame({"classification": ["Ia", "II", "Ia"]}))[0],
        "galaxies": galaxy_ranking(near)[0],
        "galaxy_table": galaxy_ranking(near, as_table=True)[0],
    }


def _open(browser: Any, path: Path) -> tuple[Any, list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.index"
        " && Object.keys(Bokeh.index).length > 0",
        timeout=20_000,
    )
    page.wait_for_timeout(300)  # let the first paint finish so late errors are caught
    return page, errors


def _set_redshift(page: Any, z: float, watched: str, attribute: str) -> None:
    """Move the slider as a user would, then wait for the CustomJS (BokehJS runs it
    asynchronously) to change ``watched.attribute``."""
    before = page.evaluate(f"() => Bokeh.documents[0].get_model_by_name({watched!r}).{attribute}")
    page.evaluate(f'() => {{ Bokeh.documents[0].get_model_by_name("redshift").value = {z}; }}')
    page.wait_for_function(
        f"() => Bokeh.documents[0].get_model_by_name({watched!r}).{attribute} !== {before}",
        timeout=10_000,
    )


def test_every_figure_renders(browser: Any, tmp_path: Path) -> None:
    for name, fig in _figures().items():
        path = export_html(fig, tmp_path / f"{name}.html", title=name)
        page, errors = _open(browser, path)
        try:
            assert errors == [], f"{name}: {errors}"
            assert page.evaluate("() => Bokeh.documents.length") == 1
            # Bokeh draws into canvases inside shadow roots; Playwright's locator pierces them.
            kind = "table" if name == "galaxy_table" else "canvas"
            selector = ".slick-row" if kind == "table" else "canvas"
            assert page.locator(selector).count() > 0, f"{name}: nothing rendered"
        finally:
            page.close()


def test_redshift_slider_moves_lines_in_the_browser(browser: Any, tmp_path: Path) -> None:
    layout, _ = spectra_plot(_spectra(), redshift=0.05, max_points=2000)
    page, errors = _open(browser, export_html(layout, tmp_path / "z.html"))
    try:
        _set_redshift(page, 0.1, "line:Hα", "location")
        moved = page.evaluate(
            """() => {
                const doc = Bokeh.documents[0];
                const lines = doc.get_model_by_name("lines").data;
                const i = Array.from(lines["name"]).indexOf("Hα");
                return [doc.get_model_by_name("line:Hα").location, lines["x"][i]];
            }"""
        )
        assert moved[0] == pytest.approx(HALPHA * 1.1) and moved[1] == pytest.approx(HALPHA * 1.1)
        assert errors == []
    finally:
        page.close()


def test_rest_frame_slider_moves_spectra(browser: Any, tmp_path: Path) -> None:
    layout, sources = spectra_plot(_spectra(), redshift=0.05, frame="rest", max_points=2000)
    first_obs = float(sources["spec:1"].data["wave_obs"][0])
    page, errors = _open(browser, export_html(layout, tmp_path / "rest.html"))
    try:
        _set_redshift(page, 0.25, "telluric:O₂ A", "left")
        result = page.evaluate(
            """() => {
                const doc = Bokeh.documents[0];
                return [doc.get_model_by_name("spec:1").data["x"][0],
                        doc.get_model_by_name("line:Hα").location,
                        doc.get_model_by_name("telluric:O₂ A").left];
            }"""
        )
        assert result[0] == pytest.approx(first_obs / 1.25)
        assert result[1] == pytest.approx(HALPHA)  # lines stay at rest
        assert result[2] == pytest.approx(7590.0 / 1.25)
        assert errors == []
    finally:
        page.close()


def test_live_light_curve_applies_its_view_row_in_the_browser(browser: Any, tmp_path: Path) -> None:
    """The live figure's CustomJS sets ranges, title, note and the MJD axis when the view
    row changes, as it does after each update from the kernel."""
    from workbench.plots.lightcurve import (
        lightcurve_columns,
        live_lightcurve_figure,
        update_live_lightcurve,
    )

    fig, sources = live_lightcurve_figure()
    phot = _photometry()
    columns = lightcurve_columns(phot[phot.obj_id == "ZTF21a"], title="ZTF21a", now=59130.0)
    update_live_lightcurve(sources, columns)
    page, errors = _open(browser, export_html(fig, tmp_path / "live.html"))
    try:
        result = page.evaluate(
            """async () => {
                const doc = Bokeh.documents[0];
                const view = doc.get_model_by_name("view");
                const d = view.data;
                // as a patch from the kernel is applied (ColumnDataChanged)
                view.setv({data: d instanceof Map ? new Map(d) : {...d}},
                          {sync: false, check_eq: false});
                await new Promise(r => setTimeout(r, 200));  // CustomJS compiles async
                const fig = doc.roots()[0];
                return [fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.title.text];
            }"""
        )
        assert result[0] == pytest.approx(columns.x_range[0])
        assert result[1] == pytest.approx(columns.x_range[1])
        assert result[2] == pytest.approx(columns.y_range[0])
        assert result[3] == "ZTF21a"
        assert errors == []
    finally:
        page.close()
