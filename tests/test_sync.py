"""The sync against the local server over real HTTP, into a real DuckDB file.

The ground truth is what the server lists, read through the API with its pagination
quirks switched off, compared with what the cache holds after a sync.
"""

from __future__ import annotations

import pytest
import requests
from sync_helpers import QUIET, assert_cache_equals_server, cached_ids, open_wb, server_ids

from workbench import Workbench
from workbench.sync import SyncOptions

pytestmark = pytest.mark.slow


def test_first_sync_holds_exactly_what_the_server_lists(make_server, tmp_path):
    srv = make_server(sources=90, candidates=30, seed=5)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    summary = wb.sync(**QUIET)
    assert summary.ok, summary
    assert_cache_equals_server(srv, wb)
    counts = wb.status()["tables"]
    assert counts["photometry"] > 90 * 5 and counts["spectra"] > 0 and counts["taxonomies"] >= 1
    assert counts["localization_pixels"] > 0 and counts["galaxies"] > 0
    # photometry of a synced source equals the server's own answer for it
    obj = sorted(cached_ids(wb, "SELECT DISTINCT obj_id FROM sources"))[0]
    theirs = requests.get(
        f"{srv.url}/api/sources/{obj}/photometry", headers=srv.headers, timeout=30
    )
    assert set(wb.photometry(obj)["id"]) == {p["id"] for p in theirs.json()["data"]}
    # spectra arrays equal the server's own (many came in one full listing)
    spectra = wb.spectra()
    assert set(spectra["id"]) == {
        s["id"]
        for s in requests.get(
            f"{srv.url}/api/spectra",
            params={"minimalPayload": "true"},
            headers=srv.headers,
            timeout=30,
        ).json()["data"]
    }
    one = requests.get(
        f"{srv.url}/api/spectra/{int(spectra['id'].iloc[0])}", headers=srv.headers, timeout=30
    ).json()["data"]
    assert (
        list(spectra["wavelengths"].iloc[0]) == one["wavelengths"]
        and list(spectra["fluxes"].iloc[0]) == one["fluxes"]
    )


def test_unchanged_resync_costs_a_handful_of_requests(make_server, tmp_path):
    srv = make_server(sources=60, candidates=20, seed=6)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    wb.sync(thumbnail_limit=10_000, **QUIET)
    before = srv.stats.total
    summary = wb.sync(**QUIET)
    made = srv.stats.total - before
    assert summary.ok
    assert made <= 15, srv.stats.requests
    assert all(c.new == 0 and c.updated == 0 for c in summary.tables.values())


def test_incremental_sync_sees_changes_and_removals(make_server, tmp_path):
    srv = make_server(sources=80, candidates=20, seed=7)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    wb.sync(**QUIET)
    srv.store.mutate("add_sources", 5, seed=1)
    srv.store.mutate("unsave", 4, seed=2)
    srv.store.mutate("add_classifications", 6, seed=3)
    srv.store.mutate("add_candidates", 3, seed=4)
    changed = srv.store.mutate("add_photometry", 3, seed=5)
    summary = wb.sync(**QUIET)
    assert summary.ok, summary
    assert_cache_equals_server(srv, wb)
    obj = changed.get("obj_id") or changed.get("obj_ids", [None])[0]
    if obj:
        theirs = requests.get(
            f"{srv.url}/api/sources/{obj}/photometry", headers=srv.headers, timeout=30
        )
        assert set(wb.photometry(obj)["id"]) == {p["id"] for p in theirs.json()["data"]}


