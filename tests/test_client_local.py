"""The client against the local SkyPortal-compatible server, over real HTTP.

One server per module (its behaviour is reset after each test): every error class,
retries under the server's injected faults, writes never repeated blindly (counted on
the server), the rate limit kept across threads, pagination, and the endpoint methods
the workbench relies on.
"""

from __future__ import annotations

import time

import pytest

from workbench.client import PageNumberPaginator, SkyPortalClient
from workbench.errors import (
    AuthError,
    BadRequest,
    ConnectionFailed,
    InvalidResponse,
    NotFound,
    RateLimited,
    ServerError,
)

server_mod = pytest.importorskip("workbench.server")
ZERO_TOKEN = "00000000-0000-0000-0000-000000000000"  # made up for the tests, not a real token


@pytest.fixture(scope="module")
def srv():
    with server_mod.LocalServer(sources=120, candidates=40, seed=11) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_behaviour(srv):
    srv.stats.reset()
    yield
    srv.behaviour.update(faults=[], auth=True, rate_limit=False, latency="none", retry_after=None)


def make(srv, **kw) -> SkyPortalClient:
    options = {"rate_limit": None, "backoff": 0.001, "max_backoff": 0.01, "max_retries": 3, **kw}
    return SkyPortalClient(srv.url, token=srv.token, **options)


# -- every error class, with the server's message ---------------------------------------


def test_bad_token_unknown_object_and_unknown_endpoint(srv):
    bad = SkyPortalClient(srv.url, token=ZERO_TOKEN, rate_limit=None)
    with pytest.raises(AuthError, match="HTTP 401: Unauthorized") as info:
        bad.list_sources(page_size=2)
    assert info.value.status == 401 and "SKYPORTAL_TOKEN" in info.value.message
    assert bad.get_sysinfo()  # public endpoint: a bad token is ignored
    client = make(srv)
    with pytest.raises(NotFound, match="Source not found"):
        client.get_source("ZTFdoesnotexist")
    with pytest.raises(NotFound, match="Invalid ID"):
        client.get_candidate("doesnotexist")
    with pytest.raises(NotFound, match="Invalid API endpoint"):
        client.get("/api/doesnotexist")
    with pytest.raises(BadRequest, match="Invalid numPerPage value"):
        client.get("/api/sources", {"numPerPage": "abc"})


def test_malformed_and_html_answers_are_invalid_responses(srv):
    client = make(srv, max_retries=0)  # a truncated read is retried when retries are allowed
    srv.behaviour.add_fault("malformed", "/api/taxonomy", count=1)
    with pytest.raises(InvalidResponse, match="not valid JSON"):
        client.list_taxonomies()
    srv.behaviour.add_fault("html", "/api/groups", count=1)
    with pytest.raises(InvalidResponse, match="HTML page"):
        client.get_groups()
    assert client.list_taxonomies()  # the faults were one-offs


def test_server_down(srv):
    with server_mod.LocalServer(sources=5, candidates=2, seed=1) as gone:
        url, token = gone.url, gone.token
    client = SkyPortalClient(url, token=token, rate_limit=None, backoff=0.001, max_retries=1)
    with pytest.raises(ConnectionFailed, match="connection refused"):
        client.get_sysinfo()


# -- retries under injected faults --------------------------------------------------------


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504", "drop", "malformed"])
def test_reads_survive_transient_faults(srv, kind):
    srv.behaviour.add_fault(kind, "/api/taxonomy", count=2)
    client = make(srv)
    assert client.list_taxonomies()
    assert srv.stats.count("GET", "/api/taxonomy") == 3
    assert client.stats.snapshot()["retries"] == 2


def test_a_429_storm_ends_in_rate_limited(srv):
    srv.behaviour.add_fault("429", "/api/groups")
    client = make(srv, max_retries=2)
    with pytest.raises(RateLimited):
        client.get_groups()
    assert srv.stats.count("GET", "/api/groups") == 3
    assert client.stats.snapshot()["rate_limited"] == 3


def test_a_lasting_500_is_reported_after_the_bounded_retries(srv):
    srv.behaviour.add_fault("500", "/api/config")
    with pytest.raises(ServerError, match="injected fault"):
        make(srv, max_retries=2).get_config()
    assert srv.stats.count("GET", "/api/config") == 3


def test_slow_answers_against_timeouts(srv):
    srv.behaviour.add_fault("slow", "/api/config", count=1, seconds=0.6)
    client = make(srv, timeout=(2, 0.25))
    assert client.get_config()  # the slow first answer timed out; the retry was quick
    assert srv.stats.count("GET", "/api/config") == 2
    srv.behaviour.add_fault("slow", "/api/sysinfo", seconds=0.6)
    with pytest.raises(ConnectionFailed, match="timed out"):
        make(srv, timeout=(2, 0.25), max_retries=1).get_sysinfo()


