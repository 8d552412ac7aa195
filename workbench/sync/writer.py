"""Cache writes behind the download: one thread commits batches in order while the
caller keeps fetching pages.

DuckDB releases the GIL while it executes, so a page being written and the next pages
being downloaded (and decoded) overlap; a sync then takes about as long as the slower of
the two instead of their sum. The queue is short, which bounds memory (at most ``depth``
batches wait) and holds the download back when the cache is the slower side.

Order is what keeps a sync resumable: batches are committed in the order submitted, each
with its own checkpoint, and after a failed batch nothing later is committed (a later
checkpoint would skip the failed pages on resume).

:class:`PageWriter` (the paged listings and classification windows) writes each page as
it arrives into a transaction it keeps open for a few pages.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

#: How often (seconds) a writer with an open transaction and no page to write looks for
#: another writer waiting for the cache.
_WAIT_POLL = 0.02


class PageWriter:
    """Pages written into the cache as they arrive, committed a few at a time.

    The download thread hands each page to :meth:`add`; one background thread upserts it
    at once into the open transaction (pages that queued up while it worked go in
    together, one upsert call), so when the last page arrives at most one page's
    work is left; batching whole transactions of ``commit_rows`` rows left a whole
    batch to write after the download ended. A transaction is still committed only
    every ``commit_rows`` rows (its fixed cost amortised), or when it has been open
    ``max_open`` seconds, or when another process knocks for the file, so others wait
    at most that long: a write from another thread of this process (a vetting click
    while a background sync runs) gets in within ~20 ms of asking while the writer waits
    for pages, or after the page being written.

    ``write(tx, items)`` upserts a list of added items; ``before_commit(tx)`` runs just
    before each commit (to record, once a transaction, the checkpoint of its last page),
    so a commit holds the pages together with the checkpoint that says they were done (a
    ``kill -9`` resumes after the last commit); ``committed(rows)`` is called after each
    commit with the rows it held. ``depth`` items wait at most (the download is held
    back beyond that); when the writer is the slower side, what waited is written in one
    call, which costs less than a call per page. Use as a context manager: leaving
    the block normally commits what is open; leaving it on an error rolls the open
    transaction back (its pages are read again on resume), unless :meth:`finish` was
    called first (e.g. to keep complete pages read before the server failed).
    """

    def __init__(
        self,
        cache: Any,
        write: Callable[[Any, list[Any]], None],
        *,
        commit_rows: int,
        size: Callable[[Any], int] = len,
        committed: Callable[[int], None] | None = None,
        before_commit: Callable[[Any], None] | None = None,
        depth: int = 4,
        max_open: float = 1.0,
        name: str = "sync-writer",
    ) -> None:
        self._cache = cache
        self._write = write
        self._size = size
        self._committed = committed
        self._before_commit = before_commit
        self._commit_rows = max(1, commit_rows)
        self._max_open = max_open
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._raised = False
        self._tx_cm: Any = None  # the open ``cache.write()`` block, entered on this thread
        self._tx: Any = None
        self._rows = 0
        self._opened = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                timeout = None
                if self._tx is not None:  # look for someone waiting every few ms meanwhile
                    left = self._opened + self._max_open - time.monotonic()
                    timeout = max(0.0, min(left, _WAIT_POLL))
                job = self._queue.get(timeout=timeout)
            except queue.Empty:
                # the download paused: do not keep others waiting (another thread's write,
                # another process's knock) longer than a poll, nor anyone past max_open
                if self._tx is not None and (
                    time.monotonic() - self._opened >= self._max_open or self._wanted()
                ):
                    self._guard(self._commit)
                continue
            if isinstance(job, _Stop):
                if self._error is None and job.commit:
                    self._guard(self._commit)
                self._rollback(None)
                return
            items = [job]
            rows = self._size(job)
            stop = None
            while rows < self._commit_rows:  # what queued meanwhile goes in the same call
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(more, _Stop):
                    stop = more
                    break
                items.append(more)
                rows += self._size(more)
            if self._error is None:
                self._guard(lambda i=items, r=rows: self._add(i, r))
            if stop is not None:
                self._queue.put(stop)  # seen next turn (the queue has room: we took one)

    def _guard(self, step: Callable[[], None]) -> None:
        try:
            step()
        except BaseException as exc:  # handed to the caller's thread
            self._rollback(exc)
            self._error = exc

    def _add(self, items: list[Any], rows: int) -> None:
        if self._tx is None:
            self._tx_cm = self._cache.write()
            self._tx = self._tx_cm.__enter__()
            self._opened = time.monotonic()
        self._write(self._tx, items)
        self._rows += rows
        if (
            self._rows >= self._commit_rows
            or time.monotonic() - self._opened >= self._max_open
            or self._wanted()
        ):
            self._commit()

    def _wanted(self) -> bool:
        """Another thread of this process waits to write, or another process knocked."""
        return self._cache.writers_waiting() > 0 or self._cache.knocked()

    def _commit(self) -> None:
        if self._tx is None:
            return
        if self._before_commit is not None:
            self._before_commit(self._tx)
        cm, rows = self._tx_cm, self._rows
        self._tx_cm = self._tx = None
        self._rows = 0
        cm.__exit__(None, None, None)
        if self._committed is not None:
            self._committed(rows)

    def _rollback(self, exc: BaseException | None) -> None:
        if self._tx is None:
            return
        cm = self._tx_cm
        self._tx_cm = self._tx = None
        self._rows = 0
        error = exc or _RolledBack("the page writer stopped")
        with contextlib.suppress(BaseException):  # the error that got us here is reported
            cm.__exit__(type(error), error, error.__traceback__)

    # -- the caller's thread -------------------------------------------------------------
    def add(self, item: Any) -> None:
        """Hand one page to the writer (blocks while ``depth`` wait); raises its error."""
        self.raise_error()
        self._queue.put(item)

    def raise_error(self) -> None:
        """Raise the writer's error in the caller's thread, once."""
        if self._error is not None and not self._raised:
            self._raised = True
            raise self._error

    def finish(self, *, commit: bool = True) -> None:
        """Write every page added, commit (or roll back) the open transaction and stop
        the thread; raise the writer's error, if any."""
        if self._thread.is_alive():
            self._queue.put(_Stop(commit))
            self._thread.join()
        self.raise_error()

    def __enter__(self) -> PageWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.finish()
            return
        with contextlib.suppress(BaseException):  # the block's own error is the one to report
            self.finish(commit=False)


@dataclasses.dataclass(frozen=True)
class Finish:
    """An item added after the last page: ``run(tx)`` marks the work done in the
    transaction of the last pages (committed with them, or not at all)."""

    run: Callable[[Any], None]


@dataclasses.dataclass(frozen=True)
class _Stop:
    commit: bool


class _RolledBack(Exception):
    """Rolls back the open transaction when the writer stops without committing it."""
