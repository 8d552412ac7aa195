"""Everything the vetting panel shows about one candidate, read from the cache ahead of time.

The next candidate must appear at once after a click, so its cutouts, photometry,
annotations, classifications, comments, nearby galaxies and light-curve widget are read and
built BEFORE the click (:class:`Prefetcher`); showing it is then only setting widget values.
Dropped views are not closed here: the garbage collector closes their widgets (a
``BokehModel`` must not be closed twice), and a view may still be on screen when dropped.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

ARCSEC_PER_DEG = 3600.0


@dataclass
class CandidateView:
    """One candidate's data as shown by the vetting panel (a snapshot of the cache)."""

    obj_id: str
    row: dict[str, Any]
    thumbnails: dict[str, bytes]
    photometry: pd.DataFrame
    annotations: pd.DataFrame
    classifications: pd.DataFrame
    comments: pd.DataFrame
    galaxies: pd.DataFrame
    localizations: list[tuple[str, float]] = field(default_factory=list)
    saves: pd.DataFrame = field(default_factory=pd.DataFrame)
    plot: Any = None
    load_seconds: float = 0.0


def nearby(galaxies: pd.DataFrame, ra: float, dec: float, radius_arcsec: float) -> pd.DataFrame:
    """Galaxies within ``radius_arcsec`` of (ra, dec) [degrees], nearest first, with
    their separation ``sep_arcsec``; the haversine formula keeps small angles exact."""
    if galaxies.empty or not np.isfinite(ra) or not np.isfinite(dec):
        return galaxies.iloc[0:0].assign(sep_arcsec=[])
    ra1, dec1 = np.radians(ra), np.radians(dec)
    ra2 = np.radians(galaxies["ra"].to_numpy(float))
    dec2 = np.radians(galaxies["dec"].to_numpy(float))
    hav = (
        np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    )
    sep = np.degrees(2 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))) * ARCSEC_PER_DEG
    inside = sep <= radius_arcsec
    return galaxies[inside].assign(sep_arcsec=sep[inside]).sort_values("sep_arcsec")


