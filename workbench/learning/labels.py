"""A group's past vetting decisions, read from the cache: the labels the queue learns from.

For group ``G`` and each cached candidate that passed one of ``G``'s filters (or was saved
to ``G``):

* **wanted** (label 1): saved to ``G`` (the cache's ``sources``, a queued local save
  included), decided at ``saved_at`` (never before the candidate was first seen);
* **not wanted** (label 0): rejected here, or saved here to other groups only, decided at
  the local decision's ``decided_at``; or never saved to ``G`` although its scanners have
  had it for ``horizon_days`` (vetted and not saved), decided at first-seen + horizon;
* otherwise unlabeled: still in the queue.

A local decision (the ``vetting`` table: save / reject; skip and undo say nothing) wins
over what the server's saves say. "Now", for the horizon, is the newest candidate's
first-seen time in the cache, not the wall clock, so labels are reproducible offline and a
cache synced long ago is not declared fully vetted. Nothing leaves the machine.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from ..errors import CacheError

HORIZON_DAYS = 3.0  # a candidate its group has not saved this long after first seen is "passed"

# Each candidate's first-seen time (UTC): when it passed a filter, else when its first
# annotation (the alert broker's) was made, else when the obj was created (first alert).
CANDIDATE_TIMES = """
    SELECT c.obj_id,
           coalesce(c.passed_at, a.first_annotated, o.created_at) AS first_seen,
           c.passing_group_ids
    FROM candidates c LEFT JOIN objs o ON o.id = c.obj_id
    LEFT JOIN (SELECT obj_id, min(created_at) AS first_annotated FROM annotations
               GROUP BY obj_id) a ON a.obj_id = c.obj_id
"""

_LABELS = f"""
    WITH cand AS ({CANDIDATE_TIMES}),
    ref AS (SELECT coalesce(CAST($now AS TIMESTAMP), max(first_seen)) AS now FROM cand),
    saves AS (SELECT obj_id, min(saved_at) AS saved_at FROM sources
              WHERE group_id = $g AND saved_at IS NOT NULL GROUP BY obj_id),
    loc AS (SELECT obj_id, decision, group_ids, decided_at FROM vetting
            QUALIFY row_number() OVER (PARTITION BY obj_id ORDER BY decided_at DESC, id DESC) = 1),
    local AS (SELECT obj_id, decided_at,
                     list_contains(coalesce(CAST(group_ids AS BIGINT[]), []), $g) AS to_g
              FROM loc WHERE decision IN ('save', 'reject')),
    eligible AS (
        SELECT cand.*, saves.saved_at, local.decided_at AS local_at, local.to_g
        FROM cand LEFT JOIN saves USING (obj_id) LEFT JOIN local USING (obj_id)
        WHERE cand.first_seen IS NOT NULL
          AND (list_contains(coalesce(CAST(cand.passing_group_ids AS BIGINT[]), []), $g)
               OR saves.obj_id IS NOT NULL OR local.to_g))
    SELECT obj_id, first_seen,
        CASE WHEN local_at IS NOT NULL THEN to_g
             WHEN saved_at IS NOT NULL THEN true
             WHEN first_seen + to_microseconds(CAST($h AS BIGINT)) <= (SELECT now FROM ref)
                 THEN false END AS wanted,
        CASE WHEN local_at IS NOT NULL THEN local_at
             WHEN saved_at IS NOT NULL THEN greatest(saved_at, first_seen)
             ELSE first_seen + to_microseconds(CAST($h AS BIGINT)) END AS decided_at,
        CASE WHEN local_at IS NOT NULL THEN 'local'
             WHEN saved_at IS NOT NULL THEN 'saved' ELSE 'not saved' END AS source
    FROM eligible
    ORDER BY obj_id
"""


def group_labels(
    wb: Any,
    group_id: int,
    *,
    horizon_days: float = HORIZON_DAYS,
    now: datetime | None = None,
    include_unlabeled: bool = False,
) -> pd.DataFrame:
    """The group's decisions: one row per candidate, ``obj_id``, ``first_seen`` (UTC),
    ``wanted`` (bool; NA while undecided), ``decided_at`` (UTC) and ``source`` (local /
    saved / not saved), oldest decision first. ``wb`` is a Workbench or a Cache.
    ``horizon_days`` (days) after first seen, a candidate never saved counts as passed.
    """
    if horizon_days < 0:
        raise CacheError(f"horizon_days must be >= 0 days, got {horizon_days!r}")
    cache = getattr(wb, "cache", wb)
    frame = cache.sql(
        _LABELS,
        {"g": int(group_id), "h": round(horizon_days * 86_400e6), "now": now},
    )
    frame["wanted"] = frame["wanted"].astype("boolean")
    if not include_unlabeled:
        frame = frame[frame["wanted"].notna()]
    frame = frame.sort_values(["decided_at", "obj_id"], kind="stable").reset_index(drop=True)
    return frame


def label_groups(wb: Any) -> list[int]:
    """Groups whose filters pass cached candidates, or that cached candidates are saved to."""
    cache = getattr(wb, "cache", wb)
    rows = cache.sql(
        """SELECT DISTINCT g FROM (
               SELECT unnest(CAST(passing_group_ids AS BIGINT[])) AS g FROM candidates)
           WHERE g IS NOT NULL ORDER BY g"""
    )
    return [int(g) for g in rows["g"]]


__all__ = ["HORIZON_DAYS", "group_labels", "label_groups"]
