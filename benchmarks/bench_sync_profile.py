"""Where the client's time goes per 500-row page of a sync (figures, not a test).

Against the local server, unthrottled and without simulated latency, in one process:

* ``server``: the wall time of the HTTP GET of each page (the server's work plus loopback),
  body not decoded;
* ``decode``: ``orjson.loads`` of the body;
* ``upsert``: the cache write of the page's records, split into ``arrow`` (typed columns),
  ``json`` (canonical raw JSON), ``hash`` (64-bit digests), ``merge`` (stored JSON read back
  and merged for partial views), ``duckdb`` (staging, compare, INSERT) and ``other`` (the
  transaction itself and the record splitting in Python);
* ``empty_transaction``: an empty ``cache.write()`` (lock, connect, commit, close), the
  part of ``other`` that a sync pays once per batch of ``commit_rows`` rows, not per page.

The split is measured by wrapping the bulk layer's functions with timers (a few
microseconds a call), one page at a time with nothing overlapping, so the parts add up.

Usage: ``.venv/bin/python benchmarks/bench_sync_profile.py [--sources 5000] [--candidates 3000]``
"""

from __future__ import annotations

import argparse
import json
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

SPENT: dict[str, float] = defaultdict(float)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - start

    return wrapper


def instrument() -> None:
    """Wrap the bulk layer's stages with timers (module globals are looked up per call)."""
    bulk.column_array = timed("arrow", bulk.column_array)
    bulk.dumps = timed("json", bulk.dumps)
    bulk.hash64 = timed("hash", bulk.hash64)
    bulk._stage = timed("duckdb", bulk._stage)
    bulk._write_changed = timed("duckdb", bulk._write_changed)
    bulk._delete_outside = timed("duckdb", bulk._delete_outside)
    bulk.load_stored = timed("merge", bulk.load_stored)
    upserts.load_stored = bulk.load_stored


def profile(url: str, token: str, path: str, key: str, upsert: str, cache: Cache) -> dict:
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    parts: dict[str, list[float]] = defaultdict(list)
    page, rows = 1, 0
    while True:
        start = time.perf_counter()
        r = session.get(f"{url}{path}", params={"pageNumber": page, "numPerPage": 500}, timeout=120)
        r.raise_for_status()
        body = r.content
        parts["server"].append(time.perf_counter() - start)
        start = time.perf_counter()
        data = orjson.loads(body)["data"]
        parts["decode"].append(time.perf_counter() - start)
        records = data[key]
        SPENT.clear()
        start = time.perf_counter()
        with cache.write() as tx:
            getattr(tx, upsert)(records)
        total = time.perf_counter() - start
        parts["upsert"].append(total)
        for name in ("arrow", "json", "hash", "merge", "duckdb"):
            parts[name].append(SPENT.get(name, 0.0))
        parts["other"].append(total - sum(SPENT.values()))
        start = time.perf_counter()
        with cache.write():  # the fixed cost of a transaction: lock, connect, commit, close
            pass
        parts["empty_transaction"].append(time.perf_counter() - start)
        rows += len(records)
        if page * 500 >= data["totalMatches"] or not records:
            break
        page += 1
    out: dict[str, Any] = {"pages": page, "rows": rows}
    for name, values in parts.items():
        out[f"{name}_ms_per_page"] = round(statistics.mean(values) * 1000, 1)
    client = statistics.mean(parts["decode"]) + statistics.mean(parts["upsert"])
    out["client_over_server"] = round(client / statistics.mean(parts["server"]), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=3000)
    args = parser.parse_args()
    instrument()
    work = Path(tempfile.mkdtemp(prefix="bench-sync-profile-"))
    out: dict[str, Any] = {}
    with spawn_server_process(
        sources=args.sources, candidates=args.candidates, seed=1, timeout=300
    ) as proc:
        cache = Cache(work / "p.duckdb")
        for name, path, key, upsert in (
            ("sources", "/api/sources", "sources", "upsert_sources"),
            ("candidates", "/api/candidates", "candidates", "upsert_candidates"),
            ("classifications", "/api/classification", "classifications", "upsert_classifications"),
        ):
            out[name] = profile(proc.url, proc.token, path, key, upsert, cache)
        cache.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
