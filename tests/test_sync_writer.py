"""The write-behind thread of a sync: order kept, errors raised in the caller, nothing
committed after a failed batch (a later checkpoint would skip the failed pages)."""

from __future__ import annotations

import pytest

from workbench.errors import CacheError, SkyPortalError
from workbench.sync.writer import WriteBehind


def test_batches_run_in_order_and_all_run_before_exit():
    done: list[int] = []
    with WriteBehind(depth=1) as writer:
        for i in range(20):
            writer.submit(lambda i=i: done.append(i))
    assert done == list(range(20))


def test_an_error_stops_later_batches_and_is_raised():
    done: list[int] = []

    def fail() -> None:
        raise CacheError("disk full")

    with pytest.raises(CacheError, match="disk full"), WriteBehind(depth=4) as writer:
        writer.submit(lambda: done.append(1))
        writer.submit(fail)
        for i in range(2, 6):  # a submit after the failure raises it here
            writer.submit(lambda i=i: done.append(i))
    assert done[0] == 1
    assert all(i < 2 for i in done)  # nothing after the failed batch was committed


def test_the_blocks_own_error_wins_but_queued_batches_still_land():
    done: list[int] = []
    with pytest.raises(SkyPortalError, match="server down"), WriteBehind(depth=3) as writer:
        writer.submit(lambda: done.append(1))
        writer.submit(lambda: done.append(2))
        raise SkyPortalError("server down")
    assert done == [1, 2]  # complete pages read before the error are committed
