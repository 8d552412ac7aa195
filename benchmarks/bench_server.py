"""Local server figures: seeding time and memory at scale, page latency, page sizes.

Run by hand: ``.venv/bin/python benchmarks/bench_server.py [--sources 100000]``. Prints
figures; asserts nothing (speed targets are measured here, not in unit tests). The last
figures are ``/api/photometry/range`` in a first sync's ~20,000-point windows.
"""

from __future__ import annotations

import argparse
import datetime
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
            rows = r.json()["data"]["sources"] if r.status_code == 200 else []
            if not rows:  # past the last page: an empty list, as SkyPortal answers
                break
            n += len(rows)
            page_no += 1
        print(f"sequential read of all {n:,} sources: {time.perf_counter() - t:.1f} s")
        photometry_windows(s, srv.url)


def photometry_windows(session: requests.Session, url: str, days: float = 60.0) -> None:
    """``/api/photometry/range`` in windows of ~20,000 points, as a first sync asks, over
    ``days`` days from 2025-06-01: per request (ms), twice (the second time every light
    curve the windows touch is already in the server's index)."""
    start = datetime.datetime(2025, 6, 1)
    end = start + datetime.timedelta(days=days)
    windows, lo, step = [], start, datetime.timedelta(days=1)

    def ask(a: datetime.datetime, b: datetime.datetime) -> requests.Response:
        t = time.perf_counter()
        r = session.get(
            url + "/api/photometry/range",
            params={"min_date": a.isoformat(), "max_date": b.isoformat()},
            timeout=600,
        )
        times.append(time.perf_counter() - t)
        return r

    for label in ("first pass (light curves generated)", "second pass (index built)"):
        times, points = [], 0
        if not windows:  # the first pass sizes the windows like the sync does
            while lo < end:
                hi = min(lo + step, end)
                r = ask(lo, hi)
                got = len(r.json()["data"]) if r.status_code == 200 else 0
                if r.status_code != 200:  # too many points: halve the window
                    step = (hi - lo) / 2
                    continue
                windows.append((lo, hi))
                points += got
                lo = hi
                step *= max(0.25, min(2.0, 20_000 / got)) if got else 2.0
        else:
            for a, b in windows:
                points += len(ask(a, b).json()["data"])
        print(
            f"/api/photometry/range, {days:.0f} days in {len(windows)} windows, {label}: "
            f"{points:,} points, median {statistics.median(times) * 1000:.0f} ms a request, "
            f"{points / sum(times):,.0f} points/s"
        )


if __name__ == "__main__":
    main()
