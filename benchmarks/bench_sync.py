"""Sync benchmarks against the local server in a separate process (figures, not tests).

In one run, side by side:

0. The same script against ``workbench sync`` of sources, candidates and classifications
   (each into an empty cache) with the server unthrottled and no latency: the ratio that
   shows the client's own cost (target <= 1.0), and beside it the CPU seconds of the
   client (this process: the sync's open of the cache included) and of the server, which
   a loaded machine inflates far less than wall time; ``--repeat N`` alternates the two N
   times. For sources the script also runs with the sync's own query (oldest save first,
   comments included: more for the server to do and send), the ratio to which is the
   client's cost alone.
1. The API docs' pagination script (sequential pages, sleep 1 s on 429) against a full
   ``workbench sync`` of the same sources, with the production rate limit on (5 r/s, burst
   10) and SkyPortal's measured per-page latency (~0.2 s per 500 sources). The sync also
   stores everything; the goal is that it takes no longer than the script that only
   downloads. Also the sync's requests per second as a fraction of the rate limit.
2. Photometry for N sources: the sync's bulk path (``/api/photometry/range``) against one
   request per source (measured on a sample and scaled; at 5 r/s the full per-source run
   would take N/5 seconds).
3. The client-side ingest rate (rows/s, server unthrottled) and the sync's peak memory.
4. The requests a no-change re-sync makes.

5. With ``--scale``, only this, for ``--sources`` N (10^4, 10^5): unthrottled and under the
   production limit, the docs' script against ``workbench sync`` of the sources (ratio), and
   a full sync with every source's photometry (~100 points each), candidates and
   classifications, each sync in its own process so that its peak memory (``VmHWM``) is
   its own (the docs' script keeps every record in memory in this process).

Usage: ``.venv/bin/python benchmarks/bench_sync.py [--sources 100000] [--candidates 20000]
[--scale] [--unthrottled-only [--repeat 3]]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from workbench import Workbench
from workbench.server import spawn_server_process


def behave(proc, **switches) -> None:
    r = requests.put(
        f"{proc.url}/_workbench/behaviour",
        json=switches,
        headers={"Authorization": f"token {proc.token}"},
        timeout=30,
    )
    r.raise_for_status()


def server_requests(proc) -> int:
    r = requests.get(
        f"{proc.url}/_workbench/stats", headers={"Authorization": f"token {proc.token}"}, timeout=30
    )
    return int(r.json()["data"]["total"])


def docs_script(
    url: str,
    token: str,
    path: str = "/api/sources",
    key: str = "sources",
    query: dict | None = None,
) -> tuple[int, float, int]:
    """The API docs' sample pagination script, as published (sequential; sleep on 429);
    ``query``: extra parameters (the sync's own, to download exactly what it reads)."""
    start, records, page, total, requests_made = time.perf_counter(), [], 1, None, 0
    extra = "".join(f"&{k}={v}" for k, v in (query or {}).items())
    while True:
        r = requests.get(
            f"{url}{path}?pageNumber={page}&numPerPage=500&totalMatches={total}{extra}",
            headers={"Authorization": f"token {token}"},
            timeout=120,
        )
        requests_made += 1
        if r.status_code == 429:
            time.sleep(1)
            continue
        data = r.json()
        records.extend(data["data"][key])
        total = data["data"]["totalMatches"]
        page += 1
        if len(records) >= total or not data["data"][key]:
            return len(records), time.perf_counter() - start, requests_made


#: (resource, listing path, list key): the listings compared unthrottled with the script.
UNTHROTTLED = (
    ("sources", "/api/sources", "sources"),
    ("candidates", "/api/candidates", "candidates"),
    ("classifications", "/api/classification", "classifications"),
)


def _sync_query(name: str) -> dict:
    """The extra query parameters ``workbench sync`` sends for a listing (its order, and the
    comments it stores with each source), taken from the sync itself."""
    from workbench.sync.context import SyncContext, SyncOptions
    from workbench.sync.listings import sources_resource

    if name != "sources":
        return {}
    return dict(sources_resource(SyncContext(None, None, SyncOptions(progress=False))).params)


#: Per listing, what the sync asks beyond the published script's query.
SYNC_QUERY = {name: _sync_query(name) for name, _, _ in UNTHROTTLED}


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_during(proc, fn):
    """``fn()``'s result with the CPU seconds this process and the server used meanwhile
    (figures a loaded machine inflates far less than wall time)."""
    mine, server = time.process_time(), process_cpu(proc.pid)
    result = fn()
    return result, time.process_time() - mine, process_cpu(proc.pid) - server


def unthrottled_ratios(proc, work: Path, repeat: int = 1) -> dict[str, object]:
    """Docs script vs ``workbench sync --resources R`` (empty cache), no limit, no latency;
    ``repeat`` alternations of the two (lists of figures when more than one). Beside each
    wall time: the client's and the server's CPU seconds."""
    behave(proc, rate_limit=False, latency="none")
    out: dict[str, object] = {"load_average_before": round(os.getloadavg()[0], 2)}
    for i, (name, path, key) in enumerate(UNTHROTTLED):
        rows: dict[str, list] = {}
        query = SYNC_QUERY.get(name)
        for r in range(repeat):
            (n, script_s, _), script_cpu, script_server = cpu_during(
                proc, lambda p=path, k=key: docs_script(proc.url, proc.token, p, k)
            )
            same_s = None
            if query:  # the same script asking what the sync asks (the same bytes)
                same_s = docs_script(proc.url, proc.token, path, key, query)[1]
            cache = work / f"u{i}-{r}.duckdb"
            (_, sync_s), sync_cpu, sync_server = cpu_during(
                proc, lambda c=cache, nm=name: timed_sync(proc.url, proc.token, c, resources=[nm])
            )
            figures = {
                "script_s": round(script_s, 2),
                "sync_s": round(sync_s, 2),
                "sync_over_script": round(sync_s / script_s, 3),
                "script_client_cpu_s": round(script_cpu, 2),
                "sync_client_cpu_s": round(sync_cpu, 2),
                "script_server_cpu_s": round(script_server, 2),
                "sync_server_cpu_s": round(sync_server, 2),
            }
            if same_s is not None:
                figures["same_query_script_s"] = round(same_s, 2)
                figures["sync_over_same_query_script"] = round(sync_s / same_s, 3)
            for k, v in figures.items():
                rows.setdefault(k, []).append(v)
        out[f"unthrottled_{name}"] = n
        for k, values in rows.items():
            out[f"unthrottled_{name}_{k}"] = values if repeat > 1 else values[0]
    out["load_average_after"] = round(os.getloadavg()[0], 2)
    return out


def first_candidate(proc, work: Path, *, rate_limit: bool) -> dict[str, object]:
    """Empty cache, demo-sized server: seconds until the first candidate in vetting order
    has its photometry and cutouts (polled), until ``sync(background=True)`` returns, and
    until the background is done; the old blocking ``sync()`` for comparison."""
    import threading

    behave(proc, rate_limit=rate_limit, latency="realistic")
    tag = "limited" if rate_limit else "unlimited"
    wb = Workbench.open(url=proc.url, token=proc.token, cache=work / f"f-{tag}.duckdb")
    start = time.perf_counter()
    box: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: box.update(s=wb.sync(background=True, progress=False)), daemon=True
    )
    thread.start()
    first_s = None
    while first_s is None:
        if _first_ready(wb):
            first_s = time.perf_counter() - start
        else:
            time.sleep(0.1)
    thread.join()
    returned_s = time.perf_counter() - start
    box["s"].background.wait()
    done_s = time.perf_counter() - start
    _, blocking_s = timed_sync(proc.url, proc.token, work / f"g-{tag}.duckdb")
    return {
        f"first_candidate_{tag}_s": round(first_s, 1),
        f"scanner_first_returns_{tag}_s": round(returned_s, 1),
        f"scanner_first_all_{tag}_s": round(done_s, 1),
        f"blocking_sync_{tag}_s": round(blocking_s, 1),
    }


