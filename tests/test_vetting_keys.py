"""Every key of the vetting panel (driven through ``panel.handle_key``, as the browser hook
does), and the state that must always be true: classifier reset per candidate, errors
cleared by the next success, one outbox state for every strip, names not ids, one's own
entries complete at once, scan groups preselected and remembered."""

from __future__ import annotations

import pytest
from vetting_helpers import (
    a_group,
    outbox_rows,
    rejected_on_server,
    saved_groups_on_server,
)

from widgets import OutboxPanel, VettingPanel
from widgets.keys import KEYS, keys_help_html, rank_matches
from workbench.errors import WorkbenchError


def test_every_key(online) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    group = a_group(wb)
    panel = VettingPanel(wb, group_ids=[group], poll_seconds=None, background=False)
    # the browser hook: the stage catches keys over the candidate area (vetting_stage.js)
    assert panel.keys_event is panel.stage and panel.stage in panel.candidate_area.children
    q = list(panel.state.queue)

    panel.handle_key("s")
    assert panel.state.current == q[1] and group in saved_groups_on_server(server, q[0])
    panel.handle_key("r")
    assert panel.state.current == q[2] and q[1] in rejected_on_server(server)
    panel.handle_key("n")
    assert panel.state.current == q[3] and panel.state.queue[-1] == q[2]
    panel.handle_key("ArrowRight")
    assert panel.state.current == q[4]
    panel.handle_key("b")
    assert panel.state.current == q[3]
    panel.handle_key("ArrowLeft")
    assert panel.state.current == q[2]
    panel.handle_key("ArrowRight")
    panel.handle_key("ArrowRight")
    assert panel.state.current == q[4] and not panel.state.revisiting
    panel.handle_key("u")  # the last decision was the skip of q[3]: it comes back
    assert panel.state.current == q[3]

    panel.handle_key("?")
    assert panel.keys_help.layout.display != "none"
    panel.handle_key("?")
    assert panel.keys_help.layout.display == "none"
    assert panel.handle_key("x") is None and panel.handle_key("Shift") is None

    # c, then a digit picks a class, Enter posts it for the candidate on screen
    obj = panel.state.current
    panel.handle_key("c")
    assert panel.key_mode == "classify" and panel.classifier is not None
    assert panel.classify_box.layout.display != "none"
    first_choice = panel._class_matches[0]
    panel.handle_key("1")
    assert panel.classifier.klass.value == first_choice
    action_id = panel.handle_key("Enter")
    assert panel.key_mode is None and isinstance(action_id, int)
    on_server = wb.client.get(f"/api/sources/{obj}/classifications")
    assert any(c["classification"] == first_choice for c in on_server)

    # c, then type-ahead: keys are letters of the class name, not actions
    panel.handle_key("c")
    for ch in "Ia":
        panel.handle_key(ch)
    assert panel.classifier.klass.value.lower().startswith("ia")
    panel.handle_key("s")  # typed, not a save
    assert panel.key_mode == "classify" and panel.state.current == obj
    panel.handle_key("Escape")
    assert panel.key_mode is None

    # m: typed keys go to the comment box, Enter posts
    panel.handle_key("m")
    for ch in "real?":
        panel.handle_key(ch)
    panel.handle_key("Backspace")
    assert panel.comment_text.value == "real"
    comment_id = panel.handle_key("Enter")
    assert isinstance(comment_id, int) and panel.key_mode is None
    assert any(c["text"] == "real" for c in wb.client.get(f"/api/sources/{obj}/comments"))
    assert panel.state.current == obj, "classify and comment never move the queue"
    kinds = [r["kind"] for r in outbox_rows(wb)]
    assert kinds.count("classification") == 1 and kinds.count("comment") == 1


def test_keys_help_and_type_ahead_ranking() -> None:
    names = [k for k, _ in KEYS]
    assert names[:2] == ["s", "r"] and "?" in names
    assert "<kbd>u</kbd>" in keys_help_html()
    classes = ["Time-domain Source", "Ia", "Ia-91bg", "II", "SN Ia-CSM", "Iax"]
    assert rank_matches("ia", classes) == ["Ia", "Ia-91bg", "Iax", "SN Ia-CSM"]
    assert rank_matches("", classes, limit=2) == ["Time-domain Source", "Ia"]


