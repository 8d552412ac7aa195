"""Annotations as a table: grouped by origin, one row per key/value, sortable, searchable.

An annotation (SkyPortal's ``/api/sources/{id}/annotations``) has an ``origin`` (the
pipeline or person that wrote it), ``data`` (a JSON object; the cache may hold it as text),
an ``author`` and ``created_at``. Nested objects are flattened to dotted keys
(``{"ps1": {"r": 19.2}}`` gives ``ps1.r``). Every text from the server is escaped.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

__all__ = ["AnnotationRow", "AnnotationsTable", "annotation_rows", "format_value", "table_html"]

SORT_KEYS = ("origin", "key", "value")


@dataclass(frozen=True)
class AnnotationRow:
    """One key/value of one annotation; ``number`` is the value as a float when it is one
    (numbers sort numerically, before text)."""

    origin: str
    key: str
    value: Any
    text: str
    number: float | None
    author: str
    created_at: str


def format_value(value: Any) -> str:
    """A value as shown: floats to 4 significant digits, booleans yes/no, lists joined,
    missing values empty."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else f"{float(value):.4g}"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _flatten(data: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and value:
                yield from _flatten(value, name)
            else:
                yield name, value
    else:
        yield prefix or "value", data


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def annotation_rows(frame: pd.DataFrame | None) -> list[AnnotationRow]:
    """Every key/value of every annotation in ``frame`` (columns ``origin``, ``data`` (a
    dict or JSON text), optionally ``author``/``author_name`` and ``created_at``)."""
    if frame is None or frame.empty or "data" not in frame:
        return []
    rows = []
    for record in frame.to_dict("records"):
        data = record.get("data")
        if isinstance(data, str):
            with contextlib.suppress(ValueError):  # not JSON: shown as the text it is
                data = json.loads(data)
        author = record.get("author_name", record.get("author"))
        if isinstance(author, dict):
            author = author.get("username", "")
        origin, created = _text(record.get("origin")), _text(record.get("created_at"))
        for key, value in _flatten(data):
            rows.append(
                AnnotationRow(
                    origin=origin or "?",
                    key=key,
                    value=value,
                    text=format_value(value),
                    number=_number(value),
                    author=_text(author),
                    created_at=created,
                )
            )
    return rows


def _matches(row: AnnotationRow, query: str) -> bool:
    return any(query in part.lower() for part in (row.key, row.text, row.origin))


def _order(rows: list[AnnotationRow], sort: str, descending: bool) -> list[AnnotationRow]:
    if sort == "value":
        # numbers first (numerically), then text, in either direction
        numbers = sorted(
            (r for r in rows if r.number is not None), key=lambda r: r.number, reverse=descending
        )
        texts = sorted(
            (r for r in rows if r.number is None), key=lambda r: r.text.lower(), reverse=descending
        )
        return numbers + texts
    if sort == "key":
        return sorted(rows, key=lambda r: r.key.lower(), reverse=descending)
    return sorted(rows, key=lambda r: r.key.lower())


def table_html(
    rows: list[AnnotationRow],
    *,
    sort: str = "origin",
    descending: bool = False,
    query: str = "",
) -> str:
    """The rows matching ``query`` (case-insensitive, in keys, values and origins) as an
    HTML table, one block per origin; ``sort`` (origin, key or value) orders the origins
    (by origin) or the rows within each origin."""
    if sort not in SORT_KEYS:
        from workbench.errors import WorkbenchError

        raise WorkbenchError(f"sort must be one of {SORT_KEYS}, not {sort!r}")
    query = (query or "").strip().lower()
    shown = [r for r in rows if _matches(r, query)] if query else list(rows)
    if not rows:
        return "<i>no annotation</i>"
    if not shown:
        return f"<i>no annotation matches {html.escape(query)}</i>"
    groups: dict[str, list[AnnotationRow]] = {}
    for row in shown:
        groups.setdefault(row.origin, []).append(row)
    origins = sorted(groups, key=str.lower, reverse=descending and sort == "origin")
    body = []
    for origin in origins:
        members = _order(groups[origin], sort, descending)
        first = members[0]
        who = " · ".join(html.escape(x) for x in (first.author, first.created_at) if x)
        body.append(
            "<tr class='wb-annotation-origin'><th colspan='2' style='text-align:left;"
            f"background:#eef2f7'>{html.escape(origin)}"
            f"<span style='font-weight:normal;color:#666'>{' · ' + who if who else ''}"
            f" ({len(members)})</span></th></tr>"
        )
        body += [
            f"<tr class='wb-annotation'><td style='text-align:left'>{html.escape(r.key)}</td>"
            f"<td style='text-align:right;font-family:monospace'>{html.escape(r.text)}</td></tr>"
            for r in members
        ]
    return (
        "<table class='wb-annotations' style='border-collapse:collapse'>"
        "<tr><th style='text-align:left'>key</th><th style='text-align:right'>value</th></tr>"
        f"{''.join(body)}</table>"
    )


class AnnotationsTable:
    """A candidate's annotations as a searchable, sortable table (an ipywidget).

    ``widget`` holds a search box (``search``: filters keys, values and origins as you
    type), a ``sort`` dropdown (origin, key, value), a ``descending`` checkbox, a count
    line and the table (``table``). ``show(frame)`` puts another object's annotations in.
    """

    def __init__(self) -> None:
        self.rows: list[AnnotationRow] = []
        self.search = w.Text(
            placeholder="search keys, values, origins",
            continuous_update=True,
            layout=w.Layout(width="16em"),
        )
        self.sort = w.Dropdown(
            description="sort by",
            options=[(k, k) for k in SORT_KEYS],
            value="origin",
            layout=w.Layout(width="12em"),
            style={"description_width": "4em"},
        )
        self.descending = w.Checkbox(description="descending", value=False, indent=False)
        self.count = w.HTML()
        self.table = w.HTML(layout=w.Layout(max_height="22em", overflow="auto"))
        for control in (self.search, self.sort, self.descending):
            control.observe(lambda _change: self._render(), names="value")
        self.widget = w.VBox(
            [w.HBox([self.search, self.sort, self.descending, self.count]), self.table]
        )
        self._render()

    def show(self, frame: pd.DataFrame | None) -> None:
        """Show these annotations (search text and sort order are kept)."""
        self.rows = annotation_rows(frame)
        self._render()

    def _render(self) -> None:
        query = self.search.value
        value = table_html(
            self.rows, sort=self.sort.value, descending=self.descending.value, query=query
        )
        q = query.strip().lower()
        n_shown = sum(_matches(r, q) for r in self.rows) if q else len(self.rows)
        count = f"{n_shown} of {len(self.rows)}" if q else f"{len(self.rows)} values"
        # Only changed values are sent to the browser.
        if self.table.value != value:
            self.table.value = value
        count_html = f"<span style='color:#666'>{count}</span>"
        if self.count.value != count_html:
            self.count.value = count_html
