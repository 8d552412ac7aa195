"""Helpers shared by the sync and outbox tests: open a workbench on a local server, and
read the ground truth the server lists."""

from __future__ import annotations

import shutil
from pathlib import Path

import requests

from workbench import Workbench

QUIET = {"progress": False}


def copy_cache(source: Path, target: Path) -> None:
    """Copy a cache file no process is using, with its write-ahead log (a small sync's
    commits stay in the log until a larger one folds them in)."""
    shutil.copyfile(source, target)
    log = Path(f"{source}.wal")
    if log.exists():
        shutil.copyfile(log, Path(f"{target}.wal"))


def open_wb(srv, path, **client):
    return Workbench.open(url=srv.url, token=srv.token, cache=path, rate_limit=None, **client)


def server_ids(srv, path: str, key: str, field: str = "id", **params) -> set:
    """Every id a listing holds, read with the pagination quirks off."""
    quirks = dict(srv.behaviour.quirks)
    srv.behaviour.update(quirks={k: False for k in quirks})
    try:
        ids, page = set(), 1
        while True:
            query = {"numPerPage": 500, "pageNumber": page, **params}
            r = requests.get(srv.url + path, params=query, headers=srv.headers, timeout=30)
            data = r.json()["data"]
            ids |= {row[field] for row in data[key]}
            if len(ids) >= data["totalMatches"] or not data[key]:
                return ids
            page += 1
    finally:
        srv.behaviour.update(quirks=quirks)


def cached_ids(wb, query: str) -> set:
    return set(wb.sql(query).iloc[:, 0])


def assert_cache_equals_server(srv, wb) -> None:
    """Sources, candidates and classifications: the same ids in the cache as on the server."""
    assert cached_ids(wb, "SELECT DISTINCT obj_id FROM sources") == server_ids(
        srv, "/api/sources", "sources"
    )
    assert cached_ids(wb, "SELECT obj_id FROM candidates") == server_ids(
        srv, "/api/candidates", "candidates"
    )
    assert cached_ids(wb, "SELECT id FROM classifications") == server_ids(
        srv, "/api/classification", "classifications"
    )
