"""Where the client's time goes per 500-row page of a sync (figures, not a test).

Against the local server, unthrottled and without simulated latency, in one process. The
pages are first fetched one after another, as the API docs' script does:

* ``server_ms``: the wall time of the HTTP GET of each page (the server's work plus
  loopback), body not decoded; ``server_cpu_ms``: the server process's own CPU time per
  page (from ``/proc``), the figure that does not grow when other programs load the machine;

then written into an empty cache the way ``workbench sync`` writes them: pages upserted as
they come, three a call until the last three (one a call), into a transaction committed
every ``commit_rows`` rows, on one connection kept open for the run (``Cache.keep_open``). Client
figures are CPU time per page (``time.process_time``: DuckDB's own threads included), so a
loaded machine inflates them less than wall time:

* ``decode``: ``orjson.loads`` of the body;
* ``upsert``: the cache write of the page's records, split into ``arrow`` (typed columns),
  ``json`` (canonical raw JSON), ``hash`` (64-bit digests), ``merge`` (stored JSON read back
  for partial views), ``duckdb`` (staging, compare, INSERT, DELETE) and ``python`` (the
  record splitting and bookkeeping in between);
* ``commit``: COMMIT of each batch (its share per page), and ``open_ms`` the one-off cost
  of opening the file read-write (before ``keep_open``, paid per batch).

``client_over_server`` is (decode + upsert + commit) CPU over the server's page wall time
(target < 0.1); ``client_over_server_cpu`` the same over the server's CPU per page.

Usage: ``.venv/bin/python benchmarks/bench_sync_profile.py [--sources 5000]
[--candidates 3000] [--commit-rows 2500]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import requests

from workbench.cache import Cache, bulk, upserts
from workbench.server import spawn_server_process
from workbench.sync.collector import fewer_collections
from workbench.sync.context import SyncOptions
from workbench.sync.paged import GROUP_PAGES

SPENT: dict[str, float] = defaultdict(float)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` adding its CPU time (all threads) to ``SPENT[name]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += time.process_time() - start

    return wrapper


def instrument() -> None:
    """Wrap the bulk layer's stages with timers (module globals are looked up per call)."""
    bulk.column_array = timed("arrow", bulk.column_array)
    bulk.dumps = timed("json", bulk.dumps)
    bulk.hash64 = timed("hash", bulk.hash64)
    for name in ("_old_hashes", "_write_changed", "_delete_outside"):
        if hasattr(bulk, name):
            setattr(bulk, name, timed("duckdb", getattr(bulk, name)))
    bulk.load_stored = timed("merge", bulk.load_stored)
    upserts.load_stored = bulk.load_stored


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fetch_all(url: str, token: str, path: str, params: dict, pid: int) -> tuple[list, dict]:
    """Every page's body, one request after another; per-page server wall and CPU."""
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    bodies, walls, cpus, page = [], [], [], 1
    while True:
        cpu, start = process_cpu(pid), time.perf_counter()
        query = {**params, "pageNumber": page, "numPerPage": 500}
        r = session.get(f"{url}{path}", params=query, timeout=300)
        r.raise_for_status()
        walls.append(time.perf_counter() - start)
        cpus.append(process_cpu(pid) - cpu)
        bodies.append(r.content)
        total = orjson.loads(r.content)["data"]["totalMatches"]
        if page * 500 >= total:
            break
        page += 1
    return bodies, {"server_ms": walls, "server_cpu_ms": cpus}


def ingest(bodies: list[bytes], key: str, upsert: str, cache: Cache, commit_rows: int) -> dict:
    """Decode and write the pages as a sync does (``GROUP_PAGES`` pages an upsert call,
    one at a time once fewer than that are still to come, a commit every ``commit_rows``
    rows); CPU seconds per stage (totals)."""
    kwargs = {"complete": ("comments",)} if upsert == "upsert_sources" else {}
    totals: dict[str, float] = defaultdict(float)

    def write(tx: Any, records: list[dict]) -> None:
        SPENT.clear()
        start = time.process_time()
        getattr(tx, upsert)(records, **kwargs)
        totals["upsert"] += time.process_time() - start
        for name, spent in SPENT.items():
            totals[name] += spent
        totals["python"] += time.process_time() - start - sum(SPENT.values())

    with cache.keep_open(), fewer_collections():  # as the sync runs
        block, tx, rows, group = None, None, 0, []
        for number, body in enumerate(bodies, 1):
            start = time.process_time()
            group.extend(orjson.loads(body)["data"][key])
            totals["decode"] += time.process_time() - start
            if number % GROUP_PAGES and len(bodies) - number >= GROUP_PAGES:
                continue  # as the sync: pages go to the writer in groups until near the end
            if tx is None:
                block = cache.write()
                tx = block.__enter__()
            write(tx, group)
            rows += len(group)
            group = []
            if rows >= commit_rows or number == len(bodies):
                start = time.process_time()
                block.__exit__(None, None, None)
                totals["commit"] += time.process_time() - start
                block, tx, rows = None, None, 0
    return totals


def open_cost(path: Path) -> float:
    """Seconds to open the cache read-write, run one empty transaction and close it."""
    cache = Cache(path)
    start = time.perf_counter()
    with cache.write():
        pass
    return time.perf_counter() - start


LISTINGS = (
    ("sources", "/api/sources", "upsert_sources", {"includeComments": "true"}),
    ("candidates", "/api/candidates", "upsert_candidates", {}),
    ("classifications", "/api/classification", "upsert_classifications", {}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=3000)
    parser.add_argument("--commit-rows", type=int, default=SyncOptions.commit_rows)
    args = parser.parse_args()
    instrument()
    work = Path(tempfile.mkdtemp(prefix="bench-sync-profile-"))
    out: dict[str, Any] = {"commit_rows": args.commit_rows, "load_average": os.getloadavg()[0]}
    with spawn_server_process(
        sources=args.sources, candidates=args.candidates, seed=1, timeout=300
    ) as proc:
        for i, (key, path, upsert, params) in enumerate(LISTINGS):
            bodies, server = fetch_all(proc.url, proc.token, path, params, proc.pid)
            cache = Cache(work / f"p{i}.duckdb")
            spent = ingest(bodies, key, upsert, cache, args.commit_rows)
            pages = len(bodies)
            row: dict[str, Any] = {"pages": pages}
            for name, values in server.items():
                row[name] = round(statistics.mean(values) * 1000, 1)
            for name in (
                "decode",
                "upsert",
                "arrow",
                "json",
                "hash",
                "merge",
                "duckdb",
                "python",
                "commit",
            ):
                row[f"{name}_cpu_ms"] = round(spent.get(name, 0.0) / pages * 1000, 1)
            client = (spent["decode"] + spent["upsert"] + spent["commit"]) / pages
            row["client_cpu_ms"] = round(client * 1000, 1)
            row["client_over_server"] = round(client * 1000 / row["server_ms"], 3)
            row["client_over_server_cpu"] = round(client * 1000 / max(row["server_cpu_ms"], 1), 3)
            row["open_ms"] = round(open_cost(work / f"p{i}.duckdb") * 1000, 1)
            out[key] = row
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
