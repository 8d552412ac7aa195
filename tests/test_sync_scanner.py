"""Scanner first: the candidates with their photometry and cutouts land before the sync
returns; the rest completes in the background to exactly the server's content; a process
killed during the background phase loses nothing (the next sync resumes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests
from sync_helpers import QUIET, assert_cache_equals_server, cached_ids, open_wb, server_ids

from workbench.sync.scanner import READY

pytestmark = pytest.mark.slow


def server_photometry_ids(srv, obj_id: str) -> set[int]:
    r = requests.get(f"{srv.url}/api/sources/{obj_id}/photometry", headers=srv.headers, timeout=30)
    return {p["id"] for p in r.json()["data"]}


def no_missing_cutouts(wb, obj_ids: list[str]) -> bool:
    missing = wb.sql(
        "SELECT obj_id FROM thumbnails WHERE png IS NULL AND public_url IS NOT NULL "
        "AND obj_id IN (SELECT unnest(?))",
        [obj_ids],
    )
    return missing.empty


def test_candidates_land_first_and_the_background_completes(make_server, tmp_path):
    srv = make_server(sources=60, candidates=25, seed=41)
    wb = open_wb(srv, tmp_path / "c.duckdb")
    summary = wb.sync(background=True, **QUIET)
    assert summary.ok
    # the scanner's part is in when sync() returns: every candidate, and the first
    # READY in vetting order (best score first) with their photometry and cutouts
    candidates = cached_ids(wb, "SELECT obj_id FROM candidates")
    assert candidates == server_ids(srv, "/api/candidates", "candidates")
    first = list(wb.candidates()["id"])[:READY]
    for obj_id in first:
        assert set(wb.photometry(obj_id)["id"]) == server_photometry_ids(srv, obj_id)
    assert no_missing_cutouts(wb, first)
    # the rest, in the background, to exactly the server's content
    assert summary.background is not None
    rest = summary.background.wait(timeout=300)
    assert rest is not None and rest.ok, rest
    assert summary.background.still_coming == ()
    for obj_id in sorted(candidates):  # the rest of the queue came in the background
        assert set(wb.photometry(obj_id)["id"]) == server_photometry_ids(srv, obj_id)
    assert no_missing_cutouts(wb, sorted(candidates))
    assert cached_ids(wb, "SELECT DISTINCT obj_id FROM sources") == server_ids(
        srv, "/api/sources", "sources"
    )
    assert cached_ids(wb, "SELECT id FROM classifications") == server_ids(
        srv, "/api/classification", "classifications"
    )
    some_source = sorted(cached_ids(wb, "SELECT DISTINCT obj_id FROM sources") - candidates)[0]
    assert set(wb.photometry(some_source)["id"]) == server_photometry_ids(srv, some_source)


def test_the_summary_says_what_is_still_coming(make_server, tmp_path):
    srv = make_server(sources=30, candidates=5, seed=42, latency="realistic")
    wb = open_wb(srv, tmp_path / "c.duckdb")
    summary = wb.sync(background=True, **QUIET)
    coming = summary.still_coming
    if coming:  # (it may have finished already on a fast machine)
        assert "still coming in the background" in str(summary)
        assert set(coming) <= {
            "sources",
            "photometry",
            "classifications",
            "spectra",
            "thumbnails",
            "gcn_events",
            "galaxies",
        }
    assert summary.background.wait(timeout=300).ok
    assert summary.still_coming == ()
    assert "still coming" not in str(summary)


SCRIPT = """
import sys, time
from workbench import Workbench
wb = Workbench.open(url=sys.argv[1], cache=sys.argv[2], rate_limit=None)
summary = wb.sync(background=True, page_size=10, commit_rows=20, progress=False)
print("scanner done", flush=True)
summary.background.wait()
print("all done", flush=True)
"""


def test_killed_during_the_background_phase_then_resumed(make_server, tmp_path):
    srv = make_server(sources=120, candidates=6, seed=43, latency="realistic", latency_scale=2.0)
    cache = tmp_path / "c.duckdb"
    env = {**os.environ, "SKYPORTAL_TOKEN": srv.token}  # never on the command line
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, srv.url, str(cache)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "scanner done"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    srv.behaviour.update(latency="none")
    wb = open_wb(srv, cache)
    assert wb.sync(**QUIET).ok
    assert_cache_equals_server(srv, wb)


def test_a_second_sync_waits_for_the_background_one(make_server, tmp_path):
    """Two passes over one listing's checkpoints would interleave: the second waits."""
    srv = make_server(sources=40, candidates=5, seed=44, latency="realistic")
    wb = open_wb(srv, tmp_path / "c.duckdb")
    first = wb.sync(background=True, **QUIET)
    again = wb.sync(**QUIET)
    assert first.background.done and again.ok
    assert first.background.wait().ok
    assert cached_ids(wb, "SELECT DISTINCT obj_id FROM sources") == server_ids(
        srv, "/api/sources", "sources"
    )
