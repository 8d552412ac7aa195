"""Decisions you can take back: undo (queued: dropped; sent: reversed on the server) and Back
(the previous candidate, its decision shown and changeable), online and offline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from vetting_helpers import (
    a_group,
    outbox_rows,
    rejected_on_server,
    saved_groups_on_server,
)

from widgets import VettingPanel
from workbench.facade import Workbench


def _panel(wb: Workbench, group: int) -> VettingPanel:
    panel = VettingPanel(wb, group_ids=[group], poll_seconds=None, background=False)
    panel.save_groups.value = (group,)
    return panel


def _decision(wb: Workbench, obj_id: str) -> object:
    frame = wb.candidates()
    return frame.loc[frame["id"] == obj_id, "decision"].iloc[0]


def test_undo_of_sent_reject_and_save_reverses_them_on_the_server(online) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    group = a_group(wb)
    panel = _panel(wb, group)
    first, second, third = panel.state.queue[:3]
    panel.handle_key("s")
    panel.handle_key("r")
    assert panel.state.current == third
    assert group in saved_groups_on_server(server, first)
    assert second in rejected_on_server(server)

    panel.handle_key("u")  # the reject: the listing is deleted on the server
    assert panel.state.current == second and second in panel.state.queue
    assert second not in rejected_on_server(server)
    kinds = [(r["kind"], r["status"]) for r in outbox_rows(wb)]
    assert ("unreject", "sent") in kinds
    assert pd.isna(_decision(wb, second)), "the local decision is cleared"

    panel.handle_key("u")  # the save: unsaved through source_groups
    assert panel.state.current == first
    assert group not in saved_groups_on_server(server, first)
    assert ("unsave", "sent") in [(r["kind"], r["status"]) for r in outbox_rows(wb)]
    assert panel.state.queue[:3] == [first, second, third], "the queue follows"
    with pytest.raises(Exception, match="nothing to undo"):
        panel.handle_key("u")
    # a new session agrees: both are unvetted again
    again = VettingPanel(wb, group_ids=[group], poll_seconds=None, background=False)
    assert {first, second} <= set(again.state.queue)
    assert panel.errors.messages == []


def test_undo_offline_drops_the_queued_action(online, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    group = a_group(wb)
    server.stop()
    offline = Workbench.open(cache=tmp_path / "cache.duckdb", offline=True)
    panel = _panel(offline, group)
    first, second = panel.state.queue[:2]
    panel.save_button.click()
    panel.reject_button.click()
    assert {r["status"] for r in outbox_rows(offline)} == {"pending"}
    panel.undo_button.click()
    panel.undo_button.click()
    assert panel.errors.messages == []
    rows = outbox_rows(offline)
    assert {r["status"] for r in rows} == {"dropped"}, "undo of a pending action drops it"
    assert [r["kind"] for r in rows] == ["save", "reject"], "no inverse action is queued"
    assert panel.state.current == first and panel.state.queue[1] == second
    assert offline.saves(first).empty, "the local save is reverted"
    assert "outbox empty" in panel.strip.badges.value or "dropped" not in panel.strip.badges.value


def test_back_shows_the_decision_and_lets_you_change_it(online) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    group = a_group(wb)
    panel = _panel(wb, group)
    first, second = panel.state.queue[:2]
    panel.handle_key("r")  # reject the first: it leaves the queue
    assert panel.state.current == second and first not in panel.state.queue
    panel.handle_key("ArrowLeft")  # Back reaches it anyway, with its decision
    assert panel.state.current == first and panel.state.revisiting
    assert "rejected" in panel.header.value and first in panel.header.value
    panel.handle_key("s")  # change the decision: unreject, then save
    assert first not in rejected_on_server(server)
    assert group in saved_groups_on_server(server, first)
    assert panel.state.current == second and not panel.state.revisiting
    assert panel.decided[first].decision == "save"
    kinds = [r["kind"] for r in outbox_rows(wb)]
    assert kinds == ["reject", "unreject", "save"]
    # Back then forward (n) returns to the live candidate without deciding anything
    panel.handle_key("b")
    assert panel.state.current == first and "saved" in panel.header.value
    panel.handle_key("n")
    assert panel.state.current == second
    assert [r["kind"] for r in outbox_rows(wb)] == kinds
    assert panel.errors.messages == []


def test_back_and_undo_offline_keep_the_queue_consistent(online, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, _wb = online
    server.stop()
    offline = Workbench.open(cache=tmp_path / "cache.duckdb", offline=True)
    panel = VettingPanel(offline, poll_seconds=None, background=False)
    a, b, c = panel.state.queue[:3]
    panel.handle_key("n")  # skip a (to the end)
    panel.handle_key("r")  # reject b
    assert panel.state.current == c
    panel.handle_key("b")
    assert panel.state.current == b and "rejected" in panel.header.value
    panel.handle_key("b")
    assert panel.state.current == a
    panel.handle_key("b")  # nothing before a: stays
    assert panel.state.current == a
    panel.handle_key("n")
    panel.handle_key("n")
    assert panel.state.current == c and not panel.state.revisiting
    panel.handle_key("u")  # undo the reject of b (pending: dropped)
    assert panel.state.current == b
    assert [r["status"] for r in outbox_rows(offline)] == ["dropped"]
    panel.handle_key("u")  # undo the skip of a: it comes back from the end
    assert panel.state.current == a and panel.state.queue.count(a) == 1
    assert panel.errors.messages == []
