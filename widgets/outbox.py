"""The outbox in a notebook: what is pending, sent or refused, and what to do about it.

:class:`OutboxPanel` lists the actions by status, with Push, Retry, Edit (a refused
action's payload, as JSON) and Drop. :class:`OutboxStrip` is the one-line summary with a
Push button that the vetting and classification panels carry.
"""

from __future__ import annotations

import html
import json
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import pandas as pd

from workbench.errors import OutboxError

from ._common import (
    STATUS_COLOURS,
    Panel,
    format_cell,
    json_value,
    status_badges,
)

FILTERS = ("all", "pending", "unknown", "rejected", "sent", "dropped")
RETRYABLE = ("pending", "sending", "unknown")
EDITABLE = ("rejected", "failed", "pending")


def describe_action(
    row: dict[str, Any] | pd.Series, group_names: dict[int, str] | None = None
) -> str:
    """One line saying what an outbox action does, e.g. ``classify ZTF21aaqjmps as Ia``;
    groups by name when ``group_names`` ({id: name}) knows them."""
    kind = row["kind"]
    p = json_value(row["payload"]) or {}
    obj = p.get("obj_id", "?")
    if kind == "classification":
        prob = p.get("probability")
        suffix = f" (p={prob:g})" if isinstance(prob, int | float) else ""
        return f"classify {obj} as {p.get('classification')}{suffix}"
    if kind == "classification_delete":
        return f"delete classification #{p.get('classification_id')}"
    if kind == "classification_edit":
        return f"edit classification #{p.get('classification_id')}: {format_cell(p.get('changes'))}"
    if kind in ("save", "unsave"):
        names = group_names or {}
        groups = ", ".join(names.get(int(g), str(g)) for g in p.get("group_ids", []))
        return f"{kind} {obj} {'to' if kind == 'save' else 'from'} group(s) {groups}"
    if kind == "reject":
        return f"reject candidate {obj}"
    if kind == "unreject":
        return f"take candidate {obj} off the rejected list"
    if kind == "comment":
        text = str(p.get("text", ""))
        short = text if len(text) <= 40 else text[:37] + "..."
        return f"comment on {p.get('resource_id')}: {short!r}"
    if kind == "spectrum":
        return f"upload a spectrum of {obj}"
    return f"{kind} {format_cell(p)}"


def outbox_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Actions per status."""
    if frame is None or frame.empty:
        return {}
    return {str(k): int(v) for k, v in frame["status"].value_counts().items()}


@dataclass
class OutboxState:
    """What the outbox panel shows: a status filter and the selected action's id."""

    status: str = "all"
    selected: int | None = None
    editing: bool = False


def last_sent(frame: pd.DataFrame) -> pd.Timestamp | None:
    """When the newest sent action was sent (its ``updated_at``, UTC), or None."""
    if frame is None or frame.empty or "updated_at" not in frame:
        return None
    sent = frame[frame["status"] == "sent"]
    if sent.empty:
        return None
    stamp = pd.to_datetime(sent["updated_at"]).max()
    return None if pd.isna(stamp) else pd.Timestamp(stamp)


class SharedOutbox:
    """ONE outbox summary per workbench, shown by every panel's strip.

    Each strip used to count on its own, at its own moment, so two strips on screen could
    disagree ("sent 7" next to "sent 8"). Now any refresh reads the outbox once and
    redraws every strip of the same workbench with the same counts and send time.
    Get it with :func:`shared_outbox`.
    """

    def __init__(self, wb: Any) -> None:
        self.wb = wb
        self.counts: dict[str, int] = {}
        self.frame = pd.DataFrame()  # the outbox as last read
        self.last_sent: pd.Timestamp | None = None
        self.html = status_badges({})
        self._strips: weakref.WeakSet[OutboxStrip] = weakref.WeakSet()
        self._lock = threading.Lock()

    def attach(self, strip: OutboxStrip) -> None:
        self._strips.add(strip)
        strip.badges.value = self.html

    def refresh(self) -> dict[str, int]:
        """Re-read the outbox from the cache and redraw every strip; the counts."""
        frame = self.wb.outbox.list()
        with self._lock:  # a poll thread and a click may refresh at once
            self.frame = frame
            self.counts = outbox_counts(frame)
            self.last_sent = last_sent(frame)
            when = (
                f" · last sent {self.last_sent:%H:%M:%S} UTC" if self.last_sent is not None else ""
            )
            self.html = status_badges(self.counts) + f"<small>{when}</small>"
            for strip in list(self._strips):
                strip.badges.value = self.html
            return dict(self.counts)


def shared_outbox(wb: Any) -> SharedOutbox:
    """The workbench's one :class:`SharedOutbox` (created on first use)."""
    shared = getattr(wb, "_shared_outbox", None)
    if shared is None:
        shared = SharedOutbox(wb)
        wb._shared_outbox = shared
    return shared


