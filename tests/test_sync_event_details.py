"""A plain sync stores what only the single-event record carries (FAR, source classes,
localization figures), fetching it once per new or changed event (issue 10)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from workbench.facade import Workbench

FAST = {"rate_limit": None, "max_retries": 1, "backoff": 0.01, "timeout": (2, 10)}
GW = "2019-08-14T21:10:39"
DETAIL = "/api/gcn_event/"


def _detail_requests(srv) -> int:
    """GETs of single events (the listing is ``/api/gcn_event`` with no dateobs)."""
    return sum(n for key, n in srv.stats.requests.items() if key.startswith(f"GET {DETAIL}"))


def test_plain_sync_gives_events_their_far_and_classes(make_server, tmp_path) -> None:
    srv = make_server(sources=10, candidates=5, seed=2)
    wb = Workbench.open(srv.url, srv.token, tmp_path / "c.duckdb", **FAST)
    first = wb.sync(["gcn_events"])
    assert first.ok and _detail_requests(srv) == 4  # one per event, the listing has 4
    events = wb.events().set_index("dateobs")
    gw = events.loc[GW]
    assert gw["far"] == pytest.approx(2.03e-33) and not gw["far_is_bound"]  # not the tag
    assert gw["nsbh"] == pytest.approx(0.99789) and gw["source_class"] == "NSBH"
    assert gw["bns"] == 0.0 and gw["has_ns"] == pytest.approx(0.99789)
    assert gw["has_remnant"] == 0.0 and gw["terrestrial"] == 0.0
    assert 200 < gw["distmean"] < 350 and gw["diststd"] > 0
    assert 0 < gw["area_50"] < gw["area_90"] < 40
    # the details live beside the listing's fields; the listing did not erase them
    raw = json.loads(wb.sql("SELECT raw FROM gcn_events WHERE id = 2")["raw"].iloc[0])
    assert raw["properties"][0]["data"]["NSBH"] == pytest.approx(0.99789)
    assert raw["tags"] and raw["gcn_notices"]

    # nothing changed on the server: no detail is fetched again and no row churns
    again = wb.sync(["gcn_events"])
    assert _detail_requests(srv) == 4
    assert again.tables["gcn_events"].updated == 0 and "gcn_event_details" not in again.tables
    assert wb.events().set_index("dateobs").loc[GW, "nsbh"] == pytest.approx(0.99789)

    # an update (a new classification, the event modified) is fetched, and only it
    with srv.store.lock:
        event = srv.store.events[GW]
        props = dict(event.properties, NSBH=0.5, BBH=0.5, FAR=1e-9)
        srv.store.events[GW] = dataclasses.replace(
            event, properties=props, created=event.created + 1_000_000
        )
    wb.sync(["gcn_events"])
    assert _detail_requests(srv) == 5
    gw = wb.events().set_index("dateobs").loc[GW]
    assert gw["nsbh"] == pytest.approx(0.5) and gw["far"] == pytest.approx(1e-9)
    wb.cache.close()


def test_local_single_event_carries_what_skyportal_does(server, shared_dir) -> None:
    """The keys events.py reads from ``GET /api/gcn_event/{dateobs}`` are where the real
    SkyPortal 1.4 puts them (checked against its capture)."""
    import requests

    path = shared_dir / "reference/skyportal-live/GET_api_gcn_event_2019-08-14T21-10-39.json"
    if not path.exists():
        pytest.skip("the SkyPortal capture of the GW event is not present")
    real = json.loads(path.read_text())["data"]
    local = requests.get(
        f"{server.url}{DETAIL}{GW}",
        headers={"Authorization": f"token {server.token}"},
        params={"excludeNoticeContent": "true"},
        timeout=10,
    ).json()["data"]
    assert set(real) <= set(local)
    assert set(real["properties"][0]["data"]) <= set(local["properties"][0]["data"])
    real_loc, local_loc = real["localizations"][0], local["localizations"][0]
    assert {"properties", "center"} <= set(real_loc) and {"properties", "center"} <= set(local_loc)
    wanted = set(real_loc["properties"][0]["data"])  # distmean, diststd, area_90, ...
    assert wanted <= set(local_loc["properties"][0]["data"])
    assert all("content" not in n for n in local["gcn_notices"])  # excludeNoticeContent


def test_events_fall_back_on_skyportal_figures_without_the_map(make_server, tmp_path) -> None:
    """Where a localization's pixels are not in the cache, the distance and 90% area are
    SkyPortal's own (the localization's properties the detail record carries)."""
    from workbench.errors import SkymapError
    from workbench.events import cached_event_table

    srv = make_server(sources=10, candidates=5, seed=2)
    wb = Workbench.open(srv.url, srv.token, tmp_path / "c.duckdb", **FAST)
    wb.sync(["gcn_events"])

    class NoMaps:  # the same cache, as if no localization's pixels had been fetched
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(wb, name)

        def skymap(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise SkymapError("no localization in the cache")

    gw = cached_event_table(NoMaps()).set_index("dateobs").loc[GW]
    assert gw["distmean"] == pytest.approx(267.4) and gw["diststd"] == pytest.approx(51.6)
    assert 10 < gw["area_90"] < 40 and np.isnan(gw["area_50"])  # SkyPortal has no area_50
    with_maps = wb.events().set_index("dateobs").loc[GW]
    assert with_maps["area_50"] > 0  # the map, when cached, gives every figure
    wb.cache.close()