class CandidateLoader:
    """Reads one candidate's data from the cache through the facade.

    The galaxy catalog and the candidates' credible levels in the cached localizations are
    read once (first use) and reused for every candidate; ``notes`` keeps what could not be
    computed (a damaged skymap, say) so the panel can say so.
    """

    def __init__(
        self,
        wb: Any,
        *,
        galaxy_radius_arcsec: float = 60.0,
        max_events: int = 3,
        make_plot: Callable[[pd.DataFrame, str], Any] | None = None,
    ) -> None:
        self.wb = wb
        self.galaxy_radius_arcsec = float(galaxy_radius_arcsec)
        self.max_events = max_events
        self.make_plot = make_plot
        self.notes: list[str] = []
        self._galaxies: pd.DataFrame | None = None
        self._levels: dict[str, list[tuple[str, float]]] | None = None
        # The prefetch thread and the main thread may both ask for these the first time.
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the galaxy catalog and credible levels read so far (after a sync)."""
        with self._lock:
            self._galaxies = None
            self._levels = None
            self.notes.clear()

    @property
    def galaxies(self) -> pd.DataFrame:
        with self._lock:
            if self._galaxies is None:
                frame = self.wb.galaxies()
                self._galaxies = frame.dropna(subset=["ra", "dec"]) if not frame.empty else frame
            return self._galaxies

    @property
    def levels(self) -> dict[str, list[tuple[str, float]]]:
        """Candidate id -> [(event dateobs, 2D credible level)], for the latest events."""
        with self._lock:
            if self._levels is None:
                self._levels = self._credible_levels()
            return self._levels

    def _credible_levels(self) -> dict[str, list[tuple[str, float]]]:
        from workbench.errors import WorkbenchError

        out: dict[str, list[tuple[str, float]]] = {}
        events = self.wb.gcn_events()
        if events.empty:
            return out
        events = events.sort_values("dateobs", ascending=False).head(self.max_events)
        for dateobs in events["dateobs"]:
            label = pd.Timestamp(dateobs).strftime("%Y-%m-%dT%H:%M:%S")
            try:
                hits = self.wb.crossmatch(label, what="candidates", cumprob=None)
            except WorkbenchError as exc:
                self.notes.append(f"{label}: {exc}")
                continue
            for obj_id, level in zip(hits["id"], hits["credible_level"], strict=True):
                out.setdefault(str(obj_id), []).append((label, float(level)))
        return out

    def load(self, obj_id: str, row: dict[str, Any]) -> CandidateView:
        """Read (and plot) everything shown about ``obj_id``."""
        start = time.perf_counter()
        if hasattr(self.wb, "candidate_bundle"):  # one cache connection for all of it
            data = self.wb.candidate_bundle(obj_id)
        else:
            data = {
                "photometry": self.wb.photometry(obj_id),
                "thumbnails": self.wb.thumbnails(obj_id),
                "annotations": self.wb.annotations(obj_id),
                "classifications": self.wb.classifications(obj_id),
                "comments": self.wb.comments(obj_id),
                "saves": pd.DataFrame(),
            }
        return self._view(obj_id, row, data, start)

    def load_many(self, items: list[tuple[str, dict[str, Any]]]) -> dict[str, CandidateView]:
        """The views of several candidates, read on one cache connection (a prefetch batch:
        the connection's cost, tens of ms, is paid once for all of them)."""
        start = time.perf_counter()
        if not hasattr(self.wb, "candidate_bundles"):
            return {obj_id: self.load(obj_id, row) for obj_id, row in items}
        bundles = self.wb.candidate_bundles([obj_id for obj_id, _ in items])
        share = (time.perf_counter() - start) / max(1, len(items))
        return {
            obj_id: self._view(obj_id, row, bundles[obj_id], time.perf_counter() - share)
            for obj_id, row in items
        }

    def _view(
        self, obj_id: str, row: dict[str, Any], data: dict[str, Any], start: float
    ) -> CandidateView:
        photometry = data["photometry"]
        ra, dec = float(row.get("ra", np.nan)), float(row.get("dec", np.nan))
        view = CandidateView(
            obj_id=obj_id,
            row=row,
            thumbnails=data["thumbnails"],
            photometry=photometry,
            annotations=data["annotations"],
            classifications=data["classifications"],
            comments=data["comments"],
            galaxies=nearby(self.galaxies, ra, dec, self.galaxy_radius_arcsec),
            localizations=self.levels.get(obj_id, []),
            saves=data["saves"],
        )
        if self.make_plot is not None:
            view.plot = self.make_plot(photometry, obj_id)
        view.load_seconds = time.perf_counter() - start
        return view

    def reload_notes(self, view: CandidateView) -> None:
        """Re-read what the user's own actions change: classifications, comments, saves."""
        view.classifications = self.wb.classifications(view.obj_id)
        view.comments = self.wb.comments(view.obj_id)
        if hasattr(self.wb, "saves"):
            view.saves = self.wb.saves(view.obj_id)


class Prefetcher:
    """Keeps the views of the current and the next few candidates ready.

    With ``background=True`` the next candidates are read and plotted in a worker thread
    (DuckDB releases the GIL while it reads), so the kernel is free for the next click
    sooner; :meth:`get` waits for a view still being prepared. Views are kept in arrival
    order and the oldest are dropped past ``keep``.
    """

    def __init__(
        self, loader: CandidateLoader, keep: int = 6, *, background: bool = False, batch: int = 3
    ) -> None:
        self.loader = loader
        self.batch = max(1, int(batch))
        self.keep = max(3, keep)  # the view on screen, the one being stored, and one more
        self._views: OrderedDict[str, CandidateView] = OrderedDict()
        self._pending: dict[str, Future[CandidateView | None]] = {}
        self._lock = threading.Lock()
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="vetting-prefetch")
            if background
            else None
        )
        self.hits = 0
        self.misses = 0
        self.failures: dict[str, str] = {}
        self._generation = 0  # bumped by forget(): a load started before is not kept
        self.pinned: str | None = None  # the view on screen: never dropped by eviction
        self.wanted: set[str] = set()  # the candidates asked for last (to come): kept too
        # called after background views were stored, in a thread of its own: a caller may
        # hold the panel's lock while it waits in get() for a view the worker has yet to
        # read, so the worker itself must never wait for that lock
        self.on_ready: Callable[[], Any] | None = None
        self._notifier = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="vetting-ready")
            if background
            else None
        )

    def peek(self, obj_id: str) -> CandidateView | None:
        """The view of ``obj_id`` if it is prepared already, else None (never waits)."""
        with self._lock:
            return self._views.get(obj_id)

    def get(self, obj_id: str, row: dict[str, Any]) -> CandidateView:
        """The view of ``obj_id``: prepared already (a hit) or read now (a miss)."""
        with self._lock:
            view = self._views.get(obj_id)
            future = self._pending.get(obj_id)
        if view is None and future is not None:
            view = future.result()  # being prepared: wait for it (None if it failed)
        if view is None:
            self.misses += 1
            return self._store(self.loader.load(obj_id, row))
        self.hits += 1
        with self._lock:
            if obj_id in self._views:
                self._views.move_to_end(obj_id)
        return view

    def prepare(self, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Load the views of these candidates (the upcoming ones, nearest first) unless
        already prepared (or being prepared).

        In the background, with a loader that reads several at once (``load_many``), the
        missing ones are read in batches of ``batch``: a batch waits until it is full
        unless one of the next two candidates is missing, so keys pressed back to back
        pay a cache connection per batch, not per candidate.
        """
        items = list(items)
        with self._lock:
            self.wanted = {obj_id for obj_id, _row in items}
        missing = []
        for index, (obj_id, row) in enumerate(items):
            with self._lock:
                if obj_id in self._views or obj_id in self._pending:
                    continue
                if self._executor is not None:
                    missing.append((index, obj_id, row))
                    continue
            self._store(self.loader.load(obj_id, row))
        if not missing:
            return
        if not hasattr(self.loader, "load_many"):
            with self._lock:
                for _index, obj_id, row in missing:
                    future = self._executor.submit(self._prepare_one, obj_id, row)
                    future.add_done_callback(lambda _f: self._ready())
                    self._pending[obj_id] = future
            return
        if len(missing) < self.batch and missing[0][0] >= 2:
            return  # not urgent: wait for a fuller batch
        for start in range(0, len(missing), self.batch):
            chunk = [(obj_id, row) for _i, obj_id, row in missing[start : start + self.batch]]
            futures: dict[str, Future[CandidateView | None]] = {o: Future() for o, _ in chunk}
            with self._lock:
                self._pending.update(futures)
            self._executor.submit(self._prepare_batch, chunk, futures)

    def _prepare_batch(
        self, chunk: list[tuple[str, dict[str, Any]]], futures: dict[str, Future]
    ) -> None:
        generation = self._generation
        try:
            views = self.loader.load_many(chunk)
        except Exception as exc:  # get() reads each again in the foreground, showing why
            views = {}
            for obj_id, _row in chunk:
                self.failures[obj_id] = f"{type(exc).__name__}: {exc}"
        for obj_id, _row in chunk:
            view = views.get(obj_id)
            if view is not None and generation == self._generation:
                self._store(view)
            else:
                view = None  # read before a forget(): stale
            with self._lock:
                self._pending.pop(obj_id, None)
            futures[obj_id].set_result(view)
        self._ready()

    def _ready(self) -> None:
        if self.on_ready is not None and self._notifier is not None:
            self._notifier.submit(self._notify)

    def _notify(self) -> None:
        try:
            self.on_ready()  # type: ignore[misc]
        except Exception as exc:  # a thread of its own: keep it alive, keep the reason
            self.failures["(ready)"] = f"{type(exc).__name__}: {exc}"

    def _prepare_one(self, obj_id: str, row: dict[str, Any]) -> CandidateView | None:
        generation = self._generation
        try:
            view = self.loader.load(obj_id, row)
            # Read before a forget() (a refresh after a sync, say): do not keep stale data.
            return self._store(view) if generation == self._generation else None
        except Exception as exc:  # get() reads it again in the foreground, showing the error
            self.failures[obj_id] = f"{type(exc).__name__}: {exc}"
            return None
        finally:
            with self._lock:
                self._pending.pop(obj_id, None)

    def wait(self) -> None:
        """Block until every view being prepared is ready (benchmarks and tests)."""
        with self._lock:
            futures = list(self._pending.values())
        for future in futures:
            future.result()

    def forget(self, obj_id: str | None = None) -> None:
        """Drop one prepared view (or all, including those being prepared now)."""
        with self._lock:
            if obj_id is None:
                self._generation += 1
            ids = [obj_id] if obj_id is not None else list(self._views)
            for key in ids:
                self._views.pop(key, None)

    def close(self) -> None:
        """Stop the worker thread (views being prepared are finished first)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._notifier is not None:
            self._notifier.shutdown(wait=True, cancel_futures=True)
            self._notifier = None

    def __contains__(self, obj_id: str) -> bool:
        with self._lock:
            return obj_id in self._views

    def _store(self, view: CandidateView) -> CandidateView:
        with self._lock:
            self._views[view.obj_id] = view
            # the oldest go first, but never the one on screen or one still to come: those
            # were prepared first, so arrival order alone dropped the next candidate
            keep = {self.pinned, view.obj_id, *self.wanted}
            while len(self._views) > self.keep:
                oldest = next((k for k in self._views if k not in keep), None)
                if oldest is None:
                    break
                self._views.pop(oldest)
        return view
