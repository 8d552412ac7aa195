"""Write-side helpers of the sync and the outbox: local effects of queued actions,
reconciliation of listings, and photometry fetch markers.

A queued action shows in the cache at once. Actions that add something (a classification,
a comment, a save to a group, an uploaded spectrum) insert rows tagged with the action's id
(``action_id``; classifications, comments and spectra get the id ``-action_id`` until the
server gives theirs); syncs never delete tagged rows. A payload's ``author``/``author_id``
(the user, from the cached profile) fill the row's author at once; they are never sent. Actions that remove something
(``unsave``, ``classification_delete``) leave the rows alone until the server confirmed:
the DataFrame accessors hide what a live action removes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ..errors import CacheError, OutboxError
from .bulk import dumps, hash64, utc_naive

KINDS = (
    "classification",
    "classification_edit",
    "classification_delete",
    "save",
    "unsave",
    "reject",
    "unreject",
    "comment",
    "spectrum",
)
# Outbox statuses of an action that is meant to reach the server and has not yet.
LIVE_STATUSES = ("pending", "sending", "unknown", "failed")
_EDITABLE = {
    "classification": "VARCHAR",
    "probability": "DOUBLE",
    "taxonomy_id": "BIGINT",
    "ml": "BOOLEAN",
    "origin": "VARCHAR",
}
_TAGGED = ("classifications", "comments", "spectra")


def _need(payload: Mapping, kind: str, *keys: str) -> None:
    missing = [k for k in keys if payload.get(k) in (None, "", [])]
    if missing:
        raise OutboxError(f"a {kind!r} action needs {', '.join(missing)} in its payload")


class LocalMixin:
    """Local effects (``apply_local``/``revert_local``/``confirm_local``) and sync markers."""

    def _raw(self, payload: Mapping) -> tuple[str, int]:
        blob = dumps(dict(payload))
        return blob.decode(), hash64(blob)

    # -- local effects --------------------------------------------------------------------
    def apply_local(self, kind: str, payload: Mapping[str, Any], action_id: int) -> None:
        """Show a queued action in the cache (call it in the transaction that enqueued it)."""
        if kind not in KINDS:
            raise OutboxError(
                f"no local effect is defined for action kind {kind!r}; one of {KINDS}"
            )
        con, now = self._con, self._now
        raw, h = self._raw(payload)
        if kind == "classification":
            _need(payload, kind, "obj_id", "classification")
            con.execute(
                "INSERT INTO classifications (id, obj_id, classification, taxonomy_id, "
                "probability, ml, origin, author_id, author_name, created_at, modified, raw, "
                "raw_hash, cached_at, action_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    -action_id,
                    payload["obj_id"],
                    payload["classification"],
                    payload.get("taxonomy_id"),
                    payload.get("probability"),
                    bool(payload.get("ml", False)),
                    payload.get("origin"),
                    payload.get("author_id"),
                    payload.get("author"),
                    now,
                    now,
                    raw,
                    h,
                    now,
                    action_id,
                ],
            )
        elif kind == "classification_edit":
            _need(payload, kind, "classification_id", "changes")
            changes = {k: v for k, v in dict(payload["changes"]).items() if k in _EDITABLE}
            sets = [f"{k} = CAST(? AS {_EDITABLE[k]})" for k in changes]
            con.execute(
                f"UPDATE classifications SET {', '.join([*sets, 'action_id = ?'])} WHERE id = ?",
                [*changes.values(), action_id, payload["classification_id"]],
            )
        elif kind == "save":
            _need(payload, kind, "obj_id", "group_ids")
            for gid in payload["group_ids"]:
                con.execute(
                    "INSERT INTO sources (obj_id, group_id, saved_at, saved_by_id, saved_by, "
                    "active, raw, raw_hash, cached_at, action_id) "
                    "SELECT ?, ?, ?, ?, ?, true, ?, ?, ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM sources WHERE obj_id = ? AND group_id = ?)",
                    [
                        payload["obj_id"],
                        int(gid),
                        now,
                        payload.get("author_id"),
                        payload.get("author"),
                        raw,
                        h,
                        now,
                        action_id,
                        payload["obj_id"],
                        int(gid),
                    ],
                )
        elif kind == "comment":
            _need(payload, kind, "resource_id", "text")
            if payload.get("resource", "sources") == "sources":
                groups = payload.get("group_ids")
                con.execute(
                    "INSERT INTO comments (id, obj_id, text, author, author_id, group_ids, "
                    "created_at, modified, raw, raw_hash, cached_at, action_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        -action_id,
                        payload["resource_id"],
                        payload["text"],
                        payload.get("author"),
                        payload.get("author_id"),
                        None if groups is None else orjson.dumps(sorted(groups)).decode(),
                        now,
                        now,
                        raw,
                        h,
                        now,
                        action_id,
                    ],
                )
        elif kind == "spectrum":
            _need(payload, kind, "obj_id", "wavelengths", "fluxes")
            meta = {
                k: v for k, v in payload.items() if k not in ("wavelengths", "fluxes", "errors")
            }
            mraw, mh = self._raw(meta)
            con.execute(
                "INSERT INTO spectra (id, obj_id, observed_at, instrument_id, type, label, "
                "units, origin, wavelengths, fluxes, errors, created_at, modified, raw, "
                "raw_hash, cached_at, action_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?)",
                [
                    -action_id,
                    payload["obj_id"],
                    utc_naive(payload.get("observed_at")),
                    payload.get("instrument_id"),
                    payload.get("type"),
                    payload.get("label"),
                    payload.get("units"),
                    payload.get("origin"),
                    list(payload["wavelengths"]),
                    list(payload["fluxes"]),
                    None if payload.get("errors") is None else list(payload["errors"]),
                    now,
                    now,
                    mraw,
                    mh,
                    now,
                    action_id,
                ],
            )
        # unsave, classification_delete, reject, unreject: hidden at read time while live

    def revert_local(self, kind: str, payload: Mapping[str, Any], action_id: int) -> None:
        """Undo :meth:`apply_local` (the action was dropped, or is about to be re-applied)."""
        if kind not in KINDS:
            raise OutboxError(f"no local effect is defined for action kind {kind!r}")
        if kind == "classification_edit":
            # the stored raw JSON is still the server's version: restore the typed columns
            sets = ", ".join(f"{k} = CAST(raw->>'$.{k}' AS {t})" for k, t in _EDITABLE.items())
            self._con.execute(
                f"UPDATE classifications SET {sets}, action_id = NULL WHERE action_id = ?",
                [action_id],
            )
            return
        for table in (*_TAGGED, "sources"):
            self._con.execute(f"DELETE FROM {table} WHERE action_id = ?", [action_id])

    def confirm_local(
        self, kind: str, payload: Mapping[str, Any], action_id: int, remote_id: Any = None
    ) -> None:
        """The server has the action: make its local effect an ordinary cached row (with the
        server's id when known), or carry out a removal it made."""
        if kind not in KINDS:
            raise OutboxError(f"no local effect is defined for action kind {kind!r}")
        con = self._con
        if kind in ("classification", "comment", "spectrum"):
            table = {
                "classification": "classifications",
                "comment": "comments",
                "spectrum": "spectra",
            }[kind]
            new_id = _as_id(remote_id)
            taken = (
                new_id is not None
                and con.execute(f"SELECT 1 FROM {table} WHERE id = ?", [new_id]).fetchall()
            )
            if new_id is None or taken:  # the next sync brings (or brought) the server's row
                con.execute(f"DELETE FROM {table} WHERE action_id = ?", [action_id])
            else:
                con.execute(
                    f"UPDATE {table} SET id = ?, action_id = NULL WHERE action_id = ?",
                    [new_id, action_id],
                )
        elif kind in ("classification_edit", "save"):
            table = "classifications" if kind == "classification_edit" else "sources"
            con.execute(f"UPDATE {table} SET action_id = NULL WHERE action_id = ?", [action_id])
        elif kind == "unsave":
            con.execute(
                "DELETE FROM sources WHERE obj_id = ? AND group_id IN (SELECT unnest(?))",
                [payload["obj_id"], [int(g) for g in payload["group_ids"]]],
            )
        elif kind == "classification_delete":
            con.execute("DELETE FROM classifications WHERE id = ?", [payload["classification_id"]])

    # -- sync markers ---------------------------------------------------------------------
    def retain(
        self, resource: str, seen: Iterable[Any], *, group_ids: Iterable[int] | None = None
    ) -> int:
        """After a complete, consistent pass over a listing: delete what the server no longer
        lists. ``sources``: group links of objs not seen (in ``group_ids`` if given);
        ``candidates``: candidacies not seen (passing ``group_ids`` if given);
        ``classifications``: classifications whose id was not seen. Local (queued) rows
        stay. Returns the number of rows deleted."""
        keep = list(seen)
        groups = None if group_ids is None else [int(g) for g in group_ids] or None
        if resource in ("sources", "sources_saved"):
            where = " AND group_id IN (SELECT unnest($groups))" if groups else ""
            sql = (
                f"DELETE FROM sources WHERE action_id IS NULL AND obj_id NOT IN "
                f"(SELECT unnest($keep)){where}"
            )
        elif resource == "candidates":
            where = (
                " AND list_has_any(CAST(passing_group_ids AS BIGINT[]), $groups)" if groups else ""
            )
            sql = f"DELETE FROM candidates WHERE obj_id NOT IN (SELECT unnest($keep)){where}"
        elif resource == "classifications":
            sql = (
                "DELETE FROM classifications WHERE action_id IS NULL AND id NOT IN "
                "(SELECT unnest($keep))"
            )
        else:
            raise CacheError(
                f"retain: unknown resource {resource!r}; one of sources, "
                f"candidates, classifications"
            )
        params: dict[str, Any] = {
            "keep": [str(k) for k in keep]
            if resource != "classifications"
            else [int(k) for k in keep]
        }
        if groups and "$groups" in sql:
            params["groups"] = groups
        if not keep:
            sql = sql.replace(" NOT IN (SELECT unnest($keep))", " IS NOT NULL")
            params.pop("keep")
        return self._con.execute(sql, params).fetchall()[0][0]

    def mark_photometry_synced(self, obj_ids: Iterable[str]) -> None:
        """Record that these objs' photometry was fetched at their current ``modified``."""
        ids = list(dict.fromkeys(obj_ids))
        if not ids:
            return
        self._con.execute(
            "INSERT OR REPLACE INTO obj_sync (obj_id, photometry_modified, photometry_synced_at) "
            "SELECT i.id, o.modified, ? FROM (SELECT unnest(?) AS id) i "
            "LEFT JOIN objs o ON o.id = i.id",
            [self._now, ids],
        )


def _as_id(remote_id: Any) -> int | None:
    if remote_id is None or remote_id is True:
        return None
    try:
        return int(remote_id)
    except (TypeError, ValueError):
        return None
