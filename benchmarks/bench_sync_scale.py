"""A full sync of 10^5 sources with their photometry against the local server (figures).

Only the full sync (groups, taxonomies, sources, candidates, photometry, classifications)
into an empty cache, each run in its own process so its peak memory (``VmHWM``) is its
own: unthrottled and/or under the production limit (5 r/s, burst 10, SkyPortal's
latency). Prints wall time, points, requests (the client's and the server's count by
route), the sync's VmHWM and CPU, the server's CPU, cache bytes per source. A run still
going at ``--deadline`` (UTC ``HH:MM``) or after ``--limit`` seconds is stopped, and the
figures say how far it got and at what rate (any total from those is an extrapolation).

Usage: ``nice -n 15 .venv/bin/python benchmarks/bench_sync_scale.py [--sources 100000]
[--candidates 20000] [--under unthrottled,limited] [--deadline 12:25] [--limit 3600]``.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from workbench.server import spawn_server_process

#: The sync, in its own process: a progress line (JSON, stderr) every ``PROGRESS_S`` and
#: its figures (JSON, the last stdout line). The token comes through the environment,
#: never the command line (``ps`` shows that).
CHILD = """
import json, os, resource, sys, threading, time
from workbench import Workbench
url, cache, resources, every = sys.argv[1], sys.argv[2], sys.argv[3].split(","), float(sys.argv[4])
wb = Workbench.open(url=url, token=os.environ["SKYPORTAL_TOKEN"], cache=cache)
import workbench.sync  # imported before the clock starts
def hwm_kb():
    status = open("/proc/self/status").read().split("\\n")
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
def cpu_s():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
stop = threading.Event()
def progress():
    while not stop.wait(every):
        counts = wb.cache.counts()
        print(json.dumps({"t": round(time.perf_counter() - start, 1), "vmhwm_kb": hwm_kb(),
                          "cpu_s": round(cpu_s(), 1), "objs": counts["objs"],
                          "photometry": counts["photometry"]}), file=sys.stderr, flush=True)
watch = threading.Thread(target=progress, daemon=True)
watch.start()
start = time.perf_counter()
summary = wb.sync(resources=resources, progress=False)
seconds = time.perf_counter() - start
stop.set()
watch.join()
counts = wb.cache.counts()
print(json.dumps({"ok": summary.ok, "seconds": seconds, "vmhwm_kb": hwm_kb(), "cpu_s": cpu_s(),
                  "requests": summary.requests, "rate_limited": summary.rate_limited,
                  "objs": counts["objs"], "photometry": counts["photometry"],
                  "candidates": counts["candidates"], "classifications": counts["classifications"],
                  "summary": None if summary.ok else str(summary)}))
"""

FULL = ("groups", "taxonomies", "sources", "candidates", "photometry", "classifications")
SWITCHES = {
    "unthrottled": {"rate_limit": False, "latency": "none"},
    "limited": {"rate_limit": True, "latency": "realistic"},
}
PROGRESS_S = 30.0


def admin(proc, method: str, path: str, **kwargs) -> dict:
    """Call the server's admin API (never rate-limited or counted)."""
    r = requests.request(
        method,
        f"{proc.url}/_workbench/{path}",
        headers={"Authorization": f"token {proc.token}"},
        timeout=60,
        **kwargs,
    )
    r.raise_for_status()
    return r.json()["data"]


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seconds_until(hhmm: str | None) -> float:
    """Seconds from now until today's ``HH:MM`` UTC (infinite when not given)."""
    if not hhmm:
        return float("inf")
    now = dt.datetime.now(dt.UTC)
    hour, minute = (int(x) for x in hhmm.split(":"))
    return (now.replace(hour=hour, minute=minute, second=0, microsecond=0) - now).total_seconds()


