"""Python's cyclic garbage collector, run less often while a sync decodes pages.

A decoded 500-source page is ~10^5 dicts and lists. The collector's default (a young
collection every 700 allocations, promoting survivors) kept walking the pages waiting for
the cache writer and, every few pages, the whole heap (pandas, astropy: ~2x10^5 objects in
a notebook): 15-25% of a sync's CPU (``benchmarks/bench_sync_profile.py``). The pages hold
no reference cycles (reference counting frees them), so while any sync runs the young
threshold is raised 100-fold and restored when the last one ends. The collector still runs,
so cyclic garbage made meanwhile (an exception's traceback, say) is still freed.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between young collections while a sync runs (Python's default is 700).
SYNC_THRESHOLD0 = 70_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's young threshold for the block (nested and concurrent blocks
    share one raise; the thresholds found before the first are restored after the last)."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(SYNC_THRESHOLD0, _saved[0]), _saved[1], _saved[2])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                # only if nobody else changed them meanwhile
                if gc.get_threshold()[0] == max(SYNC_THRESHOLD0, _saved[0]):
                    gc.set_threshold(*_saved)
                _saved = None
