"""A GCN-event-scoped sync reads only that event's classifications and spectra.

The whole-server ``/api/classification`` listing is not paged and no spectrum arrays
outside the event are fetched; the event's objs' classifications and spectra land
exactly; and the scoped sync leaves the whole-server watermarks alone, so a later
unscoped sync still gets everything. Real HTTP on loopback, a real DuckDB file; the
server's own request counters say what was asked.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests
from sync_helpers import QUIET, cached_ids, open_wb, server_ids

from workbench import Workbench
from workbench.sync.listings import EVENT_OBJS, detection_window

pytestmark = pytest.mark.slow

#: The GRB of the captures: an 11-degree localization, so ~10% of the seeded objs are in
#: its 95% region (the GW event's holds three at this size).
EVENT = "2018-01-16T00:36:53"
SCOPED = {"gcn_event": EVENT, **QUIET}
#: Small pages make the whole server's classifications several windows (455 rows here),
#: so reading them would show in the request counts.
PAGE = 100
LISTINGS = ["sources", "candidates"]
DETAIL = ["classifications", "spectra"]


def _event_objs(srv) -> set[str]:
    """The objs the server's own localization filter puts in the event (both listings)."""
    start, end = (t.isoformat(timespec="seconds") for t in detection_window(EVENT))
    loc = {"localizationDateobs": EVENT, "localizationCumprob": 0.95}
    sources = server_ids(srv, "/api/sources", "sources", startDate=start, endDate=end, **loc)
    candidates = server_ids(
        srv,
        "/api/candidates",
        "candidates",
        firstDetectionAfter=start,
        lastDetectionBefore=end,
        numberDetections=1,
        **loc,
    )
    return sources | candidates


def _server_classifications(srv) -> dict[int, str]:
    """``{classification id: obj_id}`` of every classification, pagination quirks off."""
    quirks = dict(srv.behaviour.quirks)
    srv.behaviour.update(quirks={k: False for k in quirks})
    try:
        out, page = {}, 1
        while True:
            query = {"numPerPage": 500, "pageNumber": page}
            r = requests.get(
                srv.url + "/api/classification", params=query, headers=srv.headers, timeout=30
            )
            data = r.json()["data"]
            out |= {c["id"]: c["obj_id"] for c in data["classifications"]}
            if len(out) >= data["totalMatches"] or not data["classifications"]:
                return out
            page += 1
    finally:
        srv.behaviour.update(quirks=quirks)


def _server_spectra(srv) -> dict[int, str]:
    """``{spectrum id: obj_id}`` of every spectrum (the metadata listing)."""
    r = requests.get(
        srv.url + "/api/spectra",
        params={"minimalPayload": "true"},
        headers=srv.headers,
        timeout=30,
    )
    return {s["id"]: s["obj_id"] for s in r.json()["data"]}


def _array_fetches(srv) -> int:
    """Requests for one spectrum's arrays, plus full (non-minimal) listings' spectra.

    The stats key a path without its query, so a full listing shows as a second
    ``GET /api/spectra`` beside the metadata one."""
    return srv.stats.count("GET", "/api/spectra/")


def _cached_by_obj(wb, table: str) -> dict[int, str]:
    frame = wb.sql(f"SELECT id, obj_id FROM {table}")
    return dict(zip(frame["id"].astype(int), frame["obj_id"], strict=True))


@pytest.fixture
def grb_server(make_server):
    return make_server(sources=1000, candidates=200, seed=42)


def test_scoped_sync_reads_only_the_events_classifications_and_spectra(grb_server, tmp_path):
    srv = grb_server
    inside = _event_objs(srv)
    classifications = _server_classifications(srv)
    spectra = _server_spectra(srv)
    event_cls = {c for c, o in classifications.items() if o in inside}
    event_spectra = {s for s, o in spectra.items() if o in inside}
    # the event holds some of each, the server many more outside it
    assert event_cls and len(classifications) > 3 * len(event_cls)
    assert event_spectra and len(spectra) > 3 * len(event_spectra)
    assert len(classifications) > 2 * PAGE

    wb = open_wb(srv, tmp_path / "c.duckdb")
    srv.stats.reset()
    summary = wb.sync(resources=LISTINGS + DETAIL, page_size=PAGE, **SCOPED)
    assert summary.ok, summary
    requests_made = srv.stats.requests
    # classifications: one window from the listings' start, not the whole server's
    assert requests_made.get("GET /api/classification", 0) <= 1, requests_made
    # spectra: the metadata listing once, then the arrays of the event's spectra only
    assert requests_made.get("GET /api/spectra") == 1, requests_made
    assert _array_fetches(srv) == len(event_spectra), requests_made

    # the cache holds exactly the event's objs' classifications and spectra
    assert set(_cached_by_obj(wb, "classifications")) == event_cls
    assert set(_cached_by_obj(wb, "spectra")) == event_spectra
    with_arrays = cached_ids(wb, "SELECT id FROM spectra WHERE wavelengths IS NOT NULL")
    assert with_arrays == event_spectra
    recorded = wb.cache.sync_state(EVENT_OBJS, f"event={EVENT}")["objs"]
    assert set(recorded) == inside

    # the whole-server watermarks were not touched
    assert wb.cache.sync_state("classifications", "") is None
    assert wb.cache.sync_state("spectra", "") is None

    # so an unscoped sync still gets everything
    summary = wb.sync(resources=DETAIL, page_size=PAGE, **QUIET)
    assert summary.ok, summary
    assert _cached_by_obj(wb, "classifications") == classifications
    assert _cached_by_obj(wb, "spectra") == spectra
    assert cached_ids(wb, "SELECT id FROM spectra WHERE wavelengths IS NOT NULL") == set(spectra)


