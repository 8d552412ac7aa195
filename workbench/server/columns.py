"""A small growable table of numpy columns, the storage of every seeded collection.

Seeding 100,000 sources must take seconds and modest memory, so rows are not dicts:
each field is one numpy array, filters are vectorised masks, and appends (a posted
source, a new classification) grow the arrays geometrically like a list does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


class Columns:
    """Named numpy columns of equal length with amortised O(1) appends."""

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of unequal length: {lengths}")
        self._n = lengths.pop() if lengths else 0
        self._data: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in columns.items()}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, name: str) -> np.ndarray:
        return self._data[name][: self._n]

    def __contains__(self, name: str) -> bool:
        return name in self._data

    @property
    def names(self) -> list[str]:
        """Column names, in creation order."""
        return list(self._data)

    def set(self, name: str, index: int | np.ndarray, value: Any) -> None:
        """Assign ``value`` to rows ``index`` of column ``name``."""
        self._data[name][index] = value

    def row(self, index: int) -> dict[str, Any]:
        """One row as a dict of numpy scalars or objects."""
        return {k: v[index] for k, v in self._data.items()}

    def append(self, rows: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Append rows (missing fields take the column's fill value); return their indices."""
        rows = list(rows)
        start = self._n
        need = start + len(rows)
        self._reserve(need)
        for i, row in enumerate(rows, start):
            for name, column in self._data.items():
                column[i] = row.get(name, _fill(column))
        self._n = need
        return np.arange(start, need)

    def _reserve(self, need: int) -> None:
        for name, column in self._data.items():
            if len(column) >= need:
                continue
            grown = np.empty(max(need, 2 * len(column), 16), dtype=column.dtype)
            grown[: len(column)] = column
            grown[len(column) :] = _fill(column)
            self._data[name] = grown


def _fill(column: np.ndarray) -> Any:
    kind = column.dtype.kind
    if kind == "f":
        return np.nan
    if kind in "iu":
        return 0
    if kind == "b":
        return False
    return None
