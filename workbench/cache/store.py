"""The :class:`Cache`: one DuckDB file, never held open between operations."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import CacheError, SchemaError
from .locking import FileGate, gate_for, knocked
from .migrations import SCHEMA_VERSION, check_not_newer, read_version, upgrade
from .reader import Reader, _run
from .transaction import Transaction, sync_row
from .views import ViewsMixin

__all__ = ["TABLES", "Cache", "Reader"]

# Tables `counts()` reports, in a stable order.
TABLES = (
    "objs",
    "sources",
    "candidates",
    "photometry",
    "spectra",
    "classifications",
    "taxonomies",
    "groups",
    "comments",
    "annotations",
    "thumbnails",
    "galaxies",
    "gcn_events",
    "localizations",
    "localization_pixels",
    "sync_state",
    "outbox",
    "vetting",
)


def _workbench_version() -> str:
    from .._version import __version__

    return __version__


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # If even the rollback fails, closing the connection discards the transaction anyway;
    # the error that got us here is the one worth raising.
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


class Cache(ViewsMixin):
    """The workbench's local DuckDB cache of a SkyPortal server.

    ``path`` defaults to the configured cache file. Nothing is held open: each read opens the
    file read-only for that read, each ``write()`` opens it read-write for one transaction,
    so several notebooks and a CLI sync can share one file (a sync keeps it open for its
    run with :meth:`keep_open`, and gives it up to another process that asks). ``lock_timeout`` (seconds) is how
    long to wait for another process's lock before :class:`~workbench.errors.CacheLocked`.
    Opening a cache made by an older workbench upgrades it (unless ``read_only``); one made
    by a newer workbench raises :class:`~workbench.errors.SchemaError`.
    """

    def __init__(
        self, path: str | Path | None = None, *, read_only: bool = False, lock_timeout: float = 30.0
    ) -> None:
        if path is None:
            from ..config import default_cache_path

            path = default_cache_path()
        if not isinstance(path, str | Path) or not str(path).strip():
            raise CacheError(f"Cache path must be a file path, got {path!r}")
        if (
            isinstance(lock_timeout, bool)
            or not isinstance(lock_timeout, int | float)
            or lock_timeout < 0
        ):
            raise CacheError(f"lock_timeout must be a number of seconds >= 0, got {lock_timeout!r}")
        self.path = Path(path).expanduser().resolve()
        self.read_only = read_only
        self.lock_timeout = float(lock_timeout)
        self._closed = False
        if self.path.is_dir():
            raise CacheError(f"Cache path {self.path} is a directory; give a file path")
        self._gate: FileGate = gate_for(self.path)
        self.schema_version: int = self._open()

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"Cache({str(self.path)!r}, schema_version={self.schema_version}{mode})"

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> int:
        if self.path.exists():
            with self._gate.reading(self.lock_timeout) as con:
                version = read_version(con, str(self.path))
            check_not_newer(version, str(self.path))
            if version == SCHEMA_VERSION:
                return version
            if self.read_only:
                needs = (
                    f"The cache {self.path} is at schema version {version} and needs an "
                    f"upgrade to {SCHEMA_VERSION}"
                )
                raise SchemaError(
                    f"{needs}: open it once without read_only=True.",
                    cli_message=f"{needs}: run `workbench sync --cache {self.path}` once "
                    f"(it upgrades the file).",
                )
        elif self.read_only:
            raise CacheError(
                f"There is no cache at {self.path} yet: sync first, or open it without "
                f"read_only=True to create it.",
                cli_message=f"There is no cache at {self.path} yet: check --cache (or "
                f"WORKBENCH_CACHE), or run `workbench sync --cache {self.path}` "
                f"first.",
            )
        else:
            self._make_parent()
        with self._gate.writing(self.lock_timeout) as con:
            upgrade(con, str(self.path), _workbench_version())
        return SCHEMA_VERSION

    def _make_parent(self) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # read-only file system, no permission, or a file where a folder should be
            reason = exc.strerror or str(exc)
            raise CacheError(
                f"Cannot create the folder {folder} for the cache {self.path.name}: {reason}. "
                f"Give a cache path in a folder you can write to (the cache= argument, "
                f'WORKBENCH_CACHE, or `cache = "..."` in the config file).',
                cli_message=f"Cannot create the folder {folder} for the cache "
                f"{self.path.name}: {reason}. Give a cache path in a folder you "
                f'can write to (--cache, WORKBENCH_CACHE, or `cache = "..."` in '
                f"the config file).",
            ) from exc

    def _check_open(self) -> None:
        if self._closed:
            raise CacheError(f"The cache {self.path} was closed; open a new Cache to use it")

    # -- reads ----------------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Reader]:
        """One connection for several reads; keep the block short (it blocks writers)."""
        self._check_open()
        with self._gate.reading(self.lock_timeout) as con:
            yield Reader(con)

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """Any read-only SQL over the cache, as a DataFrame (``?`` or ``$name`` params)."""
        with self.read() as r:
            return r.sql(query, params)

    def arrow(self, query: str, params: list | dict | None = None) -> pa.Table:
        """Any read-only SQL over the cache, as an Arrow table."""
        with self.read() as r:
            return r.arrow(query, params)

    # -- writes ---------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """One transaction: commits when the block ends, rolls back if it raises."""
        self._check_open()
        if self.read_only:
            raise CacheError(
                f"The cache {self.path} was opened read_only=True; open it without "
                f"read_only to write."
            )
        with self._gate.writing(self.lock_timeout) as con:
            con.execute("BEGIN TRANSACTION")
            tx = Transaction(con)
            try:
                yield tx
            except duckdb.Error as exc:
                _rollback(con)
                raise CacheError(f"A cache write failed and was rolled back: {exc}") from exc
            except BaseException:
                _rollback(con)
                raise
            else:
                try:
                    con.execute("COMMIT")
                except duckdb.Error as exc:
                    raise CacheError(
                        f"Committing to the cache failed (nothing was written): {exc}"
                    ) from exc
            finally:
                tx._end()

    @contextmanager
    def keep_open(self) -> Iterator[None]:
        """Keep the file open read-write between ``write()`` transactions until the block
        ends (a sync: opening the file costs ~60-100 ms, more than a small transaction).

        Each transaction still commits on its own (a killed process keeps every committed
        one). Other processes are not locked out: one that asks for the file while it is
        held gets it between two transactions (see :mod:`.locking`). Reads in this process
        meanwhile use the open connection.
        """
        self._check_open()
        if self.read_only:
            yield
            return
        with self._gate.hold():
            with self.write():
                pass  # open it now: the reads before the first write borrow it too
            yield

    def writers_waiting(self) -> int:
        """Threads of this process waiting to start a write transaction (a long writer,
        such as a sync's, commits early for them)."""
        with self._gate.cond:
            return self._gate.writers_waiting

    def knocked(self) -> bool:
        """Whether another process asked for the file within the last second (a sync
        holding it then commits at once, so the other waits at most one page's write)."""
        return knocked(self._gate.path)

    # -- small accessors ------------------------------------------------------------------
    def sync_state(self, resource: str, scope: str = "") -> dict[str, Any] | None:
        """The sync checkpoint of ``(resource, scope)``, or ``None`` if never synced."""
        with self.read() as r:
            rel = _run(
                r._con,
                "SELECT * FROM sync_state WHERE resource = ? AND scope = ?",
                [resource, scope],
            )
            rows = rel.fetchall()
            return sync_row(rows[0], rel.columns) if rows else None

    def counts(self, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
        """Rows per table (of ``tables``, by default all)."""
        unknown = set(tables) - set(TABLES)
        if unknown:
            raise CacheError(f"counts: unknown tables {sorted(unknown)}; choose from {TABLES}")
        query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables)
        with self.read() as r:
            return {name: int(n) for name, n in r.rows(query)}

    def outbox(self, status: str | None = None) -> pd.DataFrame:
        """Outbox actions, oldest first (all, or those with ``status``)."""
        if status is None:
            return self.sql("SELECT * FROM outbox ORDER BY id")
        return self.sql("SELECT * FROM outbox WHERE status = ? ORDER BY id", [status])

    def close(self) -> None:
        """Forget the cache. No connection is held between operations; the one thing that
        may still run is a sync's log being folded into the file, which this waits for, so
        that the file is then free for another program."""
        self._closed = True
        self._gate.settle()
