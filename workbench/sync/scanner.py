"""Scanner first: the vetting queue lands before everything else, the rest in the background.

From an empty cache a full sync spends most of its time on what the scanner does not need
first (every saved source's photometry, spectra, galaxies). :func:`scanner_phase` brings
in groups, taxonomies and the candidates of the chosen groups, then the photometry and
cutouts of the first :data:`READY` candidates in vetting order (best score first), in
small chunks committed as they land, so the first candidate can be shown within seconds.
:class:`BackgroundSync` then runs every other resource on a background thread with the
ordinary checkpointed passes: a process killed while it runs resumes at the next sync
exactly as a killed foreground sync does, and a completed one leaves the cache equal to
the server's content.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from ..errors import AuthError, CacheError, ConnectionFailed, SkyPortalError
from .context import ALL_RESOURCES, SyncContext, SyncOptions
from .listings import event_objs
from .objects import store_thumbnails, thumbnail_bytes
from .summary import LANDS_EMBEDDED, Stopwatch, SyncSummary

#: What the vetting panel needs before it can show a candidate.
SCANNER_RESOURCES = ("groups", "taxonomies", "candidates")
#: Candidates per committed chunk of photometry + cutouts: the first chunk is small so the
#: first candidate is complete after a few requests; later chunks amortise the commits.
FIRST_CHUNK, CHUNK = 4, 25
#: Candidates complete (photometry and cutouts) before ``sync(background=True)`` returns:
#: more than the vetting panel prefetches (6 ahead). At the production 5 requests/s a
#: candidate costs ~0.8 s (4 requests). The others get theirs from the background's usual
#: passes: photometry in bulk by date window (a request per ~20,000 points, where one per
#: candidate took 300 requests for the demo's queue) and cutouts up to ``thumbnail_limit``.
READY = 10
#: The name under which the candidates' photometry and cutouts are reported.
DETAIL = "candidates' detail"


def scanner_details(ctx: SyncContext, limit: int | None = None) -> int:
    """Photometry and cutouts of the candidates, best score first, a chunk at a time;
    at most ``limit`` candidates. Returns how many still lack them afterwards.

    Only candidates whose photometry is stale (or never fetched) and cutouts not cached
    are fetched (in a GCN-event-scoped sync, only the event's); both go concurrently through the client's rate limiter. Photometry is
    marked synced per object, so the background pass skips what landed here.
    """
    order = [
        r[0]
        for r in ctx.cache.sql(
            "SELECT obj_id FROM candidates ORDER BY score DESC NULLS LAST, "
            "coalesce(passed_at, last_detected_at) DESC NULLS LAST, obj_id"
        ).itertuples(index=False)
    ]
    if ctx.options.gcn_event:  # the cache may hold other candidates, synced unscoped
        event = event_objs(ctx)
        order = [obj_id for obj_id in order if obj_id in event]
    if not order:
        return 0
    stale = set(ctx.cache.objs_needing_photometry())
    cutouts: dict[str, list[tuple[str, str, str]]] = {}
    for item in ctx.cache.thumbnails_to_fetch():
        cutouts.setdefault(item[0], []).append(item)
    todo = [obj_id for obj_id in order if obj_id in stale or obj_id in cutouts]
    left = max(0, len(todo) - limit) if limit is not None else 0
    todo = todo[:limit] if limit is not None else todo
    with ctx.progress.bar("candidates' detail", total=len(todo), unit="objs") as bar:
        start, size = 0, FIRST_CHUNK
        while start < len(todo):
            chunk = todo[start : start + size]
            _chunk(
                ctx,
                [o for o in chunk if o in stale],
                [c for o in chunk for c in cutouts.get(o, [])],
            )
            bar.update(len(chunk))
            start, size = start + size, CHUNK
    return left


def _chunk(ctx: SyncContext, phot_ids: list[str], thumbs: list[tuple[str, str, str]]) -> None:
    """One chunk's photometry and cutouts fetched together, then committed."""
    jobs: list[tuple[str, Any]] = [("phot", o) for o in phot_ids] + [("thumb", t) for t in thumbs]

    def fetch(job: tuple[str, Any]) -> Any:
        kind, what = job
        if kind == "phot":
            return ctx.client.get(f"/api/sources/{what}/photometry")
        return thumbnail_bytes(ctx.client, what[2])

    results = [
        r for batch in ctx.map_concurrently(fetch, jobs, batch=len(jobs) or 1) for r in batch
    ]
    points = {job[1]: out for job, out in results if job[0] == "phot"}
    if points:
        with ctx.cache.write() as tx:
            records = [p for pts in points.values() for p in pts]
            ctx.summary.count("photometry", tx.upsert_photometry(list(points), records))
            tx.mark_photometry_synced(list(points))
    images = [(job[1], out) for job, out in results if job[0] == "thumb"]
    if images:
        counts, skipped = store_thumbnails(ctx.cache, images)
        ctx.summary.count("thumbnails", counts)
        if skipped:
            ctx.summary.notes.append(f"thumbnails: {skipped} hosted elsewhere were not fetched")


def scanner_phase(syncer: Any, options: SyncOptions) -> tuple[SyncSummary, tuple[str, ...]]:
    """Run the scanner's part of ``options`` now; return its summary and what is left.

    The candidates' photometry and cutouts are fetched here only when ``photometry`` /
    ``thumbnails`` are among ``options.resources``; what is left is every other resource
    asked for, in the usual order.
    """
    first = tuple(r for r in SCANNER_RESOURCES if r in options.resources)
    ctx = SyncContext(syncer.client, syncer.cache, dataclasses.replace(options, resources=first))
    clock = Stopwatch()
    before = syncer.client.stats.snapshot()
    rows_before = syncer.cache.counts(tuple(LANDS_EMBEDDED))
    for name in first:
        syncer._run_one(ctx, name)
    if "candidates" in first and ({"photometry", "thumbnails"} & set(options.resources)):
        _details(ctx, READY)
    ctx.summary.settle_new(rows_before, syncer.cache.counts(tuple(LANDS_EMBEDDED)))
    after = syncer.client.stats.snapshot()
    for key in ("requests", "retries", "rate_limited"):
        setattr(ctx.summary, key, after[key] - before[key])
    ctx.summary.seconds = clock.elapsed
    rest = tuple(r for r in ALL_RESOURCES if r in options.resources and r not in first)
    return ctx.summary, rest


def _details(ctx: SyncContext, limit: int | None) -> int:
    """:func:`scanner_details` with its outcome in the summary; candidates left."""
    clock = Stopwatch()
    left = 0
    try:
        left = scanner_details(ctx, limit)
    except (AuthError, CacheError, ConnectionFailed):
        raise
    except SkyPortalError as exc:
        ctx.summary.resources[DETAIL] = str(exc)
    else:
        ctx.summary.resources[DETAIL] = "ok"
    finally:
        ctx.summary.resource_seconds[DETAIL] = clock.elapsed
    return left


#: Background syncs running in this process, by cache file: another sync of the same
#: cache waits for it (two passes over one listing's checkpoints would interleave).
_ACTIVE: dict[str, BackgroundSync] = {}
_ACTIVE_LOCK = threading.Lock()


def wait_for_background(cache: Any) -> None:
    """Block until a background sync of ``cache`` running in this process has finished
    (returns at once from that sync's own thread, or when there is none)."""
    with _ACTIVE_LOCK:
        running = _ACTIVE.get(str(getattr(cache, "path", id(cache))))
    if running is not None and threading.current_thread() is not running._thread:
        running._thread.join()


class BackgroundSync:
    """The rest of a scanner-first sync, running on a daemon thread.

    ``still_coming`` names the resources not finished yet; :meth:`wait` blocks until the
    thread ends and returns its :class:`SyncSummary` (or raises its error). Killing the
    process meanwhile loses nothing that was committed: the next sync resumes.
    """

    def __init__(self, syncer: Any, options: SyncOptions, resources: tuple[str, ...]) -> None:
        self.resources = resources
        self.summary: SyncSummary | None = None
        self.error: BaseException | None = None
        self._options = dataclasses.replace(options, resources=resources, progress=False)
        self._syncer = syncer
        self._thread = threading.Thread(target=self._run, name="sync-background", daemon=True)
        self._key = str(getattr(syncer.cache, "path", id(syncer.cache)))
        wait_for_background(syncer.cache)  # one background sync of a cache at a time
        with _ACTIVE_LOCK:
            _ACTIVE[self._key] = self
        self._thread.start()

    def _run(self) -> None:
        try:
            self.summary = self._syncer.run(self._options, on_resource=self._done_one)
        except BaseException as exc:  # re-raised by wait() in the caller's thread
            self.error = exc
        finally:
            with _ACTIVE_LOCK:
                if _ACTIVE.get(self._key) is self:
                    del _ACTIVE[self._key]

    _finished: tuple[str, ...] = ()

    def _done_one(self, name: str) -> None:
        self._finished = (*self._finished, name)

    @property
    def done(self) -> bool:
        """True once every background resource has finished (or the thread failed)."""
        return not self._thread.is_alive()

    @property
    def still_coming(self) -> tuple[str, ...]:
        """Resources not finished yet (empty once done)."""
        if self.done:
            return ()
        return tuple(r for r in self.resources if r not in self._finished)

    def wait(self, timeout: float | None = None) -> SyncSummary | None:
        """Block until the background sync ends (at most ``timeout`` seconds); return its
        summary, or ``None`` if it is still running. Raises the error it stopped on."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            return None
        if self.error is not None:
            raise self.error
        return self.summary

    def __repr__(self) -> str:
        if self.done:
            state = "failed: " + str(self.error) if self.error else "done"
        else:
            state = "still coming: " + ", ".join(self.still_coming)
        return f"BackgroundSync({state})"
