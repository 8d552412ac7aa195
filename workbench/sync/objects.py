"""Per-object detail: photometry, spectra arrays, thumbnails.

None of these has a change filter the sync can trust, so each is driven by what the
cache already knows has changed, which also makes them resumable without checkpoints:

- photometry: objects whose ``modified`` moved since their photometry was last fetched
  (posting photometry moves the source's ``modified``). Few: one request per object,
  concurrently. Most of the cache (a first sync): ``/api/photometry/range`` in
  observation-date windows, a request per ~20,000 points instead of one per object,
  each window committed with a checkpoint so that a failed run resumes at the first
  unfinished window. Scoped to a GCN event, only the event's objs: one request each,
  unless they are a large share of the server's objs (see :func:`_sync_event_photometry`).
- spectra: the metadata list (``minimalPayload``, ``modifiedAfter``) is cheap; arrays
  are fetched only for spectra new or changed since the cache got them: a few one by
  one, many through the full listing in one request. Scoped to a GCN event, only the
  event's objs' spectra, one by one (the full listing would carry everyone's arrays).
- thumbnails: the candidates' cutouts (the vetting queue) whose bytes are not cached
  yet, newest first, up to ``thumbnail_limit`` a run; a source's are fetched on demand.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from ..errors import BadRequest
from .context import SyncContext, parse_time, to_iso, utcnow
from .listings import event_objs_or_note
from .summary import TableCounts

#: Photometry before this is fetched in one open-ended window (pre-ZTF archives).
RANGE_START = dt.datetime(2015, 1, 1)
RANGE_TARGET_POINTS = 20_000
#: More new spectra than MIN come in one full listing; beyond MAX (its size grows ~120 kB a
#: spectrum) they come one request each again.
SPECTRA_LIST_MIN, SPECTRA_LIST_MAX = 25, 1500


#: An event-scoped sync reads photometry by date window (every accessible obj's points)
#: only when its stale objs are at least this share of the server's objs: the windows then
#: carry at most twice the points wanted, in ~1/190 the requests (~107 points an obj, ~20,000
#: a window). Below it, one request per event obj transfers only the event's points
#: (10,000 sources, an event of 760 objs: 761 requests, 62 MB, vs 66 windows, 890 MB; under
#: the production limit of 5 r/s, 151 s; the windows took 143-148 s in bench_sync.py).
EVENT_RANGE_SHARE = 0.5


def sync_photometry(ctx: SyncContext) -> None:
    """Photometry of the objs whose ``modified`` moved since it was last fetched (all of
    them with a GCN event in the options: only the event's, see
    :func:`_sync_event_photometry`)."""
    if ctx.options.gcn_event:
        _sync_event_photometry(ctx)
        return
    stale = ctx.cache.objs_needing_photometry()
    if not stale:
        return
    # /api/photometry/range returns every accessible object's points in a date window:
    # worth it only when most cached objects need photometry anyway (a first sync).
    cached = ctx.cache.counts(("objs",))["objs"]
    if len(stale) > ctx.options.photometry_bulk_threshold and len(stale) >= cached / 2:
        _photometry_by_range(ctx, stale)
    else:
        _photometry_per_object(ctx, stale)


def _sync_event_photometry(ctx: SyncContext) -> None:
    """The stale photometry of the event's objs only (those its scoped listings recorded).

    The whole-cache rule above would read every accessible obj's points by date window on
    a first sync (10^7 points on a 10^5-source server for an event of a few hundred objs),
    so the event's objs go one request each, unless they are a large share of the server's
    objs (:func:`_large_share`, weighed only past ``photometry_bulk_threshold`` stale
    objs). Objs outside the event are neither fetched nor marked synced, so the next
    unscoped sync still fetches them.
    """
    objs = event_objs_or_note(ctx, "photometry")
    if not objs:
        return
    stale = [obj_id for obj_id in ctx.cache.objs_needing_photometry() if obj_id in objs]
    if not stale:
        return
    if len(stale) > ctx.options.photometry_bulk_threshold and _large_share(ctx, len(stale)):
        _photometry_by_range(ctx, stale, keep=set(objs), scope=f"event={ctx.options.gcn_event}")
    else:
        _photometry_per_object(ctx, stale)


def _large_share(ctx: SyncContext, stale: int) -> bool:
    """Whether ``stale`` objs are at least :data:`EVENT_RANGE_SHARE` of the server's.

    The cache's obj count is a lower bound of the server's: when the share is small
    against it, it is smaller still against the server, and no request is made (a cache
    that synced the whole server before). Otherwise the server's ``totalMatches`` of
    sources, one request, decides (the larger of the two lower bounds)."""
    cached = ctx.cache.counts(("objs",))["objs"]
    if stale < EVENT_RANGE_SHARE * cached:
        return False
    return stale >= EVENT_RANGE_SHARE * max(cached, _server_sources(ctx))


def _server_sources(ctx: SyncContext) -> int:
    """The server's count of accessible sources (``totalMatches``, one one-row page); 0 if
    it gives none. Unsaved candidates' objs are not counted: a lower bound."""
    data = ctx.client.get("/api/sources", {"numPerPage": 1, "pageNumber": 1})
    total = data.get("totalMatches") if isinstance(data, dict) else None
    return int(total or 0)


