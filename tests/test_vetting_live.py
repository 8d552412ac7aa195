"""Live while open: a poll brings new candidates and drops those saved or rejected by another
client, without moving the candidate on screen; the background poll is a parameter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from vetting_helpers import FAST

from widgets import VettingPanel
from workbench.errors import WorkbenchError
from workbench.facade import Workbench


def test_poll_drops_what_others_decided_and_adds_new_ones(online, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    panel = VettingPanel(wb, poll_seconds=None, background=False)
    assert panel._poller is None, "poll_seconds=None: no background poll"
    panel.handle_key("n")  # look at the second candidate: it must stay on screen
    shown = panel.state.current
    later = [i for i in panel.state.queue if i != shown][-3:]
    saved_elsewhere, rejected_elsewhere = later[0], later[1]

    other = Workbench.open(server.url, server.token, tmp_path / "other.duckdb", **FAST)
    group = int(wb.groups()["id"].iloc[0])
    other.save(saved_elsewhere, [group])
    other.reject(rejected_elsewhere)
    other.save(shown, [group])  # the one on screen: it must not jump away
    filter_id = int(next(iter(server.store.filter_groups())))
    passed = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    other.client.post(
        "/api/candidates",
        json={
            "id": "ZTF26zzlive01",
            "ra": 150.0,
            "dec": 2.0,
            "filter_ids": [filter_id],
            "passed_at": passed,
        },
    )

    new = panel.poll_once()
    assert new == ["ZTF26zzlive01"]
    assert panel.state.current == shown, "the candidate on screen never moves"
    assert "ZTF26zzlive01" in panel.state.queue[panel.state.position + 1 :]
    assert saved_elsewhere not in panel.state.queue
    assert rejected_elsewhere not in panel.state.queue
    assert "1 new" in panel.live_note.value and "decided elsewhere" in panel.live_note.value
    assert panel.errors.messages == []
    # the new candidate can be vetted like any other
    panel.state.go_to("ZTF26zzlive01")
    panel._show_current()
    assert "ZTF26zzlive01" in panel.header.value
    # a second poll with nothing new adds nothing and keeps the note's count
    assert panel.poll_once() == []
    assert panel.state.current == "ZTF26zzlive01"


def test_background_poll_starts_online_and_stops_on_close(online, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    panel = VettingPanel(wb, poll_seconds=3600, background=False)
    assert panel._poller is not None and panel._poller.is_alive()
    thread = panel._poller
    panel.close()
    thread.join(timeout=10)
    assert not thread.is_alive()

    server.stop()
    offline = Workbench.open(cache=tmp_path / "cache.duckdb", offline=True)
    quiet = VettingPanel(offline, background=False)  # default 60 s, but offline: no poll
    assert quiet._poller is None
    with pytest.raises(WorkbenchError, match="offline"):
        quiet.poll_once()


def test_candidate_bundles_match_the_accessors(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    ids = list(wb.candidates()["id"][:3])
    bundles = wb.candidate_bundles(ids)
    # (string columns may come back as pandas' string dtype or object: same values)
    for obj_id in ids:
        got = bundles[obj_id]
        pd.testing.assert_frame_equal(got["photometry"], wb.photometry(obj_id), check_dtype=False)
        pd.testing.assert_frame_equal(
            got["classifications"], wb.classifications(obj_id), check_dtype=False
        )
        pd.testing.assert_frame_equal(got["comments"], wb.comments(obj_id), check_dtype=False)
        pd.testing.assert_frame_equal(got["annotations"], wb.annotations(obj_id), check_dtype=False)
        pd.testing.assert_frame_equal(got["saves"], wb.saves(obj_id), check_dtype=False)
        assert got["thumbnails"] == wb.thumbnails(obj_id)