def test_a_later_scoped_sync_adds_only_the_events_new_rows(grb_server, tmp_path):
    """Without the listings (no re-listed objs), the event's new classifications come from
    the windows since its watermark, and its new spectra from the metadata listing."""
    srv = grb_server
    inside = sorted(_event_objs(srv))
    outside = next(o for o in _server_spectra(srv).values() if o not in inside)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    assert wb.sync(resources=LISTINGS + DETAIL, page_size=PAGE, **SCOPED).ok

    def classify(obj_id: str) -> int:
        body = {"obj_id": obj_id, "classification": "Ia", "taxonomy_id": 1, "probability": 0.7}
        return int(wb.client.post("/api/classification", body)["classification_id"])

    mine, theirs = classify(inside[0]), classify(outside)
    new_spectrum, other_spectrum = _post_spectrum(wb, inside[0]), _post_spectrum(wb, outside)
    srv.stats.reset()
    summary = wb.sync(resources=DETAIL, page_size=PAGE, **SCOPED)
    assert summary.ok, summary
    assert srv.stats.count("GET", "/api/classification") == 1, srv.stats.requests
    assert _array_fetches(srv) == 1, srv.stats.requests
    cls = _cached_by_obj(wb, "classifications")
    assert mine in cls and theirs not in cls
    spectra = cached_ids(wb, "SELECT id FROM spectra WHERE wavelengths IS NOT NULL")
    assert new_spectrum in spectra and other_spectrum not in spectra
    # each event obj's classifications, as the server lists them
    for obj_id in inside:
        r = requests.get(
            f"{srv.url}/api/sources/{obj_id}/classifications", headers=srv.headers, timeout=30
        )
        truth = {c["id"] for c in r.json()["data"]}
        assert {c for c, o in cls.items() if o == obj_id} == truth, obj_id


def _post_spectrum(wb, obj_id: str) -> int:
    """Post a three-point spectrum of ``obj_id`` to the server; its id."""
    body = {
        "obj_id": obj_id,
        "observed_at": "2026-11-30T05:00:00",
        "instrument_id": 3,
        "wavelengths": [4000.0, 5000.0, 6000.0],
        "fluxes": [1.0, 2.0, 1.5],
    }
    return int(wb.client.post("/api/spectra", body)["id"])


def test_without_the_events_objs_nothing_is_read_and_the_note_says_what_to_run(
    grb_server, tmp_path
):
    srv = grb_server
    wb = open_wb(srv, tmp_path / "c.duckdb")
    srv.stats.reset()
    summary = wb.sync(resources=DETAIL, **SCOPED)
    assert summary.ok, summary
    assert srv.stats.total == 0, srv.stats.requests
    assert sum("sync sources and candidates" in n for n in summary.notes) == 2, summary.notes
    assert wb.cache.sync_state("classifications", f"event={EVENT}") is None


def test_a_scoped_sync_after_a_whole_one_keeps_the_rest_of_the_cache(make_server, tmp_path):
    """The scoped listings' full pass used to retain only what it saw: every source link
    and candidate outside the event was deleted until the next unscoped sync."""
    srv = make_server(sources=300, candidates=60, seed=42)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    assert wb.sync(resources=LISTINGS, **QUIET).ok
    query = "SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM candidates)"
    before = wb.sql(query).values.tolist()
    for _ in range(2):  # the first scoped pass is full, the second incremental
        summary = wb.sync(resources=LISTINGS, **SCOPED)
        assert summary.ok, summary
        assert wb.sql(query).values.tolist() == before
        # the incremental pass compares the event's count, not the whole cache's
        assert not any("reconciling" in n or "removed" in n for n in summary.notes), summary
    summary = wb.sync(resources=LISTINGS, **QUIET)
    assert not any("reconciling" in n for n in summary.notes), summary.notes


