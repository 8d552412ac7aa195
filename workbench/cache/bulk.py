"""Bulk upserts: records -> Arrow columns -> a staged page -> DELETE + INSERT of what changed.

The path was chosen by ``benchmarks/bench_ingest.py``: build each typed column in Python
(one list comprehension per column, numpy for timestamps), hand DuckDB one Arrow table per
page, compare a 64-bit hash of each record's canonical JSON (sorted keys) with the stored
one, and rewrite only the rows that are new or changed. ``INSERT OR REPLACE`` and
``executemany`` measured far slower (see the benchmark).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress, repeat
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from ..errors import CacheError
from .tables import Col, TableSpec

_DUMPS_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> bytes:
    """Canonical JSON (sorted keys) of a record: equal records give equal bytes."""
    try:
        return orjson.dumps(value, option=_DUMPS_OPTS)
    except TypeError as exc:
        raise CacheError(
            f"A record cannot be stored as JSON: {exc}; pass plain JSON values."
        ) from exc


def hash64(data: bytes) -> int:
    """A stable unsigned 64-bit digest (BLAKE2b), the same across runs and versions."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def utc_naive(value: Any) -> datetime | None:
    """A timestamp as naive UTC: ISO strings (naive means UTC) and datetimes accepted."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise CacheError(f"{value!r} is not an ISO-8601 timestamp") from exc
    if not isinstance(value, datetime):
        raise CacheError(f"{value!r} is not a timestamp (expected an ISO-8601 string)")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _ts_array(values: list) -> pa.Array:
    if all(v is None or type(v) is str for v in values):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy's note that it applied a UTC offset
                return pa.array(np.array(values, dtype="datetime64[us]"), from_pandas=True)
        except ValueError:
            pass  # a malformed one: the slow path below names it
    return pa.array([utc_naive(v) for v in values], pa.timestamp("us"))


def _coerce(kind: str, value: Any) -> Any:
    """The slow, per-value path for a column whose fast conversion failed."""
    if value is None:
        return None
    if kind == "str":
        return value if isinstance(value, str) else str(value)
    if kind == "bool":
        return bool(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise CacheError(f"{value!r} is not a number")
        return float(value)
    if kind in ("int", "hash"):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise CacheError(f"{value!r} is not an integer")
        return int(value)
    if kind == "floats":
        return [None if v is None else float(v) for v in value]
    if kind == "blob":
        return bytes(value)
    raise CacheError(f"cannot convert {value!r}")


_ARROW = {
    "str": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "floats": pa.list_(pa.float64()),
    "blob": pa.binary(),
    "hash": pa.uint64(),
}


def column_array(col: Col, values: list, table: str) -> pa.Array:
    """One Arrow column of ``table`` from Python values, converted to the column's kind."""
    try:
        if col.kind == "ts":
            return _ts_array(values)
        if col.kind == "json":
            return pa.array(
                [
                    None if v is None else orjson.dumps(v, option=_DUMPS_OPTS).decode()
                    for v in values
                ],
                pa.string(),
            )
        try:
            return pa.array(values, _ARROW[col.kind])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            return pa.array([_coerce(col.kind, v) for v in values], _ARROW[col.kind])
    except (CacheError, pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        detail = exc.message if isinstance(exc, CacheError) else str(exc)
        raise CacheError(
            f"Cannot store column {table}.{col.name}: {detail}. The records must be the "
            f"server's JSON as SkyPortal returns it."
        ) from exc


@dataclass
class Page:
    """One page of rows for a table: what :func:`merge_page` stages.

    ``raws`` are the dicts stored as ``raw`` JSON (and, unless overridden, where typed
    values are looked up by column name); ``values`` override or add typed columns;
    ``carry`` flags rows that keep the stored values of ``spec.carry`` columns.
    """

    spec: TableSpec
    raws: list[dict]
    values: dict[str, list] = field(default_factory=dict)
    carry: list[bool] | None = None
    extra_hash: list[int] | None = None
    #: the stored ``raw_hash`` (0 when null) of every stored row of the page, by key, when
    #: already read (a merged page reads the stored rows anyway); ``None``: look it up
    stored_hashes: dict[tuple, int] | None = None

    def column(self, name: str) -> list:
        if name in self.values:
            return self.values[name]
        try:  # the loop in C: ~2x a comprehension, for ~30 columns of every record
            return list(map(dict.get, self.raws, repeat(name)))
        except TypeError:  # a Mapping that is not a dict
            return [r.get(name) for r in self.raws]


@dataclass
class Outcome:
    """What one staged page did to its table; ``changed`` holds the ``track`` values
    (usually obj ids) of rows that were inserted, rewritten or deleted."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    changed: set = field(default_factory=set)


def key_values(page: Page) -> list[tuple]:
    """Each row's primary key, checked for presence."""
    cols = [page.column(k) for k in page.spec.keys]
    keys = list(zip(*cols, strict=True))
    if not any(None in col or "" in col for col in cols):  # membership tests run in C
        return keys
    for i, key in enumerate(keys):
        if any(v is None or v == "" for v in key):
            raise CacheError(
                f"Record #{i} for {page.spec.name} has no {'/'.join(page.spec.keys)}: "
                f"pass the server's records as returned (got keys {sorted(page.raws[i])[:12]})."
            )
    return keys


def dedupe(page: Page) -> Page:
    """Keep the last row of each key (a page can repeat a record the server shifted)."""
    keys = key_values(page)
    last = {k: i for i, k in enumerate(keys)}
    if len(last) == len(keys):
        return page
    keep = sorted(last.values())
    pick: Callable[[list], list] = lambda xs: [xs[i] for i in keep]  # noqa: E731
    return Page(
        page.spec,
        pick(page.raws),
        {k: pick(v) for k, v in page.values.items()},
        pick(page.carry) if page.carry else None,
        pick(page.extra_hash) if page.extra_hash else None,
        page.stored_hashes,
    )


def to_arrow(page: Page) -> pa.Table:
    """The page as an Arrow table with the spec's columns, ``raw`` and ``raw_hash``."""
    spec = page.spec
    arrays = {c.name: column_array(c, page.column(c.name), spec.name) for c in spec.cols}
    hashes: list[int] = []
    if spec.lean:
        hashes = [hash64(dumps(r)) for r in page.raws]
        arrays["raw"] = _utf8_array(_lean_raws(page))
    else:
        arrays["raw"] = _utf8_array(_hashed(page.raws, hashes))
    if page.extra_hash:
        hashes = [
            hash64(h.to_bytes(8, "little") + e.to_bytes(8, "little"))
            for h, e in zip(hashes, page.extra_hash, strict=True)
        ]
    arrays["raw_hash"] = pa.array(hashes, pa.uint64())
    if spec.carry:
        arrays["_carry"] = pa.array(page.carry or [False] * len(hashes), pa.bool_())
    return pa.table(arrays)


def _hashed(records: list[dict], hashes: list[int]) -> Iterator[bytes]:
    """Each record's canonical JSON, its hash appended to ``hashes`` on the way."""
    for record in records:
        blob = dumps(record)
        hashes.append(hash64(blob))
        yield blob


def _utf8_array(blobs: Iterable[bytes], chunk: int = 1024) -> pa.Array:
    """One Arrow string array from UTF-8 byte strings, joined ``chunk`` at a time.

    orjson's result holds a 4 KB allocation however short the JSON is: a list of them
    cost ~12 KB a photometry point (1 GB for a 73,000-point window) before this; a
    chunk's worth is joined (compactly) and let go.
    """
    parts: list[bytes] = []
    lengths: list[int] = []
    batch: list[bytes] = []
    for blob in blobs:
        batch.append(blob)
        if len(batch) == chunk:
            lengths.extend(map(len, batch))
            parts.append(b"".join(batch))
            batch = []
    lengths.extend(map(len, batch))
    parts.append(b"".join(batch))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.large_string(),
        len(lengths),
        [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(parts))],
    )


