"""Bokeh figures from ``workbench.plots`` as widgets (``jupyter_bokeh.BokehModel``).

Building a figure and serialising it into a ``BokehModel`` takes tens of milliseconds, and
the browser then builds a whole new plot view; :class:`LightCurvePane` therefore keeps ONE
figure and refills its data sources in place for each object (the vetting panel's path).

A ``BokehModel`` view needs BokehJS in the page (``window.Bokeh``); without it JupyterLab
shows "Cannot read properties of undefined (reading 'require')". :func:`ensure_bokehjs`
loads it inline (the workbench must work without internet access), without MathJax, which
no workbench plot uses (1.8 MB of the 3.9), once per kernel and browser page, as JupyterLab's
copy only (Bokeh would add the classic notebook's): a notebook then carries it once (2.1
MB), not once or twice per cell that draws a plot.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import pandas as pd

from workbench.plots.lightcurve import (
    DetectionSpan,
    LightCurveColumns,
    lightcurve_columns,
    live_lightcurve_figure,
    update_live_lightcurve,
)

__all__ = [
    "LightCurvePane",
    "PreparedCurve",
    "bokeh_widget",
    "curve_legend_html",
    "ensure_bokehjs",
    "in_kernel",
    "lightcurve_widget",
    "stacked_curves",
]

_BOKEHJS_COMPONENTS = ["bokeh", "bokeh-gl", "bokeh-widgets", "bokeh-tables"]
# The frontend sessions (one per browser page connected to this kernel) that were sent
# BokehJS. A page reloaded on a running kernel connects with a new session id and has lost
# BokehJS, so it gets it again; every other cell of the same page does not.
_loaded_sessions: set[str] = set()
_lock = threading.Lock()


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


def ensure_bokehjs(*, force: bool = False) -> bool:
    """Load BokehJS into the notebook page, as an output of the cell being run.

    Once per kernel and browser page (the execute request's frontend session): the first
    cell that shows a plot carries it, later cells do not. ``force=True`` sends it again
    (a page that lost it some other way). Nothing is sent from a widget callback or a
    worker thread (there is no cell whose output would carry it), nor outside a kernel.
    Returns True when it sent the loader now.
    """
    shell = _kernel_shell()
    if shell is None or threading.current_thread() is not threading.main_thread():
        return False
    parent = shell.kernel.get_parent() or {}
    header = parent.get("header") or {}
    if header.get("msg_type") != "execute_request":
        return False
    session = str(header.get("session") or "")
    with _lock:
        if session in _loaded_sessions and not force:
            return False
        _loaded_sessions.add(session)
    from bokeh.io import notebook, output_notebook
    from bokeh.resources import Resources

    # Bokeh publishes the same 2.1 MB loader twice (classic notebook's application/javascript
    # and JupyterLab's bokehjs_load copy, which jupyter_bokeh's renderer runs): a saved
    # notebook carried both. Only the JupyterLab copy is kept.
    with _lock:
        publish = notebook.publish_display_data
        notebook.publish_display_data = _publish_lab_loader_only
        try:
            output_notebook(
                Resources(mode="inline", components=_BOKEHJS_COMPONENTS), hide_banner=True
            )
        finally:
            notebook.publish_display_data = publish
    return True


def _publish_lab_loader_only(data: dict[str, Any], metadata: Any = None, **kwargs: Any) -> None:
    from bokeh.io.notebook import LOAD_MIME_TYPE
    from IPython.display import publish_display_data

    if LOAD_MIME_TYPE in data:
        data = {LOAD_MIME_TYPE: data[LOAD_MIME_TYPE]}
    publish_display_data(data, metadata, **kwargs)


def bokeh_widget(fig: Any) -> Any:
    """Wrap a Bokeh figure or layout in a widget that lives inside ipywidgets layouts."""
    from workbench.plots import as_widget

    ensure_bokehjs()
    return as_widget(fig)


def lightcurve_widget(
    photometry: pd.DataFrame, obj_id: str, *, width: int = 560, height: int = 300
) -> Any:
    """The light curve of ``obj_id`` (AB magnitude against days from now, MJD on top) as a
    new widget; a note when the object has no photometry in the cache. For a panel that
    shows one object after another, :class:`LightCurvePane` is much quicker."""
    if photometry is None or photometry.empty:
        return w.HTML(f"<i>no photometry of {html.escape(obj_id)} in the cache</i>")
    from workbench.plots import lightcurve_plot

    fig, _sources = lightcurve_plot(
        photometry, title=obj_id, width=width, height=height, time="ago"
    )
    return bokeh_widget(fig)


@dataclass(frozen=True)
class PreparedCurve:
    """What :meth:`LightCurvePane.show` puts on screen for one object: the figure's columns
    and the HTML legend line (title, each filter's detections and limits with counts)."""

    columns: LightCurveColumns
    legend_html: str

    @property
    def span(self) -> DetectionSpan | None:
        """First and last detection (MJD, days ago), or None without a detection."""
        return self.columns.span


def _legend_entries(columns: dict[str, Any], symbol: str, suffix: str) -> dict[str, str]:
    counts: dict[str, int] = {}
    colors: dict[str, str] = {}
    for band, color in zip(columns["filter"], columns["color"], strict=True):
        counts[band] = counts.get(band, 0) + 1
        colors.setdefault(band, color)
    return {
        band: (
            f"<span style='white-space:nowrap;margin-right:10px'>"
            f"<span style='color:{html.escape(colors[band])}'>{symbol}</span> "
            f"{html.escape(band)}{suffix} <span style='color:#777'>{n}</span></span>"
        )
        for band, n in counts.items()
    }


def curve_legend_html(columns: LightCurveColumns, title: str = "") -> str:
    """One line under a live light curve: ``title`` (the object), then per filter a dot
    for its detections and a down triangle for its upper limits, with their counts, and a
    note when limits were thinned."""
    detections = _legend_entries(columns.det, "&#9679;", "")
    limits = _legend_entries(columns.lim, "&#9661;", " limit")
    parts = [f"<b>{html.escape(title)}</b>"] if title else []
    for band in sorted(set(detections) | set(limits)):
        parts += [entry[band] for entry in (detections, limits) if band in entry]
    if columns.limits_note:
        parts.append(f"<i style='color:#777'>{html.escape(columns.limits_note)}</i>")
    return f"<div class='wb-lc-legend' style='font-size:0.85em'>{' '.join(parts)}</div>"


def stacked_curves(panes: tuple[LightCurvePane, ...]) -> w.VBox:
    """The panes' figures in one place, one over the other (CSS grid, one cell), the
    first pane's legend line under them. Each figure's widget gets the class
    ``wb-lc-plot-<i>``; the vetting stage shows one and hides the others (visibility, so
    the hidden ones keep their size and BokehJS draws into them)."""
    for index, pane in enumerate(panes):
        pane.plot.layout.grid_area = "1 / 1"
        pane.plot.add_class(f"wb-lc-plot-{index}")
        if index:
            pane.plot.layout.visibility = "hidden"
    stack = w.Box([pane.plot for pane in panes], layout=w.Layout(display="grid"))
    return w.VBox([stack, panes[0].legend])


class LightCurvePane:
    """One light-curve widget that stays in a panel's layout and shows object after object.

    ``prepare(photometry, title=...)`` computes what to draw (pure and thread-safe: call it
    in a worker thread ahead of time); ``show(prepared)`` puts it into the existing figure's
    data sources in place, so the browser redraws the same plot instead of building a new
    one. The axis is days from now (negative: before now) with a dashed "now" line, MJD on
    the top axis and in the hover. The legend (each filter's detections and limits, with
    counts) and the object's name are an HTML line under the figure, not Bokeh's: a legend
    grouped from the data and a changing title cost BokehJS half of each update's time
    (measured in Chromium, ``benchmarks/bench_lightcurve_browser.py``).
    """

    def __init__(self, *, width: int = 560, height: int = 300) -> None:
        self.figure, self.sources = live_lightcurve_figure(width=width, height=height, legend=False)
        self.plot = bokeh_widget(self.figure)
        self.legend = w.HTML()
        self.legend.add_class("wb-lc-legend-host")  # the vetting stage fills it in the browser
        self.widget = w.VBox([self.plot, self.legend])
        self.shown: PreparedCurve | None = None

    @staticmethod
    def prepare(photometry: pd.DataFrame | None, *, title: str = "") -> PreparedCurve:
        """What to show for ``photometry`` (the cache's photometry DataFrame, AB magnitudes
        and MJD) under ``title``; no widget or model is touched."""
        # The figure's own title stays empty: the title goes into the legend line.
        columns = lightcurve_columns(photometry, title="")
        return PreparedCurve(columns, curve_legend_html(columns, title))

    def show(self, prepared: PreparedCurve, *, quiet: bool = False) -> None:
        """Show a :meth:`prepare` result in the pane's figure, in place. ``quiet``: nothing
        is sent, the browser got the figure's row and the legend line another way (the
        vetting panel's stage); the kernel's Bokeh copy is brought up to date only when
        it is needed (:meth:`sync_bundle`, :attr:`figure_columns`): updating it cost
        ~10 ms a candidate, spent in Bokeh's walk over the new data."""
        if prepared is self.shown:
            return
        if not quiet:
            # One message to the browser for the whole figure update (update_live_lightcurve).
            update_live_lightcurve(self.sources, prepared.columns, setter=self.plot)
            self.legend.value = prepared.legend_html
        self.shown = prepared

    def _catch_up(self) -> None:
        """Put what is shown into the kernel's Bokeh copy, sending nothing."""
        if self.shown is not None and self.sources.models.get("columns") is not self.shown.columns:
            update_live_lightcurve(self.sources, self.shown.columns, setter=self.plot, quiet=True)

    @property
    def figure_columns(self) -> LightCurveColumns | None:
        """What the figure shows (the kernel's Bokeh copy, brought up to date)."""
        self._catch_up()
        return self.sources.models.get("columns")

    def sync_bundle(self) -> None:
        """Put what is shown into the widget's initial document, for a browser view that
        is created later (a panel displayed after its first object was shown): updates
        sent before a view exists are not replayed, and the ranges and title are applied by
        a CustomJS only on a change. Costs one full serialisation: call it once, when the
        panel is built, not per object."""
        self._catch_up()
        if self.shown is not None:
            columns = self.shown.columns
            models = self.sources.models
            fig = models["figure"]
            quiet = (
                (fig.x_range, "start", columns.x_range[0]),
                (fig.x_range, "end", columns.x_range[1]),
                (fig.x_range, "reset_start", columns.x_range[0]),
                (fig.x_range, "reset_end", columns.x_range[1]),
                (fig.y_range, "start", columns.y_range[0]),
                (fig.y_range, "end", columns.y_range[1]),
                (fig.y_range, "reset_start", columns.y_range[0]),
                (fig.y_range, "reset_end", columns.y_range[1]),
                (fig.title, "text", columns.title),
                (models["note"], "text", columns.note),
                (models["now"], "visible", bool(columns.now_visible)),
                (models["formatter"], "args", {"now": columns.now}),
            )
            for model, name, value in quiet:
                # set as by the browser (setter): the bundle below carries it, no patch is sent
                descriptor = model.lookup(name)
                descriptor._set(model, descriptor._get(model), value, setter=self.plot)
        self.plot.update_from_model(self.figure)

    @property
    def span(self) -> DetectionSpan | None:
        """First and last detection (MJD, days ago) of the object shown, or None."""
        return self.shown.span if self.shown is not None else None

    def close(self) -> None:
        """Forget the object shown. The ``BokehModel`` itself is left to the garbage
        collector: its ``__del__`` closes it, and a second ``close()`` raises KeyError."""
        self.shown = None
