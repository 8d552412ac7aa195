"""Bokeh figures from ``workbench.plots`` as widgets (``jupyter_bokeh.BokehModel``).

Building a figure and serialising it into a ``BokehModel`` takes tens of milliseconds, so
panels that must be quick build these ahead (see :mod:`widgets.vetting_data`).

A ``BokehModel`` view needs BokehJS in the page (``window.Bokeh``); without it JupyterLab
shows "Cannot read properties of undefined (reading 'require')". :func:`ensure_bokehjs`
loads it once per kernel, inline (the workbench must work without internet access), without
MathJax, which no workbench plot uses (1.8 MB of the 3.9).
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w
import pandas as pd

_BOKEHJS_COMPONENTS = ["bokeh", "bokeh-gl", "bokeh-widgets", "bokeh-tables"]
_last_loaded: list[str] = []  # the msg_id of the cell execution that last loaded BokehJS


def _kernel_shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where displayed output reaches a browser)."""
    return _kernel_shell() is not None


def ensure_bokehjs() -> bool:
    """Load BokehJS into the notebook page, as an output of the cell being run.

    Once per cell execution: a page reloaded on a running kernel has lost BokehJS, so a
    flag kept for the kernel's life would leave new plots blank. Nothing is sent from a
    widget callback or a worker thread (there is no cell whose output would carry it),
    nor outside a kernel. Returns True when it sent the loader now.
    """
    shell = _kernel_shell()
    if shell is None or threading.current_thread() is not threading.main_thread():
        return False
    parent = shell.kernel.get_parent() or {}
    header = parent.get("header") or {}
    if header.get("msg_type") != "execute_request" or header.get("msg_id") in _last_loaded:
        return False
    from bokeh.io import output_notebook
    from bokeh.resources import Resources

    output_notebook(Resources(mode="inline", components=_BOKEHJS_COMPONENTS), hide_banner=True)
    _last_loaded[:] = [str(header.get("msg_id"))]
    return True


def bokeh_widget(fig: Any) -> Any:
    """Wrap a Bokeh figure or layout in a widget that lives inside ipywidgets layouts."""
    from workbench.plots import as_widget

    ensure_bokehjs()
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
