"""Chasing a counterpart: a GW (or GRB) localization against the cache.

Choose a cached event (the menu reads as astronomers do: name, type, time, most likely
source class, FAR, distance, 90% area) and a credible level; the panel lists

* the candidate counterparts: sources and candidates inside the region whose first
  detection falls in the chosen window after the event (0 to 14 days by default; objects
  seen before it only on request), with light-curve figures and likely host;
* the catalog galaxies inside (the credible volume when the map has distances) ranked by
  3D probability times an optional weight (stellar mass, B or K luminosity), shown as a
  probability per galaxy with rank and cumulative probability;
* every source and candidate inside,

draws them on the sky (galaxies sized by probability), opens a chosen object (light curve,
spectra, cutouts, classification) and exports the shortlist (CSV, HTML report, circular).
Every position's level is computed once per localization; moving the slider only filters.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError

from ._common import Panel, close_tree, html_table, json_value
from ._plots import bokeh_widget
from .classification import ClassificationPanel

WHAT = ("galaxies", "sources", "candidates")
TABS = ("counterparts", *WHAT)
GALAXY_COLUMNS = (
    "rank",
    "name",
    "probability",
    "cum_probability",
    "distmpc",
    "mstar",
    "credible_level",
    "credible_level_vol",
    "dist_consistency",
)
OBJECT_COLUMNS = ("id", "ra", "dec", "redshift", "score", "credible_level", "searched_area")
COUNTERPART_COLUMNS = (
    "id",
    "days_after",
    "first_mag",
    "first_filter",
    "last_nondetection_limit",
    "peak_mag",
    "latest_mag",
    "rate",
    "credible_level",
    "host_name",
    "host_distmpc",
    "host_offset_kpc",
    "prior",
)
WEIGHTS = (("none", None), ("stellar mass", "mstar"), ("B luminosity", "B"),
           ("K luminosity", "K"))  # fmt: skip
_PERCENT = ("probability", "cum_probability")


@dataclass
class CrossmatchState:
    """The chosen localization and level, and every cached position's crossmatch with it."""

    dateobs: str | None = None
    name: str | None = None
    cumprob: float = 0.9
    matched: dict[str, pd.DataFrame] = field(default_factory=dict)
    area: float | None = None
    skymap: Any = None
    weight: str | None = None
    days: tuple[float, float] = (0.0, 14.0)
    include_prior: bool = False

    def inside(self, what: str) -> pd.DataFrame:
        """The rows of ``what`` inside the ``cumprob`` region, most probable first.

        Galaxies: inside the credible volume (the area without distances), their weighted
        probabilities renormalised over those inside, with ``rank`` and ``cum_probability``
        (as :meth:`Workbench.rank_galaxies` gives them). Counterparts: in the order
        :meth:`Workbench.counterparts` gives."""
        frame = self.matched.get(what)
        if frame is None or frame.empty:
            return pd.DataFrame()
        if what == "galaxies" and "probability" in frame:
            volume = "credible_level_vol" in frame and frame["credible_level_vol"].notna().any()
            level = frame["credible_level_vol" if volume else "credible_level"]
            frame = frame[level <= self.cumprob].copy()
            total = frame["probability"].sum()
            if total > 0:
                frame["probability"] = frame["probability"] / total
            frame["rank"] = range(1, len(frame) + 1)
            frame["cum_probability"] = frame["probability"].cumsum()
            return frame
        frame = frame[frame["credible_level"] <= self.cumprob]
        return frame if what == "counterparts" else frame.sort_values("credible_level")


