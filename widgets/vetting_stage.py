"""The vetting panel's candidate stage: the candidate drawn in the browser from slides sent ahead.

A key press that went through the kernel before it drew anything paid a round trip, the
kernel's busy/idle status handling in JupyterLab and one message per widget changed (the
median was 100-136 ms in Chromium, ``benchmarks/bench_vetting_browser.py``). The stage
(an ``anywidget``: custom browser code without a JupyterLab extension to build) holds
*slides*, the drawn form of the candidate shown and of the next few: the HTML of header,
badges and cutouts, the light curve's legend line and the row its figure's ``CustomJS``
applies. A key that moves on (``n``/→, ``s``, ``r``) shows the next slide in the browser at
once and then tells the kernel, with the candidate the scanner was looking at when the key
was pressed; the panel acts only if that is still its current candidate, so a decision
never lands on an object the scanner did not see.

The kernel stays the authority: every message it sends names its current candidate and
the last key it handled, and once every key sent has been handled the browser shows that
candidate. Keys are caught here too (no ``ipyevents``): the navigation must happen in the
browser, before any message, which a kernel-side key hook cannot do.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import traitlets

KEEP_SLIDES = 48  # slides the browser keeps (the kernel assumes it has the last KEEP_SENT)
KEEP_SENT = KEEP_SLIDES // 2


@dataclass(frozen=True)
class Slide:
    """One candidate as the stage draws it: ``html`` (header, badges, cutouts), the legend
    line under the light curve, and ``curve``, the figure's view row (points in days from
    now, AB magnitudes, axis ranges); ``token`` changes whenever any of them does."""

    obj_id: str
    html: str
    legend_html: str
    curve: dict[str, Any]
    token: str
    parts: tuple[str, str, str] = ("", "", "")  # header, badges, cutouts (not sent)

    def message(self) -> dict[str, Any]:
        return {
            "obj_id": self.obj_id,
            "html": self.html,
            "legend_html": self.legend_html,
            "curve": self.curve,
            "token": self.token,
        }


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no NaN; BokehJS draws null as
    a gap), recursively through dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


KeyCallback = Callable[[str, str | None, int], Any]


class CandidateStage(anywidget.AnyWidget):
    """The browser side of the vetting panel's candidate area (see the module's doc).

    ``on_key(key, obj_id, seq)`` is called for each key pressed over the panel (``obj_id``:
    the candidate on screen when it was pressed, "" for none, None when the key was typed
    after one whose outcome the page could not foresee); ``on_state_wanted()`` when a
    browser page connects and needs everything again, and after each key (its ack). :meth:`publish` sends the state.
    """

    _esm = Path(__file__).with_name("vetting_stage.js")
    uid = traitlets.Unicode("").tag(sync=True)
    # the light-curve figures (Bokeh ids), stacked: one shown, the next drawn into another
    figure_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    view_source_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)  # their view rows

    def __init__(self, *, figure_ids: list[str], view_source_ids: list[str]) -> None:
        super().__init__(
            uid=uuid.uuid4().hex, figure_ids=figure_ids, view_source_ids=view_source_ids
        )
        self.on_key: KeyCallback | None = None
        self.on_state_wanted: Callable[[], Any] | None = None
        self.acked = 0  # the last key handled
        self.handling = False  # a key is being handled: publish once, after it
        self._sent: OrderedDict[str, str] = OrderedDict()  # obj_id -> token sent
        self._send_lock = threading.Lock()
        self.on_msg(self._receive)

    def _receive(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        kind = content.get("type")
        if kind == "hello":
            with self._send_lock:
                self._sent.clear()  # a new page: it has no slide yet
            if self.on_state_wanted is not None:
                self.on_state_wanted()
        elif kind == "key" and self.on_key is not None:
            seq = int(content.get("seq") or 0)
            self.handling = True
            # "follow": typed after a key whose outcome the page could not foresee (back,
            # undo, a mode), so it acts on whatever the kernel shows by then, in order
            obj = None if content.get("follow") else str(content.get("obj") or "")
            try:
                self.press(str(content.get("key", "")), obj, seq)
            finally:
                self.handling = False
                self.acked = max(self.acked, seq)
            if self.on_state_wanted is not None:
                self.on_state_wanted()  # the state after the key, with its ack

    def press(self, key: str, obj_id: str | None, seq: int = 0) -> Any:
        """Handle one key as if pressed in the browser over candidate ``obj_id`` (None:
        whichever is current; tests and scripts drive the panel through this)."""
        return None if self.on_key is None else self.on_key(key, obj_id, seq)

    def publish(
        self,
        current: Slide,
        chain: list[Slide],
        *,
        mode: str = "",
        can_save: bool = False,
    ) -> dict[str, Any]:
        """Send the kernel's state: the current candidate (obj_id "": the queue is done), the
        slides an advance shows one after another (``chain``), the key mode ("",
        "classify" or "comment") and whether ``s`` can save; slides the browser already
        has are not sent again. Returns the message (tests read it)."""
        with self._send_lock:
            slides = []
            for slide in [current, *chain]:
                if self._sent.get(slide.obj_id) != slide.token:
                    slides.append(slide.message())
                    self._sent.pop(slide.obj_id, None)
                    self._sent[slide.obj_id] = slide.token
            while len(self._sent) > KEEP_SENT:
                self._sent.popitem(last=False)
            message = {
                "type": "state",
                "slides": slides,
                "keep": KEEP_SLIDES,
                "current": current.obj_id,
                "chain": [current.obj_id] + [s.obj_id for s in chain],
                "ack": self.acked,
                "mode": mode,
                "can_save": bool(can_save),
            }
            self.send(message)
        return message


__all__ = ["KEEP_SLIDES", "CandidateStage", "Slide", "json_safe"]
