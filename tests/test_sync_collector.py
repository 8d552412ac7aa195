"""While a sync runs the cyclic collector's young threshold is raised, and restored after."""

from __future__ import annotations

import gc
import threading

from workbench.sync.collector import SYNC_THRESHOLD0, fewer_collections


def test_the_threshold_is_raised_for_nested_and_concurrent_syncs_and_restored():
    before = gc.get_threshold()
    inside: list[int] = []
    entered, release = threading.Event(), threading.Event()

    def other_sync() -> None:
        with fewer_collections():
            entered.set()
            release.wait(30)
            inside.append(gc.get_threshold()[0])

    with fewer_collections():
        assert gc.get_threshold() == (SYNC_THRESHOLD0, before[1], before[2])
        thread = threading.Thread(target=other_sync)
        thread.start()
        assert entered.wait(30)
        with fewer_collections():  # nested in the same thread
            assert gc.get_threshold()[0] == SYNC_THRESHOLD0
        assert gc.get_threshold()[0] == SYNC_THRESHOLD0
    # the other sync still runs: still raised until it ends
    assert gc.get_threshold()[0] == SYNC_THRESHOLD0
    release.set()
    thread.join(30)
    assert inside == [SYNC_THRESHOLD0]
    assert gc.get_threshold() == before


def test_an_error_in_the_block_still_restores_the_threshold():
    before = gc.get_threshold()
    try:
        with fewer_collections():
            raise ValueError("a failed sync")
    except ValueError:
        pass
    assert gc.get_threshold() == before
