"""Issue 12 against a real SkyPortal: the API docs' pagination script vs ``workbench sync``.

Side by side in one run, ``--rounds`` times (default 2): for sources, candidates and
classifications, the docs' download-only script (``docs_script`` from ``bench_sync.py``,
sequential 500-row pages) and then ``workbench sync --resources R`` into an empty cache, as a
separate process the way a user runs it. Printed per resource: the records the script
counted and the distinct ids among them (read again, untimed), wall seconds of
the script, of the sync inside the process (the summary's ``seconds``) and of the whole
process (start-up and imports included), the ratios sync/script, the requests each made,
and the rows the cache ended with.

Meant for a real server on loopback with no rate limit (``../shared/live-skyportal/``).
The CLI paces an unknown server at the production limit (5 r/s, burst 10) as it would in
production; with a few pages per listing the burst covers them.

Usage::

    SKYPORTAL_URL=http://127.0.0.1:5000 SKYPORTAL_TOKEN=... \\
        .venv/bin/python benchmarks/bench_sync_live.py [--rounds 2]

Prints figures only and asserts nothing; without SKYPORTAL_URL / SKYPORTAL_TOKEN it says
so and exits 0. The token is passed to the child through its environment, never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

# bench_sync.py lives beside this file; the folder is not a package
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sync import UNTHROTTLED, docs_script

#: How the cache's rows are counted per resource (sources: one row per group save).
CACHE_COUNT = {
    "sources": "SELECT count(DISTINCT obj_id) FROM sources",
    "candidates": "SELECT count(*) FROM candidates",
    "classifications": "SELECT count(*) FROM classifications",
}


def workbench_command() -> list[str]:
    """The ``workbench`` entry point of this interpreter's environment."""
    script = Path(sys.executable).with_name("workbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "workbench.cli"]


def cli_sync(url: str, token: str, cache: Path, resource: str) -> dict[str, object]:
    """``workbench sync --resources <resource>`` into ``cache`` as a child process.

    Returns the process wall time (s), the sync's own ``seconds`` and ``requests`` from
    its JSON summary, and the rows the cache holds afterwards.
    """
    env = {**os.environ, "SKYPORTAL_URL": url, "SKYPORTAL_TOKEN": token}
    env.pop("WORKBENCH_CONFIG", None)  # only the env decides where to sync from
    cmd = [*workbench_command(), "sync", "--resources", resource, "--cache", str(cache)]
    start = time.perf_counter()
    proc = subprocess.run(
        [*cmd, "--no-progress", "--json"], env=env, capture_output=True, text=True, timeout=3600
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        # the CLI redacts the token from its own output; the tail says what went wrong
        raise SystemExit(f"workbench sync --resources {resource} failed:\n{proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout)
    with duckdb.connect(str(cache), read_only=True) as con:
        rows = con.execute(CACHE_COUNT[resource]).fetchone()[0]
    return {
        "process_s": wall,
        "sync_s": float(summary["seconds"]),
        "requests": summary["requests"],
        "rate_limited": summary["rate_limited"],
        "cache_rows": rows,
    }


def distinct_listed(url: str, token: str, path: str, key: str) -> int:
    """Distinct ids the docs' paging (500 a page by ``pageNumber``) shows, read untimed.

    SkyPortal's ``/api/classification`` pages have no ORDER BY: the script's record count
    can include repeats while other rows are never shown.
    """
    import requests

    seen, page = set(), 1
    while True:
        r = requests.get(
            f"{url}{path}",
            params={"pageNumber": page, "numPerPage": 500},
            headers={"Authorization": f"token {token}"},
            timeout=600,
        )
        data = r.json()["data"]
        seen |= {row["id"] for row in data[key]}
        if not data[key] or page * 500 >= data["totalMatches"]:
            return len(seen)
        page += 1


def one_round(url: str, token: str, work: Path, round_no: int) -> list[dict[str, object]]:
    """Script then sync, for each listing; one row of figures per listing."""
    rows = []
    for name, path, key in UNTHROTTLED:
        n, script_s, script_requests = docs_script(url, token, path, key)
        sync = cli_sync(url, token, work / f"r{round_no}-{name}.duckdb", name)
        rows.append(
            {
                "round": round_no,
                "resource": name,
                "records": n,
                "distinct": distinct_listed(url, token, path, key),
                "cache_rows": sync["cache_rows"],
                "script_s": round(script_s, 2),
                "sync_s": round(sync["sync_s"], 2),
                "process_s": round(sync["process_s"], 2),
                "sync_over_script": round(sync["sync_s"] / script_s, 2),
                "process_over_script": round(sync["process_s"] / script_s, 2),
                "script_requests": script_requests,
                "sync_requests": sync["requests"],
                "sync_429s": sync["rate_limited"],
            }
        )
    return rows


def print_table(rows: list[dict[str, object]]) -> None:
    head = (
        f"{'round':>5} {'resource':<16}{'records':>8}{'distinct':>9}{'cache':>7}{'script s':>10}"
        f"{'sync s':>8}{'process s':>11}{'sync/script':>13}{'process/script':>16}"
        f"{'req script/sync':>17}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['round']:>5} {r['resource']:<16}{r['records']:>8}{r['distinct']:>9}{r['cache_rows']:>7}"
            f"{r['script_s']:>10.2f}{r['sync_s']:>8.2f}{r['process_s']:>11.2f}"
            f"{r['sync_over_script']:>13.2f}{r['process_over_script']:>16.2f}"
            f"{str(r['script_requests']) + '/' + str(r['sync_requests']):>17}"
        )


def server_version(url: str, token: str) -> str:
    """The server's version string and newest commit (from ``/api/sysinfo``)."""
    import requests

    r = requests.get(f"{url}/api/sysinfo", headers={"Authorization": f"token {token}"}, timeout=60)
    body = r.json()
    log = (body.get("data") or {}).get("gitlog") or [{}]
    return f"{body.get('version', '?')} (newest commit {log[0].get('sha', '?')})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="times the comparison is run")
    args = parser.parse_args()
    url, token = os.environ.get("SKYPORTAL_URL"), os.environ.get("SKYPORTAL_TOKEN")
    if not url or not token:
        print(
            "skipped: set SKYPORTAL_URL and SKYPORTAL_TOKEN to a real SkyPortal "
            "(see ../shared/live-skyportal/README.md) to run this benchmark"
        )
        return
    url = url.rstrip("/")
    work = Path(tempfile.mkdtemp(prefix="bench-sync-live-"))
    sysinfo = server_version(url, token)
    print(f"server {url}, SkyPortal {sysinfo}; load average {os.getloadavg()[0]:.2f} at start")
    rows: list[dict[str, object]] = []
    for round_no in range(1, args.rounds + 1):
        rows += one_round(url, token, work, round_no)
    print_table(rows)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
