"""Classifications, read in time windows that each fit in one page.

SkyPortal's ``/api/classification`` pages have no ORDER BY: paging 2,104 rows at 500 a
page, with nothing being written, returned 235 duplicates and missed 235 (DESIGN.md).
So the sync never asks for a second page. It splits the ``created_at`` range
(``startDate``/``endDate``, both inclusive) in halves until each window's
``totalMatches`` fits in one page, and checks it got that many distinct rows. Edits are
invisible to ``startDate``; the classifications embedded in synced sources and
candidates carry them.

A GCN-event-scoped sync reads only the event's objs' classifications: the scoped
sources and candidates listings embed each obj's complete set (SkyPortal's listings carry
``classifications`` without any ``include`` flag: see the live captures), and the objs
they returned are recorded (:func:`.listings.event_objs`). What is left is what was
created since an obj was listed: the windows from then (or from the event's own
watermark) until now, whole-server but incremental, kept for the event's objs only.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .context import SyncContext, parse_time, to_iso, utcnow
from .listings import event_objs
from .writer import Finish, PageWriter

PATH = "/api/classification"
EARLIEST = dt.datetime(2000, 1, 1)
#: Windows narrower than this are not split further (many rows with one timestamp).
MIN_WINDOW = dt.timedelta(milliseconds=1)


def _fmt(t: dt.datetime) -> str:
    return t.isoformat(timespec="microseconds")


def sync_classifications(ctx: SyncContext) -> None:
    """Bring classifications created since the watermark into the cache (with a GCN event
    in the options: only the classifications of that event's objs)."""
    if ctx.options.gcn_event:
        _sync_event_classifications(ctx)
        return
    scope = ctx.options.scope("classifications")
    state = ctx.cache.sync_state("classifications", scope) or {}
    watermark = parse_time(state.get("watermark"))
    start = ctx.options.since or (watermark - ctx.options.overlap if watermark else EARLIEST)
    seen = _read_windows(ctx, scope, start)
    if ctx.options.reconcile and start == EARLIEST:
        with ctx.cache.write() as tx:
            removed = tx.retain("classifications", seen)
        if removed:
            ctx.summary.notes.append(f"classifications: {removed} deleted on the server, removed")


def _sync_event_classifications(ctx: SyncContext) -> None:
    """The event's objs' classifications created since the scoped listings embedded them.

    Each obj's listing carried its complete set as of when that pass began (the time the
    event record keeps); from the earliest such time, or from the event's own watermark
    (kept under a scope naming the event, so the whole-server watermark never moves), the
    windows of ``/api/classification`` are read and only the event's objs' rows kept.
    Right after the scoped listings that is one request holding minutes of rows.
    """
    objs = event_objs(ctx)
    if not objs:
        ctx.summary.notes.append(
            f"classifications: no objects of the event {ctx.options.gcn_event} in the cache "
            f"yet; sync sources and candidates with this gcn_event (they carry them)"
        )
        return
    scope = ctx.options.scope("classifications")
    state = ctx.cache.sync_state("classifications", scope) or {}
    since = parse_time(state.get("watermark")) or min(
        t for t in (parse_time(v) for v in objs.values()) if t is not None
    )
    start = ctx.options.since or since - ctx.options.overlap
    _read_windows(ctx, scope, start, keep=set(objs))


def _read_windows(
    ctx: SyncContext, scope: str, start: dt.datetime, keep: set[str] | None = None
) -> set[int]:
    """Read ``[start, now]`` in windows of one page each into the cache, then move the
    watermark of ``scope``; the ids seen. ``keep``: store only these objs' rows."""
    end = utcnow() + dt.timedelta(minutes=1)
    seen: set[int] = set()

    def write(tx, windows: list[Any]) -> None:
        got = [w for w in windows if not isinstance(w, Finish)]
        records = got[0] if len(got) == 1 else [r for w in got for r in w]
        if records:
            ctx.summary.count("classifications", tx.upsert_classifications(records))
        for item in windows:
            if isinstance(item, Finish):
                item.run(tx)

    def done(tx) -> None:
        watermark = to_iso(end - dt.timedelta(minutes=1))
        tx.set_sync_state("classifications", scope, status="complete", watermark=watermark)

    # Each window is written as it arrives, several to a transaction (the watermark moves
    # only at the end, so a kill re-reads them all: nothing is lost); writing only once
    # 2,500 rows had come left all of a small sync's work after its download.
    # The windows of one split are fetched concurrently: a split's windows are all known
    # at once, and reading them one after another made the sync slower than paging.
    with (
        ctx.progress.bar("classifications") as bar,
        PageWriter(
            ctx.cache,
            write,
            commit_rows=ctx.options.commit_rows,
            size=lambda item: 0 if isinstance(item, Finish) else len(item),
            committed=bar.update,
            depth=max(2, ctx.options.write_depth),
        ) as writer,
    ):
        todo = [(start, end)]
        while todo:
            split: list[tuple[dt.datetime, dt.datetime]] = []
            for (lo, hi), (records, total) in _fetch_windows(ctx, todo):
                if total > len(records) and hi - lo > MIN_WINDOW:
                    split.extend(_split(lo, hi, records, total, ctx.options.page_size))
                    continue
                if total > len(records):
                    records = _exhaust_window(ctx, lo, hi, total)
                seen.update(r["id"] for r in records)
                if keep is not None:
                    records = [r for r in records if r.get("obj_id") in keep]
                if records:
                    writer.add(records)
            todo = split
        writer.add(Finish(done))  # the watermark moves with the last windows' commit
    return seen


def _split(
    lo: dt.datetime, hi: dt.datetime, sample: list[dict], total: int, page_size: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Cut ``[lo, hi]`` into windows expected to hold at most ~70% of a page each.

    The rows of the overflowing page are a sample of the window's ``created_at``
    distribution, so its quantiles place the cuts where the rows are; a window that still
    overflows is cut again. With no usable sample, halve.
    """
    times = sorted(
        t for t in (parse_time(r.get("created_at")) for r in sample) if t and lo < t < hi
    )
    pieces = max(2, -(-total // int(page_size * 0.7)))
    cuts = (
        sorted({times[len(times) * i // pieces] for i in range(1, pieces)})
        if len(times) >= pieces
        else []
    )
    if not cuts:
        cuts = [lo + (hi - lo) / 2]
    edges = [lo, *cuts, hi]
    return list(itertools.pairwise(edges))


def _fetch_windows(
    ctx: SyncContext, windows: list[tuple[dt.datetime, dt.datetime]]
) -> Iterator[tuple[tuple[dt.datetime, dt.datetime], tuple[list[dict], int]]]:
    """Each window's first page, fetched concurrently (within the client's rate limit)."""
    if len(windows) == 1:
        yield windows[0], _window(ctx, *windows[0])
        return
    # Each window is yielded as soon as it and those before it are in (pool.map yields
    # in order as results come), so the writer starts on the first while the others
    # download; a few at a time, so that only those wait in memory for the writer.
    workers = max(1, ctx.options.concurrency)
    chunk = 4 * workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
        for start in range(0, len(windows), chunk):
            part = windows[start : start + chunk]
            yield from zip(part, pool.map(lambda w: _window(ctx, *w), part), strict=True)


def _window(ctx: SyncContext, lo: dt.datetime, hi: dt.datetime) -> tuple[list[dict], int]:
    params = {
        "startDate": _fmt(lo),
        "endDate": _fmt(hi),
        "numPerPage": ctx.options.page_size,
        "pageNumber": 1,
    }
    data = ctx.client.get(PATH, params)
    records = data.get("classifications", [])
    return records, int(data.get("totalMatches", len(records)))


def _exhaust_window(
    ctx: SyncContext, lo: dt.datetime, hi: dt.datetime, total: int, tries: int = 20
) -> list[dict]:
    """More rows share one instant than a page holds: page it until every row was seen.

    Unordered pages return a random subset each time, so repeated passes converge.
    """
    found: dict[int, dict] = {}
    pages = -(-total // ctx.options.page_size)
    for _ in range(tries):
        for number in range(1, pages + 1):
            params = {
                "startDate": _fmt(lo),
                "endDate": _fmt(hi),
                "numPerPage": ctx.options.page_size,
                "pageNumber": number,
            }
            for record in ctx.client.get(PATH, params).get("classifications", []):
                found[record["id"]] = record
        if len(found) >= total:
            break
    if len(found) < total:
        ctx.summary.notes.append(
            f"classifications: {total - len(found)} rows at {_fmt(lo)} could not be read"
        )
    return list(found.values())
