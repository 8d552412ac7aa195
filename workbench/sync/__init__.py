"""Server -> cache: incremental, resumable, exact.

:class:`Syncer` runs each resource's sync in a fixed order (reference data first). Each
resource commits its own pages with its own checkpoints, so a failure in one (say the
server returns 500s on candidates) is recorded in the summary while the others still
land, and the next run resumes where each stopped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..errors import SkyPortalError, WorkbenchError
from .classifications import sync_classifications
from .collector import fewer_collections
from .context import ALL_RESOURCES, SyncContext, SyncOptions
from .listings import sync_candidates, sync_gcn_events, sync_sources
from .objects import sync_photometry, sync_spectra, sync_thumbnails
from .reference import sync_galaxies, sync_groups, sync_taxonomies
from .scanner import BackgroundSync, scanner_phase, wait_for_background
from .summary import LANDS_EMBEDDED, Stopwatch, SyncSummary

RESOURCE_SYNCS: dict[str, Callable[[SyncContext], None]] = {
    "groups": sync_groups,
    "taxonomies": sync_taxonomies,
    "sources": sync_sources,
    "candidates": sync_candidates,
    "photometry": sync_photometry,
    "classifications": sync_classifications,
    "spectra": sync_spectra,
    "thumbnails": sync_thumbnails,
    "gcn_events": sync_gcn_events,
    "galaxies": sync_galaxies,
}


class Syncer:
    """Brings a :class:`~workbench.cache.Cache` up to date from a SkyPortal client."""

    def __init__(self, client: Any, cache: Any) -> None:
        self.client = client
        self.cache = cache

    def run(
        self,
        options: SyncOptions | None = None,
        *,
        on_resource: Callable[[str], None] | None = None,
        **overrides: Any,
    ) -> SyncSummary:
        """Sync the resources named in ``options`` and return what was done.

        Raises nothing for a resource that fails on the server's side (its error is in
        the summary; see ``summary.ok``), but does raise for errors that would fail every
        resource alike (bad token, server unreachable, cache locked). ``on_resource`` is
        called with each resource's name when it is finished.
        """
        options = self._options(options, overrides)
        wait_for_background(self.cache)  # a scanner-first sync's rest must finish first
        # One read-write connection for the whole run (given up to any other process that
        # asks): opening the file for each transaction cost more than most transactions.
        with self.cache.keep_open(), fewer_collections():
            return self._run(options, on_resource)

    def _run(self, options: SyncOptions, on_resource: Callable[[str], None] | None) -> SyncSummary:
        ctx = SyncContext(self.client, self.cache, options)
        before = self.client.stats.snapshot()
        # only the tables whose new rows are settled (counting all 18 cost ~20 ms twice)
        rows_before = self.cache.counts(tuple(LANDS_EMBEDDED))
        clock = Stopwatch()
        for name in ALL_RESOURCES:
            if name in options.resources:
                self._run_one(ctx, name)
                if on_resource is not None:
                    on_resource(name)
        ctx.summary.settle_new(rows_before, self.cache.counts(tuple(LANDS_EMBEDDED)))
        after = self.client.stats.snapshot()
        ctx.summary.requests = after["requests"] - before["requests"]
        ctx.summary.retries = after["retries"] - before["retries"]
        ctx.summary.rate_limited = after["rate_limited"] - before["rate_limited"]
        ctx.summary.seconds = clock.elapsed
        return ctx.summary

    def run_scanner_first(
        self, options: SyncOptions | None = None, **overrides: Any
    ) -> SyncSummary:
        """Sync what the vetting panel needs now, the rest on a background thread.

        Groups, taxonomies and the candidates (with their photometry and cutouts, best
        score first) are synced before this returns; every other resource asked for
        continues in a :class:`~workbench.sync.scanner.BackgroundSync`, found as
        ``summary.background`` (``summary.still_coming`` names what it has not finished).
        """
        options = self._options(options, overrides)
        wait_for_background(self.cache)
        with self.cache.keep_open(), fewer_collections():
            summary, rest = scanner_phase(self, options)
        if rest:
            summary.background = BackgroundSync(self, options, rest)
        return summary

    @staticmethod
    def _options(options: SyncOptions | None, overrides: dict[str, Any]) -> SyncOptions:
        options = dataclasses.replace(options or SyncOptions(), **overrides)
        unknown = set(options.resources) - set(RESOURCE_SYNCS)
        if unknown:
            raise WorkbenchError(
                f"unknown resources {sorted(unknown)}; choose from {list(ALL_RESOURCES)}"
            )
        return options

    def _run_one(self, ctx: SyncContext, name: str) -> None:
        from ..errors import AuthError, CacheError, ConnectionFailed

        clock = Stopwatch()
        try:
            RESOURCE_SYNCS[name](ctx)
        except (AuthError, CacheError, ConnectionFailed):
            raise  # would fail every other resource alike: stop now, checkpoints are kept
        except SkyPortalError as exc:
            ctx.summary.resources[name] = str(exc)
        else:
            ctx.summary.resources[name] = "ok"
        finally:
            ctx.summary.resource_seconds[name] = clock.elapsed


__all__ = ["ALL_RESOURCES", "SyncOptions", "SyncSummary", "Syncer"]