def test_classifier_resets_and_errors_clear_and_strips_agree(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    group = a_group(wb)
    panel = VettingPanel(wb, group_ids=[group], poll_seconds=None, background=False)
    classifier = panel.toggle_classifier()
    classifier.klass.value = classifier.allowed_classes()[-1]
    classifier.probability.value = 0.3
    classifier.say("something about the previous object")
    panel.skip_button.click()
    assert classifier.state.obj_id == panel.state.current
    assert classifier.klass.value == "" and classifier.probability.value == 1.0
    assert classifier.message.value == ""
    classifier.post_button.click()  # no class: refused, nothing posted for the wrong object
    assert "choose a class" in classifier.errors.messages[-1]

    # a stale error clears on the next success
    panel.save_groups.value = ()
    panel.save_button.click()
    assert any("choose at least one group" in m for m in panel.errors.messages)
    panel.save_groups.value = (group,)
    panel.save_button.click()
    assert panel.errors.messages == [] and panel.errors.output.outputs == ()

    # one outbox state: both strips show the same counts and send time
    classifier.klass.value = classifier.allowed_classes()[-1]
    classifier.post_button.click()
    assert panel.strip.badges.value == classifier.strip.badges.value
    assert "sent</b> 2" in panel.strip.badges.value and "last sent" in panel.strip.badges.value
    panel.reject_button.click()
    assert panel.strip.badges.value == classifier.strip.badges.value
    assert "sent</b> 3" in classifier.strip.badges.value
    outbox = OutboxPanel(wb)  # the outbox panel agrees too, and names the group
    assert outbox.badges.value == panel.strip.badges.value
    name = dict(zip(wb.groups()["id"], wb.groups()["name"], strict=True))[group]
    assert any(f"group(s) {name}" in label for label, _id in outbox.actions.options)


def test_names_authors_and_remembered_scan_groups(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    groups = wb.groups()
    panel = VettingPanel(wb, poll_seconds=None, background=False)  # "all groups"
    labels = [label for label, _gid in panel.save_groups.options]
    assert len(labels) == len(groups), "every group is listed"
    assert panel.save_groups.rows >= min(len(groups), 10)
    assert set(labels) <= set(groups["name"]), "names, not ids"
    assert panel.save_groups.value, "a scan group is preselected: the first Save works"
    first = panel.state.current
    panel.handle_key("s")
    assert panel.errors.messages == []
    saves = wb.saves(first)
    assert set(saves["group_name"]) <= set(groups["nickname"].fillna(groups["name"])) | set(
        groups["name"]
    )
    me = wb.profile()["username"]
    assert me and set(saves["saved_by"]) == {me}
    # the candidate's badges name its groups, who saved and when
    panel.handle_key("b")
    assert str(saves["group_name"].iloc[0]) in panel.badges.value and me in panel.badges.value

    # one's own comment and classification carry the author at once
    panel.comment("mine")
    comments = wb.comments(first)
    assert comments.loc[comments["text"] == "mine", "author"].iloc[0] == me
    classifier = panel.toggle_classifier()
    classifier.klass.value = classifier.allowed_classes()[-1]
    classifier.post_button.click()
    mine = wb.classifications(first)
    assert set(mine["author_name"]) == {me}
    assert "taxonomy" in panel.tab_html["Classifications"].value

    # the scan groups are remembered for the next session
    other = [gid for _label, gid in panel.save_groups.options][-1]
    panel.save_groups.value = (other,)
    again = VettingPanel(wb, poll_seconds=None, background=False)
    assert again.save_groups.value == (other,)


def test_learned_order_falls_back_to_score_with_a_message(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    panel = VettingPanel(wb, poll_seconds=None, background=False)
    before = list(panel.state.queue)
    panel.order.value = "learned"
    if panel.state.order == "learned":  # workbench.learning is present and ready
        obj = panel.state.current
        assert "p_wanted" in panel.header.value and obj in panel.state.learned
    else:
        assert panel.order.value == "score" and panel.state.queue == before
        assert panel.message.value, "the reason is shown"
    panel.order.value = "newest"
    passed = [panel.state.rows[i].get("passed_at") for i in panel.state.queue]
    known = [p for p in passed if p is not None and p == p]
    assert known == sorted(known, reverse=True)
    with pytest.raises(WorkbenchError, match="order must be one of"):
        panel.set_order("random")


def test_after_a_key_only_the_open_tab_is_filled_then_each_tab_when_opened(  # type: ignore[no-untyped-def]
    online, monkeypatch
) -> None:
    import asyncio

    import widgets.vetting as vetting
    from widgets.vetting_view import TABS

    _server, wb = online
    panel = VettingPanel(wb, group_ids=[a_group(wb)], poll_seconds=None, background=False)
    marker = "<i>the previous candidate's comments</i>"
    panel.tab_html["Comments"].value = marker
    first = panel.state.current

    async def press_n_in_a_kernel() -> tuple[str, str]:
        # in a kernel, a key arrives as a widget message with the kernel's loop running
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(vetting, "_deferring_loop", lambda: loop)
        panel.handle_key("n")
        right_after = panel.tab_html["Comments"].value
        await asyncio.sleep(vetting.DEFERRED_SECONDS + 0.2)  # the loop runs the deferred fill
        return right_after, panel.tab_html["Comments"].value

    right_after, later = asyncio.run(press_n_in_a_kernel())
    assert panel.state.current != first
    assert right_after == marker  # nothing below the candidate was sent with it
    assert later == marker  # the Comments tab is not open: left for when it is
    assert "Comments" in panel._stale_tabs
    panel.tabs.selected_index = TABS.index("Comments")
    assert marker not in panel.tab_html["Comments"].value
    assert (
        "comment" in panel.tab_html["Comments"].value
        or "<table" in panel.tab_html["Comments"].value
    )
    assert "Comments" not in panel._stale_tabs


def test_learned_figures_show_the_groups_own_precision_beside_the_score_orders() -> None:
    from widgets.vetting import learned_figures

    metrics = {
        "precision_at_10": 0.8,
        "precision_at_20": 0.75,
        "precision_at_50": 0.7,
        "auprc": 0.72,
        "n_test": 120,
        "score": {"precision_at_10": 0.5, "precision_at_20": 0.35, "auprc": 0.43},
    }
    text = learned_figures(metrics)
    assert "newest 120 decisions" in text
    assert "learned P@10/20/50 0.80/0.75/0.70, AUPRC 0.72" in text
    assert "score order P@10/20/50 0.50/0.35/nan, AUPRC 0.43" in text
    assert learned_figures({}) == ""
