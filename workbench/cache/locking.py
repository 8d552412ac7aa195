"""Short-lived DuckDB connections, shared safely between threads and processes.

DuckDB lets one process open a database file read-write, and while it does, no other
process can open the file at all (not even read-only); while any process has it open
read-only, nobody can open it read-write. Several notebooks and a CLI sync share one cache,
so the cache never keeps a connection between operations:

* a read opens the file read-only, runs, and closes it (or, when a write transaction of this
  process is open, borrows a cursor of that instance: DuckDB refuses a second instance of the
  same file with a different configuration in one process);
* a write opens the file read-write for one transaction and closes it.

A conflicting lock held by another process is retried with a short, jittered backoff up to
the caller's ``lock_timeout``, then reported as :class:`~workbench.errors.CacheLocked` naming
the program and PID that hold it (DuckDB's own message carries both). Within one process a
per-file gate serialises writers and keeps readers from tripping over them.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import CacheError, CacheLocked

# "Conflicting lock is held in /usr/bin/python3.11 (PID 1234)" (DuckDB 1.x and 2.x).
_HOLDER_RE = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


@dataclass(frozen=True)
class LockHolder:
    """Who holds a cache file: the program path and PID DuckDB reported, and whether that
    process is only reading (DuckDB then hints that read-only access would work)."""

    pid: int | None
    program: str | None
    reading: bool


def parse_lock_error(text: str) -> LockHolder | None:
    """The holder named in a DuckDB lock-conflict message, or ``None`` if it is not one."""
    if "Could not set lock on file" not in text and "Conflicting lock" not in text:
        return None
    match = _HOLDER_RE.search(text)
    pid = int(match.group("pid")) if match else None
    program = match.group("program") if match else None
    return LockHolder(pid=pid, program=program, reading="read-only mode" in text)


def locked_message(
    path: str, holder: LockHolder, waited: float, *, writing: bool, for_cli: bool = False
) -> str:
    """A message for :class:`CacheLocked` that names the holder and the way out
    (``for_cli``: without the Python-only ``lock_timeout``)."""
    who = f"{holder.program or 'another program'} (PID {holder.pid or '?'})"
    pid = holder.pid or "<pid>"
    if holder.reading:
        wait_longer = "" if for_cli else " raise lock_timeout,"
        way_out = (
            f"it is only reading, which takes a moment: retry,{wait_longer} or stop "
            f"PID {pid} if it is stuck"
        )
    else:
        way_out = (
            f"wait for the sync in PID {pid} to finish, or stop it (kill {pid}); "
            f"the cache keeps every committed page, so a stopped sync resumes later"
        )
    action = "write to" if writing else "read"
    return (
        f"Cannot {action} the cache {path}: {who} holds its lock "
        f"(waited {waited:.1f} s); {way_out}."
    )


# Checkpoint (fold the write-ahead log into the file) only once the log passes this size,
# not at every close: a small write (a vetting click, a checkpoint row) then costs ~20 ms
# instead of ~60 ms, and a reader replays at most this much log when it opens (~12 ms/MB).
WAL_CHECKPOINT = "1MB"


def _tune_writer(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"SET checkpoint_threshold = '{WAL_CHECKPOINT}'")
    con.execute("PRAGMA disable_checkpoint_on_shutdown")


def connect(path: str, *, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    """Open ``path``, retrying a lock held by another process for up to ``timeout`` s."""
    start = time.monotonic()
    delay = 0.002
    while True:
        try:
            con = duckdb.connect(path, read_only=read_only)
            if not read_only:
                _tune_writer(con)
            return con
        except duckdb.Error as exc:
            holder = parse_lock_error(str(exc))
            if holder is None:
                raise CacheError(
                    f"Cannot open the cache {path}: {exc}. Check the path and its "
                    f"permissions; if the file is damaged, move it aside and sync again."
                ) from exc
            waited = time.monotonic() - start
            if waited >= timeout:
                raise CacheLocked(
                    locked_message(path, holder, waited, writing=not read_only),
                    cli_message=locked_message(
                        path, holder, waited, writing=not read_only, for_cli=True
                    ),
                ) from exc
            time.sleep(min(delay * random.uniform(0.5, 1.5), max(timeout - waited, 0.0)))
            # a failed attempt costs ~5 ms; a short cap catches the gaps between another
            # process's transactions (a sync writes a page, then fetches the next)
            delay = min(delay * 2, 0.025)


class FileGate:
    """In-process coordination of every connection to one cache file.

    Invariants, under ``cond``: ``readers`` read-only connections are open; at most one
    thread (``writer``) holds the write transaction; ``rw`` is the read-write instance while a
    writer or a borrowing reader uses it (``rw_users`` of them) and is closed by the last.
    Waiting writers get priority over new read-only readers, so readers cannot starve them.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.cond = threading.Condition()
        self.readers = 0
        self.writer: int | None = None
        self.writers_waiting = 0
        self.rw: duckdb.DuckDBPyConnection | None = None
        self.rw_users = 0
        self.local = threading.local()

    def _depth(self, name: str) -> int:
        return getattr(self.local, name, 0)

    def _bump(self, name: str, step: int) -> None:
        setattr(self.local, name, self._depth(name) + step)

    def _wait(self, predicate, deadline: float, what: str) -> None:
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                busy = (
                    f"Cannot {what} the cache {self.path}: another thread of this process "
                    f"kept it busy for longer than"
                )
                raise CacheLocked(
                    f"{busy} lock_timeout; let that operation finish or raise lock_timeout.",
                    cli_message=f"{busy} the lock timeout; retry when that operation is done.",
                )
            self.cond.wait(remaining)

    def _release_rw(self) -> None:
        self.rw_users -= 1
        if self.rw_users == 0 and self.rw is not None:
            rw, self.rw = self.rw, None
            rw.close()

    @contextmanager
    def reading(self, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reads: borrowed from this process's writer, or read-only."""
        deadline = time.monotonic() + timeout
        with self.cond:
            self._wait(
                lambda: self.rw is not None or (self.writer is None and self.writers_waiting == 0),
                deadline,
                "read",
            )
            borrowed = self.rw is not None
            if borrowed:
                self.rw_users += 1
                con = self.rw.cursor()
            else:
                self.readers += 1
        self._bump("reads", 1)
        try:
            if not borrowed:
                con = connect(
                    self.path, read_only=True, timeout=max(deadline - time.monotonic(), 0)
                )
            try:
                # one snapshot for the whole block, and no writes even on a borrowed cursor
                con.execute("BEGIN TRANSACTION READ ONLY")
                yield con
            finally:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                con.close()
        finally:
            self._bump("reads", -1)
            with self.cond:
                if borrowed:
                    self._release_rw()
                else:
                    self.readers -= 1
                self.cond.notify_all()

    @contextmanager
    def writing(self, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """The one read-write connection of this process, for one transaction."""
        me = threading.get_ident()
        if self.writer == me:
            raise CacheError(
                "A cache write transaction is already open in this thread: do everything "
                "inside the one `with cache.write() as tx:` block (nested writes would deadlock)."
            )
        if self._depth("reads"):
            raise CacheError(
                "Cannot start a cache write while this thread is reading it: finish the read "
                "(leave the `with cache.read()` block) first."
            )
        deadline = time.monotonic() + timeout
        with self.cond:
            self.writers_waiting += 1
            try:
                self._wait(lambda: self.writer is None and self.readers == 0, deadline, "write to")
            finally:
                self.writers_waiting -= 1
            self.writer = me
            self.rw_users += 1
            rw = self.rw
        try:
            if rw is None:
                rw = connect(
                    self.path, read_only=False, timeout=max(deadline - time.monotonic(), 0)
                )
                with self.cond:
                    self.rw = rw
                    self.cond.notify_all()
            with self.cond:
                con = rw.cursor()
            try:
                yield con
            finally:
                con.close()
        finally:
            with self.cond:
                self.writer = None
                if self.rw is None:
                    self.rw_users -= 1  # the open itself failed
                else:
                    self._release_rw()
                self.cond.notify_all()


_gates: dict[str, FileGate] = {}
_gates_lock = threading.Lock()


def gate_for(path: str | Path) -> FileGate:
    """The process-wide gate of one cache file (one per resolved path)."""
    key = str(Path(path).resolve())
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = FileGate(key)
        return gate
