"""The panels' state and helpers, without a server: queue order, filters, decisions, escaping."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from widgets._common import PLACEHOLDER_PNG, ErrorArea, format_cell, html_table, status_badges
from widgets._plots import ensure_bokehjs
from widgets.classification import class_paths, taxonomy_options
from widgets.outbox import describe_action, parse_payload
from widgets.vetting import parse_score
from widgets.vetting_data import CandidateView, Prefetcher, nearby
from widgets.vetting_state import VettingFilters, VettingState, as_ints
from workbench.errors import OutboxError, WorkbenchError
from workbench.redact import register_secret


def _candidates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["A", "B", "C", "D", "E"],
            "score": [0.5, 0.9, np.nan, 0.9, 0.2],
            "passed_at": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05", "2024-01-04"]
            ),
            "passing_group_ids": ["[1]", "[2]", "[1, 2]", "[1]", "[]"],
            "ra": [10.0, 11.0, 12.0, 13.0, 14.0],
            "dec": [0.0] * 5,
            "decision": [None, None, None, None, "reject"],
        }
    )


def test_queue_is_best_first_then_latest_then_unscored_last() -> None:
    state = VettingState()
    state.load(_candidates())
    # D and B tie at 0.9: D passed later; E was rejected earlier so it is hidden; C has no score.
    assert state.queue == ["D", "B", "A", "C"]
    assert state.current == "D"
    assert state.total == 5


def test_filters_group_score_and_vetted() -> None:
    state = VettingState(VettingFilters(group_ids=(1,), min_score=0.4))
    state.load(_candidates())
    assert state.queue == ["D", "A"]  # C (group 1) has no score, so it fails the cut
    state.filters = VettingFilters(group_ids=(2, 1), min_score=None, unvetted_only=False)
    state.load(_candidates())
    assert state.queue == ["D", "B", "A", "C"]
    state.filters = VettingFilters(unvetted_only=False)
    state.load(_candidates())
    assert "E" in state.queue


def test_decisions_move_the_queue() -> None:
    state = VettingState()
    state.load(_candidates())
    state.decide("D", "save")
    assert state.current == "B" and "D" not in state.queue
    state.decide("B", "skip")
    assert state.current == "A" and state.queue[-1] == "B"
    state.go(-5)
    assert state.current == "A"
    state.go(10)
    assert state.current is None and state.remaining == 0
    # Session decisions survive a reload from a cache that does not know them yet.
    state.load(_candidates())
    assert state.queue == ["A", "C", "B"]


def test_decide_without_unvetted_only_advances() -> None:
    state = VettingState(VettingFilters(unvetted_only=False))
    state.load(_candidates())
    first = state.current
    state.decide(first, "reject")
    assert first in state.queue and state.position == 1


def test_go_to_unknown_candidate_says_why() -> None:
    state = VettingState()
    state.load(_candidates())
    with pytest.raises(WorkbenchError, match="not in the vetting queue"):
        state.go_to("ZZZ")
    assert state.go_to("C") == "C" and state.current == "C"


def test_bad_min_score_is_refused() -> None:
    with pytest.raises(WorkbenchError, match="finite"):
        VettingState(VettingFilters(min_score=float("nan"))).load(_candidates())
    assert parse_score(" 0.25 ") == 0.25
    assert parse_score("") is None
    with pytest.raises(WorkbenchError, match="must be a number"):
        parse_score("high")
    with pytest.raises(WorkbenchError, match="finite"):
        parse_score("inf")


def test_as_ints_reads_json_lists() -> None:
    assert as_ints("[1, 2, 3]") == [1, 2, 3]
    assert as_ints([4, "5"]) == [4, 5]
    assert as_ints(None) == [] and as_ints(float("nan")) == []


def test_nearby_galaxies_by_true_angular_separation() -> None:
    galaxies = pd.DataFrame(
        {
            "name": ["near", "far", "pole"],
            "ra": [180.0 + 30 / 3600 / np.cos(np.radians(60.0)), 181.0, 0.0],
            "dec": [60.0, 60.0, 90.0],
        }
    )
    hits = nearby(galaxies, 180.0, 60.0, 60.0)
    assert list(hits["name"]) == ["near"]
    # 30 arcsec of RA at dec 60 is 30 arcsec on the sky to first order.
    assert hits["sep_arcsec"].iloc[0] == pytest.approx(30.0, rel=1e-3)
    assert nearby(galaxies, float("nan"), 0.0, 60.0).empty


def test_outbox_descriptions_and_payload_edits() -> None:
    row = {
        "kind": "classification",
        "payload": '{"obj_id": "ZTF1", "classification": "Ia", "probability": 0.8}',
    }
    assert describe_action(row) == "classify ZTF1 as Ia (p=0.8)"
    assert describe_action({"kind": "save", "payload": {"obj_id": "X", "group_ids": [3, 4]}}) == (
        "save X to group(s) 3, 4"
    )
    assert describe_action({"kind": "reject", "payload": {"obj_id": "X"}}) == "reject candidate X"
    assert parse_payload('{"a": 1}') == {"a": 1}
    with pytest.raises(OutboxError, match="line 1, column"):
        parse_payload('{"a": ')
    with pytest.raises(OutboxError, match="JSON object"):
        parse_payload("[1, 2]")


def test_html_is_escaped_and_tokens_never_shown() -> None:
    frame = pd.DataFrame({"text": ["<script>alert(1)</script>"], "n": [1.23456789]})
    out = html_table(frame, ["text", "n", "missing"], empty="none")
    assert "<script>" not in out and "&lt;script&gt;" in out and "1.235" in out
    assert (
        html_table(pd.DataFrame(), ["x"], empty="nothing <here>") == "<i>nothing &lt;here&gt;</i>"
    )
    assert format_cell('{"drb": 0.99}') == "drb=0.99"
    assert "pending</b> 2" in status_badges({"pending": 2, "dropped": 5})
    assert status_badges({}) == "<i>outbox empty</i>"


def test_error_area_shows_callback_errors_without_the_token() -> None:
    token = "0f9e8d7c-aaaa-bbbb-cccc-123456789abc"
    register_secret(token)
    area = ErrorArea()

    def boom() -> None:
        raise OutboxError(f"refused with {token}")

    def bug() -> None:
        raise KeyError(token)

    assert area.guard(boom)() is None
    area.guard(bug)()
    assert len(area.messages) == 2
    assert area.messages[0].startswith("OutboxError: refused with ***")
    assert "Unexpected KeyError" in area.messages[1] and "Traceback" in area.messages[1]
    assert all(token not in m for m in area.messages)
    assert token not in str(area.output.outputs)
    area.clear()
    assert area.messages == [] and area.output.outputs == ()


def test_taxonomy_helpers() -> None:
    tree = {
        "class": "Time-domain Source",
        "subclasses": [{"class": "SN", "subclasses": [{"class": "Ia"}, {"class": "II"}]}],
    }
    paths = class_paths(tree)
    assert list(paths) == ["Time-domain Source", "SN", "Ia", "II"]
    assert paths["Ia"] == "Time-domain Source › SN › Ia"
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["old", "small", "broad"],
            "version": ["1", "2", "2"],
            "isLatest": [False, True, True],
            "hierarchy": ['{"class": "A"}', '{"class": "A"}', json.dumps(tree)],
        }
    )
    assert [v for _, v in taxonomy_options(frame)] == [3, 2, 1]
    assert ensure_bokehjs() is False  # outside a kernel nothing is sent


def test_placeholder_is_a_real_png() -> None:
    image = Image.open(io.BytesIO(PLACEHOLDER_PNG))
    image.load()
    assert image.size == (63, 63) and image.mode == "L"


class _CountingLoader:
    """A stand-in for CandidateLoader (same load() interface) that counts reads and can fail."""

    def __init__(self, fail: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.loads: list[str] = []
        self.fail = set(fail)

    def load(self, obj_id: str, row: dict) -> CandidateView:
        self.loads.append(obj_id)
        if obj_id in self.fail:
            raise WorkbenchError(f"cannot read {obj_id}")
        empty = pd.DataFrame()
        return CandidateView(obj_id, row, {}, empty, empty, empty, empty, empty)


@pytest.mark.parametrize("background", [False, True])
def test_prefetcher_prepares_ahead_and_keeps_a_bounded_set(background: bool) -> None:
    loader = _CountingLoader()
    pre = Prefetcher(loader, keep=3, background=background)  # type: ignore[arg-type]
    try:
        pre.prepare([("A", {}), ("B", {})])
        pre.wait()
        assert "A" in pre and "B" in pre
        pre.pinned = "A"
        assert pre.get("A", {}).obj_id == "A" and pre.hits == 1 and pre.misses == 0
        pre.prepare([("C", {}), ("D", {}), ("A", {})])
        pre.wait()
        assert "A" in pre, "the view on screen is never dropped"
        assert sum(k in pre for k in "ABCD") == 3 and loader.loads.count("A") == 1
        pre.get("Z", {})
        assert pre.misses == 1
    finally:
        pre.close()


def test_prefetcher_background_failure_is_raised_on_get() -> None:
    loader = _CountingLoader(fail={"BAD"})
    pre = Prefetcher(loader, background=True)  # type: ignore[arg-type]
    try:
        pre.prepare([("BAD", {})])
        pre.wait()
        assert "cannot read BAD" in pre.failures["BAD"]
        with pytest.raises(WorkbenchError, match="cannot read BAD"):
            pre.get("BAD", {})  # read again in the foreground, so the error is seen
        assert loader.loads == ["BAD", "BAD"]
    finally:
        pre.close()


def test_prefetcher_drops_a_view_read_before_a_forget() -> None:
    import threading

    release = threading.Event()

    class SlowLoader(_CountingLoader):
        def load(self, obj_id: str, row: dict) -> CandidateView:
            release.wait(5)
            return super().load(obj_id, row)

    loader = SlowLoader()
    pre = Prefetcher(loader, background=True)  # type: ignore[arg-type]
    try:
        pre.prepare([("A", {"stale": True})])
        pre.forget()  # e.g. a refresh after a sync while A is being read
        release.set()
        pre.wait()
        assert "A" not in pre
        assert pre.get("A", {"stale": False}).row == {"stale": False}
        assert loader.loads == ["A", "A"]
    finally:
        pre.close()


def test_prefetcher_reads_in_batches_when_the_loader_can() -> None:
    class BatchLoader(_CountingLoader):
        def __init__(self) -> None:
            super().__init__()
            self.batches: list[list[str]] = []

        def load_many(self, items: list) -> dict:
            self.batches.append([obj_id for obj_id, _row in items])
            return {obj_id: self.load(obj_id, row) for obj_id, row in items}

    loader = BatchLoader()
    pre = Prefetcher(loader, keep=10, background=True, batch=3)  # type: ignore[arg-type]
    try:
        pre.prepare([(k, {}) for k in "ABCDEF"])
        pre.wait()
        assert loader.batches == [["A", "B", "C"], ["D", "E", "F"]]
        pre.prepare([(k, {}) for k in "BCDEFG"])  # one missing, far ahead: waits
        pre.wait()
        assert "G" not in pre and len(loader.batches) == 2
        pre.prepare([(k, {}) for k in "GHI"])  # the next one is missing: read now
        pre.wait()
        assert loader.batches[-1] == ["G", "H", "I"] and all(k in pre for k in "GHI")
    finally:
        pre.close()
