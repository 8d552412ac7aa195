"""GCN events' details: what only the single-event record carries.

SkyPortal's event listing (``GET /api/gcn_event``) gives each event's tags, notices (without
their content) and localization names, but not its ``properties`` (the notice's FAR and
source-class probabilities: BNS, NSBH, BBH, Terrestrial, HasNS, HasRemnant...) nor its
localizations' ``properties`` (``distmean``/``diststd`` in Mpc, ``area_90`` in deg²) and
centres; those come from ``GET /api/gcn_event/{dateobs}``. After the listing pass,
:func:`sync_event_details` fetches that record for each event that is new or changed since
its details were last fetched (a handful of requests) and merges into the cache only the
keys the listing does not carry, so the next listing pass neither erases nor churns them.

The request asks ``excludeNoticeContent=true`` (notice XML can be tens of kB each; the
notice's figures are in ``properties``); localization pixel arrays and contours are
dropped before storing (pixels come from ``/api/localization``, fetched by the sync).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ..errors import NotFound
from .context import SyncContext

__all__ = ["DETAIL_KEYS", "LOCALIZATION_DETAIL_KEYS", "event_fingerprint", "sync_event_details"]

#: The resource name of this step's checkpoint (``sync_state``) and summary line.
RESOURCE = "gcn_event_details"

#: Event keys only the single-event record carries (the listing has the others).
DETAIL_KEYS = (
    "properties",
    "detectors",
    "summaries",
    "comments",
    "gracedb_labels",
    "gracedb_log",
    "lightcurve",
    "gcn_triggers",
)
#: Localization keys only the single-event record carries (pixels and contour excluded).
LOCALIZATION_DETAIL_KEYS = ("properties", "center")


def event_fingerprint(record: dict[str, Any]) -> str:
    """What the listing says of an event that changes when the event does: its
    ``modified``, its notices (ids and times) and localizations (names and times), tags.
    A new notice (FAR, classes update) adds a notice even where ``modified`` stays."""
    notices = sorted(
        (str(n.get("id")), str(n.get("modified"))) for n in record.get("gcn_notices") or []
    )
    locs = sorted(
        (str(loc.get("localization_name")), str(loc.get("modified")))
        for loc in record.get("localizations") or []
        if isinstance(loc, dict)
    )
    tags = sorted(str(t) for t in record.get("tags") or [])
    text = orjson.dumps([str(record.get("modified")), notices, locs, tags])
    return hashlib.sha1(text).hexdigest()[:16]


def _detail_part(record: dict[str, Any]) -> dict[str, Any]:
    """The detail-only keys of a single-event record, ready to merge into the cache."""
    part: dict[str, Any] = {"dateobs": record["dateobs"]}
    part.update({k: record[k] for k in DETAIL_KEYS if k in record})
    locs = []
    for loc in record.get("localizations") or []:
        if not isinstance(loc, dict) or not loc.get("localization_name"):
            continue
        keep = {k: loc[k] for k in LOCALIZATION_DETAIL_KEYS if k in loc}
        if keep:
            keep["localization_name"] = loc["localization_name"]
            keep["dateobs"] = loc.get("dateobs") or record["dateobs"]
            locs.append(keep)
    if locs:
        part["localizations"] = locs
    return part


def _key(dateobs: Any) -> str:
    """An event's dateobs as the server writes it in URLs (UTC, to the second)."""
    text = str(dateobs).replace(" ", "T")
    return text.split(".")[0].removesuffix("Z").split("+")[0]


def _cached_events(ctx: SyncContext) -> list[dict[str, Any]]:
    """The cache's event records with their cached localizations (name, modified): the
    cache keeps an event's localizations in their own table, not in its record."""
    raw = ctx.cache.sql("SELECT raw FROM gcn_events")
    records = [orjson.loads(text) for text in raw["raw"]] if len(raw) else []
    locs = ctx.cache.sql(
        "SELECT strftime(dateobs, '%Y-%m-%dT%H:%M:%S') AS key, localization_name, "
        "CAST(modified AS VARCHAR) AS modified FROM localizations"
    )
    by_event: dict[str, list[dict[str, Any]]] = {}
    for row in locs.to_dict("records"):
        by_event.setdefault(row["key"], []).append(
            {"localization_name": row["localization_name"], "modified": row["modified"]}
        )
    for record in records:
        record["localizations"] = by_event.get(_key(record.get("dateobs")), [])
    return records


def sync_event_details(ctx: SyncContext, listed: list[dict[str, Any]] | None = None) -> None:
    """Fetch ``/api/gcn_event/{dateobs}`` for each cached event that is new or changed since
    its details were last fetched, and merge its detail-only keys into the cache.

    ``listed`` are the listing's records (default: the cache's events, as the listing pass
    left them). The fingerprints of the events done are kept in the ``gcn_event_details``
    checkpoint, per event, so an interrupted run resumes with the events still to do.
    """
    if listed is None:
        listed = _cached_events(ctx)
    state = ctx.cache.sync_state(RESOURCE) or {}
    seen: dict[str, str] = dict(state.get("seen") or {})
    todo = []
    for record in listed:
        key = _key(record.get("dateobs"))
        fingerprint = event_fingerprint(record)
        if seen.get(key) != fingerprint or "properties" not in record:
            todo.append((key, fingerprint))
    if not todo:
        return
    with ctx.progress.bar("gcn event details", total=len(todo), unit="events") as bar:
        for key, fingerprint in todo:
            try:
                record = ctx.client.get_gcn_event(key, exclude_notice_content=True)
            except NotFound:
                # deleted since the listing: its row goes with the next listing pass
                ctx.summary.notes.append(f"gcn event {key}: listed but not found; skipped")
                bar.update()
                continue
            seen[key] = fingerprint
            with ctx.cache.write() as tx:
                ctx.summary.count(RESOURCE, tx.upsert_gcn_events([_detail_part(record)]))
                tx.set_sync_state(RESOURCE, seen=seen, status="running")
            bar.update()
    with ctx.cache.write() as tx:
        tx.set_sync_state(RESOURCE, status="complete")
