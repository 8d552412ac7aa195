"""Local server figures: seeding time and memory at scale, page latency, page sizes.

Run by hand: ``.venv/bin/python benchmarks/bench_server.py [--sources 100000]``. Prints
figures; asserts nothing (speed targets are measured here, not in unit tests).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import requests

from workbench.server import LocalServer


def rss_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, repeat: int = 5) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=20_000)
    args = parser.parse_args()
    base = rss_mb()
    t = time.perf_counter()
    srv = LocalServer(sources=args.sources, candidates=args.candidates, seed=42)
    seeded = time.perf_counter() - t
    print(
        f"seed {args.sources:,} sources / {args.candidates:,} candidates: {seeded:.2f} s, "
        f"peak RSS +{rss_mb() - base:.0f} MB"
    )
    print("counts:", srv.store.counts())
    with srv:
        s = requests.Session()
        s.headers.update(srv.headers)

        def page(path, **params):
            return lambda: len(s.get(srv.url + path, params=params, timeout=120).content)

        cases = [
            ("/api/sources 500/page, page 1", page("/api/sources", numPerPage=500)),
            (
                "/api/sources 500/page, last page",
                page("/api/sources", numPerPage=500, pageNumber=-(-args.sources // 500)),
            ),
            (
                "/api/sources createdOrModifiedAfter",
                page("/api/sources", numPerPage=500, createdOrModifiedAfter="2026-10-01"),
            ),
            ("/api/candidates 100/page", page("/api/candidates", numPerPage=100)),
            ("/api/candidates 500/page", page("/api/candidates", numPerPage=500)),
            ("/api/classification 500/page", page("/api/classification", numPerPage=500)),
            ("/api/spectra minimalPayload", page("/api/spectra", minimalPayload="true")),
            ("/api/sources/{id}/photometry", page("/api/sources/ZTF21aaqjmps/photometry")),
            ("/api/gcn_event/{dateobs}", page("/api/gcn_event/2019-08-14T21:10:39")),
        ]
        for label, fn in cases:
            seconds, size = timed(fn)
            print(f"{label:42s} {seconds * 1000:8.1f} ms  {size / 1e6:6.2f} MB")
        t = time.perf_counter()
        n, page_no = 0, 1
        while True:
            r = s.get(
                srv.url + "/api/sources",
                params={"numPerPage": 500, "pageNumber": page_no},
                timeout=120,
            )
            if r.status_code != 200:
                break
            n += len(r.json()["data"]["sources"])
            page_no += 1
        print(f"sequential read of all {n:,} sources: {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
