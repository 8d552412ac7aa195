"""The vetting panel's view: its widgets and layout, and the HTML of a candidate's details.

Imports point one way: the panel (:mod:`widgets.vetting`) imports this module, never the
reverse; :func:`build_layout` takes any object with the panel's callbacks
(:class:`VettingCallbacks`). Everything shown from the server (annotation values,
comments, group names) is escaped. Stable CSS classes (``wb-vetting``,
``wb-candidate-area``, ``wb-obj-id``, ``wb-status``) are hooks for the browser tests.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from typing import Any, Protocol

import ipywidgets as w
import pandas as pd

from workbench.errors import WorkbenchError

from ._common import ErrorArea, format_cell, group_options
from .keys import keys_help_html
from .outbox import OutboxStrip
from .vetting_data import CandidateView

CUTOUTS = ("new", "ref", "sub")
INSIDE_LEVEL = 0.9  # "inside a localization": within its 90% credible region
TABS = ("Annotations", "Classifications", "Comments", "Galaxies", "Localizations", "Scan report")
ORDER_OPTIONS = (
    ("order: score", "score"),
    ("order: newest", "newest"),
    ("order: learned", "learned"),
)
MJD_UNIX_EPOCH = 40587.0  # MJD of 1970-01-01


@dataclass
class TextSlot:
    """The HTML of one part of the candidate shown (header, badges, cutouts): what the
    stage draws in the browser, kept in the kernel for tests, reports and scripts."""

    value: str = ""


class VettingCallbacks(Protocol):
    """What the layout wires its widgets to (the vetting panel provides all of it)."""

    wb: Any
    errors: ErrorArea

    def refresh(self) -> None: ...
    def set_filters(self, **changes: Any) -> None: ...
    def set_order(self, order: str) -> None: ...
    def save(self) -> Any: ...
    def reject(self) -> Any: ...
    def skip(self) -> Any: ...
    def previous(self) -> Any: ...
    def undo(self) -> Any: ...
    def toggle_classifier(self) -> Any: ...
    def toggle_keys_help(self) -> Any: ...
    def comment(self, text: str | None = None) -> Any: ...
    def remember_groups(self, group_ids: Any) -> None: ...


def mjd_now() -> float:
    """The current time as MJD (UTC)."""
    return pd.Timestamp.now(tz="UTC").timestamp() / 86400.0 + MJD_UNIX_EPOCH


def detections_span(photometry: pd.DataFrame) -> tuple[float, float, int] | None:
    """(first, last) detection MJD and the number of detections (mag not NaN), or None."""
    if photometry is None or photometry.empty or "mag" not in photometry:
        return None
    det = photometry[photometry["mag"].notna()]
    if det.empty:
        return None
    mjd = det["mjd"].astype(float)
    return float(mjd.min()), float(mjd.max()), len(det)


def _ago(mjd: float, now: float) -> str:
    days = now - mjd
    return f"{days:.1f} d ago" if days < 100 else f"{days:.0f} d ago"


def header_html(
    view: CandidateView,
    *,
    learned: tuple[float, str] | None = None,
    now_mjd: float | None = None,
) -> str:
    """The candidate's id, position (degrees), score, when it passed, its first and last
    detection (MJD and days ago), and with the learned order its p_wanted and drivers."""
    row = view.row
    obj = html.escape(view.obj_id)
    parts = [f"<b style='font-size:1.2em'><span class='wb-obj-id'>{obj}</span></b>"]
    for key, label in (("ra", "RA"), ("dec", "Dec"), ("score", "score"), ("passed_at", "passed")):
        value = row.get(key)
        if value is not None and not _missing(value):
            parts.append(f"{label} {html.escape(format_cell(value))}")
    span = detections_span(view.photometry)
    now = mjd_now() if now_mjd is None else now_mjd
    if span is not None:
        first, last, n = span
        parts += [
            f"first det. MJD {first:.2f} ({_ago(first, now)})",
            f"last det. MJD {last:.2f} ({_ago(last, now)})",
            f"{n} det.",
        ]
    elif row.get("last_detected_at") is not None and not _missing(row.get("last_detected_at")):
        parts.append(f"last detected {html.escape(format_cell(row['last_detected_at']))}")
    inside = [level for _, level in view.localizations if level <= INSIDE_LEVEL]
    if inside:
        parts.append(
            f"<span style='color:#c2185b'>inside a GW localization (level {min(inside):.2f})</span>"
        )
    if learned is not None:
        p, drivers = learned
        parts.append(
            f"<span class='wb-learned' style='color:#1565c0'>p_wanted {p:.2f}"
            f"{' · ' + html.escape(drivers) if drivers else ''}</span>"
        )
    # Each item wraps as a whole: a narrow notebook breaks the line between items, never
    # inside "first det. MJD ... (... ago)".
    return " · ".join(f"<span style='white-space:nowrap'>{part}</span>" for part in parts)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _badge(text: str, colour: str, title: str = "") -> str:
    tip = f" title='{html.escape(title, quote=True)}'" if title else ""
    return (
        f"<span{tip} style='display:inline-block;margin:1px 3px;padding:0 6px;"
        f"border-radius:8px;background:{colour};color:white;font-size:0.9em'>{text}</span>"
    )


def badges_html(view: CandidateView, taxonomy_names: dict[int, str]) -> str:
    """What a scanner must see before deciding: earlier saves (group names, by whom, when),
    whether it is already a source, and its existing classifications (taxonomy names)."""
    parts = []
    saves = view.saves
    is_source = (
        bool(view.row.get("is_source")) if not _missing(view.row.get("is_source")) else False
    )
    if saves is not None and not saves.empty:
        parts.append("<b>saved</b>")
        for s in saves.to_dict("records"):
            who = format_cell(s.get("saved_by")) or "?"
            when = format_cell(s.get("saved_at"))
            pending = " (pending)" if s.get("pending") else ""
            text = html.escape(f"{s.get('group_name')}{pending}")
            parts.append(
                _badge(text, "#2e7d32", f"saved by {who} {when}") + html.escape(f" {who}, {when}")
            )
    elif is_source:
        parts.append(_badge("already a source", "#2e7d32"))
    else:
        parts.append("<i>not saved to any group</i>")
    frame = view.classifications
    if frame is not None and not frame.empty:
        parts.append(" · <b>classified</b>")
        for c in frame.to_dict("records"):
            tax = c.get("taxonomy_id")
            tax_name = "" if _missing(tax) else taxonomy_names.get(int(tax), f"#{int(tax)}")
            prob = c.get("probability")
            p = "" if _missing(prob) else f" {float(prob):.2f}"
            who = format_cell(c.get("author_name")) or "?"
            label = html.escape(f"{c.get('classification')}{p}")
            parts.append(
                _badge(label, "#6a1b9a", f"{tax_name}, by {who}")
                + html.escape(f" {tax_name}, {who}")
            )
    return "<div class='wb-badges'>" + " ".join(parts) + "</div>"


def localizations_html(levels: list[tuple[str, float]], notes: list[str]) -> str:
    """The candidate's 2D credible level in each cached localization (lower is more probable)."""
    lines = [
        f"<div>{html.escape(d)}: credible level {lv:.3f}"
        f"{' (inside the 90% region)' if lv <= INSIDE_LEVEL else ''}</div>"
        for d, lv in levels
    ]
    lines += [f"<div style='color:#b26b00'>{html.escape(n)}</div>" for n in notes]
    return "".join(lines) or "<i>not inside any cached localization</i>"