def _percent_table(frame: pd.DataFrame, columns: tuple[str, ...], **kwargs: Any) -> str:
    """:func:`html_table` with probabilities shown as percentages (0.1% rather than 1e-3)."""
    if frame is not None and not frame.empty:
        frame = frame.copy()
        for col in _PERCENT:
            if col in frame:
                frame[col] = frame[col].map(lambda v: "" if pd.isna(v) else f"{100 * v:.2f}%")
    return html_table(frame, columns, **kwargs)


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
        self.viewer: Any = None
        self._build()
        self._events = events = wb.gcn_events()
        options = [] if events.empty else self._event_options(events)
        self.event.options = options
        if options:
            self.event.value = options[0][1]
        else:
            self.say("no GCN event in the cache: run wb.sync(['gcn_events']) first")

    def _event_options(self, events: pd.DataFrame) -> list[tuple[str, str]]:
        """(label, dateobs) newest first; the label reads as astronomers read an event."""
        from workbench.events import describe_event

        try:
            described = self.wb.events()
        except WorkbenchError:  # a record or map it cannot read: the bare labels then
            described = pd.DataFrame()
        labels = {}
        for row in described.to_dict("records") if not described.empty else []:
            labels[pd.Timestamp(row["dateobs"]).strftime("%Y-%m-%dT%H:%M:%S")] = describe_event(row)
        out = []
        for r in events.sort_values("dateobs", ascending=False).to_dict("records"):
            key = pd.Timestamp(r["dateobs"]).strftime("%Y-%m-%dT%H:%M:%S")
            out.append((labels.get(key) or event_label(r), key))
        return out

    def _build(self) -> None:
        guard = self.errors.guard
        self.event = w.Dropdown(description="Event", options=[], layout=w.Layout(width="640px"))
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
        self.weight = w.Dropdown(description="Weight", options=WEIGHTS, value=None)
        self.days = w.FloatRangeSlider(
            description="Days after", value=(0.0, 14.0), min=0.0, max=60.0, step=0.5,
            continuous_update=False, readout_format=".1f",
        )  # fmt: skip
        self.include_prior = w.Checkbox(description="show objects seen before", value=False)
        self.summary = w.HTML()
        self.tables = {what: w.HTML() for what in TABS}
        # The all-sky and zoomed views side by side are wider than a notebook column.
        self.plot_box = w.Box(layout=w.Layout(overflow="auto", max_width="100%"))
        self.counterpart = w.Dropdown(description="Object", options=[])
        self.open_button = w.Button(description="Open", icon="eye", button_style="info")
        self.classify_button = w.Button(description="Classify", icon="tag", button_style="info")
        self.classify_box = w.VBox()
        self.object_box = w.VBox()
        self.export_path = w.Text(description="Shortlist", value="shortlist",
                                  placeholder="file stem: .csv, .html, .txt")  # fmt: skip
        self.export_button = w.Button(description="Export", icon="download")
        self.event.observe(guard(lambda c: self.choose_event(c["new"])), names="value")
        self.localization.observe(guard(lambda c: self._on_localization(c["new"])), names="value")
        self.cumprob.observe(guard(lambda c: self.set_level(c["new"])), names="value")
        self.run_button.on_click(guard(lambda _b: self.run()))
        self.classify_button.on_click(guard(lambda _b: self.classify_selected()))
        self.open_button.on_click(guard(lambda _b: self.open_selected()))
        self.export_button.on_click(guard(lambda _b: self.export(self.export_path.value)))
        for control in (self.weight, self.days, self.include_prior):
            control.observe(guard(lambda _c: self._options_changed()), names="value")
        # Counterparts also as a clickable table: a click on a row opens the object.
        self.pick_box = w.Box(layout=w.Layout(overflow="auto", max_width="100%"))
        self.pick_source: Any = None
        pages = [w.VBox([self.pick_box, self.tables["counterparts"]])]
        pages += [self.tables[k] for k in WHAT]
        tabs = w.Tab(children=pages, titles=[k.capitalize() for k in TABS])
        self.widget = w.VBox(
            [
                self.event,
                self.localization,
                w.HBox([self.cumprob, self.run_button]),
                w.HBox([self.weight, self.days, self.include_prior]),
                self.summary,
                self.plot_box,
                tabs,
                w.HBox([self.counterpart, self.open_button, self.classify_button]),
                w.HBox([self.export_path, self.export_button]),
                self.object_box,
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
        self._forget_object()  # the previous event's object is no candidate of this one
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
        self._forget_object()
        self._clear()

    def _forget_object(self) -> None:
        """Drop the chosen object and close its viewer and classification panel."""
        self.counterpart.options = []
        self.counterpart.value = None
        for attr, box in (("classifier", self.classify_box), ("viewer", self.object_box)):
            panel = getattr(self, attr)
            if panel is not None:
                panel.close()
                setattr(self, attr, None)
            box.children = ()

    def _options_changed(self) -> None:
        """Weight, window or prior detections changed: recompute what depends on them."""
        s = self.state
        s.weight = self.weight.value
        s.days = (float(self.days.value[0]), float(self.days.value[1]))
        s.include_prior = bool(self.include_prior.value)
        if s.matched:
            self._compute_ranked()
            self._show()

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
            what: self.wb.crossmatch(s.dateobs, s.name, what=what, cumprob=None)
            for what in ("sources", "candidates")
        }
        self._compute_ranked()
        self._show()
        return {what: s.inside(what) for what in TABS}

    def _compute_ranked(self) -> None:
        """Galaxies ranked with the weight and the counterparts in the window, over the whole
        map once (the level slider then only filters)."""
        s = self.state
        s.matched["galaxies"] = self.wb.rank_galaxies(
            s.dateobs, s.name, cumprob=None, weight=s.weight
        )
        s.matched["counterparts"] = self.wb.counterparts(
            s.dateobs, s.name, cumprob=self.cumprob.max, days=s.days,
            include_prior=s.include_prior,
            weight=s.weight,
        )  # fmt: skip

    def _show(self) -> None:
        s = self.state
        inside = {what: s.inside(what) for what in TABS}
        s.area = float(s.skymap.area(s.cumprob))
        counts = ", ".join(f"{len(inside[k])} {k}" for k in TABS)
        weight = f" × {s.weight}" if s.weight else ""
        distance = (
            f" (3D: ranked by probability per Mpc³{weight})"
            if s.skymap.has_distance
            else f" (2D: ranked per sr{weight})"
        )
        self.summary.value = (
            f"<b>{html.escape(s.name or '')}</b>: {s.cumprob:.0%} region {s.area:,.1f} deg²; "
            f"inside: {html.escape(counts)}{html.escape(distance)}; counterparts first "
            f"detected {s.days[0]:g} to {s.days[1]:g} days after the event"
        )
        self.tables["galaxies"].value = _percent_table(
            inside["galaxies"],
            GALAXY_COLUMNS,
            empty="no cached galaxy inside",
            max_rows=self.max_rows,
        )
        self.tables["counterparts"].value = (
            "<i>click a row above to open the object</i>"
            if not inside["counterparts"].empty
            else "<i>no cached object first detected in the window inside the region</i>"
        )
        self._pick_table(inside["counterparts"])
        for what in ("sources", "candidates"):
            self.tables[what].value = html_table(
                inside[what],
                OBJECT_COLUMNS,
                empty=f"no cached {what[:-1]} inside",
                max_rows=self.max_rows,
            )
        # Counterparts first (most probable first), then everything else inside.
        ids = [
            str(i)
            for k in ("counterparts", "sources", "candidates")
            if not inside[k].empty
            for i in inside[k]["id"]
        ]
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
        shown = inside["counterparts"]
        fig, _sources = localization_plot(
            s.skymap,
            sources=inside["sources"] if not inside["sources"].empty else None,
            candidates=shown if not shown.empty else None,
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

    def _pick_table(self, found: pd.DataFrame) -> None:
        """The counterparts as a Bokeh DataTable; selecting a row opens that object."""
        from bokeh.models import ColumnDataSource, DataTable, NumberFormatter, TableColumn

        old = self.pick_box.children
        self.pick_source = None
        if found.empty:
            self.pick_box.children = ()
        else:
            shown = found.head(self.max_rows * 4)
            cols = [c for c in COUNTERPART_COLUMNS if c in shown.columns]
            data = {c: shown[c].astype(object if c in ("id", "host_name", "first_filter",
                                                       "prior") else float).to_numpy()
                    for c in cols}  # fmt: skip
            data["id"] = shown["id"].astype(str).to_numpy()
            data["host_name"] = shown["host_name"].fillna("").astype(str).to_numpy()
            data["prior"] = np.where(shown["prior"].to_numpy(bool), "yes", "")
            self.pick_source = src = ColumnDataSource(data)
            fmt = NumberFormatter(format="0.00")
            columns = [
                TableColumn(field=col, title=col, width=90, formatter=fmt)
                if data[col].dtype.kind == "f"
                else TableColumn(field=col, title=col, width=90)
                for col in cols
            ]
            table = DataTable(source=src, columns=columns, width=min(1200, 95 * len(cols)),
                              height=min(320, 30 + 26 * len(shown)), index_position=None,
                              selectable=True)  # fmt: skip
            src.selected.on_change("indices", self.errors.guard(self._picked))
            self.pick_box.children = (bokeh_widget(table),)
        for widget in old:
            close_tree(widget)

    def _picked(self, _attr: str, _old: Any, new: list[int]) -> None:
        if not new or self.pick_source is None:
            return
        obj_id = str(self.pick_source.data["id"][new[0]])
        if obj_id not in self.counterpart.options:
            self.counterpart.options = [obj_id, *self.counterpart.options]
        self.counterpart.value = obj_id
        self.open_selected()

    def open_selected(self) -> Any:
        """Open the chosen object: light curve, spectra, cutouts and its classification."""
        from .viewer import ObjectViewer

        obj_id = self.counterpart.value
        if not obj_id:
            raise WorkbenchError("no object inside the region to open; run the crossmatch first")
        if self.viewer is None:
            self.viewer = ObjectViewer(self.wb, obj_id)
        else:
            self.viewer.show(obj_id)
        cutouts = self._cutouts(obj_id)
        self.object_box.children = (self.viewer.widget, cutouts)
        self.classify_selected()
        return self.viewer

    def _cutouts(self, obj_id: str) -> w.Widget:
        try:
            images = self.wb.thumbnails(obj_id)
        except WorkbenchError as exc:
            return w.HTML(f"<i>cutouts unavailable: {html.escape(str(exc))}</i>")
        if not images:
            return w.HTML(f"<i>no cutouts of {html.escape(obj_id)} cached</i>")
        return w.HBox(
            [
                w.VBox([w.HTML(f"<b>{html.escape(kind)}</b>"), w.Image(value=png, width=160)])
                for kind, png in images.items()
            ]
        )

    def export(self, stem: str) -> dict[str, str]:
        """Write the counterparts inside the region as ``stem.csv`` (shortlist),
        ``stem.html`` (standalone report with the plots) and ``stem.txt`` (GCN circular
        draft); returns the paths."""
        from pathlib import Path

        from workbench.shortlist import circular_table, html_report, write_shortlist

        s = self.state
        if not s.matched:
            raise WorkbenchError("run the crossmatch first: there is nothing to export yet")
        base = Path((stem or "").strip() or "shortlist")
        found = s.inside("counterparts")
        event = (self.event.label or s.dateobs or "").split(",")[0]
        csv = write_shortlist(found, base.with_suffix(".csv"))
        ids = [str(i) for i in found["id"].head(6)] if not found.empty else []
        report = html_report(
            found, base.with_suffix(".html"), skymap=s.skymap, galaxies=s.inside("galaxies"),
            photometry=self.wb.photometry(ids) if ids else None, event=event,
        )  # fmt: skip
        txt = base.with_suffix(".txt")
        txt.write_text(circular_table(found, event=event), encoding="utf-8")
        paths = {"csv": str(csv), "html": str(report), "txt": str(txt)}
        self.say(f"shortlist of {len(found)} written to {csv}, {report} and {txt}")
        return paths

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
