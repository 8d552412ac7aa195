"""What a vetting session did: saved, rejected, classified, commented (and undid), by whom
and when, as a DataFrame and as standalone HTML/CSV downloads.

The journal is kept by the panel as it acts (it does not re-read the cache), so it holds
exactly this session's actions; each row's outbox ``status`` is read when the report is
built, so "pending" becomes "sent" after a push.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

REPORT_COLUMNS = ("at", "obj_id", "action", "detail", "by", "outbox_id", "status", "undone")


def utc_now() -> pd.Timestamp:
    """Now, UTC, naive (as the cache stores times)."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")


@dataclass
class ScanJournal:
    """The session's actions, oldest first (``by`` is the user's name)."""

    by: str = "you"
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, action: str, obj_id: str, detail: str = "", outbox_id: int | None = None
    ) -> dict[str, Any]:
        """Record one action (``save``, ``reject``, ``classify``, ``comment``, ``undo ...``)."""
        entry = {
            "at": utc_now(),
            "obj_id": obj_id,
            "action": action,
            "detail": detail,
            "by": self.by,
            "outbox_id": outbox_id,
            "undone": False,
        }
        self.entries.append(entry)
        return entry

    def mark_undone(self, outbox_id: int | None, obj_id: str, action: str) -> None:
        """Flag the latest matching entry as taken back."""
        for entry in reversed(self.entries):
            same = entry["obj_id"] == obj_id and entry["action"] == action
            if (
                same
                and not entry["undone"]
                and (outbox_id is None or entry["outbox_id"] == outbox_id)
            ):
                entry["undone"] = True
                return

    def frame(self, outbox: pd.DataFrame | None = None) -> pd.DataFrame:
        """The report: one row per action, with its outbox status now ("local" if none)."""
        if not self.entries:
            return pd.DataFrame(columns=list(REPORT_COLUMNS))
        status: dict[int, str] = {}
        if outbox is not None and not outbox.empty:
            status = {int(i): str(s) for i, s in zip(outbox["id"], outbox["status"], strict=True)}
        rows = []
        for entry in self.entries:
            oid = entry["outbox_id"]
            rows.append(
                {
                    **entry,
                    "outbox_id": pd.NA if oid is None else int(oid),
                    "status": "local" if oid is None else status.get(int(oid), "unknown"),
                }
            )
        frame = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
        frame["outbox_id"] = frame["outbox_id"].astype("Int64")
        return frame


def report_csv(frame: pd.DataFrame) -> str:
    """The report as CSV text (times in ISO-8601 UTC)."""
    return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
