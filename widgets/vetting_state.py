"""The vetting queue, apart from any widget: filters, order, position, decisions.

Best first: highest score, then the most recently passed (or detected), then by id, so the order is
stable between refreshes. A candidate already saved or rejected (here or in an earlier
session) leaves the queue when "unvetted only" is on; a skipped one moves to the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.errors import WorkbenchError

from ._common import json_value

FINAL_DECISIONS = ("save", "reject")
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
class VettingState:
    """The queue of candidate ids (best first), the position in it, and decisions made."""

    filters: VettingFilters = field(default_factory=VettingFilters)
    queue: list[str] = field(default_factory=list)
    position: int = 0
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: dict[str, str] = field(default_factory=dict)
    total: int = 0

    def load(self, candidates: pd.DataFrame) -> None:
        """Rebuild the queue from the cache's candidates, keeping the current one if it stays."""
        self.filters.check()
        current = self.current
        frame = self._filtered(candidates)
        self.total = len(candidates)
        self.rows = {str(r["id"]): r for r in frame.to_dict("records")}
        self.queue = list(self.rows)
        self.position = self.queue.index(current) if current in self.rows else 0

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
            frame, decided = frame[keep], decided[keep]
        score = (
            frame["score"].astype(float)
            if "score" in frame
            else pd.Series(float("nan"), index=frame.index)
        )
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
        order = order.sort_values(["skipped", "no_score", "score", "passed", "id"])
        return frame.loc[order.index]

    @property
    def current(self) -> str | None:
        """The candidate being vetted, or ``None`` when the queue is done."""
        return self.queue[self.position] if 0 <= self.position < len(self.queue) else None

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
        if obj_id not in self.rows:
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