def test_retry_after_from_the_server_is_honoured(srv):
    srv.behaviour.update(retry_after=1)
    srv.behaviour.add_fault("503", "/api/config", count=1)
    client = make(srv)
    started = time.monotonic()
    assert client.get_config()
    assert time.monotonic() - started >= 0.95


# -- writes are never repeated blindly ------------------------------------------------------


def _classification(srv, client):
    obj = "ZTF21aaqjmps"
    taxonomy = client.list_taxonomies()[0]
    name = next(iter(_leaf_classes(taxonomy["hierarchy"])))
    return {
        "obj_id": obj,
        "classification": name,
        "taxonomy_id": taxonomy["id"],
        "probability": 0.8,
    }


def _leaf_classes(node):
    children = node.get("subclasses") or []
    if not children:
        yield node["class"]
    for child in children:
        yield from _leaf_classes(child)


@pytest.mark.parametrize("kind", ["drop", "502", "503", "504", "500"])
def test_a_write_with_unknown_outcome_is_sent_once(srv, kind):
    client = make(srv)
    body = _classification(srv, client)
    srv.behaviour.add_fault(kind, "/api/classification", method="POST", count=1)
    with pytest.raises((ConnectionFailed, ServerError)) as info:
        client.post_classification(**body)
    assert info.value.outcome_unknown is True
    assert srv.stats.count("POST", "/api/classification") == 1
    new_id = client.post_classification(**body)  # the caller decides to send it again
    assert client.get_classification(new_id)["classification"] == body["classification"]


def test_a_write_timing_out_is_outcome_unknown_and_sent_once(srv):
    client = make(srv, timeout=(2, 0.2))
    body = _classification(srv, client)
    srv.behaviour.add_fault("slow", "/api/classification", method="POST", count=1, seconds=0.5)
    with pytest.raises(ConnectionFailed) as info:
        client.post_classification(**body)
    assert info.value.outcome_unknown is True
    assert srv.stats.count("POST", "/api/classification") == 1


def test_a_write_refused_by_the_rate_limiter_is_retried(srv):
    client = make(srv)
    body = _classification(srv, client)
    srv.behaviour.add_fault("429", "/api/classification", method="POST", count=2)
    assert isinstance(client.post_classification(**body), int)
    assert srv.stats.count("POST", "/api/classification") == 3


def test_write_refusals_carry_the_servers_message(srv):
    client = make(srv)
    body = _classification(srv, client)
    with pytest.raises(BadRequest, match="not in the allowed classes"):
        client.post_classification(**{**body, "classification": "NotARealClass"})
    with pytest.raises(NotFound, match="doesnotexist"):
        client.post_classification(**{**body, "obj_id": "doesnotexist"})


# -- the rate limit across threads ------------------------------------------------------------


def test_client_pacing_keeps_a_concurrent_read_under_the_servers_limit(srv):
    srv.behaviour.update(rate_limit=True, rate=20.0, burst=10)
    # A little under the server's rate and burst: the local server times requests when
    # its event loop reaches them, so a stall on this busy 2-core machine bunches them.
    client = SkyPortalClient(srv.url, token=srv.token, rate_limit=18.0, burst=3)
    started = time.monotonic()
    pages = list(client.iter_pages("/api/sources", page_size=4, concurrency=4))
    elapsed = time.monotonic() - started
    assert len(pages) == 30 and sum(len(p.records) for p in pages) == 120
    assert client.stats.snapshot()["rate_limited"] == 0
    assert srv.stats.events.get("rate_limited", 0) == 0
    assert elapsed >= (30 - 3) / 18 * 0.95


def test_without_pacing_the_server_says_429_and_retries_recover(srv):
    srv.behaviour.update(rate_limit=True, rate=20.0, burst=2)
    client = SkyPortalClient(
        srv.url, token=srv.token, rate_limit=None, backoff=0.05, max_backoff=0.5, max_retries=8
    )
    records = list(client.iter_records("/api/sources", page_size=10, concurrency=6))
    assert sorted(r["id"] for r in records) == sorted({r["id"] for r in records})
    assert len(records) == 120
    assert client.stats.snapshot()["rate_limited"] > 0


# -- pagination against the server --------------------------------------------------------------


