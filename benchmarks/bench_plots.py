"""How long building and serialising large figures takes, and how big they are.

Builds a 10,000-point light curve and a 100,000-sample spectrum, with and without display
decimation, and times ``bokeh.embed.json_item`` (what a notebook or a page receives). Prints
median seconds over ``--repeat`` runs and the JSON payload size. With ``--browser`` it also
opens each figure as standalone HTML in headless Chromium and reports BokehJS's own "document
idle" time (page load to first complete render, in ms). Run:

    .venv/bin/python benchmarks/bench_plots.py [--repeat 5] [--browser]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bokeh.embed import json_item

from workbench.plots import export_html, lightcurve_plot, localization_plot, spectra_plot
from workbench.skymap_synthetic import gaussian_skymap


def light_curve(n: int = 10_000, seed: int = 1) -> pd.DataFrame:
    """``n`` points over three filters, 60% detections, the rest 5-sigma limits."""
    rng = np.random.default_rng(seed)
    detected = rng.random(n) < 0.6
    return pd.DataFrame(
        {
            "obj_id": "ZTFbench",
            "mjd": np.sort(rng.uniform(58000, 60000, n)),
            "mag": np.where(detected, rng.normal(19, 0.5, n), np.nan),
            "magerr": np.where(detected, rng.uniform(0.02, 0.2, n), np.nan),
            "limiting_mag": rng.normal(20.5, 0.3, n),
            "filter": rng.choice(["ztfg", "ztfr", "ztfi"], n),
            "instrument_name": "ZTF",
            "origin": "",
        }
    )


def spectrum(n: int = 100_000, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    wave = np.linspace(3200.0, 10200.0, n)
    flux = 1e-16 * (1 + (wave / 6000) ** -2 + rng.normal(0, 0.03, n))
    return pd.DataFrame({"id": [1], "wavelengths": [wave], "fluxes": [flux]})


def measure(build: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    """Median seconds to build, to serialise, and the payload size in bytes."""
    builds, serials, size = [], [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        fig = build()
        t1 = time.perf_counter()
        payload = json.dumps(json_item(fig))
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        serials.append(t2 - t1)
        size = len(payload)
    return statistics.median(builds), statistics.median(serials), size


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def browser_idle_ms(figures: dict[str, Any]) -> dict[str, float]:
    """BokehJS's "document idle at N ms" for each figure, opened as a standalone HTML file."""
    from playwright.sync_api import sync_playwright

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, fig in figures.items():
            path = export_html(fig, Path(tmp) / "fig.html")
            page = browser.new_page()
            idle: list[float] = []

            def on_console(msg: Any, idle: list[float] = idle) -> None:
                found = re.search(r"document idle at (\d+) ms", msg.text)
                if found:
                    idle.append(float(found.group(1)))

            page.on("console", on_console)
            page.goto(path.as_uri())
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
            page.wait_for_timeout(500)
            out[name] = idle[0] if idle else float("nan")
            page.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also time rendering in Chromium")
    args = parser.parse_args()
    lc, sp = light_curve(), spectrum()
    sky = gaussian_skymap(150.0, -30.0, 3.0, max_order=9)
    cases = {
        "light curve 10k, limits thinned to 2,000": lambda: lightcurve_plot(lc)[0],
        "light curve 10k, every limit": lambda: lightcurve_plot(lc, max_limits=10**9)[0],
        "spectrum 100k, decimated to 5,000": lambda: spectra_plot(sp)[0],
        "spectrum 100k, not decimated": lambda: spectra_plot(sp, max_points=10**9)[0],
        "localization, both views, grid 600": lambda: localization_plot(sky)[0],
    }
    print(f"{'case':42s} {'build s':>8s} {'json s':>8s} {'payload':>10s}")
    for name, build in cases.items():
        b, s, size = measure(build, args.repeat)
        print(f"{name:42s} {b:8.3f} {s:8.3f} {size / 1e6:8.2f} MB")
    if args.browser:
        print(f"\n{'case':42s} {'Chromium: document idle (ms)':>30s}")
        for name, ms in browser_idle_ms({n: b() for n, b in cases.items()}).items():
            print(f"{name:42s} {ms:30.0f}")


if __name__ == "__main__":
    main()