def test_objs_new_to_the_event_get_their_older_spectra(grb_server, tmp_path):
    """Spectra listed by ``modifiedAfter`` the event's watermark would miss the older
    spectra of an obj the scoped listings return for the first time: those come too."""
    srv = grb_server
    wb = open_wb(srv, tmp_path / "c.duckdb")
    sources = server_ids(srv, "/api/sources", "sources")
    newcomer = sorted(_event_objs(srv) - sources)[0]  # an event candidate, not a source
    old = _post_spectrum(wb, newcomer)
    time.sleep(1.1)  # the watermark is kept to the second: the spectrum is older than it
    no_overlap = {"overlap": dt.timedelta(0), **SCOPED}
    assert wb.sync(resources=["sources", "spectra"], **no_overlap).ok
    assert newcomer not in wb.cache.sync_state(EVENT_OBJS, f"event={EVENT}")["objs"]
    assert wb.sync(resources=["candidates", "spectra"], **no_overlap).ok
    assert newcomer in wb.cache.sync_state(EVENT_OBJS, f"event={EVENT}")["objs"]
    cached = cached_ids(wb, "SELECT id FROM spectra WHERE wavelengths IS NOT NULL")
    inside = _event_objs(srv)
    assert old in cached
    assert cached == {s for s, o in _server_spectra(srv).items() if o in inside}


# --------------------------------------------------------------------------- photometry
# A scoped sync reads only the event's objs' photometry: one request each (not the whole
# server's points by date window), the rest of the cache stays stale for the next
# unscoped sync, and without the event's objs recorded nothing is asked.


def _server_points(srv, obj_id: str) -> dict[int, float | None]:
    """``{point id: mjd}`` of one obj's photometry as the server lists it."""
    r = requests.get(f"{srv.url}/api/sources/{obj_id}/photometry", headers=srv.headers, timeout=30)
    return {p["id"]: p["mjd"] for p in r.json()["data"]}


def _cached_points(wb, obj_id: str) -> dict[int, float | None]:
    frame = wb.sql("SELECT id, mjd FROM photometry WHERE obj_id = ?", [obj_id])
    return dict(zip(frame["id"].astype(int), frame["mjd"], strict=True))


def _photometry_objs(wb) -> set[str]:
    return cached_ids(wb, "SELECT DISTINCT obj_id FROM photometry")


def _listed_whole_then_scoped(srv, tmp_path) -> tuple[Workbench, set[str], set[str]]:
    """A cache with the whole server's listings, then the event's: the workbench, the
    event's objs and every obj needing photometry."""
    wb = open_wb(srv, tmp_path / "c.duckdb")
    assert wb.sync(resources=LISTINGS, page_size=PAGE, **QUIET).ok
    assert wb.sync(resources=LISTINGS, page_size=PAGE, **SCOPED).ok
    return wb, _event_objs(srv), set(wb.cache.objs_needing_photometry())


