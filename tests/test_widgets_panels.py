"""The panels driven like a user would: set values, click, then look in the cache and on the
server. A real local server on 127.0.0.1, a real DuckDB cache in tmp_path, synced first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sync_helpers import copy_cache

from widgets import ClassificationPanel, OutboxPanel, VettingPanel
from workbench.facade import Workbench

FAST = {"rate_limit": None, "max_retries": 1, "backoff": 0.01, "timeout": (2, 10)}


SEED = {"sources": 30, "candidates": 20, "seed": 5}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache synced once from a server with the seed; each test copies it. The server is
    deterministic for a seed, so a copy matches a fresh server's data exactly."""
    from workbench.server import LocalServer

    path = tmp_path_factory.mktemp("template") / "cache.duckdb"
    with LocalServer(**SEED) as server:
        wb = Workbench.open(server.url, server.token, path, **FAST)
        wb.sync()
        wb.cache.close()  # the sync's log is folded in after it returns: copies wait for it
    return path


@pytest.fixture
def online(make_server, template: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh server and a workbench on a fresh copy of the synced cache."""
    server = make_server(**SEED)
    copy_cache(template, tmp_path / "cache.duckdb")
    wb = Workbench.open(server.url, server.token, tmp_path / "cache.duckdb", **FAST)
    return server, wb


def outbox_rows(wb: Workbench) -> list[dict]:
    frame = wb.outbox.list()
    rows = frame.to_dict("records")
    for row in rows:
        if isinstance(row["payload"], str):
            row["payload"] = json.loads(row["payload"])
    return rows


def saved_groups(wb: Workbench, obj_id: str) -> set[int]:
    return {g["id"] for g in wb.client.get(f"/api/sources/{obj_id}/groups")}


def rejected_on_server(server) -> set[str]:  # type: ignore[no-untyped-def]
    """Objects in the server's rejected_candidates lists (read from its store)."""
    return {x["obj_id"] for x in server.store.listings if x["list_name"] == "rejected_candidates"}


def a_group(wb: Workbench) -> int:
    """A group whose filters passed the most candidates (the scanner's own group)."""
    passing = wb.candidates()["passing_group_ids"].map(json.loads).explode().dropna()
    return int(passing.astype(int).value_counts().index[0])


def classes_of(panel: ClassificationPanel) -> list[str]:
    classes = panel.allowed_classes()
    assert classes, "the synced taxonomy offers no class"
    return classes


# -- vetting ----------------------------------------------------------------------------------
def test_vetting_save_reject_skip_reach_cache_and_server(online) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    group = a_group(wb)
    panel = VettingPanel(wb, group_ids=[group])
    queue = list(panel.state.queue)
    assert len(queue) >= 3 and panel.state.current == queue[0]
    scores = [panel.state.rows[i].get("score") for i in queue]
    known = [s for s in scores if s == s and s is not None]
    assert known == sorted(known, reverse=True), "the queue must be best-first"

    first, second, third = queue[:3]
    panel.save_groups.value = (group,)
    panel.save_button.click()
    assert panel.errors.messages == []
    assert panel.state.current == second and first not in panel.state.queue
    panel.reject_button.click()
    panel.skip_button.click()
    panel.flush()  # decisions are written behind the display: wait for them
    assert panel.errors.messages == []
    assert panel.state.current == queue[3] and panel.state.queue[-1] == third

    actions = {(r["kind"], r["payload"]["obj_id"]): r for r in outbox_rows(wb)}
    assert actions[("save", first)]["status"] == "sent"
    assert actions[("reject", second)]["status"] == "sent"
    assert not any(obj == third for _kind, obj in actions), "a skip is local only"
    vetting = wb.sql("SELECT obj_id, decision FROM vetting ORDER BY id")
    assert list(zip(vetting["obj_id"], vetting["decision"], strict=True)) == [
        (first, "save"),
        (second, "reject"),
        (third, "skip"),
    ]
    assert group in saved_groups(wb, first)
    assert second in rejected_on_server(server)
    # A new panel (a new session) starts where this one stopped: decided ones are gone.
    again = VettingPanel(wb, group_ids=[group])
    assert first not in again.state.queue and second not in again.state.queue
    assert again.state.queue[-1] == third


def test_vetting_refuses_a_save_without_group_and_keeps_the_candidate(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    panel = VettingPanel(wb)
    current = panel.state.current
    panel.save_groups.value = ()
    panel.save_button.click()
    assert panel.state.current == current
    assert any("choose at least one group" in m for m in panel.errors.messages)
    assert outbox_rows(wb) == []
    panel.min_score.value = "very high"
    assert "min score must be a number" in panel.errors.messages[-1]


def test_vetting_shows_cutouts_lightcurve_and_details(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    panel = VettingPanel(wb, prefetch=2)
    view = panel.view
    assert view is not None and view.obj_id == panel.state.current
    cached = wb.thumbnails(view.obj_id)
    assert any(cached.values()), "the local server's candidates have cutouts"
    # one HTML for the three cutouts, each an <img> carrying the cached PNG
    assert panel.cutouts_html.value.count("<img") >= sum(1 for v in cached.values() if v)
    assert f"<span class='wb-obj-id'>{view.obj_id}</span>" in panel.header.value
    assert "wb-candidate-area" in panel.candidate_area._dom_classes
    assert "wb-vetting" in panel.widget._dom_classes
    assert panel.plot_box.children, "a light curve (or a note) is shown"
    assert view.obj_id in panel.header.value
    upcoming = panel.state.upcoming(2)
    panel.prefetcher.wait()  # they are prepared in a worker thread
    assert all(i in panel.prefetcher for i in upcoming), "the next ones are prepared ahead"
    hits = panel.prefetcher.hits
    panel.skip_button.click()
    assert panel.prefetcher.hits == hits + 1 and panel.view.obj_id == upcoming[0]
    panel.previous_button.click()
    assert panel.errors.messages == []


def test_vetting_comment_and_classify_from_the_panel(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    panel = VettingPanel(wb)
    obj_id = panel.state.current
    panel.comment_text.value = "looks like a <b>real</b> transient"
    panel.comment_button.click()
    assert panel.errors.messages == []
    assert panel.comment_text.value == ""
    assert "&lt;b&gt;real&lt;/b&gt;" in panel.tab_html["Comments"].value
    comments = wb.client.get(f"/api/sources/{obj_id}/comments")
    assert any(c["text"] == "looks like a <b>real</b> transient" for c in comments)

    panel.classify_button.click()
    classifier = panel.classifier
    assert classifier is not None and classifier.state.obj_id == obj_id
    classifier.klass.value = classes_of(classifier)[-1]
    classifier.post_button.click()
    assert classifier.errors.messages == []
    on_server = wb.client.get(f"/api/sources/{obj_id}/classifications")
    assert any(c["classification"] == classifier.klass.value for c in on_server)


def test_vetting_offline_queues_then_pushes_after_restart(online, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    group = a_group(wb)
    server.stop()
    offline = Workbench.open(cache=tmp_path / "cache.duckdb", offline=True)
    panel = VettingPanel(offline, group_ids=[group])
    first = panel.state.current
    panel.save_button.click()
    second = panel.state.current
    panel.reject_button.click()
    panel.flush()
    assert panel.errors.messages == []
    statuses = {r["payload"]["obj_id"]: r["status"] for r in outbox_rows(offline)}
    assert statuses == {first: "pending", second: "pending"}
    assert "pending</b> 2" in panel.strip.badges.value
    panel.strip.push_button.click()  # offline: refused with a message, nothing lost
    assert "offline" in panel.errors.messages[-1] or "cannot push" in panel.errors.messages[-1]

    # Online again, but the server is still down: the push fails, the actions stay queued.
    down = Workbench.open(server.url, server.token, tmp_path / "cache.duckdb", **FAST)
    outbox = OutboxPanel(down)
    outbox.push_button.click()
    assert {r["status"] for r in outbox_rows(down)} <= {"pending", "unknown"}

    server.start()
    outbox.push_button.click()
    assert outbox.errors.messages == [] or "ConnectionFailed" in outbox.errors.messages[0]
    assert {r["status"] for r in outbox_rows(down)} == {"sent"}
    assert "sent 2" in outbox.message.value
    assert group in saved_groups(down, first)
    assert second in rejected_on_server(server)


# -- classification ---------------------------------------------------------------------------
def test_classification_post_then_undo_online(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    obj_id = str(wb.sources()["id"].iloc[0])
    panel = ClassificationPanel(wb, obj_id)
    name = classes_of(panel)[-1]
    panel.klass.value = name
    panel.probability.value = 0.7
    panel.post_button.click()
    assert panel.errors.messages == []
    remote = [
        c
        for c in wb.client.get(f"/api/sources/{obj_id}/classifications")
        if c["classification"] == name and abs(c["probability"] - 0.7) < 1e-9
    ]
    assert len(remote) == 1
    assert name in panel.existing.value

    panel.undo_button.click()
    assert panel.errors.messages == []
    left = wb.client.get(f"/api/sources/{obj_id}/classifications")
    assert all(c["id"] != remote[0]["id"] for c in left)
    kinds = [(r["kind"], r["status"]) for r in outbox_rows(wb)]
    assert kinds == [("classification", "sent"), ("classification_delete", "sent")]
    panel.undo_button.click()
    assert "nothing to undo" in panel.errors.messages[-1]


def test_classification_offline_undo_drops_the_pending_action(online, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    obj_id = str(wb.sources()["id"].iloc[0])
    offline = Workbench.open(cache=tmp_path / "cache.duckdb", offline=True)
    panel = ClassificationPanel(offline, obj_id)
    name = classes_of(panel)[-1]
    panel.klass.value = name
    panel.post_button.click()
    local = offline.classifications(obj_id)
    assert name in set(local["classification"])
    assert [r["status"] for r in outbox_rows(offline)] == ["pending"]
    panel.undo_button.click()
    assert panel.errors.messages == []
    assert [r["status"] for r in outbox_rows(offline)] == ["dropped"]
    assert name not in set(offline.classifications(obj_id)["classification"])
    remote = wb.client.get(f"/api/sources/{obj_id}/classifications")
    assert all(c["classification"] != name for c in remote)
    assert server.running


def test_classification_refuses_classes_outside_the_taxonomy(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    panel = ClassificationPanel(wb, str(wb.sources()["id"].iloc[0]))
    good = classes_of(panel)[-1]
    panel.klass.value = good + "x"  # typed by hand: the browser's Combobox would refuse it
    panel.post_button.click()
    assert f"did you mean '{good}'" in panel.errors.messages[-1]
    panel.klass.value = ""
    panel.post_button.click()
    assert "choose a class" in panel.errors.messages[-1]
    panel.obj.value = ""
    panel.klass.value = good
    panel.post_button.click()
    assert "enter the object" in panel.errors.messages[-1]
    assert outbox_rows(wb) == []
    assert set(panel.klass.options) == set(classes_of(panel))


# -- outbox -----------------------------------------------------------------------------------
def test_outbox_panel_edit_retry_and_drop(online, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    real = str(wb.sources()["id"].iloc[0])
    # A comment on an object the server does not know: refused (404), so it is "rejected".
    wb.comment("ZTFnosuchobject", "a comment that cannot land")
    panel = OutboxPanel(wb)
    panel.status_filter.value = "rejected"
    assert len(panel.actions.options) == 1
    panel.actions.value = panel.actions.options[0][1]
    assert not panel.edit_button.disabled and panel.drop_button.disabled is False
    panel.edit_button.click()
    payload = json.loads(panel.editor.value)
    panel.editor.value = '{"broken": '
    panel.apply_button.click()
    assert "not valid JSON" in panel.errors.messages[-1]
    panel.editor.value = json.dumps({**payload, "resource_id": real})
    panel.apply_button.click()
    assert "now sent" in panel.message.value
    comments = wb.client.get(f"/api/sources/{real}/comments")
    assert any(c["text"] == "a comment that cannot land" for c in comments)

    offline = Workbench.open(cache=tmp_path / "cache.duckdb", offline=True)
    offline.comment(real, "second thoughts")
    panel = OutboxPanel(offline)
    panel.status_filter.value = "pending"
    panel.actions.value = panel.actions.options[0][1]
    panel.retry_button.click()
    assert "sent at the next push" in panel.message.value
    panel.drop_button.click()
    assert [r["status"] for r in outbox_rows(offline)][-1] == "dropped"
    panel.actions.value = None
    panel.drop_button.click()
    assert "select an action" in panel.errors.messages[-1]


def test_panels_keep_no_state_at_class_level(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    one, two = VettingPanel(wb), VettingPanel(wb)
    assert one.state is not two.state and one.prefetcher is not two.prefetcher
    one.skip_button.click()
    assert two.state.position == 0 and two.state.decisions == {}
    for cls in (VettingPanel, ClassificationPanel, OutboxPanel):
        mutable = [
            k
            for k, v in vars(cls).items()
            if not k.startswith("__") and isinstance(v, list | dict | set)
        ]
        assert mutable == [], f"{cls.__name__} shares {mutable} between instances"


def test_panels_refuse_something_that_is_not_a_workbench() -> None:
    from workbench.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="needs a Workbench"):
        VettingPanel(None)  # type: ignore[arg-type]


def test_panels_on_an_empty_offline_cache_say_what_to_do(tmp_path: Path) -> None:
    wb = Workbench.open(cache=tmp_path / "empty.duckdb", offline=True)
    vetting = VettingPanel(wb)
    assert vetting.state.current is None and "Queue done" in vetting.header.value
    vetting.reject_button.click()
    vetting.comment_button.click()
    assert "queue is done" in vetting.errors.messages[0]
    assert "no current candidate" in vetting.errors.messages[1]
    classifier = ClassificationPanel(wb, "ZTF21aaqjmps")
    assert "no taxonomy in the cache" in classifier.message.value
    classifier.post_button.click()
    assert "no taxonomy chosen" in classifier.errors.messages[-1]
    outbox = OutboxPanel(wb)
    assert outbox.actions.options == () and "outbox empty" in outbox.badges.value
    outbox.push_button.click()
    assert "offline" in outbox.errors.messages[-1]
    vetting.close()
