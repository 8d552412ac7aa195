"""Short-lived DuckDB connections, shared safely between threads and processes.

DuckDB lets one process open a database file read-write, and while it does, no other
process can open the file at all (not even read-only); while any process has it open
read-only, nobody can open it read-write. Several notebooks and a CLI sync share one cache,
so the cache never keeps a connection between operations:

* a read opens the file read-only, runs, and closes it (or, when a write transaction of this
  process is open, borrows a cursor of that instance: DuckDB refuses a second instance of the
  same file with a different configuration in one process);
* a write opens the file read-write for one transaction and closes it;
* a sync keeps its read-write connection open for the whole run (:meth:`FileGate.hold`:
  opening the file and loading its catalog cost more than a small transaction), and gives
  the file up whenever another process knocks: a process whose open fails on the lock
  touches ``<cache>.knock``; the holder sees a fresh knock between two transactions (or
  within ~20 ms while idle), closes its connection, waits for the knocker to get in and
  then reopens, so other processes' reads and writes wait at most one transaction.

A conflicting lock held by another process is retried with a short, jittered backoff up to
the caller's ``lock_timeout``, then reported as :class:`~workbench.errors.CacheLocked` naming
the program and PID that hold it (DuckDB's own message carries both). Within one process a
per-file gate serialises writers and keeps readers from tripping over them.
"""

from __future__ import annotations

import contextlib
import os
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
WAL_CHECKPOINT_BYTES = 1_000_000


def _tune_writer(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"SET checkpoint_threshold = '{WAL_CHECKPOINT}'")
    con.execute("PRAGMA disable_checkpoint_on_shutdown")


# A held connection (a sync) lets the log grow larger: folding it into the file after every
# 2,500-source batch cost ~110 ms a batch (a fifth of the client's work); it checkpoints
# instead when it gives the file up to another process (which then replays nothing) and
# when the sync ends. The memory limit bounds DuckDB's buffers during a long sync (the
# log's data waits in memory until a checkpoint), so 10^5 sources stay under 1 GiB.
HELD_CHECKPOINT = "64MB"
HELD_MEMORY_LIMIT = "512MB"


def _tune_held(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"SET checkpoint_threshold = '{HELD_CHECKPOINT}'")
    con.execute(f"SET memory_limit = '{HELD_MEMORY_LIMIT}'")


def _checkpoint_if_large(con: duckdb.DuckDBPyConnection, path: str) -> None:
    # Only a log past the usual threshold is folded in (a short sync's is not worth the
    # ~20-50 ms); a failed checkpoint loses nothing (the log is replayed at the next open,
    # and the next sync's end tries again).
    try:
        large = os.path.getsize(f"{path}.wal") > WAL_CHECKPOINT_BYTES
    except OSError:
        large = False
    if large:
        cursor = con.cursor()  # other threads may be using their own cursors meanwhile
        try:
            with contextlib.suppress(duckdb.Error):
                cursor.execute("CHECKPOINT")
        finally:
            cursor.close()


def _checkpoint_and_close(con: duckdb.DuckDBPyConnection, path: str) -> None:
    _checkpoint_if_large(con, path)
    con.close()


#: A knock not renewed for this long (seconds) is from a process that gave up or died.
KNOCK_FRESH = 1.0
#: How long (seconds) a holder that gave the file up waits for the knocker to open it.
KNOCK_ANSWER = 0.5
#: How often (seconds) an idle holder looks for a knock.
KNOCK_POLL = 0.02


def knock_path(path: str) -> str:
    """The file another process touches to ask a holder of ``path`` for the file."""
    return f"{path}.knock"


def knock(path: str) -> None:
    """Ask the process holding ``path`` open to give it up (touch the knock file)."""
    # A folder we cannot write to only means nobody hears the knock: we wait as before.
    with contextlib.suppress(OSError):
        name = knock_path(path)
        with open(name, "a"):
            pass
        os.utime(name)


def knocked(path: str) -> bool:
    """Whether some process asked for ``path`` within the last :data:`KNOCK_FRESH` s."""
    try:
        return time.time() - os.stat(knock_path(path)).st_mtime < KNOCK_FRESH
    except OSError:
        return False


def answered(path: str) -> None:
    """Remove the knock: the file was got (or the holder has stopped waiting for it)."""
    with contextlib.suppress(OSError):
        os.unlink(knock_path(path))


