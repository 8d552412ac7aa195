"""Getting figures out: standalone HTML files and Jupyter widgets.

HTML files carry Bokeh's JavaScript inline (``bokeh.resources.INLINE``): they open offline,
with no CDN, which matters on a closed network or a plane. A file of one figure is about 1 MB
of BokehJS plus the data.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from bokeh.embed import file_html
from bokeh.model import Model
from bokeh.resources import INLINE

from ..errors import WorkbenchError

__all__ = ["as_widget", "export_html"]


def export_html(obj: Any, path: str | PathLike[str], *, title: str = "SkyPortal Workbench") -> Path:
    """Write a figure or layout (or the ``(figure, sources)`` pair a plot function returns)
    to a standalone HTML file with inline resources; returns the path written."""
    model = _model(obj)
    target = Path(path)
    if not target.parent.is_dir():
        raise WorkbenchError(f"cannot write {target}: the folder {target.parent} does not exist")
    html = file_html(model, resources=INLINE, title=title)
    try:
        target.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise WorkbenchError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def as_widget(obj: Any) -> Any:
    """A figure or layout as an ipywidget (``jupyter_bokeh.BokehModel``), to put inside
    ipywidgets layouts; Python-side changes to its sources show up live."""
    from jupyter_bokeh import BokehModel

    return BokehModel(_model(obj))


def _model(obj: Any) -> Model:
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], Model):
        obj = obj[0]
    if not isinstance(obj, Model):
        raise WorkbenchError(f"expected a Bokeh figure or layout, not {type(obj).__name__}")
    return obj
