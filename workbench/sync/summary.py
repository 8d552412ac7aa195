"""What a sync did: rows per table, requests, retries, seconds; and progress bars."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TableCounts:
    """Rows a sync wrote to one cache table."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, result: Any) -> None:
        """Add an ``UpsertResult``-like object (``new``/``updated``/``unchanged``)."""
        self.new += int(getattr(result, "new", 0) or 0)
        self.updated += int(getattr(result, "updated", 0) or 0)
        self.unchanged += int(getattr(result, "unchanged", 0) or 0)


@dataclass
class SyncSummary:
    """The outcome of :meth:`workbench.sync.Syncer.run`, printable as a table."""

    tables: dict[str, TableCounts] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)  # resource -> "ok" | error text
    resource_seconds: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def count(self, table: str, result: Any) -> None:
        self.tables.setdefault(table, TableCounts()).add(result)

    @property
    def ok(self) -> bool:
        """True when every resource synced without error."""
        return all(status == "ok" for status in self.resources.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": {k: vars(v) for k, v in self.tables.items()},
            "resources": dict(self.resources),
            "resource_seconds": {k: round(v, 3) for k, v in self.resource_seconds.items()},
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        lines = [f"{'table':<22}{'new':>9}{'updated':>9}{'unchanged':>11}"]
        for name, c in sorted(self.tables.items()):
            lines.append(f"{name:<22}{c.new:>9}{c.updated:>9}{c.unchanged:>11}")
        lines.append(
            f"requests {self.requests}, retries {self.retries}, "
            f"429s {self.rate_limited}, {self.seconds:.1f} s"
        )
        for resource, status in self.resources.items():
            if status != "ok":
                lines.append(f"FAILED {resource}: {status}")
        lines.extend(self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # a tidy table in notebooks
        rows = "".join(
            f"<tr><td>{n}</td><td>{c.new}</td><td>{c.updated}</td><td>{c.unchanged}</td></tr>"
            for n, c in sorted(self.tables.items())
        )
        failed = "".join(
            f"<p style='color:#b00'>FAILED {r}: {s}</p>"
            for r, s in self.resources.items()
            if s != "ok"
        )
        return (
            "<table><tr><th>table</th><th>new</th><th>updated</th><th>unchanged</th></tr>"
            f"{rows}</table><p>requests {self.requests}, retries {self.retries}, "
            f"429s {self.rate_limited}, {self.seconds:.1f} s</p>{failed}"
        )


class Progress:
    """A tqdm bar (notebook widget or terminal) that can be switched off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @contextmanager
    def bar(self, desc: str, total: int | None = None, unit: str = "rows") -> Iterator[Any]:
        if not self.enabled:
            yield _NullBar()
            return
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit, leave=True, dynamic_ncols=True)
        try:
            yield bar
        finally:
            bar.close()


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    @property
    def total(self) -> None:
        return None

    @total.setter
    def total(self, value: int | None) -> None:
        pass


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
