"""An object's light curve and spectra, side by side with its classifications.

The light curve (days from now, a "now" line, MJD on the top axis) switches between AB
magnitude and flux (µJy); the spectra plot carries its
own redshift slider, which starts at the object's cached redshift.
"""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as w
import pandas as pd

from workbench.errors import WorkbenchError

from ._common import Panel, close_tree, html_table
from ._plots import bokeh_widget


class ObjectViewer(Panel):
    """Light curve (mag or flux against days from now) and spectra (with a redshift slider) of one object."""

    def __init__(self, wb: Any, obj_id: str | None = None) -> None:
        super().__init__(wb)
        self.obj_id: str | None = None
        self.redshift: float | None = None
        guard = self.errors.guard
        self.obj = w.Text(
            description="Object", placeholder="e.g. ZTF21aaqjmps", continuous_update=False
        )
        self.y_axis = w.ToggleButtons(options=[("magnitude", "mag"), ("flux", "flux")], value="mag")
        self.info = w.HTML()
        self.lightcurve_box = w.Box()
        self.spectra_box = w.Box()
        self.classifications = w.HTML()
        self.obj.observe(guard(lambda c: self.show(c["new"])), names="value")
        self.y_axis.observe(guard(lambda _c: self._draw_lightcurve()), names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.obj, self.y_axis]),
                self.info,
                self.lightcurve_box,
                self.spectra_box,
                self.classifications,
                self.message,
                self.errors.output,
            ]
        )
        if obj_id:
            self.show(obj_id)

    def show(self, obj_id: str | None) -> None:
        """Draw this object's light curve and spectra from the cache."""
        obj_id = (obj_id or "").strip()
        if not obj_id:
            raise WorkbenchError("enter an object id, e.g. ZTF21aaqjmps")
        self.obj_id = obj_id
        if self.obj.value != obj_id:
            self.obj.value = obj_id  # re-enters show() once, through the observer
            return
        self.redshift = self._redshift(obj_id)
        z = "" if self.redshift is None else f" · z = {self.redshift:.4f}"
        self.info.value = f"<b>{html.escape(obj_id)}</b>{z}"
        self._draw_lightcurve()
        self._draw_spectra()
        self.classifications.value = "<b>Classifications</b>" + html_table(
            self.wb.classifications(obj_id),
            ("classification", "probability", "author_name", "created_at", "pending"),
            empty="none",
        )

    def _redshift(self, obj_id: str) -> float | None:
        sources = self.wb.sources()
        if sources.empty or "redshift" not in sources:
            return None
        match = sources.loc[sources["id"] == obj_id, "redshift"]
        value = float(match.iloc[0]) if len(match) and pd.notna(match.iloc[0]) else math.nan
        return value if math.isfinite(value) else None

    def _draw_lightcurve(self) -> None:
        if not self.obj_id:
            return
        from workbench.plots import lightcurve_plot

        phot = self.wb.photometry(self.obj_id)
        if phot.empty:
            self._swap(
                self.lightcurve_box,
                w.HTML(f"<i>no photometry of {html.escape(self.obj_id)} cached</i>"),
            )
            return
        fig, _ = lightcurve_plot(
            phot, y=self.y_axis.value, title=f"{self.obj_id} light curve", height=340, time="ago"
        )
        self._swap(self.lightcurve_box, bokeh_widget(fig))

    def _draw_spectra(self) -> None:
        from workbench.plots import spectra_plot

        spectra = self.wb.spectra(self.obj_id)
        if spectra.empty:
            self._swap(
                self.spectra_box, w.HTML(f"<i>no spectrum of {html.escape(self.obj_id)} cached</i>")
            )
            return
        layout, _ = spectra_plot(
            spectra, redshift=self.redshift or 0.0, title=f"{self.obj_id} spectra", height=380
        )
        self._swap(self.spectra_box, bokeh_widget(layout))

    @staticmethod
    def _swap(box: w.Box, widget: Any) -> None:
        old = box.children
        box.children = (widget,)
        for child in old:
            close_tree(child)
