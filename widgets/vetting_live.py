"""The vetting panel while it is open: the live poll, and the learned order it keeps fresh.

:class:`LivePoller` polls the server on a background thread (new candidates join the queue,
those decided elsewhere leave it) and, with the learned order, refits stale group models
and re-ranks what is still to come. The learned-order fit (:func:`learn_order`) and its
figures (:func:`learned_figures`) sit here because both the order menu and the poll use
them. Imports point one way: the panel (:mod:`widgets.vetting`) imports this module, never
the reverse (not even for type hints: ``tests/test_import_cycles.py`` counts those too),
so the panel is described by :class:`LivePanel`.
"""

from __future__ import annotations

import atexit
import math
import threading
import weakref
from typing import Any, Protocol

import ipywidgets as w
import pandas as pd

from workbench.errors import WorkbenchError

from ._common import ErrorArea
from .vetting_data import Prefetcher
from .vetting_state import VettingState


class LivePanel(Protocol):
    """What the poll and the learned order act on (the vetting panel provides all of it)."""

    wb: Any
    state: VettingState
    prefetcher: Prefetcher
    errors: ErrorArea
    position: w.HTML
    live_note: w.HTML
    new_count: int
    poll_resources: tuple[str, ...]
    _lock: Any  # threading.RLock: the poll thread and the kernel's keys change the queue
    _candidates: pd.DataFrame
    _touched: set[str]
    _drivers: dict[str, str]

    def flush(self) -> None: ...
    def poll_once(self) -> list[str]: ...
    def say(self, text: str) -> None: ...
    def _position_text(self) -> str: ...
    def _prepare_ahead(self) -> None: ...


class LivePoller:
    """The live updates of one vetting panel (see :meth:`poll_once`, :meth:`start`)."""

    def __init__(self, panel: LivePanel) -> None:
        self.panel = panel
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None  # the background poll, while it runs

    def poll_once(self) -> list[str]:
        """Look for changes on the server now: new candidates passing the filters join the
        queue after the current one (counted in the "N new" note), and candidates saved or
        rejected elsewhere since leave it. The candidate on screen never moves. Returns the
        new candidates' ids. Offline: refused with a message."""
        p = self.panel
        if getattr(p.wb, "client", None) is None:
            raise WorkbenchError("offline: no live updates (open the workbench with a server)")
        p.flush()
        saved_before = p.wb.saved_obj_ids()
        # unscoped, as `wb.sync()` is: a scoped pass has its own watermark, so the first
        # one would re-read the whole scope; the panel applies its own filters
        p.wb.poll_candidates(None, p.poll_resources)
        elsewhere = (p.wb.saved_obj_ids() - saved_before) | p.wb.rejected_on_server()
        with p._lock:
            p._candidates = p.wb.candidates()
            p.state.gone |= elsewhere - p._touched
            new, dropped = p.state.merge(p._candidates)
            p.new_count += len(new)
            for obj_id in dropped:
                p.prefetcher.forget(obj_id)
            p.position.value = p._position_text()
            stamp = pd.Timestamp.now(tz="UTC").strftime("%H:%M:%S")
            left = f", {len(dropped)} decided elsewhere" if dropped else ""
            p.live_note.value = (
                f"<small style='color:#1565c0'><b>{p.new_count} new</b>{left} "
                f"(checked {stamp} UTC)</small>"
            )
            p._prepare_ahead()
        self.refresh_learned()
        return new

    def refresh_learned(self, *, min_new: int = 20) -> bool:
        """With the learned order, refit the groups' models once ``min_new`` decisions
        arrived since they were trained, and re-rank the candidates still to come (the one on
        screen stays). The live poll calls it on its own thread, off the scanner's path.
        Returns True when a model was refitted."""
        p = self.panel
        if p.state.order != "learned":
            return False
        from workbench.learning import refresh_group_models

        if not refresh_group_models(p.wb, list(p.state.filters.group_ids), min_new=min_new):
            return False
        with p._lock:
            ready, note = learn_order(p)
            if ready:
                p.state.load(p._candidates)
                p.position.value = p._position_text()
                p._prepare_ahead()
        p.say(f"learned order refreshed. {note}")
        return True

    def start(self, seconds: float) -> None:
        """Poll every ``seconds`` in a background thread until :meth:`stop`."""
        self.stop()
        _POLLERS[:] = [(e, t) for e, t in _POLLERS if t.is_alive()]
        self.stop_event = stop = threading.Event()
        # the thread holds the panel weakly: a panel dropped by the notebook ends its poll
        ref = weakref.ref(self.panel)
        self.thread = threading.Thread(
            target=_poll_loop, args=(ref, stop, float(seconds)), daemon=True, name="vetting-poll"
        )
        _POLLERS.append((stop, self.thread))
        self.thread.start()

    def stop(self) -> None:
        """Stop the background poll (if any)."""
        self.stop_event.set()
        self.thread = None


