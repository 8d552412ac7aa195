"""A GW (or GRB) localization against the cache: ranked galaxies, and what lies inside.

Choose a cached event and localization and a credible level; the panel lists the catalog
galaxies inside ranked by probability (per Mpc³ when the map has distances, else per sr),
the sources and candidates inside with their credible levels, and draws them on the sky.
Every position's level is computed once per localization; moving the slider only filters.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
import pandas as pd

from workbench.errors import WorkbenchError

from ._common import Panel, close_tree, html_table, json_value
from ._plots import bokeh_widget
from .classification import ClassificationPanel

WHAT = ("galaxies", "sources", "candidates")
GALAXY_COLUMNS = (
    "name",
    "ra",
    "dec",
    "distmpc",
    "credible_level",
    "probdensity",
    "probdensity_vol",
    "credible_level_vol",
)
OBJECT_COLUMNS = ("id", "ra", "dec", "redshift", "score", "credible_level", "searched_area")


@dataclass
class CrossmatchState:
    """The chosen localization and level, and every cached position's crossmatch with it."""

    dateobs: str | None = None
    name: str | None = None
    cumprob: float = 0.9
    matched: dict[str, pd.DataFrame] = field(default_factory=dict)
    area: float | None = None
    skymap: Any = None

    def inside(self, what: str) -> pd.DataFrame:
        """The rows of ``what`` inside the ``cumprob`` region, most probable first."""
        frame = self.matched.get(what)
        if frame is None or frame.empty:
            return pd.DataFrame()
        frame = frame[frame["credible_level"] <= self.cumprob]
        if (
            what == "galaxies"
            and "probdensity_vol" in frame
            and frame["probdensity_vol"].notna().any()
        ):
            return frame.sort_values("probdensity_vol", ascending=False, na_position="last")
        return frame.sort_values("credible_level")


def event_label(row: dict[str, Any]) -> str:
    """``2019-08-14T21:10:39 (S190814bv)``: the event's time and its aliases."""
    dateobs = pd.Timestamp(row["dateobs"]).strftime("%Y-%m-%dT%H:%M:%S")
    aliases = json_value(row.get("aliases")) or []
    names = ", ".join(str(a).split("#")[-1] for a in aliases) if isinstance(aliases, list) else ""
    return f"{dateobs} ({names})" if names else dateobs