def run(proc, work: Path, tag: str, limit_s: float, deadline: str | None) -> dict[str, object]:
    """One full sync under ``tag``'s server settings; its figures (``stopped`` if cut)."""
    admin(proc, "PUT", "behaviour", json=SWITCHES[tag])
    admin(proc, "DELETE", "stats")
    cache = work / f"full-{tag}.duckdb"
    out: dict[str, object] = {"run": tag, "load_average_before": round(os.getloadavg()[0], 1)}
    server_cpu0 = proc_cpu_s(proc.pid)
    env = {**os.environ, "SKYPORTAL_TOKEN": proc.token}
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, proc.url, str(cache), ",".join(FULL), str(PROGRESS_S)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    last: dict[str, object] = {}
    trail: list[str] = []

    def read_progress() -> None:
        for line in child.stderr:
            try:
                point = json.loads(line)
            except ValueError:
                trail.append(line.rstrip())  # an error's traceback, shown below
                continue
            last.clear()
            last.update(point)
            server = admin(proc, "GET", "stats")
            print(
                f"  [{tag}] {point['t']:7.0f} s: {point['objs']:>7,} objs, "
                f"{point['photometry']:>10,} points, VmHWM {point['vmhwm_kb'] // 1024} MB, "
                f"sync CPU {point['cpu_s']:.0f} s, server CPU "
                f"{proc_cpu_s(proc.pid) - server_cpu0:.0f} s, {server['total']:,} requests",
                flush=True,
            )

    lines: list[str] = []
    reader = threading.Thread(target=read_progress, daemon=True)
    reader.start()
    collector = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)
    collector.start()
    budget = min(limit_s, seconds_until(deadline))
    try:
        child.wait(timeout=max(budget, 1.0))
        stopped = False
    except subprocess.TimeoutExpired:
        child.terminate()  # only the sync process this function started
        child.wait(timeout=60)
        stopped = True
    wall = time.perf_counter() - start
    reader.join(timeout=10)
    collector.join(timeout=10)
    stdout = "".join(lines)
    server = admin(proc, "GET", "stats")
    out["server_cpu_s"] = round(proc_cpu_s(proc.pid) - server_cpu0, 1)
    out["server_requests"] = server["total"]
    out["server_requests_by_route"] = server["requests"]
    out["server_429s"] = server["statuses"].get("429", 0)
    size = sum(p.stat().st_size for p in work.glob(f"full-{tag}.duckdb*"))
    out["cache_mb"] = round(size / 2**20, 1)
    if stopped or child.returncode != 0 or not stdout.strip():
        out["stopped"] = stopped
        out["returncode"] = child.returncode
        out["wall_s"] = round(wall, 1)
        out["last_progress"] = dict(last)
        if trail:
            out["stderr_tail"] = trail[-15:]
        if last.get("t"):
            out["points_per_s_so_far"] = round(float(last["photometry"]) / float(last["t"]), 1)
        return out
    figures = json.loads(stdout.strip().splitlines()[-1])
    out |= {
        "ok": figures["ok"],
        "seconds": round(figures["seconds"], 1),
        "vmhwm_mb": round(figures["vmhwm_kb"] / 1024),
        "sync_cpu_s": round(figures["cpu_s"], 1),
        "requests": figures["requests"],
        "rate_limited": figures["rate_limited"],
        "objs": figures["objs"],
        "photometry": figures["photometry"],
        "candidates": figures["candidates"],
        "classifications": figures["classifications"],
        "cache_bytes_per_obj": round(size / max(figures["objs"], 1)),
        "points_per_s": round(figures["photometry"] / figures["seconds"], 1),
        "load_average_after": round(os.getloadavg()[0], 1),
    }
    if figures["summary"]:
        out["summary"] = figures["summary"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--under", default="unthrottled,limited", help="comma list of runs")
    parser.add_argument("--limit", type=float, default=3600.0, help="seconds per run at most")
    parser.add_argument("--deadline", default=None, help="UTC HH:MM: stop any run then")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sync-scale-"))
    start = time.perf_counter()
    with spawn_server_process(
        sources=args.sources, candidates=args.candidates, seed=1, timeout=600
    ) as proc:
        health = requests.get(f"{proc.url}/_workbench/health", timeout=60).json()
        print(f"server up in {time.perf_counter() - start:.0f} s: {health}", flush=True)
        results = []
        for tag in (t for t in args.under.split(",") if t):
            if seconds_until(args.deadline) < 60:
                print(f"{tag}: not started (deadline {args.deadline} UTC)", flush=True)
                continue
            print(f"{tag}: started {dt.datetime.now(dt.UTC):%H:%M:%S} UTC", flush=True)
            figures = {"sources": args.sources} | run(proc, work, tag, args.limit, args.deadline)
            results.append(figures)
            print(json.dumps(figures, indent=2), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
