"""Two processes on one cache file, and a writer killed with SIGKILL mid-transaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench.cache import Cache
from workbench.errors import CacheLocked

REPO = Path(__file__).resolve().parents[1]

# Each writer transaction adds BATCH photometry points and records its number in sync_state,
# so any committed state satisfies: points == BATCH * last_page.
CHILD = textwrap.dedent("""
    import os, sys, time
    from workbench.cache import Cache

    path, mode, seconds, batch = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    gap = float(sys.argv[5])  # between write transactions: a sync fetching its next page

    def commit_page(cache, i):  # one write transaction: page i + 1's points and its number
        points = [{"id": i * batch + k, "obj_id": "X", "mjd": 59000.0 + k, "mag": 18.0,
                   "magerr": 0.1, "filter": "ztfg", "magsys": "ab"} for k in range(batch)]
        with cache.write() as tx:
            tx.upsert_photometry([], points)
            tx.set_sync_state("writer", "", last_page=i + 1)
        print("committed", i + 1, flush=True)
        return i + 1

    cache = Cache(path, lock_timeout=30)
    print("ready", os.getpid(), flush=True)
    end = time.monotonic() + seconds
    done = 0
    if mode in ("write", "write_n"):
        state = cache.sync_state("writer") or {}
        i = state.get("last_page") or 0
        # "write": for ``seconds``; "write_n": exactly ``seconds`` transactions
        more = (lambda: done < int(seconds)) if mode == "write_n" else (
            lambda: time.monotonic() < end)
        while more():
            i = commit_page(cache, i)
            done += 1
            time.sleep(gap)
    elif mode == "hold_until":
        # a sync: the file kept open between back-to-back transactions, until told to stop
        state = cache.sync_state("writer") or {}
        i = state.get("last_page") or 0
        with cache.keep_open():
            while not os.path.exists(path + ".stop") and time.monotonic() < end:
                i = commit_page(cache, i)
                done += 1
    elif mode == "read":
        while time.monotonic() < end:
            cache.counts()
            done += 1
    elif mode == "hold":
        with cache.write() as tx:
            tx.upsert_sources([{"id": "HELD", "ra": 1.0, "dec": 2.0}])
            print("holding", flush=True)
            time.sleep(seconds)
    print("done", done, flush=True)
""")


def start(
    path: Path, mode: str, seconds: float, batch: int = 200, gap: float = 0.0
) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode, str(seconds), str(batch), str(gap)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    line = proc.stdout.readline()
    assert line.startswith("ready"), line + proc.stderr.read()
    return proc


def finish(proc: subprocess.Popen) -> int:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return int(out.strip().split()[-1])


def consistent(cache: Cache, batch: int) -> int:
    """Check the writer's invariant on one snapshot; the number of committed transactions."""
    with cache.read() as r:
        points = r.rows("SELECT count(*) FROM photometry")[0][0]
        state = r.rows("SELECT last_page FROM sync_state WHERE resource = 'writer'")
    pages = state[0][0] if state else 0
    assert points == batch * pages, (points, pages)
    return pages


@pytest.fixture
def path(tmp_path) -> Path:
    p = tmp_path / "shared.duckdb"
    Cache(p)
    return p


def test_reads_succeed_while_another_process_writes(path):
    """A read after each of the writer's commits (while it goes on writing) sees a
    committed state, never a partial one, and states only move forward. Asserts what
    happened, not how much happened in a time window (CI machines are loaded)."""
    cache = Cache(path, lock_timeout=20)
    commits = 12
    proc = start(path, "write_n", commits, gap=0.02)
    seen = []
    for line in proc.stdout:
        if not line.startswith("committed"):
            break  # "done N"
        seen.append(consistent(cache, 200))
        assert seen[-1] >= int(line.split()[1])  # at least that commit is visible
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(seen) == commits, seen
    assert seen == sorted(seen)  # committed states only, in order
    assert consistent(cache, 200) == commits


def test_a_sync_keeping_the_file_open_lets_other_processes_in(path):
    """A writer that keeps the file open (a sync's ``keep_open``) and commits back to back,
    never pausing, still lets another process read and write between two of its
    transactions; it only stops when this process, having done so, tells it to."""
    cache = Cache(path, lock_timeout=30)
    proc = start(path, "hold_until", 120, batch=500)
    try:
        assert proc.stdout.readline().startswith("committed 1")
        seen = []
        for i in range(4):
            seen.append(consistent(cache, 500))
            with cache.write() as tx:
                tx.set_sync_state("other process", "", last_page=i + 1)
        assert proc.poll() is None  # still holding: we got in between its transactions
    finally:
        Path(f"{path}.stop").touch()
    writes = finish(proc)
    assert seen == sorted(seen) and seen[0] >= 1
    assert consistent(cache, 500) == writes
    assert cache.sync_state("other process")["last_page"] == 4


def test_writes_wait_while_another_process_reads(path):
    cache = Cache(path, lock_timeout=20)
    proc = start(path, "read", 2.0)
    for i in range(15):
        with cache.write() as tx:
            tx.upsert_sources([{"id": f"S{i}", "ra": 1.0, "dec": 2.0}])
    reads = finish(proc)
    assert reads > 0 and cache.counts()["objs"] == 15


def test_a_held_write_lock_names_the_holding_process(path):
    cache = Cache(path, lock_timeout=0.5)
    proc = start(path, "hold", 30)
    try:
        assert proc.stdout.readline().startswith("holding")
        t0 = time.monotonic()
        held = rf"PID {proc.pid}\).*sync in PID {proc.pid}"
        with pytest.raises(CacheLocked, match=held), cache.write() as tx:
            tx.upsert_sources([{"id": "MINE", "ra": 1.0, "dec": 2.0}])
        assert 0.4 < time.monotonic() - t0 < 5
        with pytest.raises(CacheLocked, match=rf"Cannot read .*PID {proc.pid}"):
            cache.counts()
        with pytest.raises(CacheLocked, match=rf"PID {proc.pid}"):
            Cache(path, lock_timeout=0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert cache.counts()["objs"] == 0  # the holder's transaction never committed


# Small transactions commit through the write-ahead log; ones of 130,000 rows also write
# row groups straight into the database file before they commit ("optimistic writes"). A
# sync keeps the file open and lets the log grow (64 MB) between checkpoints.
@pytest.mark.parametrize(
    ("mode", "batch"), [("write", 2000), ("write", 130_000), ("hold_until", 2000)]
)
def test_kill_9_mid_write_leaves_the_last_committed_state(path, mode, batch):
    proc = start(path, mode, 60, batch)
    t0 = time.monotonic()
    assert proc.stdout.readline().startswith("committed 1")
    # kill halfway through the second transaction, whatever the machine's speed
    time.sleep((time.monotonic() - t0) / 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    cache = Cache(path)  # reopening replays the write-ahead log
    pages = consistent(cache, batch)
    assert pages > 0
    counts = cache.counts()  # every table still reads
    assert counts["photometry"] == batch * pages
    with cache.write() as tx:  # and the file takes new writes
        tx.set_sync_state("after", "", last_page=1)
    assert cache.sync_state("after")["last_page"] == 1