def _photometry_per_object(ctx: SyncContext, obj_ids: list[str]) -> None:
    def fetch(obj_id: str) -> list[dict]:
        return ctx.client.get(f"/api/sources/{obj_id}/photometry")

    with ctx.progress.bar("photometry", total=len(obj_ids), unit="objs") as bar:
        for batch in ctx.map_concurrently(fetch, obj_ids):
            ids = [obj_id for obj_id, _ in batch]
            records = [point for _, points in batch for point in points]
            with ctx.cache.write() as tx:
                ctx.summary.count("photometry", tx.upsert_photometry(ids, records))
                tx.mark_photometry_synced(ids)
            bar.update(len(batch))


def _photometry_by_range(
    ctx: SyncContext, obj_ids: list[str], *, keep: set[str] | None = None, scope: str = ""
) -> None:
    """All photometry by observation date, in windows sized to ~20,000 points each.

    Each window's points are upserted (by id) in one transaction with a checkpoint
    naming the next window, so a run that fails (or is killed) part-way resumes at the
    first unfinished window instead of starting over. The objects are marked synced
    only when the last window is in, and only those whose ``modified`` is not newer than
    when the pass began: an object that changed between two runs (photometry posted into
    a window already read) stays stale and is fetched again. A window the server
    refuses as too large is halved and asked again.

    ``keep`` (a scoped sync): only these objs' points are stored, and the checkpoint is
    kept under ``scope``, so a scoped pass neither resumes nor overwrites the unscoped
    pass's. Only ``obj_ids`` are ever marked synced.
    """
    state = ctx.cache.sync_state(RANGE_STATE, scope) or {}
    end = utcnow() + dt.timedelta(days=1)
    resume = parse_time(state.get("window_next")) if state.get("status") == "running" else None
    if resume is not None:
        lo = resume
        step = dt.timedelta(seconds=float(state.get("window_step") or 30 * 86400))
        modified_max = state.get("modified_max")
        ctx.summary.notes.append(f"photometry: resumed at the window starting {to_iso(lo)}")
    else:
        lo, step = RANGE_START, dt.timedelta(days=30)
        modified_max = _max_modified(ctx)
    mark = {"modified_max": modified_max, "keep": keep, "scope": scope}
    with ctx.progress.bar("photometry", unit="points") as bar:
        if resume is None:
            points = _range_window(ctx, None, RANGE_START)
            _commit_window(ctx, points, next_lo=RANGE_START, step=step, **mark)
            bar.update(len(points))
        while lo < end:
            hi = min(lo + step, end)
            try:
                points = _range_window(ctx, lo, hi)
            except BadRequest:
                if hi - lo <= dt.timedelta(hours=1):
                    raise
                step = (hi - lo) / 2
                continue
            lo, step = hi, _next_step(step, len(points))
            _commit_window(ctx, points, next_lo=lo, step=step, **mark)
            bar.update(len(points))
    done = _unchanged_since(ctx, obj_ids, modified_max)
    with ctx.cache.write() as tx:
        tx.mark_photometry_synced(done)
        tx.set_sync_state(RANGE_STATE, scope, status="complete", window_next=None, window_step=None)


#: The checkpoint of the photometry-by-date-window pass in ``sync_state``.
RANGE_STATE = "photometry_range"