def test_concurrent_pages_in_order_stop_at_total(srv):
    client = make(srv)
    pages = list(client.iter_pages("/api/sources", {"sortBy": "id"}, page_size=25, concurrency=3))
    assert [p.number for p in pages] == [1, 2, 3, 4, 5]
    assert all(p.total == 120 for p in pages)
    ids = [r["id"] for p in pages for r in p.records]
    assert ids == sorted(ids) and len(set(ids)) == 120
    assert srv.stats.count("GET", "/api/sources") == 5  # never past the last page


def test_numPerPage_above_500_is_capped_and_galaxies_page_by_page(srv):
    client = make(srv)
    first = next(client.iter_pages("/api/sources", page_size=5000))
    assert first.payload["numPerPage"] == 500
    galaxies = client.list_galaxies("CLU_mini", page_size=150, concurrency=2)
    count = client.list_galaxy_catalogs()[0]["catalog_count"]
    assert len(galaxies) == count and galaxies["id"].is_unique
    assert galaxies[["ra", "dec"]].notna().all().all()


def test_candidates_with_the_cached_query(srv):
    client = make(srv)
    plain = client.list_candidates(page_size=7)
    pager = PageNumberPaginator("candidates", reuse_query_id=True)
    cached = [
        r
        for p in client.iter_pages("/api/candidates", page_size=7, paginator=pager)
        for r in p.records
    ]
    assert len(plain) == len(cached) == 40


# -- the endpoint methods the workbench uses -----------------------------------------------------


def test_reading_methods(srv):
    client = make(srv)
    source = client.get_source("ZTF21aaqjmps", includePhotometry=True)
    assert source["id"] == "ZTF21aaqjmps"
    assert client.source_exists("ZTF21aaqjmps") and not client.source_exists("nope")
    assert client.candidate_exists("ZTF21aaqjmps") and not client.candidate_exists("nope")
    mags = client.get_source_photometry("ZTF21aaqjmps")
    assert len(mags) > 0 and (mags["mag"].isna() == mags["magerr"].isna()).all()
    flux = client.get_source_photometry("ZTF21aaqjmps", format="flux")
    assert (flux["zp"] == 23.9).all()
    assert client.get_source_classifications("ZTF21aaqjmps") is not None
    assert {g["id"] for g in client.get_source_groups("ZTF21aaqjmps")}
    spectra = client.get_source_spectra("ZTF21aaqjmps")
    assert spectra and client.get_spectrum(spectra[0]["id"])["wavelengths"]
    assert client.list_spectra(minimal_payload=True)
    assert isinstance(client.list_comments("sources", "ZTF21aaqjmps"), list)
    assert isinstance(client.list_annotations("sources", "ZTF21aaqjmps"), list)
    assert client.list_classifications(page_size=50) is not None
    assert client.get_config() and client.get_public_group()


def test_gcn_and_localization_methods(srv, tmp_path):
    client = make(srv)
    events = client.list_gcn_events()
    event = client.get_gcn_event(events[0]["dateobs"])
    loc = event["localizations"][0]
    skymap = client.get_localization(event["dateobs"], loc["localization_name"])
    assert len(skymap["uniq"]) == len(skymap["probdensity"])
    fits = client.download_localization(event["dateobs"], loc["localization_name"])
    assert fits[:6] == b"SIMPLE" or fits[:2] == b"\x1f\x8b"
    written = client.download_localization(
        event["dateobs"], loc["localization_name"], dest=tmp_path
    )
    assert written.read_bytes() == fits
    rng = client.get_photometry_range(
        min_date="2021-03-01T00:00:00", max_date="2021-04-01T00:00:00"
    )
    assert {"mjd", "mag", "filter"} <= set(rng.columns)


def test_writing_methods_round_trip(srv):
    client = make(srv)
    body = _classification(srv, client)
    cid = client.post_classification(**body)
    client.update_classification(cid, probability=0.3)
    assert client.get_classification(cid)["probability"] == pytest.approx(0.3)
    client.delete_classification(cid)
    with pytest.raises((NotFound, BadRequest)):
        client.get_classification(cid)
    groups = {g["id"] for g in client.get_groups()["user_accessible_groups"]}
    saved = {g["id"] for g in client.get_source_groups("ZTF26abmjjnm")}
    target = min(groups - saved)
    client.save_source("ZTF26abmjjnm", [target])
    assert target in {g["id"] for g in client.get_source_groups("ZTF26abmjjnm")}
    client.unsave_source("ZTF26abmjjnm", [target])
    comment = client.post_comment("sources", "ZTF26abmjjnm", "checked by the client tests")
    assert any(c["id"] == comment for c in client.list_comments("sources", "ZTF26abmjjnm"))
    listing = client.post_listing("ZTF26abmjjnm", "favorites")
    assert listing is not None
