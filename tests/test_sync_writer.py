"""The write-behind thread of a sync: order kept, errors raised in the caller, nothing
committed after a failed batch (a later checkpoint would skip the failed pages)."""

from __future__ import annotations

import pytest

from workbench.errors import CacheError, SkyPortalError

# -- PageWriter: each page written as it arrives, committed a few at a time ------------


def _page_writer(cache, **kwargs):
    from workbench.sync.writer import PageWriter

    def write(tx, batch):
        for rows in batch:
            tx.execute("INSERT INTO pw SELECT unnest(?)", [rows])

    return PageWriter(cache, write, **kwargs)


def _cache_with_table(tmp_path):
    from workbench.cache import Cache

    cache = Cache(tmp_path / "c.duckdb")
    with cache.write() as tx:
        tx.execute("CREATE TABLE pw (v INTEGER)")
    return cache


def _stored(cache) -> list[int]:
    return [v for (v,) in cache.sql("SELECT v FROM pw ORDER BY v").itertuples(index=False)]


def test_page_writer_commits_every_commit_rows_and_the_rest_at_the_end(tmp_path):
    cache = _cache_with_table(tmp_path)
    commits: list[int] = []
    with (
        cache.keep_open(),
        _page_writer(cache, commit_rows=4, committed=commits.append, max_open=60) as writer,
    ):
        for i in range(5):
            writer.add([2 * i, 2 * i + 1])
    assert _stored(cache) == list(range(10))
    assert sum(commits) == 10 and all(n >= 4 for n in commits[:-1])


def test_page_writer_rolls_back_the_open_transaction_on_the_blocks_error(tmp_path):
    cache = _cache_with_table(tmp_path)
    with (
        pytest.raises(KeyError),
        cache.keep_open(),
        _page_writer(cache, commit_rows=4, max_open=60) as writer,
    ):
        writer.add([1, 2, 3, 4])  # a full transaction: committed
        writer.add([5])
        raise KeyError("stopped")
    assert _stored(cache) == [1, 2, 3, 4]  # the page after the last commit is read again


def test_page_writer_finish_keeps_complete_pages_before_a_server_error(tmp_path):
    cache = _cache_with_table(tmp_path)
    with pytest.raises(SkyPortalError), _page_writer(cache, commit_rows=100) as writer:
        writer.add([1])
        writer.add([2])
        writer.finish()
        raise SkyPortalError("server down")
    assert _stored(cache) == [1, 2]


def test_page_writer_a_failed_write_rolls_back_and_nothing_later_lands(tmp_path):
    cache = _cache_with_table(tmp_path)
    with pytest.raises(CacheError), _page_writer(cache, commit_rows=2, max_open=60) as writer:
        writer.add([1, 2])
        writer.add(["not a number"])
        for i in range(3, 8):
            writer.add([i])
    assert _stored(cache) == [1, 2]
    with cache.write() as tx:  # the writer let the file go: this thread can write
        tx.execute("INSERT INTO pw VALUES (9)")
    assert _stored(cache) == [1, 2, 9]


def test_page_writer_commits_an_idle_transaction_after_max_open(tmp_path):
    import time

    cache = _cache_with_table(tmp_path)
    with cache.keep_open(), _page_writer(cache, commit_rows=100, max_open=0.05) as writer:
        writer.add([1])
        time.sleep(0.5)  # the download paused: the page must not wait uncommitted
        assert _stored(cache) == [1]
        writer.add([2])
    assert _stored(cache) == [1, 2]


def test_page_writer_lets_another_threads_write_in_while_it_waits_for_pages(tmp_path):
    import threading

    from workbench.sync.writer import PageWriter

    cache = _cache_with_table(tmp_path)
    written = threading.Event()

    def write(tx, batch):
        for rows in batch:
            tx.execute("INSERT INTO pw SELECT unnest(?)", [rows])
        written.set()

    with cache.keep_open(), PageWriter(cache, write, commit_rows=100, max_open=600) as writer:
        writer.add([1])  # a transaction stays open for the next pages...
        assert written.wait(timeout=120)

        def click() -> None:
            with cache.write() as tx:
                tx.execute("INSERT INTO pw VALUES (2)")

        other = threading.Thread(target=click)
        other.start()
        other.join(timeout=120)  # ...but not for max_open: the waiting write got in
        assert not other.is_alive()
        assert _stored(cache) == [1, 2]
        writer.add([3])
    assert _stored(cache) == [1, 2, 3]
