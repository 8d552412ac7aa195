"""ipywidgets panels over the workbench cache: vetting, classification, crossmatch, plots.

Panels read the cache and write to the outbox through the :class:`workbench.Workbench`
facade; they never make HTTP requests themselves. Each displays itself in a notebook::

    from widgets import VettingPanel
    panel = VettingPanel(wb, group_ids=[3])   # keys: s r n b u c m ? (widgets.keys)
    panel                                     # then panel.report(): the session's actions

Errors raised in a panel's callbacks are shown in the panel (``panel.errors``), not lost.
"""

from __future__ import annotations

from .classification import ClassificationPanel
from .crossmatch import CrossmatchPanel
from .outbox import OutboxPanel, OutboxStrip
from .vetting import VettingPanel
from .viewer import ObjectViewer

__all__ = [
    "ClassificationPanel",
    "CrossmatchPanel",
    "ObjectViewer",
    "OutboxPanel",
    "OutboxStrip",
    "VettingPanel",
]
