"""What every panel shares: an error area for callbacks, group choices, safe HTML tables.

A widget callback that raises inside Jupyter is printed to the kernel's log, not to the
notebook: the user clicks and nothing happens. Every panel therefore routes its callbacks
through :meth:`ErrorArea.guard`, which shows the message (already free of the token, as
every :class:`~workbench.errors.WorkbenchError` is) in an ``Output`` under the panel.
"""

from __future__ import annotations

import functools
import html
import json
import struct
import traceback
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.redact import redact

# Statuses an outbox action moves through (see workbench.outbox); "failed" is the schema's
# older name for an action the server refused.
OUTBOX_STATUSES = ("pending", "sending", "unknown", "sent", "rejected", "failed", "dropped")
STATUS_COLOURS = {
    "pending": "#b26b00",
    "sending": "#b26b00",
    "unknown": "#8a4baf",
    "sent": "#2e7d32",
    "rejected": "#c62828",
    "failed": "#c62828",
    "dropped": "#777777",
}


class ErrorArea:
    """An ``Output`` that shows what went wrong in a callback, and keeps the messages.

    ``messages`` holds every message shown (newest last), so tests and notebooks can read
    them; ``clear()`` empties the area, as the next callback that succeeds does.
    """

    def __init__(self) -> None:
        self.output = w.Output(layout=w.Layout(max_height="12em", overflow="auto"))
        self.messages: list[str] = []

    def show(self, message: str) -> None:
        """Add a message (redacted) to the area."""
        text = redact(message)
        self.messages.append(text)
        self.output.append_stderr(text.rstrip("\n") + "\n")

    def clear(self) -> None:
        self.messages.clear()
        # Setting the trait works with or without a kernel (clear_output() needs one).
        self.output.outputs = ()

    def guard(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a callback so that any exception it raises is shown here, never lost.

        Workbench errors show their message alone (it says what to do); anything else is a
        bug, shown with its traceback so it can be reported.
        """

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                result = func(*args, **kwargs)
            except WorkbenchError as exc:
                self.show(f"{type(exc).__name__}: {exc}")
            except Exception as exc:
                detail = "".join(traceback.format_exception(exc))
                self.show(f"Unexpected {type(exc).__name__} (please report it):\n{detail}")
            else:
                if self.messages:  # a stale error must not stay through later successes
                    self.clear()
                return result
            return None

        return wrapper


def group_options(wb: Any) -> list[tuple[str, int]]:
    """``(name, id)`` pairs for the cached groups (names, not ids), single-user groups last."""
    groups = wb.groups()
    if groups.empty:
        return []
    if "single_user_group" in groups:
        single = groups["single_user_group"].fillna(False).astype(bool)
        groups = groups.assign(_single=single).sort_values(["_single", "name"])
    else:
        groups = groups.sort_values("name")
    names = groups["name"].fillna("").astype(str)
    twice = set(names[names.duplicated()])  # the id tells apart groups of the same name
    return [
        (name if name and name not in twice else f"{name} (#{int(gid)})", int(gid))
        for name, gid in zip(names, groups["id"], strict=True)
    ]


def as_id_list(values: Iterable[Any] | None) -> list[int]:
    """Integer ids from a widget value or a user argument; refuses what is not an id."""
    if values is None:
        return []
    if isinstance(values, int | str):
        values = [values]
    out = []
    for value in values:
        try:
            out.append(int(value))
        except (TypeError, ValueError) as exc:
            raise WorkbenchError(f"group ids must be integers, not {value!r}") from exc
    return out


def json_value(value: Any) -> Any:
    """A JSON column's value as Python (DuckDB returns JSON as text)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def html_table(
    frame: pd.DataFrame, columns: Sequence[str], *, empty: str, max_rows: int = 20
) -> str:
    """A small HTML table of ``columns`` (those present), every cell escaped.

    Text comes from the server (comments, annotation values): it is escaped so that a
    comment cannot inject markup or script into the notebook.
    """
    if frame is None or frame.empty:
        return f"<i>{html.escape(empty)}</i>"
    present = [c for c in columns if c in frame.columns]
    head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in present)
    rows = []
    for _, row in frame.head(max_rows).iterrows():
        cells = "".join(f"<td>{html.escape(format_cell(row[c]))}</td>" for c in present)
        rows.append(f"<tr>{cells}</tr>")
    more = len(frame) - max_rows
    tail = f"<div><i>... and {more} more</i></div>" if more > 0 else ""
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{tail}"


def format_cell(value: Any) -> str:
    """A compact text form of one cell: floats to 4 significant digits, JSON flattened."""
    value = json_value(value)
    if value is None or (not isinstance(value, list | tuple | dict) and _is_missing(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_cell(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(v) for v in value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays: never "missing" as a whole
        return False


def status_badges(counts: dict[str, int]) -> str:
    """HTML badges ``pending 2 · sent 5 · rejected 1`` for the outbox counts."""
    parts = []
    for status in OUTBOX_STATUSES:
        n = int(counts.get(status, 0))
        if n and status != "dropped":
            colour = STATUS_COLOURS[status]
            parts.append(f"<span style='color:{colour}'><b>{status}</b> {n}</span>")
    return " · ".join(parts) if parts else "<i>outbox empty</i>"


def placeholder_png(size: int = 63) -> bytes:
    """A plain grey square PNG, shown where a cutout is missing from the cache."""
    raw = b"".join(b"\x00" + b"\xd0" * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PLACEHOLDER_PNG = placeholder_png()


class Panel:
    """What every panel is: a workbench, an error area, and one root widget to display.

    Subclasses build their widgets in ``__init__`` (never at class level, so two panels
    never share state) and put the root in ``self.widget``. A panel displays itself in a
    notebook like any widget.
    """

    widget: w.Widget

    def __init__(self, wb: Any) -> None:
        if wb is None or not hasattr(wb, "outbox"):
            raise WorkbenchError(
                "a panel needs a Workbench: wb = Workbench.open(...), then Panel(wb)"
            )
        self.wb = wb
        self.errors = ErrorArea()
        self.message = w.HTML()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def say(self, text: str) -> None:
        """Show a one-line status message (escaped) under the panel's controls."""
        self.message.value = html.escape(redact(text))

    def close(self) -> None:
        """Close every widget of the panel (frees them in the browser and the kernel)."""
        close_tree(self.widget)


def close_tree(widget: Any) -> None:
    """Close a widget and, first, every widget below it.

    A ``BokehModel`` is left to the garbage collector: its ``__del__`` closes it again, and
    jupyter_bokeh's ``close()`` fails (``KeyError``) when called a second time.
    """
    for child in getattr(widget, "children", ()) or ():
        close_tree(child)
    if isinstance(widget, w.Widget) and type(widget).__name__ != "BokehModel":
        widget.close()