class OutboxStrip:
    """One line: the outbox counts by status (shared by every strip of the workbench),
    the last send time, and a Push button."""

    def __init__(self, wb: Any, errors: Any, on_push: Any = None) -> None:
        self.wb = wb
        self.badges = w.HTML()
        self.push_button = w.Button(
            description="Push", icon="upload", tooltip="Send queued actions"
        )
        self.push_button.layout.width = "90px"
        self._on_push = on_push
        self.push_button.on_click(errors.guard(lambda _b: self.push()))
        self.widget = w.HBox([w.HTML("<b>Outbox:</b>"), self.badges, self.push_button])
        self.widget.add_class("wb-outbox-strip")
        self.shared = shared_outbox(wb)
        self.shared.attach(self)
        self.refresh()

    def refresh(self) -> dict[str, int]:
        """Re-read the outbox counts from the cache (every strip of the workbench follows)."""
        return self.shared.refresh()

    def push(self) -> Any:
        """Push every queued action (refused offline with a message saying how to connect)."""
        try:
            report = self.wb.push()
        finally:
            self.refresh()
        if self._on_push is not None:
            self._on_push(report)
        return report


class OutboxPanel(Panel):
    """The user's queued and past actions, with Push, Retry, Edit and Drop."""

    def __init__(self, wb: Any) -> None:
        super().__init__(wb)
        self.state = OutboxState()
        self._frame = pd.DataFrame()
        groups = wb.groups()
        self._group_names = (
            {int(i): str(n) for i, n in zip(groups["id"], groups["name"], strict=True)}
            if not groups.empty
            else {}
        )
        self._build()
        self.refresh()

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        guard = self.errors.guard
        self.badges = w.HTML()
        self.status_filter = w.ToggleButtons(options=FILTERS, value="all")
        self.status_filter.style.button_width = "80px"
        self.actions = w.Select(options=[], rows=10, layout=w.Layout(width="100%"))
        self.detail = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.push_button = w.Button(description="Push", icon="upload", button_style="primary")
        self.retry_button = w.Button(description="Retry", icon="repeat")
        self.edit_button = w.Button(description="Edit", icon="pencil")
        self.drop_button = w.Button(description="Drop", icon="trash", button_style="danger")
        self.editor = w.Textarea(layout=w.Layout(width="100%", height="8em"))
        self.apply_button = w.Button(description="Apply edit", button_style="warning")
        self.cancel_button = w.Button(description="Cancel")
        self.edit_box = w.VBox(
            [self.editor, w.HBox([self.apply_button, self.cancel_button])],
            layout=w.Layout(display="none"),
        )
        self.status_filter.observe(guard(self._on_filter), names="value")
        self.actions.observe(guard(self._on_select), names="value")
        self.refresh_button.on_click(guard(lambda _b: self.refresh()))
        self.push_button.on_click(guard(lambda _b: self.push()))
        self.retry_button.on_click(guard(lambda _b: self.retry()))
        self.edit_button.on_click(guard(lambda _b: self.start_edit()))
        self.apply_button.on_click(guard(lambda _b: self.apply_edit()))
        self.cancel_button.on_click(guard(lambda _b: self.cancel_edit()))
        self.drop_button.on_click(guard(lambda _b: self.drop()))
        self.widget = w.VBox(
            [
                w.HBox([w.HTML("<b>Outbox</b>"), self.badges]),
                self.status_filter,
                self.actions,
                self.detail,
                w.HBox(
                    [
                        self.push_button,
                        self.retry_button,
                        self.edit_button,
                        self.drop_button,
                        self.refresh_button,
                    ]
                ),
                self.edit_box,
                self.message,
                self.errors.output,
            ]
        )

    # -- reading -----------------------------------------------------------------------------
    def refresh(self) -> pd.DataFrame:
        """Re-read the outbox from the cache; returns the rows shown."""
        shared = shared_outbox(self.wb)
        shared.refresh()  # one read: this panel and every strip show the same counts
        frame = shared.frame
        self.badges.value = shared.html
        if self.state.status != "all" and not frame.empty:
            wanted = {self.state.status}
            if self.state.status == "pending":
                wanted |= {"sending"}
            if self.state.status == "rejected":
                wanted |= {"failed"}
            frame = frame[frame["status"].isin(wanted)]
        if not frame.empty:
            frame = frame.sort_values("id", ascending=False)
        self._frame = frame.reset_index(drop=True)
        options = [(self._label(row), int(row["id"])) for _, row in self._frame.iterrows()]
        keep = self.state.selected if self.state.selected in {v for _, v in options} else None
        self.actions.options = options
        self.actions.value = keep
        self.state.selected = keep
        self._show_detail()
        return self._frame

    def _label(self, row: pd.Series) -> str:
        tries = int(row.get("attempts") or 0)
        attempts = f", {tries} attempt{'s' if tries != 1 else ''}" if tries else ""
        what = describe_action(row, self._group_names)
        return f"#{int(row['id'])} [{row['status']}{attempts}] {what}"

    def selected_action(self) -> dict[str, Any]:
        """The selected action as a dict; refused when nothing is selected."""
        if self.state.selected is None:
            raise OutboxError("select an action in the list first")
        rows = self._frame[self._frame["id"] == self.state.selected]
        if rows.empty:
            raise OutboxError(f"action #{self.state.selected} is no longer listed; refresh")
        return rows.iloc[0].to_dict()

    def _on_filter(self, change: dict[str, Any]) -> None:
        self.state.status = change["new"]
        self.refresh()

    def _on_select(self, change: dict[str, Any]) -> None:
        self.state.selected = change["new"]
        self.cancel_edit()
        self._show_detail()

    def _show_detail(self) -> None:
        if self.state.selected is None:
            self.detail.value = ""
            self._enable(None)
            return
        row = self.selected_action()
        colour = STATUS_COLOURS.get(row["status"], "#000")
        error = row.get("last_error")
        error_html = (
            f"<div style='color:#c62828'>server said: {html.escape(str(error))}</div>"
            if isinstance(error, str) and error
            else ""
        )
        payload = json.dumps(json_value(row["payload"]), sort_keys=True)
        self.detail.value = (
            f"<span style='color:{colour}'><b>{html.escape(str(row['status']))}</b></span> "
            f"{html.escape(describe_action(row, self._group_names))}<br>"
            f"<code>{html.escape(payload)}</code>"
            f"{error_html}"
        )
        self._enable(str(row["status"]))

    def _enable(self, status: str | None) -> None:
        self.retry_button.disabled = status not in (*RETRYABLE, "rejected", "failed")
        self.edit_button.disabled = status not in EDITABLE
        self.drop_button.disabled = status in (None, "sent", "dropped")

    # -- actions -----------------------------------------------------------------------------
    def push(self) -> Any:
        """Push every queued action; the report is shown under the buttons."""
        try:
            report = self.wb.push()
        finally:
            self.refresh()
        self.say(str(report).splitlines()[0])
        return report

    def retry(self) -> None:
        """Send the selected action again (a refused one goes back to pending first)."""
        row = self.selected_action()
        action_id = int(row["id"])
        if row["status"] in ("rejected", "failed"):
            self.wb.outbox.edit(action_id)
        if self.wb.client is None:
            self.refresh()
            self.say(f"#{action_id} is queued; it is sent at the next push when online")
            return
        report = self.wb.outbox.push(only=[action_id])
        self.refresh()
        self.say(str(report).splitlines()[0])

    def start_edit(self) -> None:
        """Open the selected action's payload as JSON for editing."""
        row = self.selected_action()
        if row["status"] not in EDITABLE:
            raise OutboxError(
                f"action #{int(row['id'])} is {row['status']}; only rejected or pending "
                "actions can be edited"
            )
        self.editor.value = json.dumps(json_value(row["payload"]), indent=2, sort_keys=True)
        self.state.editing = True
        self.edit_box.layout.display = ""

    def cancel_edit(self) -> None:
        self.state.editing = False
        self.edit_box.layout.display = "none"

    def apply_edit(self) -> None:
        """Save the edited payload; the action goes back to pending (and is pushed if online)."""
        row = self.selected_action()
        old = json_value(row["payload"]) or {}
        new = parse_payload(self.editor.value)
        removed = sorted(set(old) - set(new))
        if removed:
            raise OutboxError(
                f"keys cannot be removed from an action ({', '.join(removed)}); "
                "drop the action and make a new one instead"
            )
        changes = {k: v for k, v in new.items() if old.get(k) != v}
        action_id = int(row["id"])
        self.wb.outbox.edit(action_id, **changes)
        self.cancel_edit()
        if self.wb.client is not None:
            self.wb.outbox.push(only=[action_id])
        self.refresh()
        self.say(
            f"#{action_id} edited ({', '.join(changes) or 'no change'}); now {self._status_of(action_id)}"
        )

    def drop(self) -> None:
        """Give up the selected action (its local effect is undone)."""
        row = self.selected_action()
        self.wb.outbox.drop(int(row["id"]))
        self.refresh()
        self.say(f"#{int(row['id'])} dropped")

    def _status_of(self, action_id: int) -> str:
        frame = self.wb.outbox.list()
        match = frame[frame["id"] == action_id]
        return str(match.iloc[0]["status"]) if not match.empty else "gone"


def parse_payload(text: str) -> dict[str, Any]:
    """The edited payload: a JSON object, or an :class:`OutboxError` saying where it broke."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutboxError(
            f"the edited payload is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); fix it or press Cancel"
        ) from exc
    if not isinstance(value, dict):
        raise OutboxError("the edited payload must be a JSON object ({...})")
    return value
