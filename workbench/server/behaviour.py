"""Run-time switches of the local server: auth, rate limit, latency, faults, quirks.

``srv.behaviour.update(rate_limit=True, latency="realistic")`` in-process, or
``PUT /_workbench/behaviour`` with the same keys as JSON for a server in another process.
Faults are rules matched on method and path (``fnmatch`` pattern), firing for the next
``count`` matches, with a ``probability``, or only on the ``nth`` match.
"""

from __future__ import annotations

import fnmatch
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError

FAULT_KINDS = ("500", "502", "503", "504", "429", "slow", "drop", "malformed", "html")
LATENCY_PROFILES = ("none", "realistic")
# realistic profile (DESIGN.md, SkyPortal 1.4.0 on this machine): base seconds + per row
PROFILES = {
    "sources": (0.08, 0.00025),  # 0.205 s for 500 sources
    "candidates": (0.1, 0.0178),  # 9 s for 500, 1.9 s for 100 (measured: 9 s, 1.5 s)
    "classification": (0.01, 0.00004),  # 0.03 s for 500
    "photometry": (0.03, 0.0),  # per-source photometry
    "spectra": (0.1, 0.012),  # ~6.5 s for 500 full spectra
    "spectra_minimal": (0.05, 0.0015),
    "default": (0.02, 0.0),
}
DEFAULT_QUIRKS = {"unordered_classifications": True, "sources_saved_at_desc": True}


@dataclass
class Fault:
    """One fault rule: what to inject on which requests."""

    kind: str
    path: str = "/api/*"
    method: str | None = None
    count: int | None = None
    probability: float | None = None
    nth: int | None = None
    seconds: float = 30.0
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigError(f"unknown fault kind {self.kind!r}; use one of {FAULT_KINDS}")
        if self.probability is not None and not 0 <= self.probability <= 1:
            raise ConfigError("fault probability must be between 0 and 1")

    def matches(self, method: str, path: str) -> bool:
        """True when the rule applies to this request (before count/probability)."""
        if self.method and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path)


@dataclass
class Behaviour:
    """The switches; methods are thread-safe (tests flip them while a server runs)."""

    auth: bool = True
    rate_limit: bool = False
    rate: float = 5.0
    burst: int = 10
    retry_after: float | None = None
    latency: str = "none"
    latency_scale: float = 1.0
    quirks: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_QUIRKS))
    faults: list[Fault] = field(default_factory=list)
    fault_seed: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._rng = random.Random(self.fault_seed)
        self._buckets: dict[str, tuple[float, float]] = {}

    def update(self, **changes: Any) -> Behaviour:
        """Change switches by name; ``faults=[{...}]`` replaces the fault rules."""
        with self._lock:
            for key, value in changes.items():
                if key == "faults":
                    self.faults = [
                        f if isinstance(f, Fault) else Fault(**_fault_args(f)) for f in value or []
                    ]
                elif key == "quirks":
                    unknown = set(value) - set(DEFAULT_QUIRKS)
                    if unknown:
                        raise ConfigError(
                            f"unknown quirks {sorted(unknown)}; known: {sorted(DEFAULT_QUIRKS)}"
                        )
                    self.quirks.update({k: bool(v) for k, v in value.items()})
                elif key in ("auth", "rate_limit"):
                    self.__dict__[key] = bool(value)
                elif key in ("rate", "latency_scale"):
                    self.__dict__[key] = _positive(key, value)
                elif key == "burst":
                    self.burst = int(_positive(key, value, allow_zero=True))
                elif key == "retry_after":
                    self.retry_after = None if value is None else _positive(key, value)
                elif key == "fault_seed":  # restart the faults' random draws from a seed
                    self.fault_seed = int(value)
                    self._rng = random.Random(self.fault_seed)
                elif key == "latency":
                    if value not in LATENCY_PROFILES:
                        raise ConfigError(f"latency must be one of {LATENCY_PROFILES}")
                    self.latency = value
                else:
                    raise ConfigError(f"unknown behaviour switch {key!r}")
            self._buckets.clear()
        return self

    def add_fault(self, kind: str, path: str = "/api/*", **options: Any) -> Fault:
        """Add one fault rule (see :class:`Fault`) and return it."""
        with self._lock:
            fault = Fault(kind=kind, path=path, **options)
            self.faults.append(fault)
            return fault

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        with self._lock:
            self.faults.clear()

    def pick_fault(self, method: str, path: str) -> Fault | None:
        """The fault to inject for this request, if any (and count it as fired)."""
        with self._lock:
            for fault in self.faults:
                if not fault.matches(method, path):
                    continue
                fault.seen += 1
                if fault.nth is not None:
                    fire = fault.seen == fault.nth
                elif fault.count is not None:
                    fire = fault.fired < fault.count
                else:
                    fire = True
                if fire and fault.probability is not None:
                    fire = self._rng.random() < fault.probability
                if fire:
                    fault.fired += 1
                    return fault
            return None

    def admit(self, client: str) -> bool:
        """nginx ``limit_req`` (leaky bucket, ``burst`` ... ``nodelay``): False means 429."""
        if not self.rate_limit:
            return True
        with self._lock:
            now = time.monotonic()
            if client not in self._buckets:
                self._buckets[client] = (0.0, now)
                return True
            excess, last = self._buckets[client]
            excess = max(0.0, excess - self.rate * (now - last)) + 1.0
            if excess > self.burst:
                return False
            self._buckets[client] = (excess, now)
            return True

    def delay(self, profile: str, rows: int = 0) -> float:
        """Seconds a response should take under the current latency profile."""
        if self.latency == "none":
            return 0.0
        base, per_row = PROFILES.get(profile, PROFILES["default"])
        return (base + per_row * rows) * self.latency_scale

    def quirk(self, name: str) -> bool:
        """Whether a pagination quirk is on."""
        return bool(self.quirks.get(name, False))

    def advertised_rate_limit(self) -> str:
        """What the server tells clients in ``X-Workbench-Rate-Limit``: ``"none"``, or
        ``"rate=5.0; burst=10"`` (requests per second, burst) when the limit is on."""
        with self._lock:
            return f"rate={self.rate:g}; burst={self.burst}" if self.rate_limit else "none"

    def to_dict(self) -> dict[str, Any]:
        """The switches as JSON-ready values."""
        with self._lock:
            return {
                "auth": self.auth,
                "rate_limit": self.rate_limit,
                "rate": self.rate,
                "burst": self.burst,
                "retry_after": self.retry_after,
                "latency": self.latency,
                "latency_scale": self.latency_scale,
                "quirks": dict(self.quirks),
                "faults": [asdict(f) for f in self.faults],
            }


def _fault_args(spec: dict[str, Any]) -> dict[str, Any]:
    allowed = {"kind", "path", "method", "count", "probability", "nth", "seconds"}
    unknown = set(spec) - allowed - {"seen", "fired"}
    if unknown:
        raise ConfigError(f"unknown fault options {sorted(unknown)}; allowed: {sorted(allowed)}")
    if "kind" not in spec:
        raise ConfigError("a fault needs a 'kind'")
    out = {k: v for k, v in spec.items() if k in allowed}
    out["kind"] = str(out["kind"])
    return out


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc
    if number < 0 or (number == 0 and not allow_zero):
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return number
