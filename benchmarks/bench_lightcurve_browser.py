"""What one live light-curve update costs the browser, measured in Chromium (issue 8).

The vetting panel refills ONE Bokeh figure for each candidate (``LightCurvePane``). This
script builds that figure two ways, side by side in one run, embeds each in a standalone
page with BokehJS inline, and applies the same sequence of varied candidates (1-5 filters,
5-80 points, detections and limits, spans of days to a year) as the kernel would:

* ``data legend + title``: the figure with a legend grouped from the data
  (``legend_field``) and the object's name as its title (what the pane drew before);
* ``pane (HTML legend)``: ``live_lightcurve_figure(legend=False)`` with a fixed title,
  the pane's figure now (its legend is an HTML line beside it);
* ``no update``: the page doing nothing, the floor of the measurement.

For each: the browser main thread's busy time per update (Chrome DevTools Protocol
``Performance.getMetrics``: TaskDuration, ScriptDuration, LayoutDuration), less sensitive
to a busy machine than wall time, and the wall time from the update to the next paint
(median, p95). Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_lightcurve_browser.py [--updates 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHROMIUM = Path("/usr/bin/chromium")
VARIANTS = ("no update", "data legend + title", "pane (HTML legend)")

# Applies each update as the kernel's message does (the figure's "view" row, points inside),
# waits ~30 ms between updates, and times the next paint after each.
APPLY_JS = r"""async ({rows, noop}) => {
  const view = Bokeh.documents[0].get_model_by_name('view');
  const painted = () => new Promise(r => requestAnimationFrame(
    () => setTimeout(() => r(performance.now()), 0)));
  const out = [];
  for (const row of rows) {
    await new Promise(r => setTimeout(r, 30));
    const t0 = performance.now();
    if (!noop) view.data = row;
    out.push(await painted() - t0);
  }
  return out;
}"""


def synthetic_photometry(seed: int) -> pd.DataFrame:
    """A candidate-like light curve: 1-5 filters, 5-80 points (AB mag, MJD), ~30% limits."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    bands = ["ztfg", "ztfr", "ztfi", "atlaso", "atlasc"][: int(rng.integers(1, 6))]
    detected = rng.random(n) > 0.3
    mag = rng.uniform(17, 21, n)
    return pd.DataFrame(
        {
            "mjd": 61370 - rng.uniform(0, float(rng.choice([5, 30, 300])), n),
            "filter": rng.choice(bands, n),
            "mag": np.where(detected, mag, np.nan),
            "magerr": np.where(detected, 0.1, np.nan),
            "limiting_mag": 21.0,
            "flux": np.nan,
            "fluxerr": np.nan,
            "zp": 23.9,
            "instrument_name": "ZTF",
            "origin": "",
        }
    )


def view_rows(count: int, *, with_title: bool) -> list[dict[str, Any]]:
    """The "view" rows the kernel sends for ``count`` candidates (points inside)."""
    from workbench.plots.lightcurve import lightcurve_columns

    rows = []
    for seed in range(count):
        title = f"ZTF26aa{seed:05d}" if with_title else ""
        c = lightcurve_columns(synthetic_photometry(seed), title=title)
        rows.append(
            {
                "x0": [c.x_range[0]], "x1": [c.x_range[1]], "y0": [c.y_range[0]],
                "y1": [c.y_range[1]], "title": [c.title], "note": [c.note],
                "now_visible": [c.now_visible], "now": [c.now], "det": [c.det], "lim": [c.lim],
            }
        )  # fmt: skip
    return rows


def page_html(variant: str) -> str:
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    from workbench.plots.lightcurve import live_lightcurve_figure

    fig, _sources = live_lightcurve_figure(width=640, legend=variant == "data legend + title")
    return file_html(fig, INLINE, "light curve")


def measure(browser: Any, folder: Path, variant: str, rows: list[dict[str, Any]]) -> dict:
    """Apply ``rows`` in a fresh page; busy ms per update and paint wall times."""
    path = folder / f"{variant.replace(' ', '_')}.html"
    path.write_text(page_html(variant))
    page = browser.new_page()
    try:
        page.goto(path.as_uri())
        page.wait_for_selector(".bk-Figure", state="attached")
        page.wait_for_timeout(500)
        page.evaluate(APPLY_JS, {"rows": rows[:5], "noop": variant == "no update"})  # warm-up
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        before = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        walls = page.evaluate(APPLY_JS, {"rows": rows, "noop": variant == "no update"})
        after = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    finally:
        page.close()
    busy = {
        k: 1000 * (after[k] - before[k]) / len(rows)
        for k in ("TaskDuration", "ScriptDuration", "LayoutDuration")
    }
    return {"busy": busy, "walls": walls}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="pages per variant, interleaved")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"no {CHROMIUM}: install Debian's chromium")
    from playwright.sync_api import sync_playwright

    rows = {
        "no update": view_rows(args.updates, with_title=False),
        "data legend + title": view_rows(args.updates, with_title=True),
        "pane (HTML legend)": view_rows(args.updates, with_title=False),
    }
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for _round in range(args.rounds):
                for variant in VARIANTS:
                    results[variant].append(measure(browser, Path(tmp), variant, rows[variant]))
        finally:
            browser.close()
    print(f"{args.updates} updates x {args.rounds} pages per variant (medians over pages)")
    for variant in VARIANTS:
        runs = results[variant]
        busy = {k: statistics.median(r["busy"][k] for r in runs) for k in runs[0]["busy"]}
        walls = sorted(w for r in runs for w in r["walls"])
        p95 = walls[round(0.95 * (len(walls) - 1))]
        print(
            f"{variant:<22} main thread busy {busy['TaskDuration']:5.1f} ms/update "
            f"(script {busy['ScriptDuration']:4.1f}, layout {busy['LayoutDuration']:4.1f}); "
            f"update -> painted median {statistics.median(walls):5.1f} ms, p95 {p95:5.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
