"""The vetting panel's view: its widgets and layout, and the HTML of a candidate's details.

Everything shown from the server (annotation values, comments) is escaped.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import ipywidgets as w
import pandas as pd

from workbench.errors import WorkbenchError

from ._common import PLACEHOLDER_PNG, format_cell, group_options
from .outbox import OutboxStrip
from .vetting_data import CandidateView

if TYPE_CHECKING:
    from .vetting import VettingPanel

CUTOUTS = ("new", "ref", "sub")
INSIDE_LEVEL = 0.9  # "inside a localization": within its 90% credible region
TABS = ("Annotations", "Classifications", "Comments", "Galaxies", "Localizations")


def header_html(view: CandidateView) -> str:
    """The candidate's id, position (degrees), score and when it passed."""
    row = view.row
    parts = [f"<b style='font-size:1.2em'>{html.escape(view.obj_id)}</b>"]
    fields = (
        ("ra", "RA"),
        ("dec", "Dec"),
        ("score", "score"),
        ("passed_at", "passed"),
        ("last_detected_at", "last detected"),
    )
    for key, label in fields:
        value = row.get(key)
        if value is not None and not pd.isna(value):
            parts.append(f"{label} {html.escape(format_cell(value))}")
    inside = [level for _, level in view.localizations if level <= INSIDE_LEVEL]
    if inside:
        parts.append(
            f"<span style='color:#c2185b'>inside a GW localization (level {min(inside):.2f})</span>"
        )
    return " · ".join(parts)


def annotations_html(frame: pd.DataFrame) -> str:
    """Each annotation's origin and its key=value data, escaped."""
    if frame is None or frame.empty:
        return "<i>no annotation</i>"
    rows = [
        f"<div><b>{html.escape(format_cell(r.get('origin')) or '?')}</b>: "
        f"{html.escape(format_cell(r.get('data')))}</div>"
        for r in frame.to_dict("records")
    ]
    return "".join(rows)


def localizations_html(levels: list[tuple[str, float]], notes: list[str]) -> str:
    """The candidate's 2D credible level in each cached localization (lower is more probable)."""
    lines = [
        f"<div>{html.escape(d)}: credible level {lv:.3f}"
        f"{' (inside the 90% region)' if lv <= INSIDE_LEVEL else ''}</div>"
        for d, lv in levels
    ]
    lines += [f"<div style='color:#b26b00'>{html.escape(n)}</div>" for n in notes]
    return "".join(lines) or "<i>not inside any cached localization</i>"


def build_layout(panel: VettingPanel, group_ids: tuple[int, ...], min_score: float | None) -> None:
    """Create the panel's widgets, wire their callbacks, and set ``panel.widget``."""
    groups = group_options(panel.wb)
    _filter_controls(panel, group_ids, min_score, groups)
    _candidate_display(panel)
    _action_controls(panel, group_ids, groups)
    cutout_boxes = [w.VBox([w.HTML(f"<center>{k}</center>"), panel.cutouts[k]]) for k in CUTOUTS]
    actions = [
        panel.save_groups,
        panel.save_button,
        panel.reject_button,
        panel.skip_button,
        panel.previous_button,
        panel.classify_button,
    ]
    panel.widget = w.VBox(
        [
            w.HBox([panel.group_filter, panel.min_score, panel.unvetted, panel.refresh_button]),
            panel.position,
            panel.header,
            w.HBox([*cutout_boxes, panel.plot_box]),
            panel.tabs,
            w.HBox(actions),
            w.HBox([panel.comment_text, panel.comment_button]),
            panel.classify_box,
            panel.message,
            panel.strip.widget,
            panel.errors.output,
        ]
    )


def _filter_controls(
    panel: VettingPanel,
    group_ids: tuple[int, ...],
    min_score: float | None,
    groups: list[tuple[str, int]],
) -> None:
    guard = panel.errors.guard
    options: list[tuple[str, tuple[int, ...]]] = [("all groups", ())]
    if len(group_ids) > 1:
        options.append((f"groups {', '.join(map(str, group_ids))}", group_ids))
    options += [(label, (gid,)) for label, gid in groups]
    known = {v for _, v in options}
    panel.group_filter = w.Dropdown(
        description="Passed", options=options, value=group_ids if group_ids in known else ()
    )
    panel.min_score = w.Text(
        description="Min score",
        placeholder="any",
        value="" if min_score is None else f"{min_score:g}",
        continuous_update=False,
    )
    panel.unvetted = w.Checkbox(description="unvetted only", value=True, indent=False)
    panel.refresh_button = w.Button(description="Refresh", icon="refresh")
    panel.refresh_button.on_click(guard(lambda _b: panel.refresh()))
    panel.group_filter.observe(
        guard(lambda c: panel.set_filters(group_ids=c["new"])), names="value"
    )
    panel.min_score.observe(
        guard(lambda c: panel.set_filters(min_score=parse_score(c["new"]))), names="value"
    )
    panel.unvetted.observe(
        guard(lambda c: panel.set_filters(unvetted_only=c["new"])), names="value"
    )


def _candidate_display(panel: VettingPanel) -> None:
    panel.position = w.HTML()
    panel.header = w.HTML()
    panel.cutouts = {
        k: w.Image(value=PLACEHOLDER_PNG, format="png", width=150, height=150) for k in CUTOUTS
    }
    panel.plot_box = w.Box(layout=w.Layout(min_height="300px"))
    panel.tab_html = {name: w.HTML() for name in TABS}
    panel.tabs = w.Tab(children=[panel.tab_html[n] for n in TABS], titles=TABS)


def _action_controls(
    panel: VettingPanel, group_ids: tuple[int, ...], groups: list[tuple[str, int]]
) -> None:
    guard = panel.errors.guard
    valid_ids = {gid for _, gid in groups}
    panel.save_groups = w.SelectMultiple(
        description="Save to",
        options=groups,
        rows=3,
        value=[g for g in group_ids if g in valid_ids],
    )
    buttons = {
        "save_button": ("Save", "check", "success", panel.save),
        "reject_button": ("Reject", "times", "danger", panel.reject),
        "skip_button": ("Skip", "forward", "", panel.skip),
        "previous_button": ("Back", "backward", "", panel.previous),
        "classify_button": ("Classify", "tag", "info", panel.toggle_classifier),
        "comment_button": ("Comment", "comment", "", lambda: panel.comment()),
    }
    for attr, (label, icon, style, action) in buttons.items():
        button = w.Button(description=label, icon=icon, button_style=style)
        button.on_click(guard(lambda _b, act=action: act()))
        setattr(panel, attr, button)
    panel.comment_text = w.Textarea(placeholder="a comment on this candidate", rows=2)
    panel.classify_box = w.VBox(layout=w.Layout(display="none"))
    panel.strip = OutboxStrip(panel.wb, panel.errors)


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
