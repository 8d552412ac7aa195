"""Rise and set times of assignments, against what a live SkyPortal 1.4.0 answered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from astropy.time import Time

from workbench.server.observing import rise_and_set_utc

LIVE = Path(__file__).resolve().parent / "data" / "live-captures" / "GET_api_assignment.json"
KECK = (19.8283, -155.478, 4160.0)  # the demo's Keck I and II (LRIS, ESI): degrees, metres
# (obj ra, dec in degrees, the run's calendar date) of the live demo's two assignments
RUNS = {"ZTF21aaqjmps": (202.5050541, 13.4111859, "2020-06-17"),
        "ZTF18aabcvnq": (172.0534465, 25.6596908, "2020-02-16")}  # fmt: skip


@pytest.mark.parametrize("obj_id", sorted(RUNS))
def test_rise_and_set_match_the_live_server_within_a_second(obj_id: str) -> None:
    live = {a["obj_id"]: a for a in json.loads(LIVE.read_text())["data"]}[obj_id]
    rise, setting = rise_and_set_utc(*RUNS[obj_id], *KECK)
    for ours, theirs in ((rise, live["rise_time_utc"]), (setting, live["set_time_utc"])):
        assert ours is not None
        assert abs((Time(ours) - Time(theirs)).sec) < 1.0, (ours, theirs)


def test_a_target_that_never_reaches_30_degrees_has_no_rise_or_set() -> None:
    assert rise_and_set_utc(10.0, -80.0, "2026-06-17", *KECK) == (None, None)


def test_a_circumpolar_target_is_up_from_sunset_to_sunrise() -> None:
    # dec +60 seen from latitude +65 never goes below 30 degrees: up all night
    rise, setting = rise_and_set_utc(0.0, 60.0, "2026-01-10", 65.0, 20.0, 0.0)
    assert rise is not None and setting is not None
    assert Time(rise) < Time(setting)