def data_link(text: str, filename: str, mime: str, label: str) -> str:
    """An HTML download link carrying ``text`` in a data: URI (works without a server)."""
    payload = base64.b64encode(text.encode()).decode()
    return (
        f"<a download='{html.escape(filename, quote=True)}' "
        f"href='data:{mime};charset=utf-8;base64,{payload}'>{html.escape(label)}</a>"
    )


def report_table_html(frame: pd.DataFrame) -> str:
    """The scan report as an escaped HTML table (newest last)."""
    if frame is None or frame.empty:
        return "<i>nothing decided in this session yet</i>"
    head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for rec in frame.to_dict("records"):
        cells = "".join(f"<td>{html.escape(format_cell(rec[c]))}</td>" for c in frame.columns)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table class='wb-report'><tr>{head}</tr>{''.join(rows)}</table>"


def report_document(frame: pd.DataFrame, title: str) -> str:
    """A standalone HTML page of the scan report (no script, no external resource)."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif}}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{report_table_html(frame)}</body></html>"
    )


# Rows of controls wrap onto a second line in a narrow notebook instead of being cut off.
def _wrap() -> w.Layout:
    return w.Layout(flex_flow="row wrap")


def build_layout(
    panel: VettingCallbacks,
    group_ids: tuple[int, ...],
    min_score: float | None,
    save_group_ids: tuple[int, ...],
    *,
    annotations_widget: Any = None,
) -> None:
    """Create the panel's widgets, wire them to its callbacks, and set ``panel.widget``."""
    p: Any = panel  # the widgets are set as the panel's attributes
    groups = group_options(panel.wb)
    _filter_controls(p, group_ids, min_score, groups)
    _candidate_display(p, annotations_widget)
    _action_controls(p, save_group_ids, groups)
    # The tabs (with the annotations' search box) stay outside: keys typed there must not
    # act on the panel, and the stage takes every key while the mouse is over the area.
    # The stage draws header, badges and cutouts in the browser; the light curve below it.
    p.candidate_area = w.VBox(
        [p.stage, p.plot_box], layout=w.Layout(border="1px solid #e0e0e0", padding="4px")
    )
    p.candidate_area.add_class("wb-candidate-area")
    actions = [
        p.save_button,
        p.reject_button,
        p.skip_button,
        p.previous_button,
        p.undo_button,
        p.classify_button,
        p.keys_button,
    ]
    p.widget = w.VBox(
        [
            w.HBox(
                [p.group_filter, p.min_score, p.unvetted, p.order, p.refresh_button], layout=_wrap()
            ),
            p.save_groups,
            w.HBox([p.position, p.live_note]),
            p.candidate_area,
            w.HBox(
                actions, layout=_wrap()
            ),  # wrapped, not shrunk to "Reject ..." in a narrow notebook
            p.tabs,
            w.HBox([p.comment_text, p.comment_button]),
            p.class_hint,
            p.classify_box,
            p.keys_help,
            p.message,
            p.strip.widget,
            p.errors.output,
        ]
    )
    p.widget.add_class("wb-vetting")
    p.message.add_class("wb-status")


