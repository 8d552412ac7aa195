"""The vetting queue, apart from any widget: filters, order, position, decisions, history.

Best first: highest score, then the most recently passed (or detected), then by id, so the order is
stable between refreshes ("newest" puts the latest passed first; "learned" the highest
``p_wanted`` of :mod:`workbench.learning`). A candidate already saved or rejected (here or in
an earlier session) leaves the queue when "unvetted only" is on; a skipped one moves to the
end. Every candidate shown is kept in ``history``, so Back reaches one that left the queue,
with its decision; an undone decision brings its candidate back as the current one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.errors import WorkbenchError

from ._common import json_value

FINAL_DECISIONS = ("save", "reject")
ORDERS = ("score", "newest", "learned")
# Where the cache's candidate frame keeps the latest local vetting decision.
DECISION_COLUMNS = ("decision", "vetting_decision", "vetting", "vetted")


@dataclass
class VettingFilters:
    """Which candidates to vet: passed by any of these groups' filters (none: all), with at
    least this score, and not yet saved or rejected."""

    group_ids: tuple[int, ...] = ()
    min_score: float | None = None
    unvetted_only: bool = True

    def check(self) -> None:
        """Refuse a filter that cannot be applied, saying why."""
        if self.min_score is not None and not math.isfinite(float(self.min_score)):
            raise WorkbenchError(f"min score must be a finite number, not {self.min_score!r}")


@dataclass
class Decision:
    """One decision of this session: on what, which, where to, its outbox action, when."""

    obj_id: str
    decision: str
    group_ids: tuple[int, ...] = ()
    action_id: int | None = None
    at: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC").tz_localize(None))


@dataclass
class VettingState:
    """The queue of candidate ids (best first), the position in it, and decisions made.

    ``history`` lists the candidates shown before the live one (oldest first); ``cursor``
    is the index in it while going Back (None: at the live candidate of the queue).
    ``gone`` holds candidates saved or rejected elsewhere (another client, another user)
    since the panel opened: they leave the queue. ``learned`` maps obj id -> p_wanted
    for the "learned" order.
    """

    filters: VettingFilters = field(default_factory=VettingFilters)
    queue: list[str] = field(default_factory=list)
    position: int = 0
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: dict[str, str] = field(default_factory=dict)
    total: int = 0
    history: list[str] = field(default_factory=list)
    cursor: int | None = None
    all_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    order: str = "score"
    learned: dict[str, float] = field(default_factory=dict)

    def load(self, candidates: pd.DataFrame) -> None:
        """Rebuild the queue from the cache's candidates, keeping the current one if it stays."""
        self.filters.check()
        current = self.live
        frame = self._filtered(candidates)
        self.total = len(candidates)
        if not candidates.empty:
            self.all_rows = {str(r["id"]): r for r in candidates.to_dict("records")}
        else:
            self.all_rows = {}
        self.rows = {str(r["id"]): r for r in frame.to_dict("records")}
        self.queue = list(self.rows)
        self.position = self.queue.index(current) if current in self.rows else 0

    def merge(self, candidates: pd.DataFrame) -> tuple[list[str], list[str]]:
        """Take in a newer candidate frame (a live poll) without moving the shown candidate.

        What was passed over stays in place; the candidates after the live one are
        re-ordered with the new ones among them; those now filtered out (saved or rejected
        elsewhere: ``gone``) leave, except the one on screen. Returns (new ids, dropped ids).
        """
        self.filters.check()
        live, shown = self.live, self.current
        before = set(self.queue)
        frame = self._filtered(candidates)
        self.total = len(candidates)
        if not candidates.empty:
            self.all_rows.update({str(r["id"]): r for r in candidates.to_dict("records")})
        fresh = {str(r["id"]): r for r in frame.to_dict("records")}
        keep = {live, shown} - {None}
        head = [i for i in self.queue[: self.position] if i in fresh or i in keep]
        tail_start = [live] if live is not None else []
        rest = [i for i in fresh if i not in set(head) | set(tail_start)]
        self.queue = head + tail_start + rest
        self.rows = {i: fresh.get(i) or self.rows.get(i) or self.all_rows[i] for i in self.queue}
        self.position = len(head)
        dropped = sorted(before - set(self.queue))
        new = [i for i in self.queue if i not in before and i not in self.decisions]
        return new, dropped

    def _filtered(self, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        f = self.filters
        decisions = latest_decisions(frame)
        decisions.update(self.decisions)
        if f.group_ids and "passing_group_ids" in frame:
            wanted = set(f.group_ids)
            in_group = frame["passing_group_ids"].map(lambda v: bool(wanted & set(as_ints(v))))
            frame = frame[in_group]
        if f.min_score is not None and "score" in frame:
            frame = frame[frame["score"].astype(float) >= float(f.min_score)]
        decided = frame["id"].map(lambda i: decisions.get(str(i)))
        if f.unvetted_only:
            keep = ~decided.isin(FINAL_DECISIONS)
            if self.gone:
                keep &= ~frame["id"].astype(str).isin(self.gone - {self.current})
            frame, decided = frame[keep], decided[keep]
        score = (
            frame["score"].astype(float)
            if "score" in frame
            else pd.Series(float("nan"), index=frame.index)
        )
        if self.order == "learned" and self.learned:
            # p_wanted in place of the score; unscored candidates after, by score
            learned = frame["id"].astype(str).map(self.learned).astype(float)
            score = learned.fillna(-1.0 + score.fillna(0.0) * 1e-3)
        passed = _latest_time(frame)
        order = pd.DataFrame(
            {
                "skipped": (decided == "skip").astype(int),
                "no_score": score.isna().astype(int),
                "score": -score.fillna(0.0),
                "passed": passed.map(lambda t: -t.value if pd.notna(t) else 0),
                "id": frame["id"].astype(str),
            },
            index=frame.index,
        )
        keys = ["skipped", "no_score", "score", "passed", "id"]
        if self.order == "newest":
            keys = ["skipped", "passed", "no_score", "score", "id"]
        order = order.sort_values(keys)
        return frame.loc[order.index]

    @property
    def live(self) -> str | None:
        """The candidate at the queue's position (``None`` when the queue is done)."""
        return self.queue[self.position] if 0 <= self.position < len(self.queue) else None

    @property
    def current(self) -> str | None:
        """The candidate on screen: one from the history while going Back, else the live one."""
        if self.cursor is not None and 0 <= self.cursor < len(self.history):
            return self.history[self.cursor]
        return self.live

    @property
    def revisiting(self) -> bool:
        """True while Back shows a candidate seen before (not the live one)."""
        return self.cursor is not None

    def row(self, obj_id: str) -> dict[str, Any]:
        """The candidate's row, whether it is still in the queue or left it."""
        row = self.rows.get(obj_id) or self.all_rows.get(obj_id)
        if row is None:
            raise WorkbenchError(f"{obj_id!r} is not a cached candidate; sync the candidates")
        return row

    def remember_shown(self, obj_id: str | None) -> None:
        """Note that ``obj_id`` was on screen and is being left (for Back)."""
        if obj_id is None:
            return
        if obj_id in self.history:
            self.history.remove(obj_id)  # once in the history, at the latest place
        self.history.append(obj_id)

    def back(self) -> str | None:
        """Show the candidate seen before the one on screen (it may have left the queue)."""
        live = self.live
        if self.cursor is None:
            earlier = [i for i, x in enumerate(self.history) if x != live]
            if not earlier:
                return self.current
            self.cursor = earlier[-1]
        else:
            earlier = [i for i in range(self.cursor) if self.history[i] != live]
            if earlier:
                self.cursor = earlier[-1]
        return self.current

    def forward(self) -> str | None:
        """After Back: the candidate shown after this one (at the end, the live one)."""
        if self.cursor is None:
            return self.go(+1)
        live = self.live
        later = [i for i in range(self.cursor + 1, len(self.history)) if self.history[i] != live]
        self.cursor = later[0] if later else None
        return self.current

    def restore(self, obj_id: str) -> None:
        """Bring a candidate back into the queue as the live one (its decision was undone)."""
        self.decisions.pop(obj_id, None)
        self.gone.discard(obj_id)
        if obj_id in self.queue:
            index = self.queue.index(obj_id)
            self.queue.pop(index)
            if index < self.position:
                self.position -= 1
        self.position = min(self.position, len(self.queue))
        self.queue.insert(self.position, obj_id)
        self.rows[obj_id] = self.row(obj_id)
        self.cursor = None
        if obj_id in self.history:
            self.history.remove(obj_id)

    def upcoming(self, n: int) -> list[str]:
        """The next ``n`` candidates after the current one (to prepare ahead)."""
        return self.queue[self.position + 1 : self.position + 1 + max(0, n)]

    def go(self, step: int) -> str | None:
        """Move ``step`` places (negative goes back), clamped to the queue."""
        if self.queue:
            self.position = min(max(0, self.position + step), len(self.queue))
        return self.current

    def go_to(self, obj_id: str) -> str:
        """Jump to a candidate of the queue."""
        if obj_id not in self.rows:
            raise WorkbenchError(
                f"{obj_id!r} is not in the vetting queue (filters: {self.filters}); "
                "change the filters or sync the candidates"
            )
        self.position = self.queue.index(obj_id)
        return obj_id

    def decide(self, obj_id: str, decision: str) -> None:
        """Record a decision; the queue moves on to the next candidate.

        With "unvetted only", a saved or rejected candidate leaves the queue (so the same
        position now holds the next one); a skipped one is moved to the end.
        """
        self.decisions[obj_id] = decision
        if obj_id not in self.rows or obj_id not in self.queue:
            return
        index = self.queue.index(obj_id)
        if decision in FINAL_DECISIONS and self.filters.unvetted_only:
            self.queue.pop(index)
            self.rows.pop(obj_id)
            if index < self.position:
                self.position -= 1
        elif decision == "skip" and index == self.position and len(self.queue) > 1:
            self.queue.append(self.queue.pop(index))
            # After a full round of skips, the end of the queue comes round again.
        elif index == self.position:
            self.position += 1

    @property
    def remaining(self) -> int:
        return max(0, len(self.queue) - self.position)


def _latest_time(frame: pd.DataFrame) -> pd.Series:
    """When each candidate passed a filter (or, lacking that, was last detected)."""
    out = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    for column in ("passed_at", "last_detected_at"):
        if column in frame:
            out = out.fillna(pd.to_datetime(frame[column]))
    return out


def latest_decisions(frame: pd.DataFrame) -> dict[str, str]:
    """The local decision of each candidate, from whichever column the cache provides."""
    column = next((c for c in DECISION_COLUMNS if c in frame.columns), None)
    if column is None:
        return {}
    out = {}
    for obj_id, value in zip(frame["id"], frame[column], strict=True):
        if isinstance(value, str) and value:
            out[str(obj_id)] = value
    return out


def as_ints(value: Any) -> list[int]:
    """A list of ints from a JSON list column (text, list or NaN)."""
    value = json_value(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, int | float | str):
        value = [value]
    out = []
    for item in value:
        try:
            out.append(int(item))
        except (TypeError, ValueError):
            continue
    return out