def _range_window(ctx: SyncContext, lo: dt.datetime | None, hi: dt.datetime) -> list[dict]:
    """Fetch one observation-date window's points (nothing is stored yet)."""
    # The real handler reads the range from the GET's JSON body; proxies may drop a GET
    # body, so it goes in the query string too (as the client's own method does).
    body = {k: v for k, v in (("min_date", to_iso(lo)), ("max_date", to_iso(hi))) if v}
    return ctx.client.get("/api/photometry/range", body, json=body)


def _commit_window(
    ctx: SyncContext,
    points: list[dict],
    *,
    next_lo: dt.datetime,
    step: dt.timedelta,
    modified_max: str | None,
    keep: set[str] | None = None,
    scope: str = "",
) -> None:
    """Store a window's points (of the ``keep`` objs only, if given) together with the
    checkpoint (under ``scope``) naming the next window."""
    if keep is not None:
        points = [p for p in points if p.get("obj_id") in keep]
    with ctx.cache.write() as tx:
        for start in range(0, max(len(points), 1), RANGE_CHUNK):  # once if empty
            ctx.summary.count(
                "photometry", tx.upsert_photometry([], points[start : start + RANGE_CHUNK])
            )
        tx.set_sync_state(
            RANGE_STATE,
            scope,
            status="running",
            window_next=to_iso(next_lo),
            window_step=step.total_seconds(),
            modified_max=modified_max,
        )


def _max_modified(ctx: SyncContext) -> str | None:
    """The newest ``modified`` among cached objects (the server's clock, naive UTC)."""
    frame = ctx.cache.sql("SELECT max(modified) AS m FROM objs")
    value = frame["m"].iloc[0] if len(frame) else None
    if value is None or value != value:  # NULL comes back as None or NaT
        return None
    return parse_time(str(value)).isoformat()  # to the microsecond, as stored


def _unchanged_since(ctx: SyncContext, obj_ids: list[str], modified_max: str | None) -> list[str]:
    """The objects of ``obj_ids`` whose ``modified`` is not after ``modified_max``."""
    if modified_max is None:
        return list(obj_ids)
    frame = ctx.cache.sql(
        "SELECT id FROM objs WHERE modified IS NULL OR modified <= CAST(? AS TIMESTAMP)",
        [modified_max],
    )
    unchanged = set(frame["id"])
    return [obj_id for obj_id in obj_ids if obj_id in unchanged]


#: The widest window asked for: growing through empty years up to 10 years made the first
#: window with data hold 33,000 points of 1,000 sources (~3 requests' worth; ~330,000 at
#: 100,000 sources, more than a response should carry in memory).
RANGE_MAX_STEP = dt.timedelta(days=365)
#: Points upserted per call within a window's transaction (bounds the upsert's own memory).
RANGE_CHUNK = 10_000


def _next_step(step: dt.timedelta, points: int) -> dt.timedelta:
    """Grow (at most x2) or shrink the window so the next holds about RANGE_TARGET_POINTS."""
    scale = 2.0 if points == 0 else max(0.25, min(2.0, RANGE_TARGET_POINTS / points))
    return min(RANGE_MAX_STEP, max(dt.timedelta(hours=1), step * scale))


def sync_spectra(ctx: SyncContext) -> None:
    """Spectra new or changed since the watermark: the metadata listing, then the arrays
    of those the cache lacks or holds an older version of. With a GCN event in the
    options, only the spectra of the event's objs (see :func:`_event_scope`)."""
    scope = ctx.options.scope("spectra")
    state = ctx.cache.sync_state("spectra", scope) or {}
    watermark = parse_time(state.get("watermark"))
    started = to_iso(utcnow())
    params: dict[str, str] = {"minimalPayload": "true"}
    since = ctx.options.since or (watermark - ctx.options.overlap if watermark else None)
    objs: set[str] | None = None
    if ctx.options.gcn_event:
        listed_objs = event_objs_or_note(ctx, "spectra")
        if not listed_objs:
            return
        objs, since = set(listed_objs), _event_since(ctx, listed_objs, since, watermark)
    if since:
        params["modifiedAfter"] = to_iso(since)
    if ctx.options.group_ids:
        params["groupIDs"] = ",".join(map(str, ctx.options.group_ids))
    # SkyPortal's only obj filter (objID) is one substring: the event's objs are picked
    # from the metadata here, which is one cheap request either way.
    listed = ctx.client.get("/api/spectra", params)
    if objs is not None:
        listed = [s for s in listed if s.get("obj_id") in objs]
    known = ctx.cache.spectra_versions()
    wanted = [s["id"] for s in listed if known.get(s["id"]) != str(s.get("modified"))]
    # the full listing carries every spectrum the filters pass, the event's or not: with
    # an event, the arrays come one spectrum at a time
    if objs is None and SPECTRA_LIST_MIN < len(wanted) <= SPECTRA_LIST_MAX:
        _spectra_in_one_request(ctx, params, set(wanted))
    else:
        _spectra_one_by_one(ctx, wanted)
    with ctx.cache.write() as tx:
        tx.set_sync_state("spectra", scope, status="complete", watermark=started)


