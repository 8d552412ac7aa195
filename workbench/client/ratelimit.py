"""A token bucket shared by every thread of a client (and, if wanted, by several clients).

SkyPortal's production nginx allows 5 requests/s with a burst of 10 per client address
and answers 429 beyond that. Pacing requests here, before they are sent, keeps a
concurrent sync under the limit instead of learning it from 429s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..errors import ConfigError


class RateLimiter:
    """Allow on average ``rate`` acquisitions per second, at most ``burst`` at once.

    :meth:`acquire` reserves a slot under a lock and sleeps outside it, so threads are
    served in the order they asked and never sleep while holding the lock. Pass one
    instance to several clients to share one budget (they talk to the same nginx).
    """

    def __init__(
        self,
        rate: float = 5.0,
        burst: int = 10,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate or rate <= 0:
            raise ConfigError(f"rate_limit must be a positive number of requests/s, got {rate!r}")
        if int(burst) < 1:
            raise ConfigError(f"burst must be at least 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._last = clock()

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate}, burst={self.burst})"

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self) -> float:
        """Take one slot, sleeping until it is free; return the seconds waited."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0  # may go negative: a reservation later callers queue behind
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            self._sleep(wait)
        return wait

    def slow_down(self, factor: float = 0.5, floor: float = 0.5) -> float:
        """Lower the rate to ``factor`` times itself (not below ``floor`` requests/s)
        after a 429 from a server whose limit is not known; return the new rate."""
        with self._lock:
            self._refill()
            self.rate = max(floor, min(self.rate, self.rate * factor))
            self._tokens = min(self._tokens, 0.0)
            return self.rate

    def drain(self) -> None:
        """Forget the saved-up burst, e.g. after a 429, so no thread keeps hammering."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)