def test_scoped_sync_fetches_only_the_events_photometry(grb_server, tmp_path):
    """After a whole-server listing sync every cached obj is stale: the unscoped rule would
    read every point by date window; the scoped sync asks for the event's objs only."""
    srv = grb_server
    wb, inside, everyone = _listed_whole_then_scoped(srv, tmp_path)
    assert inside < everyone and len(everyone) > 3 * len(inside)

    srv.stats.reset()
    summary = wb.sync(resources=["photometry"], **SCOPED)
    assert summary.ok, summary
    # one request per event obj, nothing else (the cache's count already shows the event
    # is a small share of the server, so not even the sources total is asked)
    assert srv.stats.count("GET", "/api/photometry/range") == 0, srv.stats.requests
    assert srv.stats.count("GET", "/api/sources/") == len(inside), srv.stats.requests
    assert srv.stats.total == len(inside), srv.stats.requests
    # the event's objs' photometry is the server's; no one else's was stored
    assert _photometry_objs(wb) <= inside
    for obj_id in sorted(inside):
        assert _cached_points(wb, obj_id) == _server_points(srv, obj_id), obj_id
    # every other obj is still stale, and the unscoped checkpoint was never written
    assert set(wb.cache.objs_needing_photometry()) == everyone - inside
    assert wb.cache.sync_state("photometry_range", "") is None

    # a second scoped sync has nothing to fetch
    srv.stats.reset()
    assert wb.sync(resources=["photometry"], **SCOPED).ok
    assert srv.stats.total == 0, srv.stats.requests

    # an unscoped sync fetches the rest
    srv.stats.reset()
    summary = wb.sync(resources=["photometry"], **QUIET)
    assert summary.ok, summary
    assert wb.cache.objs_needing_photometry() == []
    outside = sorted(everyone - inside)
    for obj_id in outside[:: max(1, len(outside) // 25)] + sorted(inside)[:5]:
        assert _cached_points(wb, obj_id) == _server_points(srv, obj_id), obj_id


def test_scoped_photometry_of_a_cache_holding_only_the_event(grb_server, tmp_path):
    """A cache that synced only the event: its objs are all the cache holds, so one request
    for the server's sources total shows they are a small share; then one per obj."""
    srv = grb_server
    inside = _event_objs(srv)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    assert wb.sync(resources=LISTINGS, page_size=PAGE, **SCOPED).ok
    stale = set(wb.cache.objs_needing_photometry())
    assert stale == cached_ids(wb, "SELECT id FROM objs") and inside <= stale
    assert len(inside) > 50  # past the bulk threshold, so the share is weighed
    srv.stats.reset()
    summary = wb.sync(resources=["photometry"], **SCOPED)
    assert summary.ok, summary
    assert srv.stats.count("GET", "/api/photometry/range") == 0, srv.stats.requests
    assert srv.stats.count("GET", "/api/sources/") == len(inside), srv.stats.requests
    assert srv.stats.requests.get("GET /api/sources") == 1, srv.stats.requests
    assert srv.stats.total == len(inside) + 1, srv.stats.requests
    assert set(wb.cache.objs_needing_photometry()) == stale - inside
    for obj_id in sorted(inside)[:20]:
        assert _cached_points(wb, obj_id) == _server_points(srv, obj_id), obj_id


def test_a_scoped_photometry_range_pass_stores_only_the_events_points(
    grb_server, tmp_path, monkeypatch
):
    """When the event is a large share of the server (here: the share lowered to 5%), the
    date windows are read but only the event's objs' points are stored and marked synced,
    under a checkpoint naming the event: the unscoped pass's checkpoint is left as it was."""
    from workbench.sync import objects

    monkeypatch.setattr(objects, "EVENT_RANGE_SHARE", 0.05)
    srv = grb_server
    wb, inside, everyone = _listed_whole_then_scoped(srv, tmp_path)
    unscoped = {"status": "running", "window_next": "2020-01-01T00:00:00", "window_step": 86400.0}
    with wb.cache.write() as tx:
        tx.set_sync_state(objects.RANGE_STATE, "", **unscoped)

    srv.stats.reset()
    summary = wb.sync(resources=["photometry"], **SCOPED)
    assert summary.ok, summary
    assert srv.stats.count("GET", "/api/photometry/range") > 0, srv.stats.requests
    assert srv.stats.count("GET", "/api/sources/") == 0, srv.stats.requests
    assert _photometry_objs(wb) <= inside
    for obj_id in sorted(inside):
        assert _cached_points(wb, obj_id) == _server_points(srv, obj_id), obj_id
    assert set(wb.cache.objs_needing_photometry()) == everyone - inside
    state = wb.cache.sync_state(objects.RANGE_STATE, "")
    assert {k: state.get(k) for k in unscoped} == unscoped
    assert wb.cache.sync_state(objects.RANGE_STATE, f"event={EVENT}")["status"] == "complete"


def test_scoped_photometry_without_the_events_objs_asks_nothing(grb_server, tmp_path):
    srv = grb_server
    wb = open_wb(srv, tmp_path / "c.duckdb")
    assert wb.sync(resources=["sources"], page_size=PAGE, **QUIET).ok  # stale, not the event's
    stale = wb.cache.objs_needing_photometry()
    assert stale
    srv.stats.reset()
    summary = wb.sync(resources=["photometry"], **SCOPED)
    assert summary.ok, summary
    assert srv.stats.total == 0, srv.stats.requests
    notes = [n for n in summary.notes if n.startswith("photometry:")]
    assert len(notes) == 1 and "sync sources and candidates with this gcn_event" in notes[0]
    assert wb.cache.objs_needing_photometry() == stale


def test_a_scoped_scanner_first_sync_details_only_the_events_candidates(grb_server, tmp_path):
    """After an unscoped sync of the listings every cached candidate is stale: the
    scanner-first start of an event-scoped sync fetches photometry and cutouts only for
    the event's candidates, and the objs outside it stay stale."""
    srv = grb_server
    wb, inside, everyone = _listed_whole_then_scoped(srv, tmp_path)
    srv.stats.reset()
    summary = wb.sync(["candidates", "photometry", "thumbnails"], background=True, **SCOPED)
    assert summary.ok, summary
    summary.background.wait(120)
    asked = {
        key.split("/")[3]
        for key in srv.stats.requests
        if key.startswith("GET /api/sources/") and key.endswith("/photometry")
    }
    assert asked and asked <= inside, sorted(asked - inside)[:5]
    assert everyone - inside <= set(wb.cache.objs_needing_photometry())
