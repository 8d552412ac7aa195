"""Classification windows against a server that returns its rows in table order.

A real SkyPortal 1.4.0 pages ``/api/classification`` with no ORDER BY and returned them by
id, so an overflowing window's page is its earliest rows by time: the sync then asks for
the rest from that page's last instants and proves by the counts that nothing below was
skipped (3 requests for 1,203 rows there, where quantile cuts of that page took 8). Rows in
any other order fall back to the cuts, and the cache is exact either way.
"""

from __future__ import annotations

import pytest
from sync_helpers import QUIET, cached_ids, open_wb, server_ids

import workbench.sync.classifications as windows


@pytest.fixture
def ordered_server(make_server):
    """Classifications created one after another (ids and times in step), listed in
    table order: the shape of a real SkyPortal's answer."""
    srv = make_server(sources=300, candidates=5, seed=21)
    with srv.store.lock:  # only the rows added below: seeded times are random
        srv.store.cls["deleted"][:] = True
    for seed in (1, 2, 3, 4):  # at most one new classification per source and call
        srv.store.mutate("add_classifications", 300, seed=seed)
    srv.behaviour.update(quirks={"unordered_classifications": False})
    return srv


def _count_windows(monkeypatch) -> list[tuple]:
    asked: list[tuple] = []
    real = windows._window

    def counting(ctx, lo, hi):
        records, total = real(ctx, lo, hi)
        asked.append((lo, hi, len(records), total))
        return records, total

    monkeypatch.setattr(windows, "_window", counting)
    return asked


def test_rows_in_table_order_are_read_like_pages_and_proven_complete(
    ordered_server, tmp_path, monkeypatch
):
    asked = _count_windows(monkeypatch)
    wb = open_wb(ordered_server, tmp_path / "c.duckdb")
    assert wb.sync(resources=["classifications"], page_size=200, **QUIET).ok
    truth = server_ids(ordered_server, "/api/classification", "classifications")
    assert len(truth) > 1000
    assert cached_ids(wb, "SELECT id FROM classifications") == truth
    # one request per page's worth, plus at most one for the last instants shared
    assert len(asked) <= len(truth) // 200 + 2, asked


def test_a_claim_the_counts_disprove_falls_back_to_cuts(ordered_server, tmp_path, monkeypatch):
    """Rows in time order that are NOT the window's earliest (the order changed between
    requests): the count check catches it and the part below is cut and read."""
    srv = ordered_server
    asked = _count_windows(monkeypatch)
    srv.behaviour.update(quirks={"unordered_classifications": True})  # rotated runs
    wb = open_wb(srv, tmp_path / "c.duckdb")
    assert wb.sync(resources=["classifications"], page_size=200, **QUIET).ok
    truth = server_ids(srv, "/api/classification", "classifications")
    assert cached_ids(wb, "SELECT id FROM classifications") == truth
    assert asked