def _first_ready(wb) -> bool:
    """The first candidate in vetting order has synced photometry and every cutout."""
    try:
        frame = wb.candidates()
        if frame.empty:
            return False
        obj = frame["id"].iloc[0]
        row = wb.sql(
            "SELECT (SELECT count(*) FROM obj_sync WHERE obj_id = $o) AS phot, "
            "(SELECT count(*) FROM thumbnails WHERE obj_id = $o AND png IS NULL) AS missing, "
            "(SELECT count(*) FROM thumbnails WHERE obj_id = $o) AS thumbs",
            {"o": obj},
        ).iloc[0]
        return bool(row["phot"] and row["thumbs"] and not row["missing"])
    except Exception:  # the cache may not have its tables yet
        return False


def cache_bytes(path: Path, wb) -> dict[str, object]:
    """Cache file bytes per source and per photometry point, after a CHECKPOINT."""
    import duckdb

    counts = wb.cache.counts()
    wb.cache.close()  # the sync's log is folded in after it returns: wait for that
    con = duckdb.connect(str(path))
    con.execute("CHECKPOINT")
    size = con.execute("SELECT sum(total_blocks * block_size) FROM pragma_database_size()")
    blocks = size.fetchone()[0]
    con.close()
    objs = max(1, counts.get("objs", 0))
    return {
        "cache_objs": counts.get("objs", 0),
        "cache_photometry_points": counts.get("photometry", 0),
        "cache_bytes_per_source": round(path.stat().st_size / objs),
        "cache_used_block_bytes_per_source": round((blocks or 0) / objs),
        "photometry_points_per_source": round(counts.get("photometry", 0) / objs, 1),
    }


