"""The vetting panel's decisions: Save/Reject/Skip written behind the display, undo, notes.

:class:`DecisionDesk` takes a decision on the candidate shown, shows the next one first
and writes the decision after (one worker thread, in order, when ``background``); it takes
decisions back (undo, or a changed decision) through the outbox, and posts comments and
classifications. Each is recorded in the panel's scan journal. The session's standing
decisions (``decided``, ``undo_stack``) stay on the panel, whose display shows them.
Imports point one way: the panel (:mod:`widgets.vetting`) imports this module, never the
reverse (not even for type hints: ``tests/test_import_cycles.py`` counts those too), so
the panel is described by :class:`DecidingPanel`.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import ipywidgets as w
import pandas as pd

from workbench.errors import WorkbenchError

from ._common import ErrorArea, as_id_list
from .outbox import OutboxStrip
from .scan_report import ScanJournal
from .vetting_data import CandidateLoader, CandidateView
from .vetting_state import FINAL_DECISIONS, Decision, VettingState, as_ints

VERBS = {"save": "saved", "reject": "rejected", "skip": "skipped"}


class DecidingPanel(Protocol):
    """What decisions act on (the vetting panel provides all of it)."""

    wb: Any
    state: VettingState
    journal: ScanJournal
    decided: dict[str, Decision]
    undo_stack: list[Decision]
    errors: ErrorArea
    strip: OutboxStrip
    loader: CandidateLoader
    view: CandidateView | None
    comment_text: w.Textarea
    class_hint: w.HTML
    key_mode: str | None
    _lock: Any  # threading.RLock: the writer thread and the kernel's keys change the queue
    _touched: set[str]

    def say(self, text: str) -> None: ...
    def _need_current(self) -> str: ...
    def _show_current(self, start: float | None = None) -> None: ...
    def _prepare_ahead(self) -> None: ...
    def _show_report(self) -> None: ...
    def _group_names(self, group_ids: Any) -> str: ...
    def _fill_tabs(self, view: CandidateView, names: tuple[str, ...] | None = None) -> None: ...


class DecisionDesk:
    """The decisions of one vetting panel (see :meth:`decide`, :meth:`undo`)."""

    def __init__(self, panel: DecidingPanel, *, background: bool) -> None:
        self.panel = panel
        # with ``background``, decisions are written by one worker, in order, after the
        # next candidate is on screen (see flush())
        self.writer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="vetting-write")
            if background
            else None
        )
        self.pending: list[Future[None]] = []

    def close(self) -> None:
        """Write what is pending, then stop the writer thread."""
        self.flush()
        if self.writer is not None:
            self.writer.shutdown(wait=True)

    def decide(self, decision: str, groups: list[int] | None) -> str | None:
        """Take ``decision`` ("save", "reject" or "skip"; ``groups``: where a save saves)
        on the candidate shown, show the next one, then write the decision; returns the
        candidate now shown."""
        p = self.panel
        start = time.perf_counter()
        if p.state.current in p.decided:
            self.flush()  # changing a decision: the old one's outbox id must be known
        with p._lock:
            obj_id = p.state.current
            if obj_id is None:
                raise WorkbenchError(
                    "the queue is done: no candidate to decide on (Refresh after a sync)"
                )
            prior = p.decided.get(obj_id)
            same = prior is not None and prior.decision == decision
            if same and decision != "skip" and tuple(groups or ()) == prior.group_ids:
                if p.state.revisiting:
                    p.state.forward()
                p._show_current(start)
                p.say(f"{obj_id} was already {VERBS[decision]}")
                return p.state.current
            if prior is not None and prior.decision in FINAL_DECISIONS:
                self.take_back(prior)  # changing a decision: the old one is undone first
            revisiting = p.state.revisiting
            if not revisiting:
                p.state.remember_shown(obj_id)
            p.state.decide(obj_id, decision)
            if revisiting:
                p.state.forward()
            p._show_current(start)  # show first: the decision is written after
            record = Decision(obj_id, decision, tuple(groups or ()))
            p.decided[obj_id] = record
            p.undo_stack.append(record)
            p._touched.add(obj_id)
            names = p._group_names(groups or ())
            entry = None
            if decision != "skip":
                entry = p.journal.add(decision, obj_id, names if groups else "")
        note = f"{obj_id} {VERBS[decision]}{f' to {names}' if groups else ''}"
        note += " (changed)" if prior else ""
        if self.writer is None:
            self._record(record, entry, note)
        else:  # write behind: the kernel is free for the next key at once
            self.pending.append(self.writer.submit(self._record, record, entry, note))
        p._prepare_ahead()
        return p.state.current

    def _record(self, record: Decision, entry: dict[str, Any] | None, note: str) -> None:
        """Write a decision to the cache and the outbox (pushed at once when online). If
        it cannot be written, the candidate comes back and the error is shown."""
        p = self.panel
        try:
            record.action_id = p.wb.vet(
                record.obj_id, record.decision, group_ids=list(record.group_ids) or None
            )
        except WorkbenchError as exc:
            with p._lock:
                if record in p.undo_stack:
                    p.undo_stack.remove(record)
                if p.decided.get(record.obj_id) is record:
                    p.decided.pop(record.obj_id)
                if entry is not None and entry in p.journal.entries:
                    p.journal.entries.remove(entry)
                p.state.restore(record.obj_id)  # it comes back: nothing was recorded
                p._show_current()
            if self.writer is None:
                raise
            p.errors.show(f"{type(exc).__name__}: {exc}")
            return
        if entry is not None:
            entry["outbox_id"] = record.action_id
        p.say(note)
        if record.decision != "skip":  # a skip is local only: the outbox did not change
            p.strip.refresh()
            p._show_report()

    def flush(self) -> None:
        """Wait until every decision taken so far is written to the cache and the outbox
        (decisions are written behind the display when ``background``)."""
        pending, self.pending = self.pending, []
        for future in pending:
            future.result()

    def undo(self) -> str | None:
        """Undo the last decision of this session: a queued save or reject is dropped from
        the outbox, a sent one is reversed (unsave, or the listing's DELETE) through the
        outbox; the candidate comes back as the current one."""
        p = self.panel
        self.flush()  # the decision's outbox id must be known
        with p._lock:
            if not p.undo_stack:
                raise WorkbenchError("nothing to undo: no decision in this session yet")
            record = p.undo_stack[-1]
            inverse = self.take_back(record)
            p.state.restore(record.obj_id)
            p._show_current()
            p._prepare_ahead()
        how = (
            ""
            if record.decision == "skip"
            else (" (dropped from the outbox)" if inverse is None else f" (outbox #{inverse})")
        )
        p.say(f"{record.obj_id}: {record.decision} undone{how}")
        p.strip.refresh()
        p._show_report()
        return record.obj_id

    def take_back(self, record: Decision) -> int | None:
        """Reverse one decision in the cache/outbox and forget it (no display change);
        returns the inverse action's outbox id (None: dropped while queued, or a skip)."""
        p = self.panel
        inverse = None
        if record.decision in FINAL_DECISIONS:
            inverse = p.wb.undo_vet(record.obj_id, record.action_id)
            p.journal.mark_undone(record.action_id, record.obj_id, record.decision)
            p.journal.add(f"undo {record.decision}", record.obj_id, "", inverse)
        if record in p.undo_stack:
            p.undo_stack.remove(record)
        p.decided.pop(record.obj_id, None)
        p.state.decisions.pop(record.obj_id, None)
        p._touched.add(record.obj_id)
        return inverse

    def comment(self, text: str | None = None) -> int:
        """Comment on the current candidate (the text box's text by default); returns the
        comment's outbox id."""
        p = self.panel
        obj_id = p._need_current()
        text = p.comment_text.value if text is None else text
        action_id = p.wb.comment(obj_id, text)
        p.comment_text.value = ""
        p.key_mode = None
        p.class_hint.value = ""
        p._touched.add(obj_id)
        p.journal.add("comment", obj_id, text, action_id)
        if p.view is not None:
            p.loader.reload_notes(p.view)
            p._fill_tabs(p.view)
        p.strip.refresh()
        p._show_report()
        p.say(f"comment on {obj_id} queued (outbox #{action_id})")
        return int(action_id)

    def classified(self, action_id: int, obj_id: str, name: str) -> None:
        """The classification panel posted ``name`` for ``obj_id`` (outbox ``action_id``)."""
        p = self.panel
        p._touched.add(obj_id)
        p.journal.add("classify", obj_id, name, action_id)
        if p.view is not None and p.view.obj_id == obj_id:
            p.loader.reload_notes(p.view)
            p._fill_tabs(p.view)
        p.strip.refresh()
        p._show_report()


def initial_save_groups(wb: Any, candidates: pd.DataFrame, ids: tuple[int, ...]) -> tuple[int, ...]:
    """Where Save saves: ``ids`` (the panel's ``group_ids``) if given, else the groups
    remembered from the last session, else the group whose filters passed the most of the
    cached ``candidates`` (so the first Save works with "all groups")."""
    if ids:
        return ids
    remembered = wb.settings().get("scan_group_ids") if hasattr(wb, "settings") else None
    if remembered:
        return tuple(as_id_list(remembered))
    if candidates.empty or "passing_group_ids" not in candidates:
        return ()
    counts = pd.Series([g for v in candidates["passing_group_ids"] for g in as_ints(v)])
    groups = wb.groups()
    if counts.empty or groups.empty:
        return ()
    valid = set(groups["id"].astype(int))
    if "single_user_group" in groups:
        single = groups["single_user_group"].fillna(False).astype(bool)
        valid -= set(groups.loc[single, "id"].astype(int))
    ranked = [int(g) for g in counts.value_counts().index if int(g) in valid]
    return tuple(ranked[:1])