def connect(path: str, *, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    """Open ``path``, retrying a lock held by another process for up to ``timeout`` s
    (knocking, so a process that holds it open for a long sync gives it up)."""
    start = time.monotonic()
    delay = 0.002
    knocking = False
    while True:
        try:
            con = duckdb.connect(path, read_only=read_only)
            if not read_only:
                _tune_writer(con)
            if knocking:
                answered(path)
            return con
        except duckdb.Error as exc:
            holder = parse_lock_error(str(exc))
            if holder is not None:
                knock(path)
                knocking = True
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
    While ``holds`` > 0 (a sync is running) ``rw`` stays open between users, except when
    another process knocks.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.cond = threading.Condition()
        self.readers = 0
        self.writer: int | None = None
        self.writers_waiting = 0
        self.rw: duckdb.DuckDBPyConnection | None = None
        self.rw_users = 0
        self.holds = 0
        self.rw_tuned = False  # rw was opened for a hold (larger log, memory limit)
        self.folding: threading.Thread | None = None  # the last hold's log being folded in
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
        if self.rw_users == 0 and self.rw is not None and self.holds == 0:
            rw, self.rw = self.rw, None
            if self.rw_tuned:
                _checkpoint_and_close(rw, self.path)  # opened for a sync: its log may be large
            else:
                rw.close()

    def _close_if_knocked(self) -> bool:
        """Under ``cond``: close the unused held connection if another process knocked."""
        if self.rw is None or self.rw_users or not knocked(self.path):
            return False
        rw, self.rw = self.rw, None
        _checkpoint_and_close(rw, self.path)
        return True

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep the read-write connection open between transactions until the block ends
        (a sync: its writer commits batch after batch); give it up to a knocking process."""
        with self.cond:
            self.holds += 1
            first = self.holds == 1
        stop = threading.Event()
        watcher = None
        if first:
            watcher = threading.Thread(
                target=self._watch, args=(stop,), name="cache-knock-watch", daemon=True
            )
            watcher.start()
        try:
            yield
        finally:
            stop.set()
            folder = None
            with self.cond:
                self.holds -= 1
                if self.holds == 0 and self.rw_users == 0 and self.rw is not None:
                    # The log is folded into the file after the block, on a thread of its
                    # own: every row is committed already, and the checkpoint (~100 ms
                    # for 5,000 sources) kept the caller waiting for nothing. Until it is
                    # done the connection stays this process's: reads borrow it, a write
                    # or a new hold uses it, another process's open waits for it.
                    self.rw_users += 1
                    folder = threading.Thread(
                        target=self._fold_log, args=(self.rw,), name="cache-checkpoint"
                    )
                self.cond.notify_all()
            if folder is not None:
                self.folding = folder
                folder.start()
            if watcher is not None:
                watcher.join()

    def settle(self) -> None:
        """Wait for the log folded after a hold (so the file is closed, or in use only by
        this process's own readers and writers)."""
        folder = self.folding
        if folder is not None and folder is not threading.current_thread():
            folder.join()

    def _fold_log(self, rw: duckdb.DuckDBPyConnection) -> None:
        """Checkpoint a held connection's large log, then let it close (last user)."""
        try:
            _checkpoint_if_large(rw, self.path)
        finally:
            with self.cond:
                self._release_rw()
                self.cond.notify_all()

    def _watch(self, stop: threading.Event) -> None:
        """While held and idle, give the file up within :data:`KNOCK_POLL` of a knock."""
        while not stop.wait(KNOCK_POLL):
            with self.cond:
                if self.holds == 0:
                    return
                if self.writer is None:
                    self._close_if_knocked()

    def _let_knocker_in(self, deadline: float) -> None:
        """Before reopening a held file: wait (briefly) until the knocking process got it."""
        end = min(deadline, time.monotonic() + KNOCK_ANSWER)
        while knocked(self.path) and time.monotonic() < end:
            time.sleep(0.005)
        answered(self.path)  # got in, or stopped asking: a stale knock must not stop us again

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
            yielded = self.holds > 0 and self._close_if_knocked()
            self.rw_users += 1
            rw = self.rw
        try:
            if rw is None:
                if yielded or (self.holds > 0 and knocked(self.path)):
                    self._let_knocker_in(deadline)
                rw = connect(
                    self.path, read_only=False, timeout=max(deadline - time.monotonic(), 0)
                )
                tuned = bool(self.holds)
                if tuned:
                    _tune_held(rw)
                with self.cond:
                    self.rw, self.rw_tuned = rw, tuned
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
