"""Sync behaviours a real SkyPortal 1.4.0 showed the local server had wrong (issue 9):
galaxy catalogs page by ``pageNumber``, and GCN-event scoped listings need detection
bounds. Real HTTP on loopback, a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import requests
from sync_helpers import QUIET, cached_ids, open_wb, server_ids

from workbench.sync.listings import DETECTION_WINDOW_DAYS, detection_window

pytestmark = pytest.mark.slow

EVENT = "2019-08-14T21:10:39"


def _post_catalog(srv, name: str, n: int, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    body = {
        "catalog_name": name,
        "catalog_data": {
            "name": [f"G{i:05d}" for i in range(n)],
            "ra": list(rng.uniform(0, 360, n)),
            "dec": list(np.degrees(np.arcsin(rng.uniform(-1, 1, n)))),
            "distmpc": list(rng.uniform(10, 400, n)),
        },
    }
    r = requests.post(f"{srv.url}/api/galaxy_catalog", json=body, headers=srv.headers, timeout=60)
    assert r.status_code == 200, r.text


def _server_galaxy_ids(srv, name: str) -> set[int]:
    ids, page = set(), 1
    while True:
        r = requests.get(
            f"{srv.url}/api/galaxy_catalog",
            params={"catalog_name": name, "numPerPage": 1000, "pageNumber": page},
            headers=srv.headers,
            timeout=60,
        )
        data = r.json()["data"]
        assert data["page"] == page
        if not data["galaxies"]:
            return ids
        ids |= {g["id"] for g in data["galaxies"]}
        page += 1


def test_a_multi_page_galaxy_catalog_lands_whole(make_server, tmp_path):
    srv = make_server(sources=10, candidates=5, seed=21)
    _post_catalog(srv, "BIG_test", 2345)  # three pages of 1,000
    truth = _server_galaxy_ids(srv, "BIG_test")
    assert len(truth) == 2345
    wb = open_wb(srv, tmp_path / "c.duckdb")
    frame = wb.client.list_galaxies("BIG_test", page_size=1000, concurrency=2)
    assert set(frame["id"]) == truth and len(frame) == 2345
    summary = wb.sync(resources=["galaxies"], galaxy_catalog="BIG_test", **QUIET)
    assert summary.ok, summary
    assert cached_ids(wb, "SELECT id FROM galaxies WHERE catalog_name = 'BIG_test'") == truth


def test_detection_window_is_under_ten_years_and_covers_the_event():
    now = dt.datetime(2026, 12, 3)
    for event in ("2018-01-16T00:36:53", EVENT, "2026-08-06T23:02:28", "2001-05-01T00:00:00"):
        start, end = detection_window(event, now)
        when = dt.datetime.fromisoformat(event)
        assert start < when < end
        assert (end - start).days == DETECTION_WINDOW_DAYS < 31 * 12 * 10
    start, end = detection_window(EVENT, now)
    assert end > now  # recent detections are inside


def test_gcn_event_sync_sends_the_bounds_and_equals_the_servers_selection(make_server, tmp_path):
    srv = make_server(sources=300, candidates=40, seed=42)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    summary = wb.sync(resources=["gcn_events", "sources", "candidates"], gcn_event=EVENT, **QUIET)
    assert summary.ok, summary
    start, end = (t.isoformat(timespec="seconds") for t in detection_window(EVENT))
    bounds = {"localizationDateobs": EVENT, "startDate": start, "endDate": end}
    truth = server_ids(srv, "/api/sources", "sources", **bounds)
    assert truth and cached_ids(wb, "SELECT DISTINCT obj_id FROM sources") == truth
    cand_bounds = {
        "localizationDateobs": EVENT,
        "firstDetectionAfter": start,
        "lastDetectionBefore": end,
        "numberDetections": 1,
    }
    assert cached_ids(wb, "SELECT obj_id FROM candidates") == server_ids(
        srv, "/api/candidates", "candidates", **cand_bounds
    )


# -- rough edges a new user met (issue 9) ---------------------------------------------------


def test_first_sync_counts_classifications_and_localizations_as_new(make_server, tmp_path):
    srv = make_server(sources=60, candidates=10, seed=23)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    summary = wb.sync(**QUIET)
    assert summary.ok, summary
    counts = wb.status()["tables"]
    classifications = summary.tables["classifications"]
    assert classifications.new == counts["classifications"] > 0, summary
    assert classifications.unchanged == 0 and classifications.updated == 0
    localizations = summary.tables["localizations"]
    assert localizations.new == counts["localizations"] > 0 and localizations.updated == 0


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "XDG_CONFIG_HOME": env.get("XDG_CONFIG_HOME", "/nonexistent")}
    full.pop("WORKBENCH_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,  # stderr is a pipe, not a terminal
        text=True,
        env=full,
        timeout=300,
    )


def test_cli_sync_logs_plain_lines_and_status_counts_saved_sources(make_server, tmp_path):
    srv = make_server(sources=50, candidates=10, seed=24)
    cache = str(tmp_path / "c.duckdb")
    env = {
        "SKYPORTAL_URL": srv.url,
        "SKYPORTAL_TOKEN": srv.token,
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
    }
    proc = _cli("sync", "--cache", cache, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "\r" not in proc.stderr  # no carriage-return soup in a log
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert any(line.startswith("sources: ") and " done " in line for line in lines), lines
    assert not any(" 0 " in line and "done" in line for line in lines), lines  # no empty bars
    status = _cli("status", "--cache", cache, "--json", env=env)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    saved = len(server_ids(srv, "/api/sources", "sources"))
    assert data["saved_sources"] == saved == 50 < data["tables"]["sources"]
    text = _cli("status", "--cache", cache, env=env).stdout
    assert any(line.split()[:2] == ["sources", str(saved)] for line in text.splitlines()), text


def test_progress_shows_only_bars_with_work():
    from workbench.sync.summary import Progress

    progress = Progress(True, mode="tty")
    with progress.bar("nothing", total=0) as bar:
        bar.update(0)
    with progress.bar("empty") as bar:
        bar.total = 0
    assert bar._bar is None  # no tqdm bar was drawn for either
    with progress.bar("work", total=3) as bar:
        bar.update(3)
    assert bar._bar is not None and bar.n == 3
