"""What every plot function shares: the returned sources mapping, column checks, a figure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from ..errors import WorkbenchError

# Above this many drawn points a figure uses WebGL, which keeps panning smooth in a notebook.
WEBGL_ABOVE = 2000


class PlotSources(dict[str, ColumnDataSource]):
    """The ``ColumnDataSource`` objects behind a figure, by name; change ``source.data`` in place
    to update the figure.

    ``full`` holds the exact, undecimated data as DataFrames (never sent to the browser), and
    ``models`` the other models a caller may want to drive (a slider, spans, renderers).
    """

    def __init__(self) -> None:
        super().__init__()
        self.full: dict[str, pd.DataFrame] = {}
        self.models: dict[str, Any] = {}


def require_columns(df: Any, columns: Iterable[str], what: str) -> pd.DataFrame:
    """``df`` as a DataFrame, refused with the missing columns named when it lacks any."""
    if not isinstance(df, pd.DataFrame):
        raise WorkbenchError(f"{what} must be a pandas DataFrame, not {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise WorkbenchError(
            f"{what} lacks the column(s) {missing}; it has {list(df.columns)[:20]}"
        )
    return df


def new_figure(*, title: str | None, width: int, height: int, n_points: int = 0, **kw: Any) -> Any:
    """A figure with the workbench's defaults (tools, WebGL for large data, no logo)."""
    fig = figure(
        title=title,
        width=width,
        height=height,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        active_scroll="wheel_zoom",
        output_backend="webgl" if n_points > WEBGL_ABOVE else "canvas",
        **kw,
    )
    fig.toolbar.logo = None
    return fig


def empty_note(fig: Any, text: str) -> None:
    """Write ``text`` in the middle of an empty figure, so an empty plot says why."""
    from bokeh.models import Label

    fig.add_layout(
        Label(
            x=0.5 * fig.width,
            y=0.5 * fig.height,
            x_units="screen",
            y_units="screen",
            text=text,
            text_align="center",
            text_color="#666666",
        )
    )
