"""What every resource sync needs: the client, the cache, the options, the summary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .summary import Progress, SyncSummary

#: Resources in the order a full sync runs them: reference data first, so that objects
#: can be joined to groups and taxonomies as soon as they land.
ALL_RESOURCES = (
    "groups",
    "taxonomies",
    "sources",
    "candidates",
    "photometry",
    "classifications",
    "spectra",
    "thumbnails",
    "gcn_events",
    "galaxies",
)


#: Resources whose watermark is kept per GCN event in an event-scoped sync: classifications
#: and spectra of an event are read for its objs only, so a scoped pass must never make the
#: next whole-server pass skip rows.
SCOPED_BY_EVENT = frozenset(
    {"gcn_events", "galaxies", "sources", "candidates", "classifications", "spectra"}
)


@dataclass(frozen=True)
class SyncOptions:
    """What to sync and how hard to push the server.

    ``since`` (UTC) overrides the saved watermarks for this run only (a backfill never
    moves them back). ``overlap`` is the lag window re-read at each incremental pass, so a
    row committed on the server just before the last pass ended is not missed.
    """

    resources: tuple[str, ...] = ALL_RESOURCES
    group_ids: tuple[int, ...] = ()
    filter_ids: tuple[int, ...] = ()
    gcn_event: str | None = None
    galaxy_catalog: str | None = None
    since: dt.datetime | None = None
    overlap: dt.timedelta = dt.timedelta(minutes=10)
    page_size: int = 500
    commit_rows: int = 2500  # rows committed per cache transaction (pages are not split)
    concurrency: int = 4
    write_depth: int = 2  # pages waiting for the cache writer (at least a commit_rows worth)
    photometry_bulk_threshold: int = 50
    thumbnail_limit: int = 200
    reconcile: bool = False
    progress: bool = True

    def scope(self, resource: str) -> str:
        """The key under which a resource's watermark is kept for this scope."""
        parts = []
        if self.group_ids and resource in {"sources", "candidates", "spectra"}:
            parts.append("groups=" + ",".join(map(str, sorted(self.group_ids))))
        if self.filter_ids and resource == "candidates":
            parts.append("filters=" + ",".join(map(str, sorted(self.filter_ids))))
        if self.gcn_event and resource in SCOPED_BY_EVENT:
            parts.append(f"event={self.gcn_event}")
        if self.galaxy_catalog and resource == "galaxies":
            parts.append(f"catalog={self.galaxy_catalog}")
        return ";".join(parts)


@dataclass
class SyncContext:
    client: Any
    cache: Any
    options: SyncOptions
    summary: SyncSummary = field(default_factory=SyncSummary)

    def __post_init__(self) -> None:
        self.progress = Progress(self.options.progress)

    def map_concurrently(
        self, fn: Callable[[Any], Any], items: Iterable[Any], *, batch: int = 50
    ) -> Iterator[list[tuple[Any, Any]]]:
        """Run ``fn`` over ``items`` on up to ``options.concurrency`` threads.

        Yields batches of ``(item, result)`` in input order, so the caller can commit each
        batch in one transaction. The client's shared rate limiter bounds the request rate.
        """
        items = list(items)
        workers = max(1, self.options.concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
            for start in range(0, len(items), batch):
                chunk = items[start : start + batch]
                yield list(zip(chunk, pool.map(fn, chunk), strict=True))


def utcnow() -> dt.datetime:
    """Naive UTC now, the way SkyPortal writes timestamps."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def to_iso(value: dt.datetime | None) -> str | None:
    """A naive-UTC ISO-8601 string as SkyPortal's filters accept it."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds")


def parse_time(value: Any) -> dt.datetime | None:
    """Parse a watermark stored as a string or datetime; naive UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return (
            value.replace(tzinfo=None)
            if value.tzinfo is None
            else value.astimezone(dt.UTC).replace(tzinfo=None)
        )
    text = str(value).replace("Z", "+00:00")
    parsed = dt.datetime.fromisoformat(text)
    return parse_time(parsed) if parsed.tzinfo else parsed
