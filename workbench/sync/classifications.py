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

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .context import SyncContext, parse_time, to_iso, utcnow
from .listings import event_objs_or_note
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
    objs = event_objs_or_note(ctx, "classifications")
    if not objs:
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

        def land(records: list[dict]) -> None:
            seen.update(r["id"] for r in records)
            if keep is not None:
                records = [r for r in records if r.get("obj_id") in keep]
            if records:
                writer.add(records)

        todo = [(start, end)]
        claims: dict[tuple[dt.datetime, dt.datetime], _Claim] = {}
        plain: set[tuple[dt.datetime, dt.datetime]] = set()
        while todo:
            split: list[tuple[dt.datetime, dt.datetime]] = []
            for (lo, hi), (records, total) in _fetch_windows(ctx, todo):
                claim = claims.pop((lo, hi), None)
                if claim is not None:
                    if len(claim.rows) + total == claim.total:  # proven complete below lo
                        land(claim.rows)
                    else:  # the server's order was not by time: cut the part below lo
                        left = max(claim.total - total, 1)
                        cuts = _split(claim.lo, lo, claim.rows, left, ctx.options.page_size)
                        plain.update(cuts)  # cut further by their samples, not by claims
                        split.extend(cuts)
                if total > len(records) and hi - lo > MIN_WINDOW:
                    claim = None if (lo, hi) in plain else _time_ordered_head(lo, records, total)
                    if claim is not None:
                        claims[(claim.upto, hi)] = claim
                        split.append((claim.upto, hi))
                    else:
                        split.extend(_split(lo, hi, records, total, ctx.options.page_size))
                    continue
                if total > len(records):
                    records = _exhaust_window(ctx, lo, hi, total)
                land(records)
            todo = split
        writer.add(Finish(done))  # the watermark moves with the last windows' commit
    return seen


@dataclasses.dataclass(frozen=True)
class _Claim:
    """A page that looked like the first rows of ``[lo, hi]`` by time: ``rows`` (distinct)
    are created before ``upto``, and the window held ``total`` rows. It is proven to hold
    every row before ``upto`` when the window ``[upto, hi]`` counts ``total - len(rows)``."""

    lo: dt.datetime
    upto: dt.datetime
    rows: list[dict]
    total: int


def _time_ordered_head(lo: dt.datetime, records: list[dict], total: int) -> _Claim | None:
    """The claim of an overflowing window's page whose rows came in ``created_at`` order
    from the window's earliest (a real SkyPortal's table order), else ``None``.

    Then the next request asks for the rest of the window from the page's last instants,
    as the API docs' script pages, and the counts prove nothing was skipped: 1,203 rows
    took 3 requests where quantile cuts of that page (its rows all early) took 8. Rows
    in another order (the local server's, or a real one's after edits) are cut by
    :func:`_split` as before, and a claim the counts disprove costs one request.
    """
    times = [parse_time(r.get("created_at")) for r in records]
    if len(times) < 2 or any(t is None for t in times):
        return None
    # A real SkyPortal 1.4.0 returned its rows by id (one edited row first): created_at in
    # order for 445-485 of 499 pairs (rows posted concurrently).
    in_order = sum(a <= b for a, b in itertools.pairwise(times))
    # the page starts with its earliest rows (a row rewritten in place may come first)
    head = times[: max(1, len(times) // 20)]
    if min(head) > sorted(times)[len(times) // 20] or in_order < 0.8 * (len(times) - 1):
        return None
    # cut below the page's last rows: rows just after it may share their instants
    upto = min(times[len(times) - max(1, len(times) // 20) :])
    below = {r["id"]: r for r, t in zip(records, times, strict=True) if t < upto}
    if not below or upto <= lo:  # one instant: no progress by time
        return None
    return _Claim(lo, upto, list(below.values()), total)


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
