"""Timestamps of the local server: integer microseconds since the Unix epoch (UTC).

SkyPortal writes naive ISO-8601 strings that are UTC (``2026-11-24T04:03:04.349890``);
keeping them as int64 microseconds makes comparisons exact and lets numpy filter
100,000 rows at once. Query parameters are "Arrow-parseable" date strings, so the
parser here accepts dates, date-times with ``T`` or a space, fractions, ``Z`` and offsets.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1)
US_PER_DAY = 86_400_000_000
MJD_UNIX_EPOCH = 40587.0  # MJD of 1970-01-01T00:00:00


def iso(us: int | None) -> str | None:
    """Naive ISO-8601 string (UTC) of ``us`` microseconds since the epoch, like SkyPortal."""
    if us is None:
        return None
    return (_EPOCH + timedelta(microseconds=int(us))).isoformat()


def iso_seconds(us: int) -> str:
    """ISO-8601 string without the fraction (GCN ``dateobs`` style)."""
    return (_EPOCH + timedelta(microseconds=int(us))).replace(microsecond=0).isoformat()


def parse_time(text: str) -> int:
    """Microseconds since the epoch of an Arrow-parseable date string; ``ValueError`` if not.

    Aware times are converted to UTC; naive ones are taken as UTC (SkyPortal's convention).
    """
    value = str(text).strip()
    if not value:
        raise ValueError("empty date string")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    stamp = datetime.fromisoformat(value)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return (stamp - _EPOCH) // timedelta(microseconds=1)


def us_to_mjd(us: float) -> float:
    """Modified Julian Date of a time in epoch microseconds."""
    return us / US_PER_DAY + MJD_UNIX_EPOCH


def mjd_to_us(mjd: float) -> int:
    """Epoch microseconds of a Modified Julian Date."""
    return round((mjd - MJD_UNIX_EPOCH) * US_PER_DAY)


class Clock:
    """Strictly increasing "now" for writes, never earlier than the seed's anchor.

    Two writes in the same microsecond still get different ``modified`` values, so an
    incremental reader using ``createdOrModifiedAfter`` never loses one of them.
    """

    def __init__(self, floor_us: int) -> None:
        self._last = int(floor_us)
        self._lock = threading.Lock()

    def now(self) -> int:
        """The current time in epoch microseconds, strictly after every earlier call."""
        with self._lock:
            wall = time.time_ns() // 1000
            self._last = max(wall, self._last + 1)
            return self._last
