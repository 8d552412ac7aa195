"""A checkpointed pass over one paginated SkyPortal listing.

Pages are upserted (a few at a time) in ONE transaction together with the checkpoint that
says they were done, so a pass killed anywhere (``kill -9`` included) resumes at the first page not
committed, with the same query parameters, and upserting by key makes the re-read of a
page harmless. The watermark moves only when a pass completes, and the next pass starts
``overlap`` before it (offset pagination over a changing set can move rows between pages).

A full pass (no watermark) is then checked against the server's ``totalMatches``: rows
that slid back across a page boundary while the pass read (a removal ahead of the reader
shifts everything after it) are fetched again by re-reading, never silently lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import SkyPortalError
from .context import SyncContext, parse_time, to_iso, utcnow
from .writer import Finish, PageWriter

Upsert = Callable[[Any, list[dict]], Any]


@dataclass
class PagedResource:
    """How to read one listing and where its rows land."""

    name: str  # the resource's name in sync_state
    path: str  # e.g. "/api/sources"
    list_key: str  # e.g. "sources"
    table: str  # the summary's table name
    upsert: Upsert  # (transaction, records) -> UpsertResult
    since_param: str | None = None  # the server's change filter, e.g. createdOrModifiedAfter
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class PassResult:
    """What one pass saw: the keys it read and the ``totalMatches`` each page reported."""

    seen: set[Any]
    totals: set[int]
    full: bool

    @property
    def total(self) -> int | None:
        return max(self.totals) if self.totals else None

    @property
    def consistent(self) -> bool:
        """True when the listing did not change while the pass read it."""
        return len(self.totals) <= 1 and len(self.seen) == (self.total or 0)


def run_pass(
    ctx: SyncContext, res: PagedResource, *, full: bool = False, since: str | None = None
) -> PassResult:
    """Read every page of ``res`` newer than its watermark (or all with ``full``, or newer
    than an explicit ``since``) into the cache."""
    scope = ctx.options.scope(res.name)
    state = ctx.cache.sync_state(res.name, scope) or {}
    if since is None and state.get("status") == "running" and state.get("pass_id"):
        pass_id, since = state["pass_id"], state.get("pass_since")  # resume where it stopped
        start_page = int(state.get("last_page") or 0) + 1
        started = state.get("pass_started") or to_iso(utcnow())
    else:
        pass_id, start_page, started = uuid.uuid4().hex, 1, to_iso(utcnow())
        if since is None and not full:
            since = _since(ctx, state)
    params = dict(res.params)
    if since and res.since_param:
        params[res.since_param] = since
    pages = ctx.client.iter_pages(
        res.path,
        params,
        list_key=res.list_key,
        page_size=ctx.options.page_size,
        concurrency=ctx.options.concurrency,
        start_page=start_page,
    )
    checkpoint = {"pass_id": pass_id, "pass_since": since, "pass_started": started}
    result = PassResult(seen=set(), totals=set(), full=not since)
    with ctx.progress.bar(res.name) as bar:
        # the pass is marked complete in the transaction of its last pages (one commit
        # less after the download)
        finish = Finish(lambda tx: _finish_pass(ctx, tx, res, scope, started, state))
        _read_pages(ctx, res, scope, pages, checkpoint, result, bar, finish)
    if start_page > 1:  # resumed: the pages before the kill were not seen by this process
        result.totals.add(-1)
    return result


def _read_pages(
    ctx, res, scope, pages, checkpoint, result: PassResult, bar, finish: Finish
) -> None:
    """Write the pages as they arrive (see :class:`.writer.PageWriter`), committing a few
    at a time with the checkpoint of the last; if the server fails mid-pass, the complete
    pages already read are committed before the error propagates. ``finish`` runs in the
    transaction of the last pages once every page was read.

    Pages go to the writer :data:`GROUP_PAGES` at a time (an upsert call a page cost
    10-50% more CPU than one per five pages), and one at a time once fewer than that are
    still to come, so that at most one page's work is left after the last byte.
    """

    last: list[Any] = []  # the last page written and not yet checkpointed

    def write(tx, batch: list[Any]) -> None:
        got = [p for item in batch if not isinstance(item, Finish) for p in item]
        if got:
            _write_pages(ctx, res, tx, got)
            last[:] = got[-1:]
        for item in batch:
            if isinstance(item, Finish):
                last.clear()  # the pass is complete: no "running" checkpoint after it
                item.run(tx)

    def save_checkpoint(tx) -> None:
        # once a transaction, not once a page: two statements a page saved
        if last:
            page = last.pop()
            tx.set_sync_state(
                res.name,
                scope,
                status="running",
                last_page=page.number,
                total=page.total,
                **checkpoint,
            )

    # groups waiting for a busy writer are written in one call: up to a transaction's
    # worth and a group (the old batches held that many pages, twice over)
    pages_a_commit = -(-ctx.options.commit_rows // max(1, ctx.options.page_size))
    groups_a_commit = -(-pages_a_commit // GROUP_PAGES) + 1
    with PageWriter(
        ctx.cache,
        write,
        commit_rows=ctx.options.commit_rows,
        size=lambda item: 0 if isinstance(item, Finish) else sum(len(p.records) for p in item),
        committed=bar.update,
        before_commit=save_checkpoint,
        depth=max(2, ctx.options.write_depth, groups_a_commit),
    ) as writer:
        group: list[Any] = []
        try:
            for page in pages:
                if page.total is not None:
                    result.totals.add(int(page.total))
                    bar.total = page.total
                result.seen.update(record["id"] for record in page.records)
                group.append(page)
                if len(group) >= GROUP_PAGES or _near_end(page, ctx.options.page_size):
                    writer.add(group)
                    group = []
        except SkyPortalError:
            if group:
                writer.add(group)
            writer.finish()
            raise
        if group:
            writer.add(group)
        writer.add(finish)


#: Pages handed to the cache writer together while more than that are still to come.
GROUP_PAGES = 3


def _near_end(page: Any, page_size: int) -> bool:
    """Fewer than :data:`GROUP_PAGES` pages come after ``page`` (by its ``totalMatches``;
    a server that pages by fewer rows than asked only makes the groups end sooner)."""
    if page.total is None:
        return False
    last = -(-int(page.total) // max(1, page_size))
    return last - page.number < GROUP_PAGES


def since_of(ctx: SyncContext, res: PagedResource) -> str | None:
    """The change-filter value the next incremental pass of ``res`` will use."""
    return _since(ctx, ctx.cache.sync_state(res.name, ctx.options.scope(res.name)) or {})


def _since(ctx: SyncContext, state: dict) -> str | None:
    if ctx.options.since is not None:
        return to_iso(ctx.options.since)
    watermark = parse_time(state.get("watermark"))
    return to_iso(watermark - ctx.options.overlap) if watermark else None


def _write_pages(ctx: SyncContext, res: PagedResource, tx: Any, pages: list[Any]) -> None:
    """Upsert consecutive pages into the open transaction ``tx`` (the writer records the
    checkpoint of the last one before it commits)."""
    records = pages[0].records if len(pages) == 1 else [r for p in pages for r in p.records]
    ctx.summary.count(res.table, res.upsert(tx, records))


def _finish_pass(ctx, tx, res, scope, started, state) -> None:
    """Mark the pass complete in ``tx``: the watermark moves to its start."""
    # A backfill (--since) must not move the saved watermark backwards.
    watermark = started
    old = parse_time(state.get("watermark"))
    if ctx.options.since is not None and old is not None and old > parse_time(started):
        watermark = to_iso(old)
    tx.set_sync_state(
        res.name,
        scope,
        status="complete",
        watermark=watermark,
        pass_id=None,
        pass_since=None,
        last_page=None,
    )


def settle_full_pass(
    ctx: SyncContext, res: PagedResource, result: PassResult, *, attempts: int = 2
) -> PassResult | None:
    """Re-read a full listing until one pass sees it unchanged from first page to last.

    A pass during which the listing changed (its pages disagree on ``totalMatches``, or it
    saw a different number of rows than that) may have missed rows that slid back across
    a page boundary. Each re-read upserts idempotently. Returns the first consistent pass,
    whose keys are exactly the server's, or ``None`` (noted in the summary) when the
    listing kept changing.
    """
    for _ in range(attempts + 1):
        if result.consistent:
            return result
        ctx.summary.notes.append(
            f"{res.name}: the listing changed while it was read "
            f"({len(result.seen)} rows seen, totalMatches {sorted(result.totals)}); reading it again"
        )
        result = run_pass(ctx, res, full=True)
    if result.consistent:
        return result
    ctx.summary.notes.append(
        f"{res.name}: still changing after {attempts} re-reads; run sync again"
    )
    return None


def server_total(ctx: SyncContext, res: PagedResource) -> int | None:
    """The server's ``totalMatches`` for the whole listing, in one cheap request."""
    data = ctx.client.get(res.path, {**res.params, "numPerPage": 1, "pageNumber": 1})
    total = data.get("totalMatches") if isinstance(data, dict) else None
    return None if total is None else int(total)
