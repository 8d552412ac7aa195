"""When to try a request again, and how long to wait first.

Reads (GET/HEAD) are retried on 429, 500, 502, 503, 504, timeouts, dropped connections
and truncated (malformed) JSON bodies: on a flaky server each of these is usually
transient, and repeating a read changes nothing on the server. The number of repeats is
bounded by :attr:`RetryPolicy.max_retries`, so a deterministic 500 still fails, later.
Writes are retried only when the request provably never reached the application: the
connection could not be opened, or the rate limiter answered 429 (nginx refuses before
the application sees the request). Any other failure of a write leaves its outcome
unknown, and the caller (the outbox) must look at the server before sending it again.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC

import requests
import urllib3.exceptions as u3

from ..errors import ConfigError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Statuses worth repeating for reads only: a write answered 500 may have been applied.
READ_RETRY_STATUSES = frozenset({500})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A Retry-After longer than this is not waited for: the caller learns it at once.
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt ``n`` waits ``U(0, min(cap, base*2**n))``.

    ``max_retries`` is the number of repeats after the first attempt; ``backoff`` the
    base delay and ``max_backoff`` the cap, in seconds.
    """

    max_retries: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff < 0 or self.max_backoff < 0:
            raise ConfigError(
                "max_retries, backoff and max_backoff must be >= 0, got "
                f"{self.max_retries!r}, {self.backoff!r}, {self.max_backoff!r}"
            )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before repeat number ``attempt`` (0-based)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        cap = min(self.max_backoff, self.backoff * (2.0**attempt))
        return self.rng.uniform(0.0, cap)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class Failure:
    """What went wrong with an attempt that produced no usable response.

    ``sent``: the request may have reached the server (its outcome is unknown);
    ``retryable``: a read may be tried again; ``reason``: words for the message.
    """

    reason: str
    sent: bool
    retryable: bool = True


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception nested in it (requests wraps urllib3 wraps socket)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        nested = [cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args]
        stack.extend(n for n in nested if isinstance(n, BaseException))


def classify(exc: requests.RequestException) -> Failure:
    """Turn a ``requests`` exception into a :class:`Failure` (sent or not, retryable or not)."""
    causes = list(_causes(exc))
    if any(isinstance(c, requests.exceptions.SSLError) for c in causes):
        return Failure(
            "TLS/SSL handshake failed (certificate or protocol)", sent=False, retryable=False
        )
    if any(isinstance(c, u3.NameResolutionError) for c in causes):
        return Failure("the host name could not be resolved", sent=False)
    if any(isinstance(c, u3.NewConnectionError) for c in causes):
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return Failure("connection refused", sent=False)
        return Failure("could not open a connection", sent=False)
    if any(
        isinstance(c, requests.exceptions.ConnectTimeout | u3.ConnectTimeoutError) for c in causes
    ):
        return Failure("timed out while connecting", sent=False)
    if any(isinstance(c, requests.exceptions.ReadTimeout | u3.ReadTimeoutError) for c in causes):
        return Failure("timed out waiting for the server's answer", sent=True)
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return Failure("the connection dropped while the answer was being read", sent=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return Failure("the connection dropped", sent=True)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidHeader):
        return Failure(
            f"the request could not be built ({type(exc).__name__})", sent=False, retryable=False
        )
    return Failure(f"the request failed ({type(exc).__name__})", sent=True, retryable=False)