class CrossmatchPanel(Panel):
    """Pick an event, a localization and a credible level; see what is inside."""

    def __init__(self, wb: Any, *, max_rows: int = 25) -> None:
        super().__init__(wb)
        self.state = CrossmatchState()
        self.max_rows = max_rows
        self.classifier: ClassificationPanel | None = None
        self._build()
        self._events = events = wb.gcn_events()
        options = (
            []
            if events.empty
            else [
                (event_label(r), pd.Timestamp(r["dateobs"]).strftime("%Y-%m-%dT%H:%M:%S"))
                for r in events.sort_values("dateobs", ascending=False).to_dict("records")
            ]
        )
        self.event.options = options
        if options:
            self.event.value = options[0][1]
        else:
            self.say("no GCN event in the cache: run wb.sync(['gcn_events']) first")

    def _build(self) -> None:
        guard = self.errors.guard
        self.event = w.Dropdown(description="Event", options=[], layout=w.Layout(width="420px"))
        self.localization = w.Dropdown(
            description="Localization", options=[], layout=w.Layout(width="420px")
        )
        self.cumprob = w.FloatSlider(
            description="Credible", value=0.9, min=0.1, max=0.99, step=0.01,
            continuous_update=False, readout_format=".2f",
        )  # fmt: skip
        self.run_button = w.Button(
            description="Crossmatch", icon="crosshairs", button_style="primary"
        )
        self.summary = w.HTML()
        self.tables = {what: w.HTML() for what in WHAT}
        # The all-sky and zoomed views side by side are wider than a notebook column.
        self.plot_box = w.Box(layout=w.Layout(overflow="auto", max_width="100%"))
        self.counterpart = w.Dropdown(description="Object", options=[])
        self.classify_button = w.Button(description="Classify", icon="tag", button_style="info")
        self.classify_box = w.VBox()
        self.event.observe(guard(lambda c: self.choose_event(c["new"])), names="value")
        self.localization.observe(guard(lambda c: self._on_localization(c["new"])), names="value")
        self.cumprob.observe(guard(lambda c: self.set_level(c["new"])), names="value")
        self.run_button.on_click(guard(lambda _b: self.run()))
        self.classify_button.on_click(guard(lambda _b: self.classify_selected()))
        tabs = w.Tab(children=[self.tables[k] for k in WHAT], titles=[k.capitalize() for k in WHAT])
        self.widget = w.VBox(
            [
                w.HBox([self.event, self.localization]),
                w.HBox([self.cumprob, self.run_button]),
                self.summary,
                self.plot_box,
                tabs,
                w.HBox([self.counterpart, self.classify_button]),
                self.classify_box,
                self.message,
                self.errors.output,
            ]
        )

    # -- choices -----------------------------------------------------------------------------
    def choose_event(self, dateobs: str | None) -> None:
        """Choose an event; its cached localizations fill the second menu (latest first)."""
        self.state.dateobs = dateobs
        self.state.matched = {}
        names = self._localization_names(dateobs) if dateobs else []
        self.localization.options = names
        self.localization.value = names[0] if names else None
        if dateobs and not names:
            self.say(f"no localization of {dateobs} in the cache: wb.sync(['gcn_events'])")

    def _localization_names(self, dateobs: str) -> list[str]:
        """The event's cached localizations, the latest first."""
        events = self._events
        if events.empty:
            return []
        when = events["dateobs"].map(lambda t: pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%S"))
        rows = events[when == dateobs]
        names = json_value(rows["localizations"].iloc[0]) if not rows.empty else None
        return [str(n) for n in reversed(names or [])]

    def _on_localization(self, name: str | None) -> None:
        self.state.name = name
        self.state.matched = {}
        self._clear()

    def set_level(self, cumprob: float) -> None:
        """Show what lies inside this credible level (0..1); computes the match if needed."""
        if not 0.0 < float(cumprob) < 1.0:
            raise WorkbenchError(
                f"the credible level must be between 0 and 1 (exclusive), not {cumprob}"
            )
        self.state.cumprob = float(cumprob)
        if self.cumprob.value != self.state.cumprob:
            self.cumprob.value = self.state.cumprob
        if self.state.matched:
            self._show()

    # -- work --------------------------------------------------------------------------------
    def run(self) -> dict[str, pd.DataFrame]:
        """Crossmatch every cached galaxy, source and candidate with the chosen localization;
        returns what lies inside the chosen level, by kind."""
        s = self.state
        if not s.dateobs or not s.name:
            raise WorkbenchError("choose an event and one of its localizations first")
        s.skymap = self.wb.skymap(s.dateobs, s.name)
        s.matched = {
            what: self.wb.crossmatch(s.dateobs, s.name, what=what, cumprob=None) for what in WHAT
        }
        self._show()
        return {what: s.inside(what) for what in WHAT}

    def _show(self) -> None:
        s = self.state
        inside = {what: s.inside(what) for what in WHAT}
        s.area = float(s.skymap.area(s.cumprob))
        counts = ", ".join(f"{len(inside[k])} {k}" for k in WHAT)
        distance = " (3D: ranked per Mpc³)" if s.skymap.has_distance else " (2D: ranked per sr)"
        self.summary.value = (
            f"<b>{html.escape(s.name or '')}</b>: {s.cumprob:.0%} region {s.area:,.1f} deg²; "
            f"inside: {html.escape(counts)}{distance}"
        )
        self.tables["galaxies"].value = html_table(
            inside["galaxies"],
            GALAXY_COLUMNS,
            empty="no cached galaxy inside",
            max_rows=self.max_rows,
        )
        for what in ("sources", "candidates"):
            self.tables[what].value = html_table(
                inside[what],
                OBJECT_COLUMNS,
                empty=f"no cached {what[:-1]} inside",
                max_rows=self.max_rows,
            )
        ids = (
            [str(i) for k in ("sources", "candidates") for i in inside[k]["id"]]
            if any(not inside[k].empty for k in ("sources", "candidates"))
            else []
        )
        options = list(dict.fromkeys(ids))
        keep = self.counterpart.value if self.counterpart.value in options else None
        self.counterpart.options = options
        # A Dropdown whose options were empty selects nothing when they change: pick one.
        self.counterpart.value = keep or (options[0] if options else None)
        self._draw(inside)

    def _draw(self, inside: dict[str, pd.DataFrame]) -> None:
        from workbench.plots import localization_plot

        s = self.state
        levels = sorted({0.5, round(s.cumprob, 4)})
        top = inside["galaxies"].head(200)
        fig, _sources = localization_plot(
            s.skymap,
            sources=inside["sources"] if not inside["sources"].empty else None,
            candidates=inside["candidates"] if not inside["candidates"].empty else None,
            galaxies=top if not top.empty else None,
            levels=levels,
            title=f"{s.dateobs} {s.name}",
            height=360,
        )
        old = self.plot_box.children
        self.plot_box.children = (bokeh_widget(fig),)
        for widget in old:
            close_tree(widget)

    def _clear(self) -> None:
        self.summary.value = "<i>press Crossmatch</i>"
        for table in self.tables.values():
            table.value = ""
        self.counterpart.options = []

    def classify_selected(self) -> ClassificationPanel:
        """Open the classification panel on the chosen counterpart."""
        obj_id = self.counterpart.value
        if not obj_id:
            raise WorkbenchError(
                "no source or candidate inside the region to classify; run the crossmatch first"
            )
        if self.classifier is None:
            self.classifier = ClassificationPanel(self.wb, obj_id)
            self.classify_box.children = (self.classifier.widget,)
        else:
            self.classifier.set_object(obj_id)
        return self.classifier


__all__ = ["CrossmatchPanel", "CrossmatchState", "event_label"]