def _filter_controls(
    p: Any, group_ids: tuple[int, ...], min_score: float | None, groups: list[tuple[str, int]]
) -> None:
    guard = p.errors.guard
    names = {gid: name for name, gid in groups}
    options: list[tuple[str, tuple[int, ...]]] = [("all groups", ())]
    if len(group_ids) > 1:
        options.append((", ".join(names.get(g, f"#{g}") for g in group_ids), group_ids))
    options += [(label, (gid,)) for label, gid in groups]
    known = {v for _, v in options}
    p.group_filter = w.Dropdown(
        description="Passed", options=options, value=group_ids if group_ids in known else ()
    )
    p.min_score = w.Text(
        description="Min score",
        placeholder="any",
        value="" if min_score is None else f"{min_score:g}",
        continuous_update=False,
        layout=w.Layout(width="190px"),
    )
    p.unvetted = w.Checkbox(
        description="unvetted only", value=True, indent=False, layout=w.Layout(width="auto")
    )
    p.order = w.Dropdown(options=ORDER_OPTIONS, value="score", layout=w.Layout(width="150px"))
    p.refresh_button = w.Button(
        description="Refresh", icon="refresh", layout=w.Layout(width="auto")
    )
    p.refresh_button.on_click(guard(lambda _b: p.refresh()))
    p.group_filter.observe(guard(lambda c: p.set_filters(group_ids=c["new"])), names="value")
    p.min_score.observe(
        guard(lambda c: p.set_filters(min_score=parse_score(c["new"]))), names="value"
    )
    p.unvetted.observe(guard(lambda c: p.set_filters(unvetted_only=c["new"])), names="value")
    p.order.observe(guard(lambda c: p.set_order(c["new"])), names="value")


