"""Cache writes behind the download: one thread commits batches in order while the
caller keeps fetching pages.

DuckDB releases the GIL while it executes, so a page being written and the next pages
being downloaded (and decoded) overlap; a sync then takes about as long as the slower of
the two instead of their sum. The queue is short, which bounds memory (at most ``depth``
batches wait) and holds the download back when the cache is the slower side.

Order is what keeps a sync resumable: batches are committed in the order submitted, each
with its own checkpoint, and after a failed batch nothing later is committed (a later
checkpoint would skip the failed pages on resume).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

_STOP: Any = object()


class WriteBehind:
    """Run submitted callables on one background thread, in order; re-raise its error.

    Use as a context manager: leaving the block waits for every submitted batch (also
    when the block raised, so complete pages read before an error are still committed)
    and then raises the writer's error, if any.
    """

    def __init__(self, depth: int = 2, name: str = "sync-writer") -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            if self._error is not None:
                continue  # an earlier batch failed: later checkpoints must not land
            try:
                job()
            except BaseException as exc:  # handed to the caller's thread
                self._error = exc

    def submit(self, job: Callable[[], Any]) -> None:
        """Queue ``job`` (blocks while ``depth`` batches wait); raises an earlier failure."""
        self.raise_error()
        self._queue.put(job)

    def raise_error(self) -> None:
        """Raise the writer's error in the caller's thread, once."""
        if self._error is not None:
            error, self._error = self._error, _Raised()
            if not isinstance(error, _Raised):
                raise error

    def close(self) -> None:
        """Wait for every submitted batch; raise the writer's error, if any."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self.raise_error()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        with contextlib.suppress(BaseException):  # the block's own error is the one to report
            self.close()


class _Raised(Exception):
    """Marks an error already raised, so later batches stay skipped without re-raising."""
