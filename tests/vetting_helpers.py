"""Shared by the vetting panel tests: a synced cache template, a fresh server per test, and
readers of the outbox and the server's state (what the scanner's actions reached)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sync_helpers import copy_cache

from workbench.facade import Workbench

FAST = {"rate_limit": None, "max_retries": 1, "backoff": 0.01, "timeout": (2, 10)}
SEED = {"sources": 30, "candidates": 20, "seed": 5}


def make_template(directory: Path) -> Path:
    """A cache synced once from a server with ``SEED`` (deterministic: a copy matches a
    fresh server's data exactly)."""
    from workbench.server import LocalServer

    path = directory / "cache.duckdb"
    with LocalServer(**SEED) as server:
        wb = Workbench.open(server.url, server.token, path, **FAST)
        wb.sync()
        wb.cache.close()  # the sync's log is folded in after it returns: copies wait for it
    return path


def open_online(make_server: Any, template: Path, tmp_path: Path) -> tuple[Any, Workbench]:
    """A fresh server and a workbench on a fresh copy of the synced cache."""
    server = make_server(**SEED)
    copy_cache(template, tmp_path / "cache.duckdb")
    return server, Workbench.open(server.url, server.token, tmp_path / "cache.duckdb", **FAST)


def outbox_rows(wb: Workbench) -> list[dict]:
    rows = wb.outbox.list().to_dict("records")
    for row in rows:
        if isinstance(row["payload"], str):
            row["payload"] = json.loads(row["payload"])
    return rows


def saved_groups_on_server(server: Any, obj_id: str) -> set[int]:
    idx = server.store.find(obj_id)
    return set() if idx is None else {int(g) for g in server.store.saved_groups(idx)}


def rejected_on_server(server: Any) -> set[str]:
    return {x["obj_id"] for x in server.store.listings if x["list_name"] == "rejected_candidates"}


def a_group(wb: Workbench) -> int:
    """The group whose filters passed the most candidates (the scanner's own group)."""
    passing = wb.candidates()["passing_group_ids"].map(json.loads).explode().dropna()
    return int(passing.astype(int).value_counts().index[0])
