"""The demo's GW event (S190814bv) has a real counterpart in the seeded sky: a fast-fading
transient first seen days after the event, beside the most probable galaxy around it, with
two impostors a scanner must rule out (issue 10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.facade import Workbench
from workbench.server.sky import GW_DATEOBS, N_NAMED, gw_plant

FAST = {"rate_limit": None, "max_retries": 1, "backoff": 0.01, "timeout": (2, 10)}


@pytest.fixture(scope="module")
def synced(server, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The session's local server (seed 1) synced into a cache of this module's own."""
    wb = Workbench.open(
        server.url, server.token, tmp_path_factory.mktemp("demo") / "c.duckdb", **FAST
    )
    wb.sync()
    yield server, wb
    wb.cache.close()


def _planted(server) -> tuple[str, str]:
    """(object id, host galaxy name) of the seeded counterpart, from the server's seed."""
    store = server.store
    host = store.galaxies["name"][0]  # the GW cluster's first galaxy is the host
    return str(store.objs["id"][N_NAMED]), str(host)


def test_planted_counterpart_comes_first_with_its_host(synced) -> None:  # type: ignore[no-untyped-def]
    server, wb = synced
    obj_id, host = _planted(server)
    found = wb.counterparts(GW_DATEOBS)
    assert found["id"].iloc[0] == obj_id
    top = found.iloc[0]
    assert 0.5 <= top["days_after"] <= 3.0
    # a last non-detection before the event, deeper than the first detection
    assert top["last_nondetection_mjd"] < top["first_mjd"] - top["days_after"]
    assert top["last_nondetection_limit"] > top["first_mag"] + 1.0
    assert 0.3 <= top["rate"] <= 1.0  # fading, mag/day
    assert top["credible_level"] < 0.9 and not top["prior"]
    assert top["host_name"] == host and top["host_offset_kpc"] < 15
    assert abs(top["luminosity_distance"] - 267.4) < 51.6  # within the event's 1 sigma
    assert np.isfinite(top["probdensity_vol"]) and top["credible_level_vol"] < 0.9
    # weighted by stellar mass, it still comes first
    assert wb.counterparts(GW_DATEOBS, weight="mstar")["id"].iloc[0] == obj_id
    # its host is the top galaxy of the ranking among those around it (1 degree)
    for weight in (None, "mstar"):
        ranked = wb.rank_galaxies(GW_DATEOBS, cumprob=0.9, weight=weight)
        cos = np.cos(np.radians(top["dec"]))
        sep = np.hypot((ranked["ra"] - top["ra"]) * cos, ranked["dec"] - top["dec"])
        near = ranked[sep < 1.0]
        assert len(near) >= 3, "other catalog galaxies lie around the counterpart"
        assert near.sort_values("rank")["name"].iloc[0] == host
        assert ranked.set_index("name").loc[host, "rank"] == 1  # and the top of all, here


def test_counterpart_fades_in_g_and_r(synced) -> None:  # type: ignore[no-untyped-def]
    server, wb = synced
    obj_id, _host = _planted(server)
    phot = wb.photometry([obj_id])
    t0 = (pd.Timestamp(GW_DATEOBS) - pd.Timestamp("1858-11-17")) / pd.Timedelta(days=1)
    detected = phot[phot["mag"].notna()]
    assert (detected["mjd"] > t0).all()
    for band in ("ztfg", "ztfr"):
        points = detected[detected["filter"] == band]
        assert len(points) >= 2, band
        slope = np.polyfit(points["mjd"], points["mag"], 1)[0]
        assert 0.3 <= slope <= 1.0, (band, slope)
    before = phot[phot["mjd"] < t0]
    assert len(before) >= 2 and before["mag"].isna().all()


def test_impostors_are_ruled_out_or_ranked_below(synced) -> None:  # type: ignore[no-untyped-def]
    server, wb = synced
    ids = [str(server.store.objs["id"][N_NAMED + j]) for j in range(3)]
    shown = wb.counterparts(GW_DATEOBS, include_prior=True).set_index("id")
    assert set(ids) <= set(shown.index)
    assert shown.loc[ids[1], "prior"], "the SN Ia was seen before the event"
    assert ids[1] not in set(wb.counterparts(GW_DATEOBS)["id"])
    late = shown.loc[ids[2]]  # the SN II: after the event but farther out, too near
    assert not late["prior"] and late["credible_level"] > shown.loc[ids[0], "credible_level"]
    assert late["luminosity_distance"] < 100


def test_plant_is_deterministic_per_seed() -> None:
    assert gw_plant(1) == gw_plant(1) and gw_plant(1) != gw_plant(2)
    plant = gw_plant(4)
    assert 0.5 <= plant.first_mjd - plant.event_mjd <= 3.0
    # the cosmology of the host's redshift is Planck18 (as the counterparts' distances)
    from workbench.counterparts import luminosity_distance

    assert luminosity_distance(plant.host_z)[0] == pytest.approx(plant.host_dist, rel=1e-3)
