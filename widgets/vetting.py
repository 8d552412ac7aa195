"""Vet the candidate queue best-first: look, then Save, Reject or Skip, a few seconds each.

Each decision goes to the cache and the outbox through the facade (``wb.vet``), so the
panel works offline and the outbox strip shows what is waiting. The next candidate's data
and light curve are prepared while the current one is looked at, so a click shows the next
at once: the decision is written after the next candidate is on screen.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd

from workbench.errors import OutboxError, WorkbenchError

from ._common import PLACEHOLDER_PNG, Panel, as_id_list, html_table
from ._plots import lightcurve_widget
from .classification import ClassificationPanel
from .vetting_data import CandidateLoader, CandidateView, Prefetcher
from .vetting_state import VettingFilters, VettingState
from .vetting_view import (
    annotations_html,
    build_layout,
    header_html,
    localizations_html,
    parse_score,
)


class VettingPanel(Panel):
    """The candidate queue of the cache, one candidate at a time.

    ``group_ids``: vet the candidates that passed these groups' filters, and save to them;
    ``min_score``: hide candidates scoring below it; ``prefetch``: how many candidates to
    prepare ahead, in a worker thread when ``background``; ``galaxy_radius_arcsec``: how far
    to look for catalog galaxies.
    """

    def __init__(
        self,
        wb: Any,
        *,
        group_ids: list[int] | None = None,
        min_score: float | None = None,
        prefetch: int = 2,
        background: bool = True,
        galaxy_radius_arcsec: float = 60.0,
    ) -> None:
        super().__init__(wb)
        ids = tuple(as_id_list(group_ids))
        self.state = VettingState(VettingFilters(group_ids=ids, min_score=min_score))
        self.state.filters.check()
        self.prefetch = max(0, int(prefetch))
        self.loader = CandidateLoader(
            wb, galaxy_radius_arcsec=galaxy_radius_arcsec, make_plot=lightcurve_widget
        )
        self.prefetcher = Prefetcher(self.loader, keep=self.prefetch + 4, background=background)
        self.view: CandidateView | None = None
        self.classifier: ClassificationPanel | None = None
        self.last_show_seconds = math.nan
        self._candidates = pd.DataFrame()
        build_layout(self, ids, min_score)
        self.refresh()

    def close(self) -> None:
        """Stop preparing candidates and close the panel's widgets."""
        self.prefetcher.close()
        if self.classifier is not None:
            self.classifier.close()
        super().close()

    # -- queue -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the candidates from the cache (after a sync, say) and rebuild the queue."""
        self._candidates = self.wb.candidates()
        self.prefetcher.forget()
        self.loader.reset()
        self._requeue()

    def set_filters(
        self,
        *,
        group_ids: list[int] | tuple[int, ...] | None = None,
        min_score: float | str | None = "keep",
        unvetted_only: bool | None = None,
    ) -> None:
        """Change the queue's filters (``min_score=None`` removes the score cut)."""
        f = self.state.filters
        if group_ids is not None:
            f.group_ids = tuple(as_id_list(group_ids))
        if min_score != "keep":
            f.min_score = None if min_score is None else float(min_score)
        if unvetted_only is not None:
            f.unvetted_only = bool(unvetted_only)
        self._requeue()

    def _requeue(self) -> None:
        self.state.load(self._candidates)
        self._show_current()
        self._prepare_ahead()

    def next(self) -> str | None:
        """Go to the next candidate without deciding (see :meth:`skip` to record a skip)."""
        return self._move(+1)

    def previous(self) -> str | None:
        """Go back one candidate."""
        return self._move(-1)

    def _move(self, step: int) -> str | None:
        start = time.perf_counter()
        self.state.go(step)
        self._show_current(start)
        self._prepare_ahead()
        return self.state.current

    # -- decisions ---------------------------------------------------------------------------
    def save(self) -> str | None:
        """Save the current candidate to the chosen groups; returns the next candidate."""
        groups = as_id_list(self.save_groups.value)
        if not groups:
            raise OutboxError("choose at least one group to save to (the 'Save to' list)")
        return self._decide("save", groups)

    def reject(self) -> str | None:
        """Reject the current candidate; returns the next candidate."""
        return self._decide("reject", None)

    def skip(self) -> str | None:
        """Skip the current candidate for now (it moves to the end of the queue)."""
        return self._decide("skip", None)

    def _decide(self, decision: str, groups: list[int] | None) -> str | None:
        start = time.perf_counter()
        obj_id = self.state.current
        if obj_id is None:
            raise WorkbenchError(
                "the queue is done: no candidate to decide on (Refresh after a sync)"
            )
        self.state.decide(obj_id, decision)
        self._show_current(start)  # show first: the decision is written after
        try:
            self.wb.vet(obj_id, decision, group_ids=groups)
        except WorkbenchError:
            self.state.decisions.pop(obj_id, None)
            self._requeue()  # the candidate comes back: nothing was recorded
            raise
        verb = {"save": "saved", "reject": "rejected", "skip": "skipped"}[decision]
        where = f" to group(s) {', '.join(map(str, groups))}" if groups else ""
        self.say(f"{obj_id} {verb}{where}")
        self.strip.refresh()
        self._prepare_ahead()
        return self.state.current

    def comment(self, text: str | None = None) -> int:
        """Comment on the current candidate (the text box's text by default)."""
        obj_id = self._need_current()
        text = self.comment_text.value if text is None else text
        action_id = self.wb.comment(obj_id, text)
        self.comment_text.value = ""
        if self.view is not None:
            self.loader.reload_notes(self.view)
            self._fill_tabs(self.view)
        self.strip.refresh()
        self.say(f"comment on {obj_id} queued (outbox #{action_id})")
        return int(action_id)

    def toggle_classifier(self) -> ClassificationPanel:
        """Show (or hide) the classification panel for the current candidate."""
        obj_id = self._need_current()
        if self.classifier is None:
            self.classifier = ClassificationPanel(self.wb, obj_id)
            self.classify_box.children = (self.classifier.widget,)
            self.classify_box.layout.display = ""
        else:
            hidden = self.classify_box.layout.display == "none"
            self.classify_box.layout.display = "" if hidden else "none"
            self.classifier.set_object(obj_id)
        return self.classifier

    def _need_current(self) -> str:
        if self.state.current is None:
            raise WorkbenchError("the queue is done: no current candidate")
        return self.state.current

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
            self.plot_box.children = ()
            for image in self.cutouts.values():
                image.value = PLACEHOLDER_PNG
            self.last_show_seconds = time.perf_counter() - start
            return
        view = self.prefetcher.get(obj_id, self.state.rows[obj_id])
        self.view = view
        self.prefetcher.pinned = obj_id
        self.header.value = header_html(view)
        for kind, image in self.cutouts.items():
            image.value = view.thumbnails.get(kind) or PLACEHOLDER_PNG
        self.plot_box.children = (view.plot,) if view.plot is not None else ()
        self._fill_tabs(view)
        if self.classifier is not None and self.classify_box.layout.display != "none":
            self.classifier.set_object(obj_id)
        self.last_show_seconds = time.perf_counter() - start
        if shown is not None and shown.obj_id != obj_id and shown.obj_id not in self.state.rows:
            self.prefetcher.forget(shown.obj_id)  # decided and gone from the queue

    def _fill_tabs(self, view: CandidateView) -> None:
        self.tab_html["Annotations"].value = annotations_html(view.annotations)
        self.tab_html["Classifications"].value = html_table(
            view.classifications,
            ("classification", "probability", "author_name", "created_at", "pending"),
            empty="no classification",
        )
        self.tab_html["Comments"].value = html_table(
            view.comments, ("author", "text", "created_at", "pending"), empty="no comment"
        )
        self.tab_html["Galaxies"].value = html_table(
            view.galaxies,
            ("name", "sep_arcsec", "distmpc", "redshift", "catalog_name"),
            empty=f"no catalog galaxy within {self.loader.galaxy_radius_arcsec:g} arcsec",
        )
        self.tab_html["Localizations"].value = localizations_html(
            view.localizations, self.loader.notes
        )

    def _position_text(self) -> str:
        s = self.state
        n = len(s.queue)
        at = min(s.position + 1, n)
        decided = sum(1 for d in s.decisions.values() if d != "skip")
        return f"{at} / {n} in queue ({decided} decided this session, {s.total} candidates cached)"

    def _prepare_ahead(self) -> None:
        upcoming = self.state.upcoming(self.prefetch)
        self.prefetcher.prepare((i, self.state.rows[i]) for i in upcoming)


__all__ = ["VettingPanel", "parse_score"]