def _lean_raws(page: Page) -> Iterator[bytes]:
    """Each record's JSON without the keys a typed column already holds (photometry: ~100
    points a source, so the full JSON next to the typed columns doubled the table).

    A key is left out when its column was built from this very value, or when a derived
    column (``page.values``) came out equal to it; a value the row builder changed (say a
    flux rescaled to zp 23.9) stays in ``raw`` as the server sent it.
    """
    typed = {c.name for c in page.spec.cols}
    derived = page.values
    for i, record in enumerate(page.raws):
        rest = {}
        for key, value in record.items():
            if key in typed:
                if key not in derived:
                    continue
                held = derived[key][i]
                if held is value or (value is not None and held == value):
                    continue
            rest[key] = value
        yield dumps(rest)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_stored(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    keys: Iterable[tuple],
    extra: tuple[str, ...] = (),
) -> dict[tuple, tuple]:
    """Stored ``(raw, *extra)`` of the rows with these keys (for merging partial records)."""
    keys = list(keys)
    if not keys:
        return {}
    first = spec.keys[0]
    cols = ", ".join(_q(c) for c in (*spec.keys, "raw", *extra))
    values = sorted({k[0] for k in keys})
    # Which are stored at all, from the key column alone (a first sync: none, and then
    # no stored JSON is read); only those are looked up below.
    values = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT {_q(first)} FROM {spec.name} WHERE {_q(first)} IN (SELECT unnest(?))",
            [values],
        ).fetchall()
    ]
    if not values:
        return {}
    values.sort()
    rows = []
    if isinstance(values[0], str):
        # text keys: a literal IN list probes the primary-key index (measured 2-4x faster
        # than a join on a large table, whose scan reads every stored raw JSON)
        for i in range(0, len(values), 1000):
            chunk = values[i : i + 1000]
            rows += con.execute(
                f"SELECT {cols} FROM {spec.name} WHERE {_q(first)} IN "
                f"({', '.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
    else:
        rows = con.execute(
            f"SELECT {cols} FROM {spec.name} WHERE {_q(first)} IN (SELECT unnest(?))", [values]
        ).fetchall()
    n = len(spec.keys)
    wanted = set(keys)
    return {tuple(r[:n]): r[n:] for r in rows if tuple(r[:n]) in wanted}


def merge_page(
    con: duckdb.DuckDBPyConnection,
    page: Page,
    *,
    now: datetime,
    scope: tuple[str, list] | None = None,
    track: str | None = None,
    scope_stored: Iterable | None = None,
) -> Outcome:
    """Write one page into its table; count new/updated/unchanged rows.

    Rows whose ``raw_hash`` equals the stored one are left alone; new and changed rows are
    written with one ``INSERT`` (``INSERT OR REPLACE`` when some were stored: faster than
    DELETE + INSERT here, as no column is a VARCHAR[]). With ``scope=(column, values)`` the
    page is the complete set for those values: other stored rows with them are deleted;
    ``scope_stored``, when the caller already read it, holds the scope values that have
    stored rows (a superset is fine), so they are not looked up again.
    """
    spec = page.spec
    page = dedupe(page)
    out = Outcome()
    table = to_arrow(page) if page.raws else None
    if table is not None:
        n = table.num_rows
        table = table.append_column("_row", pa.array(np.arange(n, dtype=np.int64)))
        con.register("_wb_in", table)
    try:
        write = None
        if table is not None:
            hashes = table.column("raw_hash").to_numpy()
            if page.stored_hashes is not None:  # read with the stored JSON: no query
                stored = page.stored_hashes
                if stored:
                    olds = [stored.get(k) for k in key_values(page)]
                    is_new = np.fromiter((o is None for o in olds), bool, n)
                    old_hashes = np.fromiter((o or 0 for o in olds), np.uint64, n)
                else:  # none stored (a first sync)
                    is_new, old_hashes = np.ones(n, bool), np.zeros(n, np.uint64)
            else:
                old = _old_hashes(con, spec)
                is_new = old.is_null().to_numpy(zero_copy_only=False)
                old_hashes = old.fill_null(0).to_numpy()
            differs = ~is_new & (old_hashes != hashes)
            write = is_new | differs
            out.new, out.updated = int(is_new.sum()), int(differs.sum())
            out.unchanged = n - out.new - out.updated
            if track:
                out.changed.update(compress(page.column(track), write))  # in C
        # Deleting before writing touches only rows the page does not have, so it can skip
        # scopes with nothing stored (every new obj of a first sync) before this page lands.
        if scope is not None and scope[1]:
            out.deleted = _delete_outside(con, spec, page, scope, track, out.changed, scope_stored)
        if write is not None and (out.new or out.updated):
            _write_changed(con, spec, out, now, None if write.all() else table.filter(write))
    finally:
        if table is not None:
            con.unregister("_wb_in")
    return out


def _old_hashes(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> pa.ChunkedArray:
    """The stored ``raw_hash`` of each row of ``_wb_in``, in its order: null when the
    row is not stored, 0 when it is but has no hash (an image put before its metadata)."""
    on = " AND ".join(f"s.{_q(k)} = t.{_q(k)}" for k in spec.keys)
    # One query instead of a staged temp table and a count over it: three statements
    # a table cost more than the rows when pages are small.
    return (
        con.sql(
            f"SELECT CASE WHEN t.{_q(spec.keys[0])} IS NOT NULL THEN coalesce(t.raw_hash, 0) "
            f"END AS _old FROM _wb_in s LEFT JOIN {spec.name} t ON {on} ORDER BY s._row"
        )
        .to_arrow_table()
        .column("_old")
    )


def _write_changed(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    out: Outcome,
    now: datetime,
    rows: pa.Table | None,
) -> None:
    """INSERT the new and changed rows: ``rows``, or all of ``_wb_in`` when ``None``."""
    source = "_wb_in"
    if rows is not None:
        con.register("_wb_write", rows)
        source = "_wb_write"
    try:
        names = spec.names
        select = [f"s.{_q(c)}" for c in names]
        join_old = ""
        if spec.carry and out.updated:
            on = " AND ".join(f"s.{_q(k)} = t.{_q(k)}" for k in spec.keys)
            kept = ", ".join(f"t.{_q(c)}" for c in (*spec.keys, *spec.carry))
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _wb_old AS SELECT {kept} FROM {spec.name} t "
                f"JOIN {source} s ON {on} WHERE s._carry"
            )
            select = [
                f"CASE WHEN s._carry THEN o.{_q(c)} ELSE s.{_q(c)} END"
                if c in spec.carry
                else f"s.{_q(c)}"
                for c in names
            ]
            join_old = "LEFT JOIN _wb_old o ON " + " AND ".join(
                f"s.{_q(k)} = o.{_q(k)}" for k in spec.keys
            )
        cols = [*names, "cached_at"]
        select.append("$now")
        if spec.local_rows:  # the server's version of a row replaces a queued local one
            cols.append("action_id")
            select.append("NULL")
        # only new rows: a plain INSERT skips the conflict check of INSERT OR REPLACE
        verb = "INSERT OR REPLACE" if out.updated else "INSERT"
        con.execute(
            f"{verb} INTO {spec.name} ({', '.join(_q(c) for c in cols)}) "
            f"SELECT {', '.join(select)} FROM {source} s {join_old}",
            {"now": now},
        )
    finally:
        if rows is not None:
            con.unregister("_wb_write")


def _delete_outside(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    page: Page,
    scope: tuple[str, list],
    track: str | None,
    changed: set,
    stored: Iterable | None = None,
) -> int:
    column, values = scope
    # Only values that have stored rows (a first sync: none, and no DELETE runs at all).
    if stored is not None:
        wanted = set(values)
        values = [v for v in stored if v in wanted]
    else:
        values = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT {_q(column)} FROM {spec.name} WHERE {_q(column)} IN "
                f"(SELECT unnest(?))",
                [list(values)],
            ).fetchall()
        ]
    if not values:
        return 0
    keep = ""
    if page.raws:
        on = " AND ".join(f"s.{_q(k)} = t.{_q(k)}" for k in spec.keys)
        keep = f" AND NOT EXISTS (SELECT 1 FROM _wb_in s WHERE {on})"
    if spec.local_rows:
        keep += " AND t.action_id IS NULL"  # an action not yet on the server stays visible
    returning = f" RETURNING {_q(track)}" if track else ""
    rows = con.execute(
        f"DELETE FROM {spec.name} t WHERE {_q(column)} IN (SELECT unnest(?)){keep}{returning}",
        [list(values)],
    ).fetchall()
    if track:
        changed.update(r[0] for r in rows)
        return len(rows)
    return rows[0][0] if rows else 0
