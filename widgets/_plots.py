"""Bokeh figures from ``workbench.plots`` as widgets (``jupyter_bokeh.BokehModel``).

Building a figure and serialising it into a ``BokehModel`` takes tens of milliseconds, so
panels that must be quick build these ahead (see :mod:`widgets.vetting_data`).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import pandas as pd


def bokeh_widget(fig: Any) -> Any:
    """Wrap a Bokeh figure or layout in a widget that lives inside ipywidgets layouts."""
    from workbench.plots import as_widget

    return as_widget(fig)


def lightcurve_widget(
    photometry: pd.DataFrame, obj_id: str, *, width: int = 560, height: int = 300
) -> Any:
    """The light curve of ``obj_id`` (AB magnitude against MJD) as a widget; a note when
    the object has no photometry in the cache."""
    if photometry is None or photometry.empty:
        return w.HTML(f"<i>no photometry of {html.escape(obj_id)} in the cache</i>")
    from workbench.plots import lightcurve_plot

    fig, _sources = lightcurve_plot(photometry, title=obj_id, width=width, height=height)
    return bokeh_widget(fig)