def learn_order(panel: LivePanel) -> tuple[bool, str]:
    """Score the panel's candidates with ``workbench.learning`` and keep the scores and
    their drivers on the panel; returns (ready, the note to show: why not, or the model's
    figures)."""
    try:
        from workbench.learning import score_queue  # type: ignore[import-not-found]
    except ImportError:
        return False, "learned order not available"
    result = score_queue(panel.wb, list(panel.state.filters.group_ids), panel._candidates)
    message = str(getattr(result, "message", "") or "")
    if not getattr(result, "ready", False):
        return False, message or "learned order not available"
    scores = result.scores
    panel.state.learned = {
        str(k): float(v) for k, v in scores["p_wanted"].items() if v is not None and v == v
    }  # NaN: not scored, ordered after the scored ones
    panel._drivers = {str(k): str(v) for k, v in scores.get("drivers", pd.Series()).items()}
    return True, " ".join(filter(None, [message, learned_figures(result.metrics)]))


def learned_figures(metrics: dict[str, Any]) -> str:
    """The learned order's figures on the group's own newest decisions, beside the score
    order's (precision at 10/20/50 and the area under the precision-recall curve)."""
    if not metrics or "auprc" not in metrics:
        return ""
    score = metrics.get("score") or {}

    def line(m: dict[str, Any]) -> str:
        at = "/".join(f"{m.get(f'precision_at_{k}', math.nan):.2f}" for k in (10, 20, 50))
        return f"P@10/20/50 {at}, AUPRC {m.get('auprc', math.nan):.2f}"

    text = f"On your newest {metrics.get('n_test', '?')} decisions: learned {line(metrics)}"
    return text + (f"; score order {line(score)}." if score else ".")


# Every poll thread started, so that at exit each is stopped and joined: a daemon thread
# frozen inside DuckDB at interpreter shutdown aborts the process ("exception not rethrown").
_POLLERS: list[tuple[threading.Event, threading.Thread]] = []


@atexit.register
def _stop_pollers() -> None:
    for stop, _thread in _POLLERS:
        stop.set()
    for _stop, thread in _POLLERS:
        thread.join(timeout=10)


def _poll_loop(ref: Any, stop: threading.Event, seconds: float) -> None:
    """The background poll: every ``seconds`` until stopped or the panel is gone; after
    three failures in a row (server unreachable) it stops and says so."""
    failures = 0
    while not stop.wait(seconds):
        panel = ref()
        if panel is None:
            return
        try:
            panel.poll_once()
            failures = 0
        except WorkbenchError as exc:
            failures += 1
            if failures >= 3:
                panel.say(f"live updates stopped after 3 failed polls ({exc}); press Refresh")
                return
        except Exception as exc:  # a bug: shown, never lost, and polling stops
            panel.errors.show(f"live poll failed: {type(exc).__name__}: {exc}")
            return
        finally:
            del panel
