"""What a sync did: rows per table, requests, retries, seconds; and progress bars."""

from __future__ import annotations

import sys
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


#: Tables whose rows may first land through another resource's records (and whose
#: passes count one row per table row), see :meth:`SyncSummary.settle_new`.
LANDS_EMBEDDED = frozenset({"classifications", "localizations"})


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
    #: a scanner-first sync's :class:`~workbench.sync.scanner.BackgroundSync`, if any
    background: Any = field(default=None, repr=False, compare=False)

    @property
    def still_coming(self) -> tuple[str, ...]:
        """Resources a background sync (scanner first) has not finished yet."""
        return () if self.background is None else tuple(self.background.still_coming)

    def count(self, table: str, result: Any) -> None:
        self.tables.setdefault(table, TableCounts()).add(result)

    def settle_new(self, before: dict[str, int], after: dict[str, int]) -> None:
        """Count as new the rows a table gained in this run, whoever wrote them first.

        Some rows land through another resource before their own pass reads them:
        classifications come embedded in sources and candidates, a localization's row is
        made with its GCN event and filled later. Their own pass then sees them as
        "unchanged" or "updated", and an empty cache's first sync reported
        "classifications 0 new / 956 unchanged". A table that grew by more rows than
        its passes counted new has the difference moved from unchanged (then updated)
        to new. ``before``/``after`` are rows per table around the run.
        """
        for table, counts in self.tables.items():
            if table not in LANDS_EMBEDDED:
                continue  # e.g. sources: a row per group save, counted per object
            grown = after.get(table, 0) - before.get(table, 0)
            missing = grown - counts.new
            if missing <= 0:
                continue
            moved = min(missing, counts.unchanged)
            counts.unchanged -= moved
            counts.new += moved
            moved = min(missing - moved, counts.updated)
            counts.updated -= moved
            counts.new += moved

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
        if self.still_coming:
            lines.append("still coming in the background: " + ", ".join(self.still_coming))
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
        coming = (
            f"<p>still coming in the background: {', '.join(self.still_coming)}</p>"
            if self.still_coming
            else ""
        )
        return (
            "<table><tr><th>table</th><th>new</th><th>updated</th><th>unchanged</th></tr>"
            f"{rows}</table><p>requests {self.requests}, retries {self.retries}, "
            f"429s {self.rate_limited}, {self.seconds:.1f} s</p>{failed}{coming}"
        )


class Progress:
    """Progress of a sync: tqdm bars where someone watches, plain lines elsewhere.

    A bar appears only once it has work (no empty ``0/0`` bars for resources with
    nothing to do). In a notebook it is tqdm's widget, on a terminal tqdm's bar; when
    stderr is not a terminal (a log file, CI, a pipe) a bar would be carriage-return
    soup, so each resource prints plain lines instead: one when it is done, and one
    every ``PLAIN_EVERY`` seconds while it runs.
    """

    PLAIN_EVERY = 30.0  # seconds between plain progress lines of one resource

    def __init__(self, enabled: bool, mode: str | None = None) -> None:
        self.enabled = enabled
        self.mode = mode or _display_mode()

    @contextmanager
    def bar(self, desc: str, total: int | None = None, unit: str = "rows") -> Iterator[Any]:
        if not self.enabled or total == 0:
            yield _NullBar()
            return
        bar = _LazyBar(desc, total, unit, self.mode, self.PLAIN_EVERY)
        try:
            yield bar
        finally:
            bar.close()


def _display_mode() -> str:
    """``"notebook"`` (a Jupyter kernel), ``"tty"`` (stderr is a terminal) or ``"plain"``."""
    ipython = sys.modules.get("IPython")
    if ipython is not None:
        shell = ipython.get_ipython()
        if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
            return "notebook"
    stream = sys.stderr
    try:
        return "tty" if stream is not None and stream.isatty() else "plain"
    except (AttributeError, ValueError):  # a closed or odd stream
        return "plain"


class _LazyBar:
    """A bar created on its first unit of work (tqdm), or plain lines on stderr."""

    def __init__(self, desc: str, total: int | None, unit: str, mode: str, every: float) -> None:
        self.desc, self._total, self.unit, self.mode = desc, total, unit, mode
        self.n = 0
        self._bar: Any = None
        self._started = time.perf_counter()
        self._every = every
        self._last_line = self._started

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int | None) -> None:
        self._total = value
        if self._bar is not None and value is not None:
            self._bar.total = value
            self._bar.refresh()

    def update(self, n: int = 1) -> None:
        if n <= 0:
            return
        self.n += n
        if self.mode == "plain":
            now = time.perf_counter()
            if now - self._last_line >= self._every:
                self._last_line = now
                self._line("so far")
            return
        if self._bar is None:
            if self.mode == "notebook":
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm
            self._bar = tqdm(
                total=self._total, desc=self.desc, unit=self.unit, leave=True, dynamic_ncols=True
            )
        self._bar.update(n)

    def set_postfix_str(self, s: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(s)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "plain" and self.n:
            self._line("done")

    def _line(self, what: str) -> None:
        of = f" of {self._total}" if self._total and self._total != self.n else ""
        elapsed = time.perf_counter() - self._started
        print(f"{self.desc}: {self.n}{of} {self.unit} {what} ({elapsed:.1f} s)", file=sys.stderr)


class _NullBar:
    n = 0

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
