"""Vet the candidate queue best-first: look, then Save, Reject or Skip, a second each.

Each decision goes to the cache and the outbox through the facade (``wb.vet``), so the
panel works offline and the outbox strip shows what is waiting. The next candidate's data
and light curve are prepared while the current one is looked at, so a key press shows the
next at once: the decision is written after the next candidate is on screen.

Keys (after a click on the candidate area; see :mod:`widgets.keys`): ``s`` save, ``r``
reject, ``n``/→ skip, ``b``/← back, ``u`` undo, ``c`` classify, ``m`` comment, ``?`` keys.
Back reaches candidates that left the queue, with their decision shown and changeable;
undo takes a decision back through the outbox (dropped while queued, inverted once sent)
and the candidate returns. While online, a background poll brings new candidates and
drops those saved or rejected elsewhere, without moving the one on screen.

The panel is composed of parts, each holding a reference to it and none importing this
module: :mod:`widgets.vetting_decisions` (``panel.desk``: decisions, undo, comments),
:mod:`widgets.vetting_keys` (``panel.keys``) and :mod:`widgets.vetting_live`
(``panel.live``: the poll and the learned order); the panel's methods delegate to them.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pandas as pd

from workbench.errors import OutboxError, WorkbenchError
from workbench.plots.lightcurve import live_view_row

from ._common import Panel, as_id_list, html_table
from ._plots import LightCurvePane, stacked_curves
from .annotations_table import AnnotationsTable
from .classification import (
    CLASSIFICATION_COLUMNS,
    ClassificationPanel,
    taxonomy_names,
    with_taxonomy_names,
)
from .cutouts import cutouts_html
from .keys import KEY_ALIASES
from .scan_report import ScanJournal, report_csv
from .vetting_data import CandidateLoader, CandidateView, Prefetcher
from .vetting_decisions import VERBS, DecisionDesk, initial_save_groups
from .vetting_keys import KeyHandler
from .vetting_live import LivePoller, learn_order, learned_figures
from .vetting_stage import CandidateStage, Slide, json_safe
from .vetting_state import FINAL_DECISIONS, ORDERS, Decision, VettingFilters, VettingState
from .vetting_view import (
    TABS,
    badges_html,
    build_layout,
    data_link,
    header_html,
    localizations_html,
    parse_score,
    report_document,
    report_table_html,
)

# Tabs of a candidate shown by a key or click are filled this long (seconds) after it:
# a scanner pressing "n" again before then never pays for them.
DEFERRED_SECONDS = 0.12
LIGHTCURVE_WIDTH_PX = 640
POLL_RESOURCES = ("sources", "candidates", "photometry", "thumbnails")


def _deferring_loop() -> Any:
    """The kernel's running asyncio loop when the message being handled is a widget
    message (comm_msg) on the main thread; None otherwise (a cell, a thread, no kernel)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import asyncio

        from IPython import get_ipython

        shell = get_ipython()
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None
        header = (kernel.get_parent() or {}).get("header") or {}
        if header.get("msg_type") != "comm_msg":
            return None
        return asyncio.get_running_loop()
    except (ImportError, RuntimeError):
        return None