def _candidate_display(p: Any, annotations_widget: Any) -> None:
    p.position = w.HTML()
    p.live_note = w.HTML()
    p.live_note.add_class("wb-live-note")
    # drawn by the stage (widgets.vetting_stage) from slides; these hold the current text
    p.header = TextSlot()
    p.badges = TextSlot()
    p.cutouts_html = TextSlot()
    p.plot_box = w.Box(layout=w.Layout(min_height="300px"))
    p.tab_html = {name: w.HTML() for name in TABS}
    p.report_links = w.HTML()
    children = []
    for name in TABS:
        if name == "Annotations" and annotations_widget is not None:
            children.append(annotations_widget)
        elif name == "Scan report":
            children.append(w.VBox([p.report_links, p.tab_html[name]]))
        else:
            children.append(p.tab_html[name])
    p.tabs = w.Tab(children=children, titles=TABS)


def _action_controls(
    p: Any, save_group_ids: tuple[int, ...], groups: list[tuple[str, int]]
) -> None:
    guard = p.errors.guard
    valid_ids = {gid for _, gid in groups}
    # every group listed (a 3-row box hid the 4th), the scan groups preselected
    p.save_groups = w.SelectMultiple(
        description="Save to",
        options=groups,
        rows=max(2, min(len(groups), 10)),
        value=[g for g in save_group_ids if g in valid_ids],
    )
    p.save_groups.observe(guard(lambda c: p.remember_groups(c["new"])), names="value")
    buttons = {
        "save_button": ("Save (s)", "check", "success", p.save),
        "reject_button": ("Reject (r)", "times", "danger", p.reject),
        "skip_button": ("Skip (n)", "forward", "", p.skip),
        "previous_button": ("Back (b)", "backward", "", p.previous),
        "undo_button": ("Undo (u)", "undo", "", p.undo),
        "classify_button": ("Classify (c)", "tag", "info", p.toggle_classifier),
        "keys_button": ("Keys (?)", "keyboard-o", "", p.toggle_keys_help),
        "comment_button": ("Comment (m)", "comment", "", lambda: p.comment()),
    }
    for attr, (label, icon, style, action) in buttons.items():
        # as wide as its label (not ipywidgets' fixed 148 px): the row fits or wraps, uncut
        button = w.Button(
            description=label, icon=icon, button_style=style, layout=w.Layout(width="auto")
        )
        button.on_click(guard(lambda _b, act=action: act()))
        setattr(p, attr, button)
    p.comment_text = w.Textarea(placeholder="a comment on this candidate", rows=2)
    p.class_hint = w.HTML()
    p.classify_box = w.VBox(layout=w.Layout(display="none"))
    p.keys_help = w.HTML(keys_help_html(), layout=w.Layout(display="none"))
    p.strip = OutboxStrip(p.wb, p.errors)


def parse_score(text: str) -> float | None:
    """The min-score box's value: a number, or empty for no cut."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise WorkbenchError(
            f"min score must be a number such as 0.5 (or empty for any), not {text!r}"
        ) from exc
    if not math.isfinite(value):
        raise WorkbenchError(f"min score must be a finite number, not {text!r}")
    return value


__all__ = [
    "TextSlot",
    "VettingCallbacks",
    "badges_html",
    "build_layout",
    "header_html",
    "localizations_html",
    "parse_score",
]
