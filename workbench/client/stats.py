"""Thread-safe counters of what a client did: requests, retries, 429s, bytes, waiting."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class ClientStats:
    """Counters shared by every thread of one :class:`SkyPortalClient`.

    ``requests``: HTTP attempts sent (retries included); ``retries``: attempts that were
    repeats; ``rate_limited``: 429 answers seen; ``errors``: exceptions raised to the
    caller; ``bytes_received``: response body bytes; ``wait_seconds``: time spent
    waiting on the rate limiter; ``backoff_seconds``: time slept between retries.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: int = 0
    bytes_received: int = 0
    wait_seconds: float = 0.0
    backoff_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **increments: float) -> None:
        """Add to one or more counters atomically, e.g. ``add(requests=1, bytes_received=n)``."""
        with self._lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)

    def snapshot(self) -> dict[str, float]:
        """A consistent copy of every counter, as a plain dict."""
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            for f in fields(self):
                if f.name != "_lock":
                    setattr(self, f.name, type(getattr(self, f.name))())