def timed_sync(url: str, token: str, cache: Path, **options) -> tuple[object, float]:
    wb = Workbench.open(url=url, token=token, cache=cache, **options.pop("client", {}))
    start = time.perf_counter()
    summary = wb.sync(progress=False, **options)
    if not summary.ok:
        raise SystemExit(f"the benchmarked sync failed:\n{summary}")
    return summary, time.perf_counter() - start


#: A sync in its own process: prints its seconds, peak memory and what it stored. The
#: token comes through the environment, never the command line (``ps`` shows that).
SYNC_CHILD = """
import json, os, sys, time
from workbench import Workbench
url, cache, resources = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
wb = Workbench.open(url=url, token=os.environ["SKYPORTAL_TOKEN"], cache=cache)
import workbench.sync  # imported before the clock starts, as the docs' script's modules are
import threading
def hwm_kb():
    status = open("/proc/self/status").read().split("\\n")
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
stop = threading.Event()
def progress():  # a long sync says how far it got, should it have to be stopped
    while not stop.wait(60):
        counts = wb.cache.counts()
        print(f"progress {time.perf_counter() - start:.0f} s: VmHWM {hwm_kb() // 1024} MB, "
              f"{counts['objs']} objs, {counts['photometry']} points", file=sys.stderr,
              flush=True)
watch = threading.Thread(target=progress, daemon=True)
watch.start()
start = time.perf_counter()
summary = wb.sync(resources=resources, progress=False)
seconds = time.perf_counter() - start
stop.set()
watch.join()  # no thread left holding DuckDB objects at exit
hwm = hwm_kb()
counts = wb.cache.counts()
print(json.dumps({"ok": summary.ok, "seconds": seconds, "vmhwm_kb": hwm,
                  "requests": summary.requests, "rate_limited": summary.rate_limited,
                  "objs": counts["objs"], "photometry": counts["photometry"],
                  "candidates": counts["candidates"],
                  "classifications": counts["classifications"],
                  "summary": None if summary.ok else str(summary)}))
"""

FULL = ("groups", "taxonomies", "sources", "candidates", "photometry", "classifications")


