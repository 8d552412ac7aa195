"""Sources, candidates and GCN events: paginated listings with a change filter.

Each incremental pass asks only for what changed since the watermark (minus the overlap).
Removals are never guessed: after an incremental pass one cheap request compares the
server's ``totalMatches`` with the cache's count for the scope, and only a mismatch
triggers a full reconcile pass, whose keys then say exactly what the server still lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from .context import SyncContext, parse_time, to_iso, utcnow
from .paged import PagedResource, run_pass, server_total, settle_full_pass, since_of

#: Width of the detection window sent with a GCN-event scope, in days. SkyPortal refuses
#: bounds 10 or more "years" (3,720 days) apart; 3,650 days stays clear of that.
DETECTION_WINDOW_DAYS = 3650
#: How far before the event the window starts when the event is older than the window.
DETECTION_LEAD_DAYS = 365


def _csv(ids: tuple[int, ...]) -> str:
    return ",".join(str(i) for i in ids)


def sources_resource(
    ctx: SyncContext, *, since_param: str = "createdOrModifiedAfter"
) -> PagedResource:
    """The sources listing, oldest save first: new saves land at the end, not mid-pass."""
    # No includeThumbnails: every source has three cutout records, and storing them made
    # each page's ingest slower as the cache grew; a source's cutouts come on demand.
    params = {"sortBy": "saved_at", "sortOrder": "asc", "includeComments": "true"}
    if ctx.options.group_ids:
        params["group_ids"] = _csv(ctx.options.group_ids)
    _add_localization(ctx, params)
    name = "sources" if since_param == "createdOrModifiedAfter" else "sources_saved"
    return PagedResource(
        name=name,
        path="/api/sources",
        list_key="sources",
        table="sources",
        # includeComments: a record without the key has no comments
        upsert=_recording_event_objs(
            ctx, lambda tx, records: tx.upsert_sources(records, complete=("comments",))
        ),
        since_param=since_param,
        params=params,
    )


def candidates_resource(ctx: SyncContext) -> PagedResource:
    """The candidates listing; its pages are slow (seconds each), so they go concurrently."""
    params: dict[str, str] = {}
    if ctx.options.group_ids:
        params["groupIDs"] = _csv(ctx.options.group_ids)
    if ctx.options.filter_ids:
        params["filterIDs"] = _csv(ctx.options.filter_ids)
    _add_localization(ctx, params, candidates=True)
    return PagedResource(
        name="candidates",
        path="/api/candidates",
        list_key="candidates",
        table="candidates",
        upsert=_recording_event_objs(ctx, lambda tx, records: tx.upsert_candidates(records)),
        since_param="startDate",
        params=params,
    )


#: The ``sync_state`` row (scope ``event=<dateobs>``) whose ``objs`` say which objs the
#: event-scoped listings returned: ``{obj_id: when it was first listed (naive UTC ISO)}``.
EVENT_OBJS = "event_objs"


def _recording_event_objs(
    ctx: SyncContext, upsert: Callable[[Any, list[dict]], Any]
) -> Callable[[Any, list[dict]], Any]:
    """``upsert``, which in an event-scoped sync also records the page's objs as the
    event's, in the same transaction (a killed pass loses neither).

    Classifications and spectra of the event read this record: the server decided which
    objs lie in the localization (its own crossmatch, its cumprob semantics), so the cache
    keeps its answer rather than redo the crossmatch (whose localization may not even be
    cached yet: ``gcn_events`` syncs after them). The time stored is when this pass began,
    before any page was fetched: the embedded classifications are complete as of then.
    """
    if not ctx.options.gcn_event:
        return upsert
    started = to_iso(utcnow())
    scope = f"event={ctx.options.gcn_event}"

    def write(tx: Any, records: list[dict]) -> Any:
        result = upsert(tx, records)
        state = tx.get_sync_state(EVENT_OBJS, scope) or {}
        objs: dict[str, str] = dict(state.get("objs") or {})
        new = {r["id"] for r in records} - objs.keys()
        if new:
            objs.update(dict.fromkeys(sorted(new), started))
            tx.set_sync_state(EVENT_OBJS, scope, status="complete", objs=objs)
        return result

    return write


def event_objs(ctx: SyncContext) -> dict[str, str]:
    """``{obj_id: first listed (naive UTC ISO)}`` of the objs the event-scoped sources and
    candidates listings have returned so far (``{}`` outside an event-scoped sync)."""
    if not ctx.options.gcn_event:
        return {}
    state = ctx.cache.sync_state(EVENT_OBJS, f"event={ctx.options.gcn_event}") or {}
    return dict(state.get("objs") or {})


def event_objs_or_note(ctx: SyncContext, resource: str) -> dict[str, str]:
    """:func:`event_objs`; when there are none yet, a summary note says what to run."""
    objs = event_objs(ctx)
    if not objs:
        ctx.summary.notes.append(
            f"{resource}: no objects of the event {ctx.options.gcn_event} in the cache yet; "
            f"sync sources and candidates with this gcn_event first (they list them)"
        )
    return objs


def detection_window(
    event: str | dt.datetime, now: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """First/last-detection bounds (naive UTC) for listings scoped to a GCN event.

    A real SkyPortal 1.4.0 refuses a localization-scoped ``/api/sources`` or
    ``/api/candidates`` without them, and wants them less than 10 years apart. The
    window is the widest allowed that ends now (plus a day of clock skew): the last
    3,650 days, so every object detected then passes, as in the offline selection. For
    an event older than that, the window starts a year before the event instead.
    """
    end = (now or utcnow()) + dt.timedelta(days=1)
    start = end - dt.timedelta(days=DETECTION_WINDOW_DAYS)
    when = parse_time(event)
    if when is not None and when - dt.timedelta(days=DETECTION_LEAD_DAYS) < start:
        start = when - dt.timedelta(days=DETECTION_LEAD_DAYS)
        end = start + dt.timedelta(days=DETECTION_WINDOW_DAYS)
    return start, end


def _add_localization(
    ctx: SyncContext, params: dict[str, str], *, candidates: bool = False
) -> None:
    """Scope a listing to a GCN event's localization, as the server's own filter does.

    Sources take the detection bounds as ``startDate``/``endDate``; candidates read
    them as ``firstDetectionAfter``/``lastDetectionBefore`` (their ``startDate`` filters
    on ``passed_at`` and is the incremental watermark), with ``numberDetections``: with
    ``requireDetections`` on (the default) SkyPortal 1.4.0 (main at 8bd346c0d, the
    captures' server) refuses the query without all three; the v1.4.0 tag wanted only
    the two bounds. One detection keeps every object with a detection in the window.
    """
    if not ctx.options.gcn_event:
        return
    params["localizationDateobs"] = ctx.options.gcn_event
    params["localizationCumprob"] = "0.95"
    # without it a live 1.4.0 drops objects with no detection in the window (18, not 192, of
    # the 2018 GRB's 95% region): the bounds stay required, but only as a formality
    params["requireDetections"] = "false"
    start, end = (to_iso(t) for t in detection_window(ctx.options.gcn_event))
    if candidates:
        params |= {"firstDetectionAfter": start, "lastDetectionBefore": end}
        params["numberDetections"] = "1"
    else:
        params |= {"startDate": start, "endDate": end}


def sync_listing(ctx: SyncContext, res: PagedResource, count_in_cache) -> None:
    """One listing brought up to date, removals included.

    ``count_in_cache()`` gives the number of rows the cache holds for this scope, to be
    compared with the server's ``totalMatches``.
    """
    since = since_of(ctx, res)
    result = run_pass(ctx, res)
    if not result.full:
        if res.name == "sources" and since:
            # an old object newly saved to a group is not "modified": ask by save time too
            run_pass(ctx, sources_resource(ctx, since_param="savedAfter"), since=since)
        total = server_total(ctx, res)
        if total is None or total == count_in_cache():
            return
        ctx.summary.notes.append(
            f"{res.name}: the cache holds {count_in_cache()} rows, the server lists {total}; reconciling"
        )
        result = run_pass(ctx, res, full=True)
    settled = settle_full_pass(ctx, res, result)
    # An event-scoped pass lists only the event's objs: retaining what it saw deleted every
    # other source link and candidate from the cache (after a whole sync of 300 sources
    # and 60 candidates: 485 group links and 52 candidates), until the next unscoped sync
    # reconciled them back. Removals are left to the unscoped sync's count check.
    if settled is not None and not ctx.options.gcn_event:
        with ctx.cache.write() as tx:
            removed = tx.retain(res.name, settled.seen, group_ids=ctx.options.group_ids)
        if removed:
            ctx.summary.notes.append(
                f"{res.name}: {removed} rows no longer listed by the server removed"
            )


def _count_in_cache(ctx: SyncContext, resource: str) -> int:
    """The cache's rows of the listing's scope: with a GCN event, of its recorded objs (the
    whole cache's count never equals the event's ``totalMatches``: a reconcile each sync)."""
    objs = list(event_objs(ctx)) if ctx.options.gcn_event else None
    return ctx.cache.count_listed(resource, ctx.options.group_ids, obj_ids=objs)


def sync_sources(ctx: SyncContext) -> None:
    sync_listing(ctx, sources_resource(ctx), lambda: _count_in_cache(ctx, "sources"))


def sync_candidates(ctx: SyncContext) -> None:
    sync_listing(ctx, candidates_resource(ctx), lambda: _count_in_cache(ctx, "candidates"))


def sync_gcn_events(ctx: SyncContext) -> None:
    """GCN events, then the localizations (skymaps) not yet in the cache or changed since."""
    if ctx.options.gcn_event:
        events = [ctx.client.get(f"/api/gcn_event/{ctx.options.gcn_event}")]
        with ctx.cache.write() as tx:
            ctx.summary.count("gcn_events", tx.upsert_gcn_events(events))
    else:
        res = PagedResource(
            name="gcn_events",
            path="/api/gcn_event",
            list_key="events",
            table="gcn_events",
            upsert=lambda tx, records: tx.upsert_gcn_events(records),
        )
        run_pass(ctx, res, full=True)
        from .event_details import sync_event_details  # FAR, classes, distances: issue 10

        sync_event_details(ctx)
    _sync_localizations(ctx)


def _sync_localizations(ctx: SyncContext) -> None:
    wanted = ctx.cache.localizations_to_fetch(ctx.options.gcn_event)
    with ctx.progress.bar("localizations", total=len(wanted), unit="maps") as bar:
        for dateobs, name in wanted:
            data = ctx.client.get(f"/api/localization/{dateobs}/name/{name}")
            with ctx.cache.write() as tx:
                ctx.summary.count("localizations", tx.put_localization(dateobs, name, data))
            bar.update()