def test_classifications_survive_unordered_pages(make_server, tmp_path):
    """The server's classification pages have no fixed order (as the real one); windows fit one page."""
    srv = make_server(sources=400, candidates=10, seed=8)
    for seed in (9, 10, 11):  # at most one new classification per source and call
        srv.store.mutate("add_classifications", 400, seed=seed)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    summary = wb.sync(resources=["classifications"], page_size=200, **QUIET)
    assert summary.ok
    truth = server_ids(srv, "/api/classification", "classifications")
    assert len(truth) > 1000
    assert cached_ids(wb, "SELECT id FROM classifications") == truth
    # and a naive pager really would have lost rows here
    naive = set()
    for page in range(1, len(truth) // 200 + 2):
        r = requests.get(
            f"{srv.url}/api/classification",
            params={"numPerPage": 200, "pageNumber": page},
            headers=srv.headers,
            timeout=30,
        )
        naive |= {c["id"] for c in r.json()["data"]["classifications"]}
    assert naive != truth


def test_a_failing_resource_is_reported_and_the_rest_lands(make_server, tmp_path):
    srv = make_server(sources=40, candidates=10, seed=10)
    srv.behaviour.add_fault("500", path="/api/candidates*", count=100)
    wb = open_wb(srv, tmp_path / "c.duckdb", max_retries=1, backoff=0.01)
    summary = wb.sync(**QUIET)
    assert not summary.ok and "candidates" in str(summary)
    assert summary.resources["sources"] == "ok"
    srv.behaviour.update(faults=[])
    assert wb.sync(**QUIET).ok
    assert_cache_equals_server(srv, wb)


def test_a_malformed_page_commits_nothing_from_it(make_server, tmp_path):
    srv = make_server(sources=120, candidates=10, seed=11)
    wb = open_wb(srv, tmp_path / "c.duckdb", max_retries=0)
    srv.behaviour.add_fault("malformed", path="/api/sources", nth=2)
    summary = wb.sync(
        resources=["sources"], page_size=50, concurrency=1, **QUIET
    )  # the 2nd request is page 2
    assert not summary.ok
    assert "sources" in summary.resources and summary.resources["sources"] != "ok"
    state = wb.cache.sync_state("sources", "")
    assert state["status"] == "running" and state["last_page"] == 1
    assert len(cached_ids(wb, "SELECT DISTINCT obj_id FROM sources")) == 50
    srv.behaviour.update(faults=[])
    assert wb.sync(resources=["sources"], page_size=50, **QUIET).ok
    assert cached_ids(wb, "SELECT DISTINCT obj_id FROM sources") == server_ids(
        srv, "/api/sources", "sources"
    )


def test_sync_survives_a_429_storm(make_server, tmp_path):
    srv = make_server(sources=60, candidates=10, seed=12, rate_limit=True, rate=20.0, burst=3)
    wb = Workbench.open(
        url=srv.url, token=srv.token, cache=tmp_path / "c.duckdb", rate_limit=None, backoff=0.05
    )
    summary = wb.sync(
        resources=["groups", "sources", "classifications"], page_size=10, concurrency=4, **QUIET
    )
    assert summary.ok, summary
    assert summary.rate_limited > 0 and summary.retries > 0
    assert cached_ids(wb, "SELECT DISTINCT obj_id FROM sources") == server_ids(
        srv, "/api/sources", "sources"
    )


def test_backfill_since_does_not_move_the_watermark_back(make_server, tmp_path):
    import datetime as dt

    srv = make_server(sources=30, candidates=5, seed=13)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    wb.sync(resources=["sources"], **QUIET)
    mark = wb.cache.sync_state("sources", "")["watermark"]
    wb.sync(resources=["sources"], since=dt.datetime(2001, 1, 1), **QUIET)
    assert wb.cache.sync_state("sources", "")["watermark"] >= mark


def test_unknown_resource_is_refused(tmp_path, server):
    wb = open_wb(server, tmp_path / "c.duckdb")
    with pytest.raises(Exception, match="unknown resources"):
        wb.sync(resources=["nonsense"], **QUIET)
    assert SyncOptions().scope("sources") == ""


def test_candidate_cutouts_are_synced_and_a_sources_are_fetched_on_demand(make_server, tmp_path):
    srv = make_server(sources=30, candidates=8, seed=14)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    wb.sync(**QUIET)
    fetched = wb.sql("SELECT DISTINCT obj_id FROM thumbnails WHERE png IS NOT NULL")["obj_id"]
    assert set(fetched) <= cached_ids(wb, "SELECT obj_id FROM candidates") and len(fetched) > 0
    source = wb.sql(
        "SELECT DISTINCT obj_id FROM sources WHERE obj_id NOT IN (SELECT obj_id FROM candidates) "
        "ORDER BY obj_id LIMIT 1"
    )["obj_id"].iloc[0]
    assert wb.cache.thumbnails_of(source) == {}
    images = wb.thumbnails(source)
    assert set(images) == {"new", "ref", "sub"} and all(
        png[:8] == b"\x89PNG\r\n\x1a\n" for png in images.values()
    )
    offline = Workbench.open(cache=tmp_path / "c.duckdb", offline=True)
    assert set(offline.thumbnails(source)) == {"new", "ref", "sub"}


def test_an_unreachable_server_stops_the_sync_with_a_clear_error(make_server, tmp_path):
    from workbench import ConnectionFailed

    srv = make_server(sources=20, candidates=5, seed=15)
    wb = open_wb(srv, tmp_path / "c.duckdb", max_retries=1, backoff=0.01)
    wb.sync(resources=["sources"], **QUIET)
    srv.stop()
    with pytest.raises(ConnectionFailed) as caught:
        wb.sync(**QUIET)
    assert srv.url.split("//")[1] in str(caught.value) and srv.token not in str(caught.value)
    assert len(wb.sources()) == 20  # the cache is untouched and still readable