def sync_process(proc, cache: Path, resources: tuple[str, ...]) -> dict:
    """``workbench sync`` of ``resources`` in a new process; its figures."""
    env = {**os.environ, "SKYPORTAL_TOKEN": proc.token}
    done = subprocess.run(
        [sys.executable, "-c", SYNC_CHILD, proc.url, str(cache), ",".join(resources)],
        stdout=subprocess.PIPE,  # its progress lines and errors go to our stderr
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit("the sync process failed (its error is above)")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not out["ok"]:
        raise SystemExit(f"the benchmarked sync failed:\n{out['summary']}")
    return out


SWITCHES = {
    "unthrottled": {"rate_limit": False, "latency": "none"},
    "limited": {"rate_limit": True, "latency": "realistic"},
}


def scale(proc, work: Path, n: int, full_under: tuple[str, ...]) -> dict[str, object]:
    """Docs script vs sync of the sources, unthrottled and with the production limit and
    SkyPortal's latency; then a full sync with photometry under ``full_under``; each sync
    in its own process."""
    out: dict[str, object] = {"scale_sources": n}
    for tag, switches in SWITCHES.items():
        behave(proc, **switches)
        out[f"{tag}_load_average_before"] = round(os.getloadavg()[0], 1)
        _, script_s, _ = docs_script(proc.url, proc.token)
        listing = sync_process(proc, work / f"s-{tag}.duckdb", ("sources",))
        out[f"{tag}_docs_script_s"] = round(script_s, 1)
        out[f"{tag}_sync_sources_s"] = round(listing["seconds"], 1)
        out[f"{tag}_sync_over_script"] = round(listing["seconds"] / script_s, 3)
        out[f"{tag}_sync_sources_vmhwm_mb"] = round(listing["vmhwm_kb"] / 1024)
        print(json.dumps(out, indent=2), flush=True)  # figures so far, in case of a stop
    for tag in full_under:
        behave(proc, **SWITCHES[tag])
        out[f"{tag}_full_load_average_before"] = round(os.getloadavg()[0], 1)
        full = sync_process(proc, work / f"full-{tag}.duckdb", FULL)
        out[f"{tag}_full_sync_s"] = round(full["seconds"], 1)
        out[f"{tag}_full_sync_vmhwm_mb"] = round(full["vmhwm_kb"] / 1024)
        out[f"{tag}_full_sync_requests"] = full["requests"]
        out[f"{tag}_full_sync_429s"] = full["rate_limited"]
        for key in ("objs", "photometry", "candidates", "classifications"):
            out[f"{tag}_full_sync_{key}"] = full[key]
        size = (work / f"full-{tag}.duckdb").stat().st_size
        out[f"{tag}_full_cache_mb"] = round(size / 2**20)
        out[f"{tag}_full_load_average_after"] = round(os.getloadavg()[0], 1)
        print(json.dumps(out, indent=2), flush=True)
    return out


def per_source_photometry(url: str, token: str, obj_ids: list[str]) -> float:
    """One request per source through the rate-limited client; seconds."""
    from workbench import SkyPortalClient

    client = SkyPortalClient(url, token=token)
    start = time.perf_counter()
    for obj_id in obj_ids:
        client.get(f"/api/sources/{obj_id}/photometry")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--photometry-sources", type=int, default=10_000)
    parser.add_argument("--per-source-sample", type=int, default=100)
    parser.add_argument(
        "--first-candidate-only",
        action="store_true",
        help="only the scanner-first timings and cache size (demo-sized server)",
    )
    parser.add_argument(
        "--unthrottled-only",
        action="store_true",
        help="only the unthrottled docs-script ratios (sources, candidates, classifications)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="with --unthrottled-only: alternate the script and the sync this many times",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="only the docs script vs sync and the full sync with photometry, in own processes",
    )
    parser.add_argument(
        "--full-sync-under",
        default="unthrottled,limited",
        help="with --scale: the server settings to run the full sync under (comma list)",
    )
    args = parser.parse_args()
    out: dict[str, object] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    if args.scale:
        with spawn_server_process(
            sources=args.sources, candidates=args.candidates, seed=1, timeout=600
        ) as proc:
            full_under = tuple(t for t in args.full_sync_under.split(",") if t)
            out |= scale(proc, work, args.sources, full_under)
        print(json.dumps(out, indent=2))
        return
    if args.first_candidate_only:
        with spawn_server_process(sources=2000, candidates=300, seed=1, timeout=300) as proc:
            out |= first_candidate(proc, work, rate_limit=False)
            wb = Workbench.open(url=proc.url, token=proc.token, cache=work / "f-unlimited.duckdb")
            out |= cache_bytes(work / "f-unlimited.duckdb", wb)
            out |= first_candidate(proc, work, rate_limit=True)
        print(json.dumps(out, indent=2))
        return

    with spawn_server_process(
        sources=args.sources, candidates=args.candidates, seed=1, timeout=300
    ) as proc:
        # 0. docs script vs sync, unthrottled: the client's own cost is not hidden by pacing
        out |= unthrottled_ratios(proc, work, args.repeat if args.unthrottled_only else 1)
        if args.unthrottled_only:
            print(json.dumps(out, indent=2))
            return
        # 1. docs script vs sync, production rate limit and realistic latency
        behave(proc, rate_limit=True, latency="realistic")
        n, script_s, script_req = docs_script(proc.url, proc.token)
        summary, sync_s = timed_sync(proc.url, proc.token, work / "a.duckdb", resources=["sources"])
        out["sources"] = n
        out["docs_script_s"] = round(script_s, 1)
        out["docs_script_requests"] = script_req
        out["sync_sources_s"] = round(sync_s, 1)
        out["sync_over_script"] = round(sync_s / script_s, 3)
        out["sync_requests"] = summary.requests
        out["sync_429s"] = summary.rate_limited
        out["sync_rate_fraction_of_limit"] = round(summary.requests / sync_s / 5.0, 3)

        # 3. ingest rate and peak memory, server unthrottled
        behave(proc, rate_limit=False, latency="none")
        summary, ingest_s = timed_sync(
            proc.url,
            proc.token,
            work / "b.duckdb",
            client={"rate_limit": None},
            resources=["groups", "taxonomies", "sources", "classifications"],
        )
        rows = sum(c.new + c.updated for c in summary.tables.values())
        out["ingest_rows"] = rows
        out["ingest_s"] = round(ingest_s, 1)
        out["ingest_rows_per_s"] = round(rows / ingest_s)
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

        # 4. a no-change re-sync (production limit back on)
        behave(proc, rate_limit=True, latency="realistic")
        before = server_requests(proc)
        timed_sync(
            proc.url,
            proc.token,
            work / "b.duckdb",
            resources=["groups", "taxonomies", "sources", "classifications"],
        )
        out["no_change_resync_requests"] = server_requests(proc) - before - 1

    # 2. photometry of N sources: the sync's bulk path vs one request per source
    with spawn_server_process(
        sources=args.photometry_sources, candidates=10, seed=2, timeout=300
    ) as proc:
        behave(proc, rate_limit=True, latency="realistic")
        cache = work / "c.duckdb"
        wb = Workbench.open(url=proc.url, token=proc.token, cache=cache)
        wb.sync(resources=["sources"], progress=False)
        ids = list(wb.sql("SELECT id FROM objs ORDER BY id")["id"])
        summary, phot_s = timed_sync(proc.url, proc.token, cache, resources=["photometry"])
        sample = per_source_photometry(proc.url, proc.token, ids[: args.per_source_sample])
        per_source_s = sample / args.per_source_sample * len(ids)
        counts = summary.tables.get("photometry")
        out["photometry_sources"] = len(ids)
        out["photometry_points"] = counts.new if counts else 0
        out["photometry_sync_requests"] = summary.requests
        out["photometry_sync_s"] = round(phot_s, 1)
        out["photometry_per_source_requests"] = len(ids)
        out["photometry_per_source_s"] = round(per_source_s, 1)
        out["photometry_per_source_note"] = f"measured on {args.per_source_sample} sources, scaled"
        out["photometry_speedup"] = round(per_source_s / phot_s, 1)

    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