def _event_since(
    ctx: SyncContext,
    objs: dict[str, str],
    since: dt.datetime | None,
    watermark: dt.datetime | None,
) -> dt.datetime | None:
    """The ``modifiedAfter`` the event's objs' spectra can be listed with.

    The event's own watermark (its scope names the event, so the whole-server one never
    moves) covers the objs recorded before that pass began; an obj the scoped listings
    first returned after it (both times are this machine's clock) may have older spectra,
    so the listing is then read whole (metadata only: arrays the cache holds at the
    listed version are not fetched again).
    """
    if ctx.options.since is None and watermark is not None:
        newest = max((t for t in map(parse_time, objs.values()) if t is not None), default=None)
        if newest is not None and newest >= watermark:
            return None
    return since


def _spectra_in_one_request(ctx: SyncContext, params: dict[str, str], wanted: set[int]) -> None:
    """Many new spectra: the full listing carries every array in one request (SkyPortal
    served 503 spectra, 59 MB, in 6.5 s), instead of a request per spectrum."""
    full = {k: v for k, v in params.items() if k != "minimalPayload"}
    spectra = [s for s in ctx.client.get("/api/spectra", full) if s["id"] in wanted]
    with ctx.progress.bar("spectra", total=len(spectra), unit="spectra") as bar:
        for start in range(0, len(spectra), 50):
            with ctx.cache.write() as tx:
                ctx.summary.count("spectra", tx.upsert_spectra(spectra[start : start + 50]))
            bar.update(len(spectra[start : start + 50]))


def _spectra_one_by_one(ctx: SyncContext, wanted: list[int]) -> None:
    def fetch(spectrum_id: int) -> dict:
        return ctx.client.get(f"/api/spectra/{spectrum_id}")

    with ctx.progress.bar("spectra", total=len(wanted), unit="spectra") as bar:
        for batch in ctx.map_concurrently(fetch, wanted, batch=20):
            with ctx.cache.write() as tx:
                ctx.summary.count("spectra", tx.upsert_spectra([spectrum for _, spectrum in batch]))
            bar.update(len(batch))


def sync_thumbnails(ctx: SyncContext) -> None:
    wanted = ctx.cache.thumbnails_to_fetch(limit=ctx.options.thumbnail_limit)
    with ctx.progress.bar("thumbnails", total=len(wanted), unit="images") as bar:
        for batch in ctx.map_concurrently(
            lambda item: thumbnail_bytes(ctx.client, item[2]), wanted
        ):
            result, skipped = store_thumbnails(ctx.cache, batch)
            ctx.summary.count("thumbnails", result)
            if skipped:
                ctx.summary.notes.append(f"thumbnails: {skipped} hosted elsewhere were not fetched")
            bar.update(len(batch))


def thumbnail_bytes(client: Any, url: str) -> bytes | None:
    """A cutout PNG from the server's own host; ``None`` for another host, which never
    gets the token."""
    parts, base = urlsplit(url), urlsplit(client.url)
    if parts.netloc and parts.netloc != base.netloc:
        return None
    return client.get_bytes(parts.path + (f"?{parts.query}" if parts.query else ""))


def store_thumbnails(
    cache: Any, fetched: list[tuple[tuple[str, str, str], bytes | None]]
) -> tuple[TableCounts, int]:
    """Put fetched cutouts in the cache in one transaction; ``(counts, skipped)``."""
    counts, skipped = TableCounts(), 0
    with cache.write() as tx:
        for (obj_id, kind, url), png in fetched:
            if png is None:
                skipped += 1
            else:
                counts.add(tx.put_thumbnail(obj_id, kind, url, png))
    return counts, skipped
