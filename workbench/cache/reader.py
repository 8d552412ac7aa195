"""Reads on one short-lived DuckDB connection: :class:`Reader` and the query helpers.

Its own module so that ``store`` (the :class:`~workbench.cache.store.Cache`) and ``views``
(the DataFrame accessors it mixes in) both import it and never each other: imports in
``workbench.cache`` point one way, ``store -> views -> reader``.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import CacheError


def _run(con: duckdb.DuckDBPyConnection, query: str, params: Any) -> duckdb.DuckDBPyRelation | None:
    if not isinstance(query, str) or not query.strip():
        raise CacheError("give a SQL query string")
    try:
        return con.sql(query, params=params)
    except duckdb.Error as exc:
        hint = ""
        if "read-only" in str(exc).lower():
            hint = " Reads are read-only: change the cache inside `with cache.write() as tx:`."
        raise CacheError(f"Query failed on the cache: {exc}.{hint}") from exc


def _frame(rel: duckdb.DuckDBPyRelation | None) -> pd.DataFrame:
    try:
        return pd.DataFrame() if rel is None else rel.df()
    except duckdb.Error as exc:
        raise CacheError(f"Query failed on the cache: {exc}") from exc


def _table(rel: duckdb.DuckDBPyRelation | None) -> pa.Table:
    try:
        return pa.table({}) if rel is None else rel.to_arrow_table()
    except duckdb.Error as exc:
        raise CacheError(f"Query failed on the cache: {exc}") from exc


class Reader:
    """Several reads on one short-lived connection (``with cache.read() as r:``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """A query's result as a DataFrame."""
        return _frame(_run(self._con, query, params))

    def arrow(self, query: str, params: list | dict | None = None) -> pa.Table:
        """A query's result as an Arrow table."""
        return _table(_run(self._con, query, params))

    def rows(self, query: str, params: list | dict | None = None) -> list[tuple]:
        """A query's result as a list of tuples (cheapest for a few values)."""
        rel = _run(self._con, query, params)
        try:
            return [] if rel is None else rel.fetchall()
        except duckdb.Error as exc:
            raise CacheError(f"Query failed on the cache: {exc}") from exc

    def latest_learned_model(self, group_id: int) -> dict[str, Any] | None:
        """The newest stored vetting model of a group (a ``learning_models`` row as a
        dict; ``features`` and ``metrics`` still JSON text), or None."""
        rel = _run(
            self._con,
            "SELECT * FROM learning_models WHERE group_id = ? ORDER BY version DESC LIMIT 1",
            [int(group_id)],
        )
        try:
            rows = [] if rel is None else rel.fetchall()
        except duckdb.Error as exc:
            raise CacheError(f"Query failed on the cache: {exc}") from exc
        return dict(zip(rel.columns, rows[0], strict=True)) if rows else None
