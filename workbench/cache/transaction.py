"""One write transaction on the cache: upserts, deletions, sync checkpoints, the outbox and
local vetting decisions, committed together or not at all."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pandas as pd
import pyarrow as pa

from ..errors import CacheError, OutboxError
from ..redact import redact
from .bulk import dumps, utc_naive
from .local import LocalMixin
from .tables import DELETABLE, OBJ_CHILDREN
from .upserts_ref import ReferenceMixin

OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "rejected", "unknown", "dropped")
VETTING_DECISIONS = ("save", "reject", "skip", "undo")
_SYNC_FIELDS = {
    "watermark": "ts",
    "last_page": "int",
    "pass_id": "str",
    "status": "str",
    "total_matches": "int",
    "counts": "json",
    "pass_started_at": "ts",
    "error": "str",
}


def utcnow() -> datetime:
    """Now, as naive UTC (the cache's timestamp convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _json_value(value: Any) -> Any:
    return None if value is None else orjson.loads(value)


def sync_row(row: tuple, names: list[str]) -> dict[str, Any]:
    """A ``sync_state`` row as a dict, JSON decoded and ``extra`` fields flattened in."""
    out = dict(zip(names, row, strict=True))
    out["counts"] = _json_value(out.get("counts"))
    extra = _json_value(out.pop("extra", None)) or {}
    return {**extra, **out}


class _Ended:
    """Stands in for the connection once the transaction is over."""

    def __getattr__(self, name: str) -> Any:
        raise CacheError(
            "This cache transaction has ended: open a new `with cache.write() as "
            "tx:` block to write again."
        )


class Transaction(LocalMixin, ReferenceMixin):
    """The handle ``with cache.write() as tx:`` gives: every call runs in one transaction
    that commits when the block ends and rolls back if it raises."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._now = utcnow()

    def _end(self) -> None:
        self._con = _Ended()  # type: ignore[assignment]

    # -- raw SQL --------------------------------------------------------------------------
    def execute(self, sql: str, params: list | dict | None = None) -> list[tuple]:
        """Run any SQL statement inside the transaction; its result rows (for INSERT,
        UPDATE and DELETE DuckDB returns the row count)."""
        try:
            return self._con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise CacheError(
                f"SQL failed in the cache transaction, which is rolled back: {exc}"
            ) from exc

    def store_learned_model(self, record: dict[str, Any], keep: int = 3) -> int:
        """Store a group's vetting model as its next version (``record``: the
        ``learning_models`` columns but ``version``), keeping the newest ``keep``
        versions; returns the version stored."""
        group_id = int(record["group_id"])
        (version,) = self.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM learning_models WHERE group_id = ?",
            [group_id],
        )[0]
        row = {**record, "group_id": group_id, "version": int(version)}
        columns = ", ".join(row)
        self.execute(
            f"INSERT INTO learning_models ({columns}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
        self.execute(
            "DELETE FROM learning_models WHERE group_id = ? AND version <= ?",
            [group_id, int(version) - keep],
        )
        return int(version)

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """A query's result as a DataFrame, seeing this transaction's own changes."""
        try:
            return self._con.execute(query, params).df()
        except duckdb.Error as exc:
            raise CacheError(
                f"SQL failed in the cache transaction, which is rolled back: {exc}"
            ) from exc

    # -- deletions ------------------------------------------------------------------------
    def delete_rows(self, table: str, keys: Iterable[Any]) -> int:
        """Delete rows by primary key; returns how many went. Keys are values for one-column
        keys, tuples (or dicts) for composite ones. Deleting objs also deletes their rows in
        the obj tables (sources, candidates, photometry, ...); deleting GCN events or
        localizations also deletes their localizations and pixels."""
        if table not in DELETABLE:
            raise CacheError(f"delete_rows: unknown table {table!r}; one of {sorted(DELETABLE)}")
        columns = DELETABLE[table]
        rows = [_key_tuple(k, columns, table) for k in keys]
        if not rows:
            return 0
        key_table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
        self._con.register("_wb_keys", key_table)
        try:
            if table == "objs":
                for child in OBJ_CHILDREN:
                    self._con.execute(
                        f"DELETE FROM {child} WHERE obj_id IN (SELECT id FROM _wb_keys)"
                    )
            if table in ("gcn_events", "localizations"):
                on = " AND ".join(f"t.{c} = k.{c}" for c in columns)
                for child in ("localization_pixels", "localizations")[
                    : 2 if table == "gcn_events" else 1
                ]:
                    self._con.execute(f"DELETE FROM {child} t USING _wb_keys k WHERE {on}")
            on = " AND ".join(f't."{c}" = k."{c}"' for c in columns)
            return self._con.execute(
                f"DELETE FROM {table} t USING _wb_keys k WHERE {on}"
            ).fetchall()[0][0]
        finally:
            self._con.unregister("_wb_keys")

    # -- sync checkpoints -----------------------------------------------------------------
    def set_sync_state(self, resource: str, scope: str = "", **fields: Any) -> None:
        """Create or update the checkpoint of ``(resource, scope)``. Known fields: watermark
        and pass_started_at (timestamps), last_page, total_matches (ints), pass_id, status,
        error (text; secrets redacted), counts (JSON); any other field is kept in ``extra``.
        Fields not given keep their stored value; ``None`` clears one."""
        if not isinstance(resource, str) or not resource:
            raise CacheError("set_sync_state: resource must be a non-empty string")
        if not isinstance(scope, str):
            raise CacheError(f"set_sync_state: scope must be a string, got {scope!r}")
        current = self.get_sync_state(resource, scope) or {}
        extra = {
            k: v
            for k, v in current.items()
            if k not in _SYNC_FIELDS and k not in ("resource", "scope", "updated_at")
        }
        values = {k: current.get(k) for k in _SYNC_FIELDS}
        for key, value in fields.items():
            if key in _SYNC_FIELDS:
                values[key] = value
            else:
                extra[key] = value
        try:
            row = [_sync_value(k, values[k]) for k in _SYNC_FIELDS]
        except (CacheError, TypeError, ValueError) as exc:
            raise CacheError(f"set_sync_state({resource!r}): {exc}") from exc
        self._con.execute(
            f"INSERT OR REPLACE INTO sync_state (resource, scope, {', '.join(_SYNC_FIELDS)}, "
            f"extra, updated_at) VALUES (?, ?, {', '.join('?' * len(_SYNC_FIELDS))}, ?, ?)",
            [resource, scope, *row, dumps(extra).decode() if extra else None, self._now],
        )

    def get_sync_state(self, resource: str, scope: str = "") -> dict[str, Any] | None:
        """The checkpoint of ``(resource, scope)`` as a dict, or ``None``."""
        cur = self._con.execute(
            "SELECT * FROM sync_state WHERE resource = ? AND scope = ?", [resource, scope]
        )
        rows = cur.fetchall()
        return sync_row(rows[0], [d[0] for d in cur.description]) if rows else None

    # -- outbox ---------------------------------------------------------------------------
    def enqueue(self, kind: str, payload: Mapping[str, Any]) -> int:
        """Queue an action for the server; its id. Do the action's local effect in the same
        transaction, so both happen or neither does."""
        if not isinstance(kind, str) or not kind.strip():
            raise OutboxError("enqueue: the action kind must be a non-empty string")
        body = _payload_json(payload, f"enqueue({kind!r})")
        return self._con.execute(
            "INSERT INTO outbox (kind, payload, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "RETURNING id",
            [kind, body, self._now, self._now],
        ).fetchall()[0][0]

    def update_action(
        self,
        action_id: int,
        *,
        status: str | None = None,
        attempts: int | None = None,
        last_error: Any = ...,
        remote_id: Any = ...,
        payload: Mapping | None = None,
    ) -> None:
        """Change an outbox action: status (one of ``OUTBOX_STATUSES``), attempts,
        last_error (redacted), remote_id, payload. Unnamed fields keep their value."""
        sets, params = [], []
        if status is not None:
            if status not in OUTBOX_STATUSES:
                raise OutboxError(
                    f"update_action: status {status!r} is not one of {OUTBOX_STATUSES}"
                )
            sets.append("status = ?")
            params.append(status)
        if attempts is not None:
            if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
                raise OutboxError(f"update_action: attempts must be an int >= 0, got {attempts!r}")
            sets.append("attempts = ?")
            params.append(attempts)
        if last_error is not ...:
            sets.append("last_error = ?")
            params.append(None if last_error is None else redact(str(last_error)))
        if remote_id is not ...:
            sets.append("remote_id = ?")
            params.append(None if remote_id is None else str(remote_id))
        if payload is not None:
            sets.append("payload = ?")
            params.append(_payload_json(payload, f"update_action({action_id})"))
        found = self._con.execute(
            f"UPDATE outbox SET {', '.join([*sets, 'updated_at = ?'])} WHERE id = ? RETURNING id",
            [*params, self._now, action_id],
        ).fetchall()
        if not found:
            raise OutboxError(f"update_action: there is no outbox action #{action_id}")

    # -- vetting --------------------------------------------------------------------------
    def record_vetting(
        self,
        obj_id: str,
        decision: str,
        *,
        group_ids: Iterable[int] | None = None,
        note: str | None = None,
        action_id: int | None = None,
    ) -> int:
        """Record a local vetting decision (save/reject/skip/undo) on a candidate; its id."""
        if not isinstance(obj_id, str) or not obj_id:
            raise CacheError("record_vetting: give the candidate's obj id")
        if decision not in VETTING_DECISIONS:
            raise CacheError(
                f"record_vetting: decision {decision!r} is not one of {VETTING_DECISIONS}"
            )
        groups = None if group_ids is None else [int(g) for g in group_ids]
        return self._con.execute(
            "INSERT INTO vetting (obj_id, decision, group_ids, note, action_id, decided_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [
                obj_id,
                decision,
                None if groups is None else orjson.dumps(groups).decode(),
                note,
                action_id,
                self._now,
            ],
        ).fetchall()[0][0]


_WORD = re.compile(r"[A-Za-z0-9._~+/-]{8,}")


def _payload_json(payload: Any, what: str) -> str:
    """An action's payload as JSON, refused if it holds a registered secret (the token)."""
    if not isinstance(payload, Mapping):
        raise OutboxError(f"{what}: the payload must be a JSON object")
    try:
        body = orjson.dumps(dict(payload), option=orjson.OPT_SORT_KEYS).decode()
    except TypeError as exc:
        raise OutboxError(f"{what}: the payload is not JSON: {exc}") from exc
    # Word by word, so only a registered secret counts, not prose such as "token counts".
    if any(redact(word) != word for word in _WORD.findall(body)):
        raise OutboxError(
            f"{what}: the payload contains the API token; actions must never store it"
        )
    return body


def _key_tuple(key: Any, columns: tuple[str, ...], table: str) -> tuple:
    if isinstance(key, Mapping):
        key = tuple(key.get(c) for c in columns)
    elif not isinstance(key, tuple | list):
        key = (key,)
    if len(key) != len(columns):
        raise CacheError(f"delete_rows({table!r}): keys are {columns}, got {key!r}")
    return tuple(utc_naive(v) if c == "dateobs" else v for v, c in zip(key, columns, strict=True))


def _sync_value(field: str, value: Any) -> Any:
    kind = _SYNC_FIELDS[field]
    if value is None:
        return None
    if kind == "ts":
        return utc_naive(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise CacheError(f"{field} must be an integer, got {value!r}")
        return value
    if kind == "json":
        return dumps(value).decode()
    return redact(str(value)) if field == "error" else str(value)