class VettingPanel(Panel):
    """The candidate queue of the cache, one candidate at a time.

    ``group_ids``: vet the candidates that passed these groups' filters, and save to them
    (the "Save to" choice is remembered beside the cache for the next session);
    ``min_score``: hide candidates scoring below it; ``prefetch``: how many candidates to
    prepare ahead, in a worker thread when ``background``; ``galaxy_radius_arcsec``: how far
    to look for catalog galaxies; ``poll_seconds``: how often (seconds) to look for new
    candidates while online (None: never; :meth:`poll_once` does one poll);
    ``order``: "score", "newest" or "learned".
    """

    def __init__(
        self,
        wb: Any,
        *,
        group_ids: list[int] | None = None,
        min_score: float | None = None,
        prefetch: int = 8,
        background: bool = True,
        galaxy_radius_arcsec: float = 60.0,
        poll_seconds: float | None = 60.0,
        poll_resources: tuple[str, ...] = POLL_RESOURCES,
        order: str = "score",
    ) -> None:
        super().__init__(wb)
        ids = tuple(as_id_list(group_ids))
        self.state = VettingState(VettingFilters(group_ids=ids, min_score=min_score))
        self.state.filters.check()
        self._lock = threading.RLock()  # clicks/keys and the poll thread change the queue
        self.profile: dict[str, Any] = wb.profile() if hasattr(wb, "profile") else {}
        self.journal = ScanJournal(by=self.profile.get("username") or "you")
        self.decided: dict[str, Decision] = {}  # this session's standing decision per candidate
        self.undo_stack: list[Decision] = []
        self._touched: set[str] = set()  # acted on here: a poll never drops them
        self.key_mode: str | None = None  # None, "classify" or "comment"
        self.keys = KeyHandler(self)
        self._drivers: dict[str, str] = {}
        self.new_count = 0
        self._taxonomy_names = taxonomy_names(wb.taxonomies())
        self.prefetch = max(0, int(prefetch))
        # About as wide as the three cutouts' row (3 x 220 px and gaps): below them in a
        # notebook of usual width, beside them where the panel is wide enough (the row wraps).
        self.lightcurve = LightCurvePane(width=LIGHTCURVE_WIDTH_PX, height=300)
        # A second figure stacked under the first: the stage draws the next candidate's
        # curve into it while the scanner looks, and a key swaps the two (no redraw then).
        self.lightcurve_back = LightCurvePane(width=LIGHTCURVE_WIDTH_PX, height=300)
        panes = (self.lightcurve, self.lightcurve_back)
        self.stage = CandidateStage(
            figure_ids=[pane.figure.id for pane in panes],
            view_source_ids=[pane.sources["view"].id for pane in panes],
        )
        self._slides: dict[str, tuple[tuple[Any, ...], Slide]] = {}
        self._done_curve = self.lightcurve.prepare(None)
        self.annotations_table = AnnotationsTable()
        self.loader = CandidateLoader(
            wb,
            galaxy_radius_arcsec=galaxy_radius_arcsec,
            make_plot=lambda phot, obj: self.lightcurve.prepare(phot, title=obj),
        )
        self.prefetcher = Prefetcher(self.loader, keep=self.prefetch + 4, background=background)
        self.prefetcher.on_ready = self._publish_stage  # the next slides, once prepared
        # decisions are written behind the display, by one worker when ``background``
        self.desk = DecisionDesk(self, background=background)
        self.view: CandidateView | None = None
        self.classifier: ClassificationPanel | None = None
        self.last_show_seconds = math.nan
        # counts candidates shown: a deferred tab fill for an earlier one is dropped
        self._shown_serial = 0
        self._stale_tabs: set[str] = set()  # tabs not yet filled for the candidate shown
        self._candidates = wb.candidates()
        save_ids = initial_save_groups(wb, self._candidates, ids)
        build_layout(
            self,
            ids,
            min_score,
            save_ids,
            annotations_widget=self.annotations_table.widget,
        )
        self.plot_box.children = (stacked_curves(panes),)
        self.tabs.observe(self._tab_opened, names="selected_index")
        # keys are caught in the browser by the stage (it moves on before the kernel hears)
        self.stage.on_key = self.errors.guard(self._stage_key)
        self.stage.on_state_wanted = self._publish_stage
        self.keys_event = self.stage
        if order not in ORDERS:
            raise WorkbenchError(f"order must be one of {ORDERS}, not {order!r}")
        self._requeue()
        if order != "score":
            self.order.value = order
        self.lightcurve.sync_bundle()  # the first candidate's curve, for the first view
        self._show_report()
        self.poll_seconds = poll_seconds
        self.poll_resources = tuple(poll_resources)
        self.live = LivePoller(self)
        if poll_seconds and getattr(wb, "client", None) is not None:
            self.start_polling(poll_seconds)

    def close(self) -> None:
        """Stop polling and preparing candidates, and close the panel's widgets."""
        self.stop_polling()
        self.desk.close()
        self.prefetcher.close()
        if self.classifier is not None:
            self.classifier.close()
        self.stage.close()
        self.lightcurve_back.close()
        super().close()

    # -- scan groups ---------------------------------------------------------------------
    def remember_groups(self, group_ids: Any) -> None:
        """Remember the chosen scan groups for the next session (beside the cache)."""
        if hasattr(self.wb, "remember"):
            self.wb.remember("scan_group_ids", as_id_list(group_ids))

    # -- queue -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the candidates from the cache (after a sync, say) and rebuild the queue."""
        with self._lock:
            self._candidates = self.wb.candidates()
            self.prefetcher.forget()
            self.loader.reset()
            self.new_count = 0
            self.live_note.value = ""
            self._requeue()

    def set_filters(
        self,
        *,
        group_ids: list[int] | tuple[int, ...] | None = None,
        min_score: float | str | None = "keep",
        unvetted_only: bool | None = None,
    ) -> None:
        """Change the queue's filters (``min_score=None`` removes the score cut)."""
        with self._lock:
            f = self.state.filters
            if group_ids is not None:
                f.group_ids = tuple(as_id_list(group_ids))
            if min_score != "keep":
                f.min_score = None if min_score is None else float(min_score)
            if unvetted_only is not None:
                f.unvetted_only = bool(unvetted_only)
            self._requeue()

    def set_order(self, order: str) -> None:
        """Order the queue by "score", "newest" (latest passed first) or "learned"
        (``workbench.learning``'s p_wanted; if it is missing or not ready, score order
        stays and the reason is shown)."""
        if order not in ORDERS:
            raise WorkbenchError(f"order must be one of {ORDERS}, not {order!r}")
        note = ""
        with self._lock:
            if order == "learned":
                ready, note = learn_order(self)
                if not ready:
                    order = "score"
            self.state.order = order
            if self.order.value != order:
                self.order.value = order  # its observer calls back here with "score": harmless
            self._requeue()
        if note:
            self.say(note)

    def _requeue(self) -> None:
        self.state.load(self._candidates)
        self._show_current()
        self._prepare_ahead()

    def next(self) -> str | None:
        """Go to the next candidate without deciding (see :meth:`skip` to record a skip)."""
        start = time.perf_counter()
        with self._lock:
            if self.state.revisiting:
                self.state.forward()
            else:
                self.state.remember_shown(self.state.current)
                self.state.go(+1)
            self._show_current(start)
            self._prepare_ahead()
            return self.state.current

    def previous(self) -> str | None:
        """Go back to the candidate shown before (also one that left the queue), with its
        decision shown; deciding again changes it."""
        start = time.perf_counter()
        with self._lock:
            before = self.state.current
            self.state.back()
            self._show_current(start)
        if self.state.current == before:
            self.say("nothing before this candidate in this session")
        return self.state.current

    # -- decisions ---------------------------------------------------------------------------
    def save(self) -> str | None:
        """Save the current candidate to the chosen groups; returns the next candidate."""
        groups = as_id_list(self.save_groups.value)
        if not groups:
            raise OutboxError("choose at least one group to save to (the 'Save to' list)")
        return self.desk.decide("save", groups)

    def reject(self) -> str | None:
        """Reject the current candidate; returns the next candidate."""
        return self.desk.decide("reject", None)

    def skip(self) -> str | None:
        """Skip the current candidate for now (it moves to the end of the queue). While
        going Back, moves forward instead."""
        if self.state.revisiting:
            return self.next()
        return self.desk.decide("skip", None)

    def flush(self) -> None:
        """Wait until every decision taken so far is written to the cache and the outbox
        (decisions are written behind the display when ``background``)."""
        self.desk.flush()

    def undo(self) -> str | None:
        """Undo the last decision of this session (see :meth:`DecisionDesk.undo`); the
        candidate comes back as the current one."""
        return self.desk.undo()

    def comment(self, text: str | None = None) -> int:
        """Comment on the current candidate (the text box's text by default)."""
        return self.desk.comment(text)

    def toggle_classifier(self, show: bool | None = None) -> ClassificationPanel:
        """Show (or hide) the classification panel for the current candidate."""
        obj_id = self._need_current()
        if self.classifier is None:
            self.classifier = ClassificationPanel(self.wb, obj_id)
            self.classifier.on_post = self.desk.classified
            self.classify_box.children = (self.classifier.widget,)
            self.classify_box.layout.display = ""
        else:
            hidden = self.classify_box.layout.display == "none"
            visible = hidden if show is None else show
            self.classify_box.layout.display = "" if visible else "none"
            self.classifier.set_object(obj_id)
        return self.classifier

    def _need_current(self) -> str:
        if self.state.current is None:
            raise WorkbenchError("the queue is done: no current candidate")
        return self.state.current

    # -- keys (widgets.vetting_keys) ---------------------------------------------------------
    def handle_key(self, key: str) -> Any:
        """Act on one key (a DOM ``KeyboardEvent.key``): see
        :meth:`widgets.vetting_keys.KeyHandler.handle_key`."""
        return self.keys.handle_key(key)

    def toggle_keys_help(self) -> None:
        """Show or hide the list of keys."""
        self.keys.toggle_help()

    @property
    def typed(self) -> str:
        """The classify mode's type-ahead text."""
        return self.keys.typed

    @property
    def _class_matches(self) -> list[str]:
        return self.keys.class_matches

    # -- live poll (widgets.vetting_live) ----------------------------------------------------
    def poll_once(self) -> list[str]:
        """Look for changes on the server now (see :meth:`LivePoller.poll_once`); returns
        the new candidates' ids."""
        return self.live.poll_once()

    def refresh_learned(self, *, min_new: int = 20) -> bool:
        """With the learned order, refit the groups' models once ``min_new`` decisions
        arrived since they were trained and re-rank what is still to come (see
        :meth:`LivePoller.refresh_learned`); True when a model was refitted."""
        return self.live.refresh_learned(min_new=min_new)

    def start_polling(self, seconds: float) -> None:
        """Poll every ``seconds`` in a background thread until :meth:`stop_polling`."""
        self.live.start(seconds)

    def stop_polling(self) -> None:
        """Stop the background poll (if any)."""
        live = getattr(self, "live", None)  # close() may follow a failed __init__
        if live is not None:
            live.stop()

    @property
    def _poller(self) -> threading.Thread | None:
        return self.live.thread

    # -- the scan report ---------------------------------------------------------------------
    def report(self) -> pd.DataFrame:
        """This session's saves, rejections, classifications and comments (and undos): who,
        when (UTC), what, the outbox id and its status now."""
        self.flush()
        return self.journal.frame(self.strip.shared.frame)

    def report_csv(self) -> str:
        """The scan report as CSV text."""
        return report_csv(self.report())

    def report_html(self) -> str:
        """The scan report as a standalone HTML page."""
        return report_document(self.report(), f"Scan report of {self.journal.by}")

    def _show_report(self) -> None:
        # no flush here: the decision writer itself calls this
        frame = self.journal.frame(self.strip.shared.frame)
        self.tab_html["Scan report"].value = report_table_html(frame)
        if frame.empty:
            self.report_links.value = ""
            return
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M")
        page = report_document(frame, f"Scan report of {self.journal.by}")
        self.report_links.value = (
            f"Download: {data_link(report_csv(frame), f'scan-{stamp}.csv', 'text/csv', 'CSV')}"
            f" · {data_link(page, f'scan-{stamp}.html', 'text/html', 'HTML')}"
        )

    # -- showing -----------------------------------------------------------------------------
    def _show_current(self, start: float | None = None) -> None:
        start = time.perf_counter() if start is None else start
        obj_id = self.state.current
        shown = self.view
        self.position.value = self._position_text()
        if obj_id is None:
            self.view = None
            self.prefetcher.pinned = None
            self.header.value = "<b>Queue done.</b> Refresh after a sync, or relax the filters."
            self.badges.value = ""
            self.cutouts_html.value = ""
            self.lightcurve.show(self._done_curve, quiet=True)
            self._publish_stage()
            self.last_show_seconds = time.perf_counter() - start
            return
        view = self.prefetcher.get(obj_id, self.state.row(obj_id))
        self.view = view
        self.prefetcher.pinned = obj_id
        self._shown_serial += 1
        current = self._slide(view, self._learned(obj_id), self._decision_note(obj_id))
        self.header.value, self.badges.value, self.cutouts_html.value = current.parts
        # the stage sends the row and the legend to the browser: the kernel's copy only here
        self.lightcurve.show(view.plot, quiet=True)
        # The tabs below the candidate area: all of them now when a cell asked; when a key
        # or click asked, only the open one and after the candidate is drawn (_later).
        loop = _deferring_loop()
        if loop is None:
            self._fill_tabs(view)
        else:
            self._stale_tabs = {name for name in TABS if name != "Scan report"}
            self._later(loop, self._fill_tabs_if_current, self._shown_serial)
        if self.classifier is not None and self.classify_box.layout.display != "none":
            self.classifier.set_object(obj_id)
        if self.key_mode == "classify":
            self.key_mode, self.class_hint.value = None, ""
        self._publish_stage(current)
        self.last_show_seconds = time.perf_counter() - start
        if shown is not None and shown.obj_id != obj_id and shown.obj_id not in self.state.rows:
            self.prefetcher.forget(shown.obj_id)  # decided and gone from the queue

    # -- the stage (widgets.vetting_stage): the candidate drawn in the browser ------------------
    def _stage_key(self, key: str, obj_id: str | None, _seq: int = 0) -> Any:
        """A key pressed in the browser while ``obj_id`` was on screen (None: typed right
        after a key the browser could not foresee, such as undo; it acts in order). A key
        acting on the candidate shown is applied only if that is still the current one
        here: a decision never lands on an object the scanner did not see."""
        name = KEY_ALIASES.get(key, key)
        current = self.state.current or ""
        acts_on_shown = self.key_mode is None and name in ("s", "r", "n", "c", "m")
        if acts_on_shown and obj_id is not None and obj_id != current:
            self.say(
                f"'{key}' was pressed on {obj_id or 'the end of the queue'} but the panel had "
                f"moved to {current or 'the end of the queue'}: nothing was done; press it again"
            )
            return None
        return self.handle_key(key)

    def _learned(self, obj_id: str) -> tuple[float, str] | None:
        """With the learned order: the candidate's p_wanted and what drove it."""
        if self.state.order == "learned" and obj_id in self.state.learned:
            return self.state.learned[obj_id], self._drivers.get(obj_id, "")
        return None

    def _slide(
        self, view: CandidateView, learned: tuple[float, str] | None = None, note: str = ""
    ) -> Slide:
        """The candidate as the stage draws it (kept per candidate until what it shows
        changes: the cutouts' base64 is built once)."""
        key = (id(view), id(view.plot), learned, note)
        known = self._slides.get(view.obj_id)
        if known is not None and known[0] == key:
            return known[1]
        header = header_html(view, learned=learned) + note
        badges = badges_html(view, self._taxonomy_names)
        cutouts = cutouts_html(view.thumbnails)
        slide = Slide(
            view.obj_id,
            f"<div class='wb-stage-header'>{header}</div>{badges}{cutouts}",
            view.plot.legend_html,
            json_safe(live_view_row(view.plot.columns)),
            f"{view.obj_id}:{hash(key)}",
            parts=(header, badges, cutouts),
        )
        if len(self._slides) > 4 * (self.prefetch + 4):
            self._slides.pop(next(iter(self._slides)))
        self._slides[view.obj_id] = (key, slide)
        return slide

    def _done_slide(self) -> Slide:
        columns = self._done_curve.columns
        return Slide("", self.header.value, "", json_safe(live_view_row(columns)), "done")

    def _publish_stage(self, current: Slide | None = None) -> None:
        """Send the stage what it shows now and what each advance shows next (the
        prepared candidates only: a slide is never waited for)."""
        if self.stage.handling:
            return  # published once the key is handled, with its ack
        with self._lock:
            obj_id = self.state.current
            view = self.view
            if obj_id is None or view is None:
                self.stage.publish(self._done_slide(), [])
                return
            if current is None:
                current = self._slide(view, self._learned(obj_id), self._decision_note(obj_id))
            chain: list[Slide] = []
            record = self.decided.get(obj_id)
            if not self.state.revisiting and (
                record is None or record.decision not in FINAL_DECISIONS
            ):
                for upcoming in self.state.upcoming(self.prefetch):
                    ahead = self.prefetcher.peek(upcoming)
                    if ahead is None:
                        break  # an advance past it waits for the kernel
                    chain.append(self._slide(ahead, self._learned(upcoming)))
            self.stage.publish(
                current,
                chain,
                mode=self.key_mode or "",
                can_save=bool(self.save_groups.value),
            )

    def _later(self, loop: Any, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the kernel's event loop ``DEFERRED_SECONDS`` from now: its
        widget updates reach the browser after the candidate's own, which are painted
        first, and a scanner who pressed the next key by then skips them."""

        def run() -> None:
            # not errors.guard: its success would clear an error another action showed
            try:
                fn(*args)
            except Exception as exc:
                self.errors.show(f"{type(exc).__name__}: {exc}")

        loop.call_later(DEFERRED_SECONDS, run)

    def _fill_tabs_if_current(self, serial: int) -> None:
        with self._lock:
            if serial == self._shown_serial and self.view is not None:
                # only the open tab: the others when they are opened (_tab_opened)
                index = self.tabs.selected_index
                self._fill_tabs(self.view, (TABS[index],) if index is not None else ())

    def _decision_note(self, obj_id: str) -> str:
        record = self.decided.get(obj_id)
        if not self.state.revisiting and record is None:
            return ""
        if record is None:
            return " · <i>seen before, no decision</i>"
        colour = {"save": "#2e7d32", "reject": "#c62828"}.get(record.decision, "#777")
        return (
            f" · <b style='color:{colour}' class='wb-decision'>{VERBS[record.decision]}</b>"
            " <small>(s/r changes it, u undoes the last)</small>"
        )

    def _fill_tabs(self, view: CandidateView, names: tuple[str, ...] | None = None) -> None:
        """Fill the candidate's tabs (``names``; None: all of them)."""
        fills = {
            "Annotations": lambda: self.annotations_table.show(view.annotations),
            "Classifications": lambda: setattr(
                self.tab_html["Classifications"],
                "value",
                html_table(
                    with_taxonomy_names(view.classifications, self._taxonomy_names),
                    CLASSIFICATION_COLUMNS,
                    empty="no classification",
                ),
            ),
            "Comments": lambda: setattr(
                self.tab_html["Comments"],
                "value",
                html_table(
                    view.comments, ("author", "text", "created_at", "pending"), empty="no comment"
                ),
            ),
            "Galaxies": lambda: setattr(
                self.tab_html["Galaxies"],
                "value",
                html_table(
                    view.galaxies,
                    ("name", "sep_arcsec", "distmpc", "redshift", "catalog_name"),
                    empty=f"no catalog galaxy within {self.loader.galaxy_radius_arcsec:g} arcsec",
                ),
            ),
            "Localizations": lambda: setattr(
                self.tab_html["Localizations"],
                "value",
                localizations_html(view.localizations, self.loader.notes),
            ),
        }
        for name in fills if names is None else names:
            if name in fills:
                fills[name]()
        self._stale_tabs = set() if names is None else self._stale_tabs - set(names)

    def _tab_opened(self, change: dict[str, Any]) -> None:
        # a tab left unfilled by a deferred fill (see _fill_tabs_if_current) is filled when opened
        index = change.get("new")
        if index is None or not 0 <= index < len(TABS):
            return
        name = TABS[index]
        with self._lock:
            if name in self._stale_tabs and self.view is not None:
                self._fill_tabs(self.view, (name,))

    def _group_names(self, group_ids: Any) -> str:
        names = {gid: label for label, gid in self.save_groups.options}
        return ", ".join(names.get(int(g), f"#{int(g)}") for g in group_ids)

    def _position_text(self) -> str:
        s = self.state
        n = len(s.queue)
        at = min(s.position + 1, n)
        decided = sum(1 for d in self.decided.values() if d.decision != "skip")
        back = " · <i>going back: n/→ returns</i>" if s.revisiting else ""
        return (
            f"{at} / {n} in queue ({decided} decided this session, {s.total} candidates "
            f"cached){back}"
        )

    def _prepare_ahead(self) -> None:
        upcoming = self.state.upcoming(self.prefetch)
        self.prefetcher.prepare((i, self.state.rows[i]) for i in upcoming)


__all__ = ["VettingPanel", "learned_figures", "parse_score"]
