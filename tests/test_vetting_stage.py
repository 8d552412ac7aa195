"""The vetting panel's stage: slides sent ahead, keys from the browser acted on only for the
candidate the scanner saw, and the kernel's state the browser falls back to.

Keys arrive as the browser sends them (``stage._receive`` with the message
``vetting_stage.js`` sends); what the stage sends back is recorded from ``stage.send``.
"""

from __future__ import annotations

import math

from vetting_helpers import a_group, rejected_on_server, saved_groups_on_server

from widgets import VettingPanel
from widgets.vetting_stage import json_safe


def _recording(panel: VettingPanel) -> list[dict]:
    sent: list[dict] = []
    panel.stage.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    return sent


def _press(panel: VettingPanel, key: str, obj: str, seq: int) -> None:
    panel.stage._receive(panel.stage, {"type": "key", "key": key, "obj": obj, "seq": seq}, None)


def test_slides_are_sent_once_and_chain_the_next_candidates(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    panel = VettingPanel(wb, group_ids=[a_group(wb)], poll_seconds=None, background=False)
    sent = _recording(panel)
    panel.stage._receive(panel.stage, {"type": "hello"}, None)  # a page connects
    state = sent[-1]
    queue = list(panel.state.queue)
    assert state["current"] == queue[0]
    # the chain: the current candidate, then what each advance shows (prepared ones)
    assert state["chain"][0] == queue[0] and len(state["chain"]) > 1
    assert state["chain"] == queue[: len(state["chain"])]
    slides = {s["obj_id"]: s for s in state["slides"]}
    assert set(slides) == set(state["chain"])
    first = slides[queue[0]]
    assert f"<span class='wb-obj-id'>{queue[0]}</span>" in first["html"]
    assert first["html"].count("wb-cutout'") >= 3 and "wb-lc-legend" in first["legend_html"]
    assert first["curve"]["x0"] and first["curve"]["det"][0]["x"] is not None
    # the kernel's Bokeh copy holds what the browser was given (nothing travels back)
    assert panel.lightcurve.figure_columns is panel.view.plot.columns
    assert panel.lightcurve.sources["view"].data["x0"] == first["curve"]["x0"]
    # published again: nothing new to send
    panel._publish_stage()
    assert sent[-1]["slides"] == [] and sent[-1]["chain"] == state["chain"]
    # a new page has nothing: everything is sent again
    panel.stage._receive(panel.stage, {"type": "hello"}, None)
    assert {s["obj_id"] for s in sent[-1]["slides"]} == set(state["chain"])
    panel.close()


def test_a_key_acts_only_on_the_candidate_the_scanner_saw(online) -> None:  # type: ignore[no-untyped-def]
    server, wb = online
    group = a_group(wb)
    panel = VettingPanel(wb, group_ids=[group], poll_seconds=None, background=False)
    sent = _recording(panel)
    queue = list(panel.state.queue)
    a, b, c = queue[:3]
    _press(panel, "s", a, 1)  # saved A, as the browser already moved on to B
    panel.flush()
    assert group in saved_groups_on_server(server, a)
    assert sent[-1]["current"] == b and sent[-1]["ack"] == 1
    # a key pressed while the browser still showed A (the panel is on B): nothing done
    _press(panel, "r", a, 2)
    panel.flush()
    assert panel.state.current == b and b not in rejected_on_server(server)
    assert "nothing was done" in panel.message.value and sent[-1]["ack"] == 2
    _press(panel, "r", b, 3)
    panel.flush()
    assert b in rejected_on_server(server) and sent[-1]["current"] == c
    # keys that do not act on the candidate shown need no match: back, undo
    _press(panel, "u", "", 4)
    assert panel.state.current == b and sent[-1]["current"] == b
    panel.flush()
    assert b not in rejected_on_server(server)
    # typed right after the undo, before its answer: the browser still showed C, and the
    # key follows the kernel (skips B, as typed in order)
    message = {"type": "key", "key": "n", "obj": c, "seq": 5, "follow": True}
    panel.stage._receive(panel.stage, message, None)
    assert panel.state.current == c and panel.state.queue[-1] == b
    panel.close()


def test_modes_and_revisits_send_no_chain(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    panel = VettingPanel(wb, group_ids=[a_group(wb)], poll_seconds=None, background=False)
    sent = _recording(panel)
    a = panel.state.current
    _press(panel, "c", a, 1)  # classify mode: letters are typed, so no advance in the browser
    assert sent[-1]["mode"] == "classify"
    _press(panel, "Escape", a, 2)
    assert sent[-1]["mode"] == ""
    _press(panel, "n", a, 3)
    _press(panel, "b", "", 4)  # back to A: what n shows next is the kernel's to say
    assert sent[-1]["current"] == a and sent[-1]["chain"] == [a]
    panel.close()


def test_the_end_of_the_queue_is_a_slide_too(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    panel = VettingPanel(wb, group_ids=[a_group(wb)], poll_seconds=None, background=False)
    sent = _recording(panel)
    panel.set_filters(min_score=1e9)  # nothing passes
    state = sent[-1]
    assert state["current"] == "" and state["chain"] == [""]
    assert "Queue done" in state["slides"][0]["html"]
    assert state["slides"][0]["curve"]["note"] == ["no photometry"]
    panel.close()


def test_json_safe_turns_nan_into_null() -> None:
    row = {"x": [1.0, math.nan], "y": (math.inf, 2), "t": "a", "n": [{"v": -math.inf}]}
    assert json_safe(row) == {"x": [1.0, None], "y": [None, 2], "t": "a", "n": [{"v": None}]}


def test_prepared_slides_are_published_without_holding_up_the_prefetch(online) -> None:  # type: ignore[no-untyped-def]
    # The prefetch worker announces prepared views; the panel publishes them under its
    # lock. A key holds that lock while it waits for a view the worker has yet to read,
    # so the announcement must not make the worker wait for the lock: it did, and the
    # kernel hung in notebook 05 (its learned order re-queues right after the panel is
    # made; nbval reproduces it, this test's timing does not). Here: skips faster than
    # the worker prepares all land, and the stage is told the candidate they reached.
    _server, wb = online
    panel = VettingPanel(wb, group_ids=[a_group(wb)], poll_seconds=None, prefetch=8)
    sent = _recording(panel)
    queue = list(panel.state.queue)
    for _ in range(7):
        panel.skip()
    assert panel.state.current == queue[7]
    panel.prefetcher.wait()
    panel._publish_stage()
    assert sent[-1]["current"] == queue[7] and not panel.errors.messages
    panel.close()
