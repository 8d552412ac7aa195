"""Request counters of the local server (``srv.stats``), thread-safe."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """Requests per ``"METHOD /path"``, per status, and a few event counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._events: Counter[str] = Counter()

    def record(self, method: str, path: str) -> None:
        """Count one request as it arrives."""
        with self._lock:
            self._requests[f"{method} {path}"] += 1

    def status(self, code: int) -> None:
        """Count one response status."""
        with self._lock:
            self._statuses[code] += 1

    def event(self, name: str) -> None:
        """Count an event ("rate_limited", "fault:500", ...)."""
        with self._lock:
            self._events[name] += 1

    @property
    def requests(self) -> dict[str, int]:
        """``{"GET /api/sources": 12, ...}``."""
        with self._lock:
            return dict(self._requests)

    @property
    def statuses(self) -> dict[int, int]:
        """Responses per HTTP status."""
        with self._lock:
            return dict(self._statuses)

    @property
    def events(self) -> dict[str, int]:
        """Event counters (rate-limited requests, injected faults)."""
        with self._lock:
            return dict(self._events)

    @property
    def total(self) -> int:
        """All requests counted since the last reset."""
        with self._lock:
            return sum(self._requests.values())

    def count(self, method: str, prefix: str) -> int:
        """Requests of ``method`` whose path starts with ``prefix``."""
        with self._lock:
            return sum(
                n for key, n in self._requests.items() if key.startswith(f"{method} {prefix}")
            )

    def reset(self) -> None:
        """Forget every counter."""
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._events.clear()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready snapshot for ``/_workbench/stats``."""
        with self._lock:
            return {
                "total": sum(self._requests.values()),
                "requests": dict(self._requests),
                "statuses": {str(k): v for k, v in self._statuses.items()},
                "events": dict(self._events),
            }
